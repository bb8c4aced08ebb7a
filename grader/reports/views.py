"""What every report says about a question, computed once from its result.

The reporters (Markdown, HTML, JUnit, Gradescope, GitHub, the terminal) all
read a `QuestionResult`; the small judgements they share live here so that
they never disagree: which devices passed, how many public and hidden cases
failed, how a value is shown, which case groups a question has and how its
points split between them, what a student can run to reproduce a failure,
and which text may be shown when hidden cases must stay hidden.

Case groups. A question's cases fall into two groups by visibility,
`public` and `hidden` (the per-device counts stay as properties and text).
Visibility, not device, is the grouping because it is what decides who may
see a failure (Gradescope's `after_published`) and what a student can rerun
(`grader check` runs the public cases only); devices are reported inside each
group. A question's points split between its groups in proportion to the
rubric's case counts (public `count` : hidden `count`), so the points of all
groups add up to the question's score and maximum exactly.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import typing as t
from dataclasses import dataclass

from grader.results import CaseReport, DeviceCount, QuestionResult, SubmissionResult

if t.TYPE_CHECKING:
    from grader.rubric.model import Question, Rubric

#: statuses whose failure is the student's code misbehaving (JUnit <error>) rather than a wrong value
ERROR_STATUSES = {"error", "crashed", "timeout"}
_HIDDEN_CASE = re.compile(r"\bhidden-\d+\S*")


def device_status(c: DeviceCount) -> str:
    """passed | failed | skipped | not run, for one device's cases."""
    if c.total:
        return "passed" if c.passed == c.total else "failed"
    return "skipped" if c.skipped else "not run"


def device_summary(q: QuestionResult, *, marks: bool = True) -> str:
    """`cpu ✅ 12/12 · cuda ⏭ 12 skipped`: pass/fail per device. Why a device's cases were
    skipped is said once per report (`skip_notes`), not under every question."""
    mark = {"passed": "✅", "failed": "❌", "skipped": "⏭", "not run": "⬜"}
    parts = []
    for device, c in sorted(q.cases.items()):
        status = device_status(c)
        head = f"{device} {mark[status]} " if marks else f"{device} "
        if status == "skipped":
            parts.append(head + f"{c.skipped} skipped")
        elif status == "not run":
            parts.append(head + "not run")
        else:
            parts.append(head + f"{c.passed}/{c.total}"
                         + (f" (+{c.skipped} skipped)" if c.skipped else ""))
    return " · ".join(parts) or "no cases ran"


def skip_notes(questions: t.Iterable[QuestionResult]) -> list[str]:
    """Once per report: each device whose cases were skipped, how many, and why
    (`cuda: 48 cases skipped: CUDA is not available to the grader; these cases do not count`)."""
    skipped: dict[tuple[str, str], int] = {}
    for q in questions:
        for device, c in q.cases.items():
            if c.skipped:
                key = (device, c.skip_reason or f"the {device} cases could not run here")
                skipped[key] = skipped.get(key, 0) + c.skipped
    return [f"{device}: {n} case(s) skipped: {why}" for (device, why), n in sorted(skipped.items())]


def failed_counts(q: QuestionResult) -> tuple[int, int]:
    """(public cases failed, hidden cases failed): exact, from the per-device counts."""
    failed = sum(c.total - c.passed for c in q.cases.values())
    return max(0, failed - q.hidden_failed), q.hidden_failed


def public_total(q: QuestionResult) -> int:
    """Public cases run (results written before `hidden_total` existed count every case)."""
    return max(0, sum(c.total for c in q.cases.values()) - q.hidden_total)


def mentions_hidden(text: str) -> bool:
    return bool(_HIDDEN_CASE.search(text or ""))


_COUNTED = re.compile(r"^\d+ of \d+ (public and \d+ of \d+ hidden )?cases failed; ")


