"""PrairieLearn external grading: the `results.json` a grading container leaves.

PrairieLearn (docs/externalGrading.md, and the grader host that reads the
file) runs the question's image with the job mounted at /grade and, once the
entrypoint exits with status 0, reads /grade/results/results.json:

- `score` in [0, 1] is the fraction of the question's points; anything else
  (missing, not a number, out of range) makes the submission "not gradable";
- `gradable: false` marks a submission that could not be graded: no points
  are given or taken and the student is not charged an attempt; an optional
  `format_errors` (a string or a list of strings) says why;
- `message` and `output` (top level) and `tests[]` with `name`,
  `description`, `points`, `max_points`, `message`, `output` are shown by the
  `<pl-external-grader-results>` element; the per-test points display needs
  both `points` and `max_points` on every test;
- a file over 1 MB (the host checks 1024 * 1024 bytes) is refused whole:
  the job fails and the student sees an error instead of feedback.

What this writes: one test per question (its points and maximum in the
rubric's units; the score is their fraction), `message` the verdict
(`views.visible_verdict`: PrairieLearn shows every test at once, so hidden
cases appear as a count only), `output` the failing public cases (inputs,
expected, got), the pass/fail per device and the command that reruns the
question. A notebook that could not be read, or a kernel that never
started, is not gradable. The whole is kept under `LIMIT`: the longest texts
are cut first and the top-level message says so.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import PurePath

from grader.reports.classroom import own_words
from grader.reports.views import device_summary, reproduce, show_value, skip_notes, visible_verdict
from grader.results import QuestionResult, SubmissionResult

#: PrairieLearn refuses results over 1 MB; stay under both readings of "MB"
LIMIT = 1_000_000
CUT_NOTE = "Some feedback was cut to keep these results under PrairieLearn's 1 MB limit."
_CUT = "\n… (cut: PrairieLearn limits results to 1 MB)"


def _output(q: QuestionResult, result: SubmissionResult) -> str:
    lines = [f"all cases per device: {device_summary(q, marks=False)}"]
    for case in q.public_failures:
        lines += ["", f"public case {case.case}: {case.message}"]
        lines += [f"  {name} = {show_value(v, limit=600)}" for name, v in case.inputs.items()]
        lines += [f"  expected: {show_value(case.expected, limit=600)}", f"  got: {show_value(case.got, limit=600)}"]
    command = reproduce(q, PurePath(result.source).name, result.assignment)
    if command and command.startswith("grader check"):      # a command the student can run
        lines += ["", f"reproduce: {command}"]
    return "\n".join(lines)


def _test(q: QuestionResult, result: SubmissionResult) -> dict[str, t.Any]:
    return {"name": q.id,
            "description": (f"{q.title} " if q.title else "") + f"(calls {', '.join(q.calls)})",
            "points": round(q.score, 6),
            "max_points": round(q.max_score, 6),
            "message": visible_verdict(q),
            "output": _output(q, result)}


def render(result: SubmissionResult) -> dict[str, t.Any]:
    gradable = result.status == "graded"
    score = min(1.0, max(0.0, result.score / result.max_score)) if result.max_score > 0 else 0.0
    message = [f"{result.assignment}: {result.score:g} / {result.max_score:g}"]
    why = own_words(result.message, result)
    if why:
        message.append(why)
    output = [f"notebook: {own_words(issue, result)}" for issue in result.notebook_issues]
    output += skip_notes(result.questions)
    doc: dict[str, t.Any] = {
        "gradable": gradable,
        "score": round(score, 6) if gradable else 0.0,
        "message": "\n".join(message),
        "output": "\n".join(output),
        "tests": [_test(q, result) for q in result.questions],
    }
    if not gradable:
        doc["format_errors"] = [why or f"the submission was not graded ({result.status})"]
    return doc


def size(doc: dict[str, t.Any]) -> int:
    return len(dumps_raw(doc).encode("utf-8"))


def dumps_raw(doc: dict[str, t.Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def _shorten(text: str, keep: int) -> str:
    return text if len(text) <= keep else text[:keep] + _CUT


def fit(doc: dict[str, t.Any], limit: int = LIMIT) -> dict[str, t.Any]:
    """`doc` cut until its JSON is at most `limit` bytes: the tests' outputs first, then their
    messages, then the top-level texts; scores, points and names are never touched."""
    if size(doc) <= limit:
        return doc
    cut = dict(doc)

    def fits() -> bool:            # with room for the note that says what was cut
        return size(cut) + len(CUT_NOTE) + 8 <= limit

    for keep in (20_000, 5_000, 1_000, 200, 0):
        for field in ("output", "message"):
            cut["tests"] = [dict(x, **{field: _shorten(x[field], keep)}) for x in cut["tests"]]
            if fits():
                break
        top = max(keep, 2_000)
        cut["output"] = _shorten(doc["output"], top)
        cut["message"] = _shorten(doc["message"], top)
        if "format_errors" in doc:
            cut["format_errors"] = [_shorten(e, top) for e in doc["format_errors"]]
        if fits():
            break
    cut["message"] += "\n" + CUT_NOTE
    return cut


def dumps(result: SubmissionResult, limit: int = LIMIT) -> str:
    """results.json for one submission, at most `limit` bytes."""
    return dumps_raw(fit(render(result), limit))
