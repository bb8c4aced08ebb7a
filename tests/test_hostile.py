"""Hostile notebooks: each is the solution plus something nasty, all graded in ONE batch.

Every case asserts the exact total and the reason (question status / feedback
or the notebook issue that names the cell), so a regression that silently
loses points, or silently ignores the attack, shows up here.

The batch uses short limits (5 s per cell, 120 s per submission) and a copy of
the bundled rubric whose only change is `defaults.call_timeout: 2`. The probe
gives every case of a question its own call timeout and does not stop after
the first one, so a function that hangs on every call costs (cases x
call_timeout): 12 x 10 s = 120 s with the bundled rubric, the whole submission
limit of this batch, and most of the default 300 s.
"""

from __future__ import annotations

import csv
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

import helpers
from grader.sandbox import levels
from helpers import SOLUTION, by_question, config, notebook_with, write

FULL = 12.0
CELL_TIMEOUT = 5
CALL_TIMEOUT = 2
MARK = f"GRADER_HOSTILE_{secrets.token_hex(6)}"   # tags the processes our notebook spawns

SOLUTION_CELLS = len(notebook_with(SOLUTION, []).cells)   # cells before the appended ones


def appended_cell(k: int = 0) -> str:
    """How a notebook issue names the k-th appended cell (issues count cells from 1)."""
    return f"cell {SOLUTION_CELLS + k + 1}:"


def def_cell_index(nb: nbformat.NotebookNode, name: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and f"def {name}(" in c.source)


# -- the hostile cells ---------------------------------------------------------

INFINITE_LOOP = "while True:\n    pass"

IGNORES_SIGINT = """\
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass"""

EXIT_NOW = "import os\nos._exit(0)"

MEMORY_BOMB_BYTES = "x = bytearray(20 * 1024**3)"
MEMORY_BOMB_TORCH = "y = torch.empty(10**10)"

PATCH_COMPARISONS = """\
import torch
import torch.testing
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.equal = lambda *a, **k: True
torch.Tensor.allclose = lambda *a, **k: True
torch.Tensor.equal = lambda *a, **k: True

def grad_quadratic_form(A, x):
    return 2 * A @ x     # wrong unless A is symmetric"""

FLOOD = 'print("x" * 100_000_000)'

HANGS_WHEN_CALLED = """\
def grad_inner(x, a):
    while True:
        pass"""

EXITS_WHEN_CALLED = """\
import os

def grad_trace_product(A, B):
    os._exit(1)"""


def spawner(pid_file: Path) -> str:
    """A cell that leaves a detached `sleep 1000` behind: one in its own session, one
    after a double fork + setsid. The pids go to `pid_file`, so the test can check them."""
    return f"""\
import os, subprocess, time
env = dict(os.environ, {MARK}="1")
p = subprocess.Popen(["sleep", "1000"], start_new_session=True, env=env,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r, w = os.pipe()
if os.fork() == 0:                      # child
    os.setsid()
    if os.fork() == 0:                  # grandchild: detached, parent exits at once
        os.close(r)
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        os.execvpe("sleep", ["sleep", "1000"], env)
    os._exit(0)
os.close(w)
grandchild = int(os.read(r, 64) or b"0")
os.close(r)
os.wait()
with open({str(pid_file)!r}, "w") as f:
    f.write(f"{{p.pid}} {{grandchild}}")
time.sleep(0.5)"""


# -- the batch -----------------------------------------------------------------

CASES = ["infinite_loop", "ignores_sigint", "exit_mid_notebook", "memory_bomb", "patched_torch",
         "output_flood", "hanging_function", "exiting_function", "detached_processes"]


