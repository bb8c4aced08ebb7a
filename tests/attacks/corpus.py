"""The attacks: what each notebook does and what the grader must make of it.

Every notebook is the reference solution with the attack's cells appended
(a later `def` replaces the solution's, as when a student re-runs a cell).
Its honest part is the solution minus the questions in `lost`: those it
sabotaged, stubbed or cheated on. The expected score is the rubric's maximum
minus their points, read from the rubric, never from a grader run.

A `Reason` is text the result must contain: in a question's "status:
feedback" (`where` = the question id), in the notebook issues ("issues"),
or in the submission's message ("message"). Expectations that only a
stronger sandbox can keep name it in `needs` (levels, weakest first:
limits < netns < uid < bwrap; or "cgroup": processes bounded by a cgroup); under a
weaker sandbox they are skipped with the reason.

`LEVEL_ATTACKS` are graded once per sandbox level (`run.grade_level`): what the
output folder holds afterwards is checked there, not through a score.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import cells as c

LEVELS = ("limits", "netns", "uid", "bwrap")
ALL = ("grad_inner", "grad_linear_map", "grad_quadratic_form", "grad_weighted_residual_s",
       "grad_weighted_residual_x", "grad_log_abs_det", "grad_trace_product", "grad_chain_rule")


@dataclass(frozen=True)
class Reason:
    where: str                 # a question id, "issues" or "message"
    text: str                  # a substring of it
    needs: str | None = None   # the sandbox level that guarantees it


@dataclass(frozen=True)
class Attack:
    name: str
    what: str                            # the attack in a few words, for the table
    cells: tuple[str, ...]               # appended to the solution (string.Template placeholders)
    lost: tuple[str, ...] = ()           # questions the honest part cannot earn
    reasons: tuple[Reason, ...] = ()
    needs: str | None = None             # the sandbox level that guarantees the score
    pad_mb: int = 0                      # stored output added to the notebook file
    # a hole the grader does not close yet: its expectation is a strict xfail with this reason
    # (it fails the suite once the hole is closed, so that the marker goes)
    known_hole: str | None = None


ATTACKS: tuple[Attack, ...] = (
    Attack("patched_checkers", "numpy.testing, numpy/torch isclose, builtins abs/all/round patched; "
           "wrong gradient", (c.PATCH_CHECKERS, c.WRONG_QUADRATIC_FORM), ("grad_quadratic_form",),
           (Reason("grad_quadratic_form", "failed: 4 of 4 public and 8 of 8 hidden cases failed; first (public-1/float64/cpu): wrong values"),)),
    Attack("tensor_subclass", "torch.Tensor subclass: every comparison equal, differences zero",
           (c.TENSOR_SUBCLASS,), ("grad_chain_rule",),
           (Reason("grad_chain_rule", "a subclass of torch.Tensor (__main__.AlwaysEqual)"),)),
    Attack("float_subclass", "float subclass whose ==, <, -, abs lie",
           (c.FLOAT_SUBCLASS,), ("grad_log_abs_det",),
           (Reason("grad_log_abs_det", "returned a Python float, expected a torch.Tensor"),)),
    Attack("lying_object", "object posing as a tensor (__class__), ==, <, -, abs lie",
           (c.LYING_OBJECT,), ("grad_trace_product",),
           (Reason("grad_trace_product", "__main__.Impostor"),)),
    Attack("forged_payloads", "forged probe replies printed, displayed and shown as an execute_result",
           (c.FORGERY, c.FORGED_PAYLOADS), ("grad_inner",),
           (Reason("grad_inner", "error: no readable result (no reply from the probe)"),)),
    Attack("forged_late_reply", "hidden autograd; a thread sends a forged reply without the autograd "
           "count after the call", (c.FORGERY, c.FORGED_LATE_REPLY), ("grad_chain_rule",),
           (Reason("grad_chain_rule", "error: no readable result (no reply from the probe)"),)),
    Attack("hidden_autograd", "autograd reached through strings (the static scan cannot see it)",
           (c.HIDDEN_AUTOGRAD,), ("grad_quadratic_form",),
           (Reason("grad_quadratic_form", "forbidden: uses torch autograd (autograd calls during the call)"),)),
    Attack("probe_exec_shadow", "`exec` shadowed in the notebook to wrap the probe as it is installed "
           "and scrub its autograd counts, plus hidden autograd", (c.PROBE_EXEC_SHADOW,), ("grad_quadratic_form",),
           (Reason("grad_quadratic_form", "forbidden: uses torch autograd (autograd calls during the call)"),)),
    Attack("code_swap_dumps", "json.dumps's code swapped for one that scrubs the autograd counts, "
           "plus hidden autograd", (c.CODE_SWAP_DUMPS,), ("grad_quadratic_form",),
           (Reason("grad_quadratic_form", "forbidden: uses torch autograd (autograd calls during the call)"),),
           known_hole="the probe's integrity check holds each relied-on function's identity and globals, "
                      "not its code: a notebook may swap json.dumps.__code__ before the install"),
    Attack("counter_reset", "hidden autograd, then the call walks up the stack to the probe's "
           "counter and zeroes it", (c.COUNTER_RESET,), ("grad_quadratic_form",),
           (Reason("grad_quadratic_form", "forbidden: uses torch autograd (autograd calls during the call)"),),
           known_hole="the autograd count lives in the student's process: code written to reach it "
                      "(through the call stack or the garbage collector) can reset it"),
    Attack("engine_direct", "reverse mode through the C++ engine's run_backward, below the "
           "counted entry points", (c.ENGINE_DIRECT,), ("grad_quadratic_form",),
           (Reason("grad_quadratic_form", "forbidden: uses torch autograd (autograd calls during the call)"),),
           known_hole="the probe counts torch's Python entry points of autograd; the engine's C++ "
                      "method, called directly, is not counted"),
    # The scrubbed count could hide autograd anywhere: every question that forbids it is lost.
    Attack("tampered_probe", "json.dumps patched to scrub the probe's autograd counter, "
           "plus hidden autograd", (c.TAMPER_PROBE,), ALL,
           (Reason("grad_inner", "forbidden: patches what the grader's probe reports through "
                   "(`json.dumps = ...` in the notebook"),)),
    Attack("fake_result_files", "full-marks result files and gradebook written into the working "
           "directory and the output folder", (c.FAKE_RESULTS,)),
    Attack("read_solutions", "reads solutions/ and rubrics/ from disk, runs the reference code",
           (c.STUB_LOG_ABS_DET, c.READ_SOLUTIONS), ("grad_log_abs_det",),
           (Reason("grad_log_abs_det", "not_implemented"),), needs="uid"),
    Attack("tamper_output", "rewrites another student's result to 0, forges results with score 1000 "
           "and batch-log lines for them in the output folder", (c.TAMPER_OUTPUT,)),
    Attack("network_fetch", "opens a socket to fetch a solution from the grader's loopback",
           (c.STUB_TRACE_PRODUCT, c.NETWORK_FETCH), ("grad_trace_product",),
           (Reason("grad_trace_product", "not_implemented"), Reason("issues", "Error")), needs="netns"),
    Attack("sys_exit_in_function", "sys.exit() inside a graded function",
           (c.SYS_EXIT_IN_FUNCTION,), ("grad_linear_map",),
           (Reason("grad_linear_map", "raised SystemExit"),)),
    Attack("sigkill_in_function", "SIGKILL to itself inside a graded function",
           (c.SIGKILL_IN_FUNCTION,), ("grad_weighted_residual_x",),
           (Reason("grad_weighted_residual_x", "crashed: the kernel died during the call"),)),
    Attack("segfault_in_function", "segfault through ctypes inside a graded function",
           (c.SEGFAULT_IN_FUNCTION,), ("grad_trace_product",),
           (Reason("grad_trace_product", "crashed: the kernel died during the call"),)),
    Attack("slow_on_hidden", "right on public cases, endless loop on hidden ones",
           (c.SLOW_ON_HIDDEN,), ("grad_chain_rule",),
           (Reason("grad_chain_rule", "timeout: "),
            Reason("grad_chain_rule", "did not return within its time limit"))),
    Attack("fork_bomb", "300 child processes that sleep (bounded fork bomb)",
           (c.FORK_BOMB,), (), (Reason("issues", "BlockingIOError", needs="cgroup"),)),
    Attack("allocate_10gb", "10 GB tensor inside a graded function",
           (c.ALLOCATE_10GB,), ("grad_weighted_residual_s",),
           (Reason("grad_weighted_residual_s", "error: raised RuntimeError"),)),
    # the flood outruns the output cap's interrupt: the kernel dies or wedges, the cell is skipped
    Attack("print_1gb", "1 GB printed in 1 MB lines",
           (c.PRINT_1GB,), (), (Reason("issues", "skipped on a restart"),)),
    Attack("notebook_50mb", "a 50 MB notebook file (stored output)", (), pad_mb=50),
)

BY_NAME = {a.name: a for a in ATTACKS}
#: graded at every sandbox level, after a plain solution ("a_victim") whose result they go for
LEVEL_ATTACKS = (BY_NAME["read_solutions"], BY_NAME["tamper_output"])


def expected_score(attack: Attack, rubric) -> float:
    points = {q.id: q.points for q in rubric.questions}
    return rubric.max_score - sum(points[q] for q in attack.lost)


def level_of(sandbox: dict) -> str:
    """The sandbox level a result ran under; before levels were reported, the
    network namespace was the only isolation beyond the limits."""
    return sandbox.get("level") or ("netns" if sandbox.get("network") == "isolated" else "limits")


def guaranteed(sandbox: dict, needed: str | None) -> bool:
    """Whether a result's sandbox keeps an expectation that needs `needed`: a level,
    or "cgroup" (processes bounded by the kernel's cgroup, at any level)."""
    if needed == "cgroup":
        return sandbox.get("memory") == "cgroup"
    return needed is None or LEVELS.index(level_of(sandbox)) >= LEVELS.index(needed)


def needs_of(attack: Attack) -> set[str]:
    return {n for n in (attack.needs, *(r.needs for r in attack.reasons)) if n}


def text_at(result, where: str) -> str:
    if where == "issues":
        return "\n".join(result.notebook_issues)
    if where == "message":
        return result.message
    q = next(q for q in result.questions if q.id == where)
    return f"{q.status}: {q.feedback}"