def public_feedback(q: QuestionResult) -> str:
    """The question's feedback about its public cases alone.

    The feedback counts every case and names the first failing one, which may be
    hidden; where hidden cases must stay hidden (Gradescope's visible output) and
    where a count must mean what `grader check` runs, this says the same from the
    public cases only."""
    if not mentions_hidden(q.feedback) and not (q.hidden_total and _COUNTED.match(q.feedback)):
        return q.feedback
    public_failed, hidden_failed = failed_counts(q)
    if q.public_failures:
        first = q.public_failures[0]
        of = f" of {public_total(q)}" if q.hidden_total else ""
        return f"{public_failed}{of} public case(s) failed; first ({first.case}): {first.message}"
    return (f"the public cases passed; {hidden_failed} hidden case(s) failed"
            if hidden_failed else "the public cases passed")


def visible_verdict(q: QuestionResult) -> str:
    """A question's verdict where everything is shown to the student at once (GitHub Classroom,
    PrairieLearn: neither has Gradescope's `after_published`): the public feedback, the hints
    (only with a public failure or a failure not about cases, since a hint may come from a hidden
    case), and the hidden cases as a count only."""
    if q.status == "passed":
        return "passed"
    if q.status == "not_run":
        return q.feedback
    public_failed, hidden_failed = failed_counts(q)
    lines = [public_feedback(q)]
    if hidden_failed and "hidden" not in lines[0]:
        lines.append(f"{hidden_failed} hidden case(s) failed (their inputs are not shown)")
    if public_failed or not hidden_failed:
        lines += [f"hint: {h}" for h in q.hints if h not in q.feedback]
    return "\n".join(lines)


# -- values -------------------------------------------------------------------------------------

MISSING = "missing"      # a value that is not there (never JSON's `null`)


def _compact(value: object) -> str:
    """A value as the student would write it in Python: lists stay as they are (a ragged list
    stays ragged), text that stands for an object (`Dual(real=1, dual=2)`, `None`, `<function>`)
    is shown bare, and a value that is not there reads `missing`."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)               # nan, inf: as Python prints them
    return json.dumps(value, default=str)


def is_summary(value: object) -> bool:
    """A large tensor as the checks keep it: {"shape": [...], "first": [...]}."""
    return isinstance(value, dict) and "shape" in value and ("first" in value or "worst" in value)


def show_value(value: object, *, limit: int = 2000) -> str:
    """One line for a value: small tensors in full, large ones as shape plus entries."""
    if is_summary(value):
        assert isinstance(value, dict)
        text = f"shape {_compact(value['shape'])}"
        if "first" in value:
            text += f", first entries {_compact(value['first'])}"
    else:
        text = _compact(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def worst_lines(case: CaseReport, *, k: int = 5) -> list[str]:
    """The worst entries of a large tensor, `index [i, j]: got g, expected e` (when the check kept them)."""
    def num(x: object) -> str:
        return f"{x:g}" if isinstance(x, (int, float)) else _compact(x)
    return [f"index {_compact(w.get('index'))}: got {num(w.get('got'))}, expected {num(w.get('expected'))}"
            for w in case.worst[:k]]


# -- the sandbox a notebook ran in --------------------------------------------------------------

#: what a student's feedback says when the sandbox was weaker than bubblewrap, by the level the
#: result records (`SubmissionResult.sandbox["level"]`; the levels: grader/sandbox/levels.py).
#: Here, not in the sandbox, so that the reports read the result alone.
SANDBOX_MEANING = {
    "netns": "your notebook ran with resource limits and without network access, "
             "but the filesystem was not sandboxed",
    "limits": "your notebook ran with resource limits only: the network and the filesystem were not sandboxed",
}


def sandbox_warning(sandbox: dict) -> str | None:
    """One line for the student's feedback when the sandbox was weaker than bubblewrap."""
    level = sandbox.get("level")
    if level not in SANDBOX_MEANING:
        return None
    return f"Sandbox level '{level}': {SANDBOX_MEANING[level]}."


# -- reproducing a failure -----------------------------------------------------------------------

def check_command(notebook: str, question: str | None = None, assignment: str | None = None) -> str:
    """`grader check NOTEBOOK [-a NAME] [--question ID]`, quoted for a POSIX shell."""
    parts = ["grader", "check", shlex.quote(notebook)]
    if assignment:
        parts += ["-a", shlex.quote(assignment)]
    if question:
        parts += ["--question", shlex.quote(question)]
    return " ".join(parts)