def sleepers(mark: str | None = None) -> list[int]:
    """Live `sleep 1000` processes (zombies have no cmdline); with `mark`: only ours."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if argv[:2] != [b"sleep", b"1000"]:
                continue
            if mark is not None and mark.encode() not in (entry / "environ").read_bytes():
                continue
        except OSError:
            continue
        found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    subs = folder / "subs"
    subs.mkdir()
    out = folder / "out"
    pid_file = folder / "spawned.pids"

    middle = notebook_with(SOLUTION, [])
    middle.cells.insert(def_cell_index(middle, "grad_weighted_residual_s"), nbformat.v4.new_code_cell(EXIT_NOW))

    notebooks = {
        "infinite_loop": notebook_with(SOLUTION, [INFINITE_LOOP]),
        "ignores_sigint": notebook_with(SOLUTION, [IGNORES_SIGINT]),
        "exit_mid_notebook": middle,
        "memory_bomb": notebook_with(SOLUTION, [MEMORY_BOMB_BYTES, MEMORY_BOMB_TORCH]),
        "patched_torch": notebook_with(SOLUTION, [PATCH_COMPARISONS]),
        "output_flood": notebook_with(SOLUTION, [FLOOD]),
        "hanging_function": notebook_with(SOLUTION, [HANGS_WHEN_CALLED]),
        "exiting_function": notebook_with(SOLUTION, [EXITS_WHEN_CALLED]),
        "detached_processes": notebook_with(SOLUTION, [spawner(pid_file)]),
    }
    assert list(notebooks) == CASES
    paths = [write(nb, subs, name) for name, nb in notebooks.items()]

    # The bundled rubric with a short call timeout (see the module docstring).
    rubric = helpers.short_call_rubric(folder, CALL_TIMEOUT)
    # detached_processes reports host pids through a file in this test's folder, which the
    # bwrap level hides (private /tmp, own PID namespace): run at the best level below it;
    # tests/test_sandbox_levels.py grades hostile cells at the bwrap level
    cfg = config(cell_timeout=CELL_TIMEOUT, submission_timeout=120, memory_mb=2048,
                 sandbox="netns" if levels.available("netns")[0] else "limits")

    start = time.monotonic()
    results = helpers.grade(paths, out, cfg=cfg, workers=2, rubric=rubric)
    seconds = time.monotonic() - start
    try:
        yield {"results": results, "out": out, "paths": paths, "pid_file": pid_file,
               "seconds": seconds, "notebooks": notebooks}
    finally:
        for pid in sleepers(MARK):   # never leave our own sleepers behind, even on failure
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def result_of(batch, name):
    return batch["results"][name]


def issues_text(result) -> str:
    return "\n".join(result.notebook_issues)


def assert_full_marks(result):
    failed = {q.id: (q.status, q.feedback) for q in result.questions if q.status != "passed"}
    assert not failed, failed
    assert result.status == "graded", result.message
    assert result.score == FULL


# -- the batch as a whole ------------------------------------------------------

def test_one_result_per_notebook(batch):
    assert sorted(batch["results"]) == sorted(CASES)
    for name in CASES:
        assert (batch["out"] / "results" / f"{name}.json").is_file(), name
        assert (batch["out"] / "feedback" / f"{name}.md").is_file(), name


def test_gradebook_has_one_row_per_notebook(batch):
    gradebook = batch["out"] / "gradebook.csv"
    assert gradebook.is_file()
    with open(gradebook, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["submission"] for r in rows) == sorted(CASES)
    totals = {r["submission"]: float(r["total"]) for r in rows}
    assert totals == {name: batch["results"][name].score for name in CASES}


def test_batch_stays_fast(batch):
    # 9 kernels on 2 workers, each with a few seconds of deliberate waiting
    assert batch["seconds"] < 240, f"hostile batch took {batch['seconds']:.0f} s"


# -- one test per attack ---------------------------------------------------------

def test_infinite_loop_cell_is_interrupted(batch):
    r = result_of(batch, "infinite_loop")
    assert_full_marks(r)
    assert any(i.startswith(appended_cell()) and f"interrupted after {CELL_TIMEOUT} s" in i
               for i in r.notebook_issues), r.notebook_issues
    assert r.sandbox["restarts"] == 0


def test_cell_ignoring_sigint_is_skipped_after_restart(batch):
    r = result_of(batch, "ignores_sigint")
    assert_full_marks(r)
    assert any(i.startswith(appended_cell()) and "could not be interrupted" in i
               and "skipped on a restart" in i for i in r.notebook_issues), r.notebook_issues
    assert r.sandbox["restarts"] == 1


def test_exit_in_the_middle_of_the_notebook_is_skipped(batch):
    r = result_of(batch, "exit_mid_notebook")
    assert_full_marks(r)
    cell = def_cell_index(batch["notebooks"]["exit_mid_notebook"], "grad_weighted_residual_s")  # the one before
    assert any(i.startswith(f"cell {cell}:") and "kernel died" in i and "skipped on a restart" in i
               for i in r.notebook_issues), r.notebook_issues
    assert r.sandbox["restarts"] == 1


def test_memory_bomb_fails_its_cell_only(batch):
    r = result_of(batch, "memory_bomb")
    assert_full_marks(r)
    text = issues_text(r)
    assert any(i.startswith(appended_cell(0)) and "MemoryError" in i for i in r.notebook_issues), text
    assert any(i.startswith(appended_cell(1)) and "RuntimeError" in i for i in r.notebook_issues), text
    assert r.sandbox["restarts"] == 0


def test_patched_torch_comparisons_do_not_set_the_score(batch):
    r = result_of(batch, "patched_torch")
    assert r.score == FULL - 2, [(q.id, q.status, q.feedback) for q in by_question(r).values()]
    q = by_question(r)["grad_quadratic_form"]
    assert q.score == 0 and q.status == "failed", (q.status, q.feedback)
    assert "wrong values" in q.feedback
    assert any("A is not assumed symmetric" in h for h in q.hints), q.hints
    others = [x for x in r.questions if x.id != "grad_quadratic_form"]
    assert all(x.status == "passed" for x in others), [(x.id, x.feedback) for x in others]


def test_output_flood_is_truncated(batch):
    r = result_of(batch, "output_flood")
    assert_full_marks(r)
    assert r.sandbox["output_truncated"] is True
    assert any("dropped" in i for i in r.notebook_issues), r.notebook_issues


def test_hanging_function_times_out(batch):
    r = result_of(batch, "hanging_function")
    assert r.score == FULL - 1, [(q.id, q.status, q.feedback) for q in r.questions]
    q = by_question(r)["grad_inner"]
    assert q.score == 0
    assert q.status in ("timeout", "crashed"), (q.status, q.feedback)
    assert ("did not return within its time limit" in q.feedback
            or "could not be interrupted" in q.feedback), q.feedback
    assert all(x.status == "passed" for x in r.questions if x.id != "grad_inner")


def test_exiting_function_crashes_only_itself(batch):
    r = result_of(batch, "exiting_function")
    assert r.score == FULL - 1, [(q.id, q.status, q.feedback) for q in r.questions]
    q = by_question(r)["grad_trace_product"]
    assert q.score == 0 and q.status == "crashed", (q.status, q.feedback)
    assert "kernel died" in q.feedback, q.feedback
    assert all(x.status == "passed" for x in r.questions if x.id != "grad_trace_product")
    assert r.sandbox["restarts"] >= 1


def test_detached_processes_are_reaped(batch):
    r = result_of(batch, "detached_processes")
    assert_full_marks(r)
    # the notebook really did spawn both sleepers (else this test proves nothing)
    pids = [int(p) for p in batch["pid_file"].read_text().split()]
    assert len(pids) == 2 and all(pids), pids
    deadline = time.monotonic() + 5       # SIGKILL is delivered at once; allow the reaper a moment
    while sleepers(MARK) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sleepers(MARK) == [], "a detached `sleep 1000` from the notebook survived the batch"
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue                       # gone
        assert state == "Z", f"pid {pid} is still alive (state {state})"
    left = subprocess.run(["pgrep", "-f", "sleep 1000"], capture_output=True, text=True)
    ours = set(left.stdout.split()) & {str(p) for p in pids}
    assert not ours, f"pgrep still finds {ours}"


# -- the submission time limit ---------------------------------------------------------

def test_submission_time_limit_stops_the_submission(tmp_path):
    # the cell limit (30 s) is longer than the submission limit (10 s): the latter must stop it
    path = write(notebook_with(SOLUTION, [INFINITE_LOOP]), tmp_path, "slow")
    start = time.monotonic()
    r = helpers.grade([path], tmp_path / "out", workers=1,
                      cfg=config(cell_timeout=30, submission_timeout=10))["slow"]
    seconds = time.monotonic() - start
    assert not any("kernel died" in i for i in r.notebook_issues), r.notebook_issues
    assert "stopped at the submission time limit (10 s)" in r.message, (r.message, r.score)
    assert r.score == 0 and all(q.status == "not_run" for q in r.questions)
    assert seconds < 10 + 8, f"took {seconds:.0f} s for a 10 s limit"


# -- a cell's time limit is the grader's to set --------------------------------------------

def test_a_notebook_cannot_give_its_own_cell_a_longer_limit(tmp_path):
    """`grader_timeout` in a cell's metadata was the key the grader's own cells (the probe's
    requests) carried their limits in: a student's cell that carries it (a longer limit, or
    one nbclient cannot read) gets the configured limit all the same, in both ways of
    running cells."""
    nb = notebook_with(SOLUTION, ["import time\ntime.sleep(6)\nprint('slept')", "after = 1"])
    nb.cells[-2].metadata["grader_timeout"] = 60
    nb.cells[-1].metadata["grader_timeout"] = "not a number"
    path = write(nb, tmp_path, "longer")
    for one in (True, False):
        r = helpers.grade([path], tmp_path / f"out{one}", workers=1,
                          cfg=config(cell_timeout=2, cells_in_one_request=one))["longer"]
        cell = len(nb.cells) - 1       # the sleeping cell, counted from 1
        assert r.notebook_issues == [f"cell {cell}: interrupted after 2 s"], (one, r.notebook_issues)
        assert r.sandbox["restarts"] == 0 and r.score == r.max_score, (one, r.sandbox, r.score)
