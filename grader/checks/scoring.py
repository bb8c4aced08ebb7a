"""From per-case verdicts to a question's score, status, feedback and hints.

Shared by every check kind. A verdict needs: `case` (with `id`, `visibility`,
`device`), `passed`, `kind` (ok | wrong | error | timeout | missing |
not_implemented | crashed | unsupported), `message`, `hint`, `ratio`.
Scoring is all or nothing unless the question sets `partial_credit`.
"""

from __future__ import annotations

import typing as t
from collections import Counter
from dataclasses import dataclass

from grader.results import CaseReport, DeviceCount, QuestionResult
from grader.rubric.model import Question

@dataclass(frozen=True)
class GeneratedCase:
    """A case whose inputs the grader generated (a graph, a function, a problem); plain
    floats on the CPU. Subclasses add what the check kind needs."""

    id: str            # e.g. "public-1"
    visibility: str    # public | hidden
    number: int
    device: t.ClassVar[str] = "cpu"


@dataclass
class Verdict:
    """One case judged: passed or not, why (`message`), and a hint for the classic mistake."""

    case: t.Any
    passed: bool
    kind: str = "ok"                # ok | wrong | error | timeout | missing | not_implemented | crashed | unsupported
    message: str = ""
    hint: str | None = None
    ratio: float | None = None      # worst error / allowance, where values were compared
    expected: t.Any = None
    got: t.Any = None
    autograd: bool = False          # autograd ran during the call
    series: dict | None = None      # data for a plot (error against h)


def written(value, *, limit: int = 36) -> t.Any:
    """A value the student's code returned, for the feedback, as they wrote it: nested
    lists stay nested (a ragged list stays ragged), numbers stay numbers, and what is not a
    number reads as Python shows it (`None`, `<function>`). Tensors with more than `limit`
    entries become {"shape", "first"}; 6 significant digits."""
    if value is None:
        return None
    if value.kind in ("tensor", "ndarray"):
        if value.data is None:
            return f"<{value.describe()}>"
        flat = [float(f"{v:.6g}") for v in value.data.reshape(-1).tolist()]
        if value.data.numel() > limit:
            return {"shape": list(value.data.shape), "first": flat[:8]}
        return value.data.new_tensor(flat).reshape(value.data.shape).tolist() if value.data.dim() else flat[0]
    if value.kind in ("float", "int"):
        return int(value.number) if value.kind == "int" else float(f"{value.number:.6g}")
    if value.kind == "bool":
        return bool(value.number)
    if value.kind in ("list", "tuple"):
        return [written(v, limit=limit) for v in value.items]
    if value.kind == "none":
        return "None"
    return f"<{value.type_name}>"


def outcome_failure(fn: str, out) -> tuple[str, str, str | None]:
    """(kind, message, hint) for a call that returned no value (out.status != "ok")."""
    if out.status == "missing":
        return "missing", f"`{fn}` is not defined in the notebook", None
    if out.status == "timeout":
        return "timeout", "did not return within its time limit", None
    if out.status == "unsupported":
        return "unsupported", out.error or f"operation not supported: {out.op}", (
            f"implement `{out.op}` for your class to earn this question" if out.op else None)
    if out.status == "not_callable":
        return "error", f"`{fn}` {out.error}", None
    if out.status in ("crashed", "protocol"):
        return ("crashed" if out.status == "crashed" else "error"), str(out.error), None
    error = out.error or "an exception"
    if error.startswith("NotImplementedError"):
        return "not_implemented", f"`{fn}` is not implemented yet (raises NotImplementedError)", None
    if out.recursion:
        return "error", f"exceeded Python's recursion limit ({error})", (
            "a recursive graph walk fails on graphs thousands of nodes deep: build the "
            "topological order with an explicit stack (a loop), not recursion")
    where = f" at {out.line}" if out.line else ""
    hint = next((h for words, h in KNOWN_ERRORS if words in error), None)
    return "error", f"raised {error}{where}", hint


#: error texts of the usual autograd confusions, and what to do about them
KNOWN_ERRORS = [
    ("backward through the graph a second time",
     "a graph is freed by backward(): build it again for each backward call, or pass retain_graph=True"),
    ("grad can be implicitly created only for scalar outputs",
     "backward() on a non-scalar needs the vector: y.backward(v), or reduce to a scalar first"),
    ("does not require grad and does not have a grad_fn",
     "the tensor you differentiate must come from one with requires_grad=True (x.detach().clone()"
     ".requires_grad_(True))"),
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "do not modify a tensor that requires grad in place: build new tensors instead"),
]


STATUS_OF_KIND = {"missing": "missing", "not_implemented": "not_implemented", "timeout": "timeout",
                  "crashed": "crashed", "error": "error", "unsupported": "error"}


def device_counts(verdicts: list, skipped: dict[str, tuple[int, str]]) -> dict[str, DeviceCount]:
    counts: dict[str, DeviceCount] = {}
    for v in verdicts:
        dc = counts.setdefault(v.case.device, DeviceCount())
        dc.total += 1
        dc.passed += v.passed
    for device, (n, why) in skipped.items():
        counts.setdefault(device, DeviceCount()).skipped += n
        counts[device].skip_reason = why
    return counts


def score_question(question: Question, verdicts: list, skipped: dict[str, tuple[int, str]],
                   report: t.Callable[[t.Any], CaseReport],
                   forbidden: tuple[str, str] | None = None) -> QuestionResult:
    """`forbidden` = (feedback, hint) when the question's rules were broken: zero points."""
    hidden_total = sum(v.case.visibility == "hidden" for v in verdicts)
    base = dict(id=question.id, title=question.title, calls=question.calls,
                max_score=question.points, cases=device_counts(verdicts, skipped), hidden_total=hidden_total)
    ratios = [v.ratio for v in verdicts if v.ratio is not None]
    worst = max(ratios) if ratios else None
    if forbidden:
        return QuestionResult(**base, score=0.0, status="forbidden", worst_error=worst,
                              feedback=forbidden[0], hints=[forbidden[1]])
    failed = [v for v in verdicts if not v.passed]
    total = len(verdicts)
    if total == 0:
        return QuestionResult(**base, score=0.0, status="not_run", feedback="no case could run here")
    if not failed:
        return QuestionResult(**base, score=question.points, status="passed", worst_error=worst,
                              feedback="the case passed" if total == 1 else f"all {total} cases passed")
    kinds = Counter(v.kind for v in failed)
    status = STATUS_OF_KIND.get(kinds.most_common(1)[0][0], "failed")
    score = question.points * (total - len(failed)) / total if question.partial_credit else 0.0
    first = failed[0]
    hidden_failed = sum(v.case.visibility == "hidden" for v in failed)
    if len(failed) == total and len({v.message for v in failed}) == 1:
        feedback = first.message
    elif hidden_total:      # public and hidden counted apart: `grader check` sees only the first
        feedback = (f"{len(failed) - hidden_failed} of {total - hidden_total} public and {hidden_failed} of "
                    f"{hidden_total} hidden cases failed; first ({first.case.id}): {first.message}")
    else:
        feedback = f"{len(failed)} of {total} cases failed; first ({first.case.id}): {first.message}"
    hints = [h for h, _ in Counter(v.hint for v in failed if v.hint).most_common()]
    public = [v for v in failed if v.case.visibility == "public"][:3]
    return QuestionResult(**base, score=round(score, 6), status=status, feedback=feedback, hints=hints,
                          worst_error=worst, public_failures=[report(v) for v in public],
                          hidden_failed=hidden_failed)