def reproduce(q: QuestionResult, notebook: str, assignment: str | None = None) -> str | None:
    """The command that reproduces this question's failure, or None when it passed.

    Public failures (and failures that are not about values: missing, not
    implemented, forbidden, ...) rerun with `grader check --question`; a
    question that failed on hidden cases only needs the full grading."""
    if q.status == "passed" or (q.status == "not_run" and not q.cases):
        return None
    public_failed, hidden_failed = failed_counts(q)
    if hidden_failed and not public_failed and q.status not in ("forbidden", "missing", "not_implemented"):
        return "grader grade " + shlex.quote(notebook) + " -a " + shlex.quote(assignment or "ASSIGNMENT")
    return check_command(notebook, q.id, assignment)


# -- case groups (JUnit testcases, Gradescope tests) ------------------------------------------------

@dataclass
class CaseGroup:
    question: QuestionResult
    visibility: t.Literal["public", "hidden"]
    outcome: t.Literal["passed", "failed", "error", "skipped"]
    message: str            # why it failed / was skipped ("" when passed)
    failed: int             # cases of this group that failed (exact)
    points: float
    max_points: float

    @property
    def name(self) -> str:
        return f"{self.question.id} [{self.visibility}]"


def _no_points(visibility: str, public_failed: int, hidden_failed: int) -> str:
    """A group whose own cases passed in a question that earned no points (all or nothing)."""
    other, n = ("hidden", hidden_failed) if visibility == "public" else ("public", public_failed)
    return (f"the {visibility} cases passed, but {n} {other} case(s) failed, and the question's points "
            "are all or nothing: no points")


def _weights(question: "Question | None", public_only: bool) -> tuple[float, float]:
    n_public = question.cases.public.count if question is not None else 1
    n_hidden = 0 if public_only or question is None else question.cases.hidden.count
    if n_hidden == 0 or n_public + n_hidden == 0:
        return 1.0, 0.0
    return n_public / (n_public + n_hidden), n_hidden / (n_public + n_hidden)


def case_groups(result: SubmissionResult, rubric: "Rubric | None" = None) -> list[CaseGroup]:
    """One group per (question, visibility) that has cases, in rubric order, public first."""
    by_id = {q.id: q for q in rubric.questions} if rubric is not None else {}
    groups: list[CaseGroup] = []
    healthy = result.status == "graded" and not result.message
    for q in result.questions:
        w_public, w_hidden = _weights(by_id.get(q.id), result.public_only)
        max_public = q.max_score * w_public
        points_public = q.score * w_public
        public_failed, hidden_failed = failed_counts(q)
        spec: list[tuple[t.Literal["public", "hidden"], float, float, int]] = [
            ("public", points_public, max_public, public_failed)]
        if w_hidden:
            spec.append(("hidden", q.score - points_public, q.max_score - max_public, hidden_failed))
        ran = sum(c.total for c in q.cases.values())
        for visibility, points, max_points, failed in spec:
            outcome: t.Literal["passed", "failed", "error", "skipped"]
            if q.status == "passed":
                outcome, message = "passed", ""
            elif q.status == "not_run":
                outcome = "skipped" if healthy and ran == 0 else "error"
                message = q.feedback
            elif q.status == "forbidden":
                outcome, message = "failed", q.feedback
            else:
                kind = "error" if q.status in ERROR_STATUSES else "failed"
                if failed or (not public_failed and not hidden_failed and visibility == "public"):
                    outcome = kind
                    message = (public_feedback(q) if visibility == "public"
                               else f"{failed} hidden case(s) failed (their inputs are not shown)")
                elif points <= 0 < max_points:     # its cases passed, but the question earned nothing
                    outcome = "failed"
                    message = _no_points(visibility, public_failed, hidden_failed)
                else:
                    outcome, message = "passed", ""
            groups.append(CaseGroup(q, visibility, outcome, message, failed, points, max_points))
    return groups
