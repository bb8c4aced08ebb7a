"""GitHub Classroom autograding: the step output `result` its reporter action reads.

Classroom's generated workflow runs grader steps, each with an `id`, and then
`classroom-resources/autograding-grading-reporter`. Each grader step sets the
step output `result` to base64 of a UTF-8 JSON object; the workflow hands it to
the reporter as the env var `<ID>_RESULTS` (the step id upper-cased) and names
the id in the reporter's `runners:` input. What the reporter does with it (read
in its source, `src/`):

- it decodes every runner's variable and parses the JSON; a missing or
  malformed one fails the reporter step;
- the points Classroom records (its "Autograding report" notice,
  `{totalPoints, maxPoints}`) are the sum of `tests[].score` over the runners
  and the sum of their top-level `max_score`; a runner whose `max_score` is 0
  or missing is left out of both;
- the top-level `status` "fail" or "error" fails the reporter step (so a
  submission that loses points shows a red check, as Classroom intends);
- its log prints each test as ✅/❌ with `line_no` when it is not 0, then
  `test_code`; `message` is printed only for a test whose status is "error";
- its log's per-runner table computes "Test Score" as (tests passed / tests)
  x max_score, not from `score`: with partial credit or questions of unequal
  points that table differs from the points Classroom records.

The fields are those the Classroom runners write (`autograding-command-grader`
sets `{"version": 1, "status", "max_score", "tests": [{"name", "status",
"score", "message", "test_code", "filename", "line_no", "duration"}]}`).

One test per question, its `score` the question's points, so the tests add
up to the grade. Everything a Classroom run prints is visible to the student
at once (no per-test visibility): hidden cases appear as a count only, and
hints only where Gradescope's visible output would give them
(`views.visible_verdict`). `test_code` is the command that reruns the
question's public cases (`grader check NB --question ID`); results carry no
timings or line numbers (they are byte-stable), so `duration` and `line_no` are 0.
"""

from __future__ import annotations

import base64
import json
import os
import typing as t
from pathlib import PurePath

from grader.reports.views import ERROR_STATUSES, check_command, visible_verdict
from grader.results import QuestionResult, SubmissionResult

Status = t.Literal["pass", "fail", "error"]
#: the reporter receives the step output as an environment variable, and Linux caps one
#: "NAME=value" string at 128 KiB (MAX_ARG_STRLEN): the encoded output stays well under it
STEP_OUTPUT_LIMIT = 100_000
_CUT = " … (cut: the step output has a size limit; the full feedback is in the job summary)"


def healthy(result: SubmissionResult) -> bool:
    """The notebook ran through: graded, and not stopped early (a time limit, a dead kernel)."""
    return result.status == "graded" and not result.message


def _test_status(q: QuestionResult, result: SubmissionResult) -> Status:
    if q.status == "passed" or (q.status == "not_run" and not q.max_score and healthy(result)):
        return "pass"
    if q.status in ERROR_STATUSES or (q.status == "not_run" and not healthy(result)):
        return "error"
    return "fail"


def own_words(text: str, result: SubmissionResult) -> str:
    """`text` with the grader's path of the notebook replaced by its file name (the student
    never saw the runner's or the container's folders)."""
    return text.replace(result.source, PurePath(result.source).name) if result.source else text


def _message(q: QuestionResult, result: SubmissionResult) -> str:
    text = visible_verdict(q)
    if q.status == "not_run" and result.message and result.message not in text:
        text += f": {result.message}"      # why the notebook did not run (its own file, its own error)
    if q.status in ("missing", "not_run"):  # a function never defined: often a failing cell is why
        text += "".join(f"\nnotebook: {issue}" for issue in result.notebook_issues)
    return own_words(text, result)


def _tests(result: SubmissionResult, prefix: str = "") -> list[dict[str, t.Any]]:
    notebook = PurePath(result.source).name      # the student's file, as the reproduce command names it
    return [{"name": prefix + q.id,
             "status": _test_status(q, result),
             "score": round(q.score, 6),
             "message": _message(q, result),
             "test_code": check_command(notebook, q.id, result.assignment),
             "filename": notebook,
             "line_no": 0,
             "duration": 0}
            for q in result.questions]


def _overall(results: t.Sequence[SubmissionResult], tests: list[dict[str, t.Any]]) -> Status:
    if not all(healthy(r) for r in results):     # the notebook could not run (through)
        return "error"
    return "pass" if all(x["status"] == "pass" for x in tests) else "fail"


def render(result: SubmissionResult) -> dict[str, t.Any]:
    """One submission as one Classroom runner's result."""
    tests = _tests(result)
    return {"version": 1, "status": _overall([result], tests), "max_score": result.max_score, "tests": tests}


def render_batch(results: t.Sequence[SubmissionResult]) -> dict[str, t.Any]:
    """The step output of a run: one submission as `render`; several (a repository holding more
    than one notebook of the assignment) as one runner whose tests are named `SUBMISSION: QUESTION`
    and whose max_score is the sum, so the points still add up."""
    results = sorted(results, key=lambda r: r.submission)
    if len(results) == 1:
        return render(results[0])
    tests = [x for r in results for x in _tests(r, prefix=f"{r.submission}: ")]
    return {"version": 1, "status": _overall(results, tests),
            "max_score": round(sum(r.max_score for r in results), 6), "tests": tests}


def encode(doc: dict[str, t.Any]) -> str:
    """base64 of the compact UTF-8 JSON: what the reporter decodes."""
    return base64.b64encode(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).decode()


def fit(doc: dict[str, t.Any], limit: int = STEP_OUTPUT_LIMIT) -> dict[str, t.Any]:
    """`doc` with its messages shortened until the encoded output is at most `limit` characters
    (the scores, statuses and names are never touched: Classroom's points stay right)."""
    if len(encode(doc)) <= limit:
        return doc
    for keep in (2000, 500, 100, 0):
        tests = [dict(x, message=x["message"][:keep] + _CUT if len(x["message"]) > keep else x["message"])
                 for x in doc["tests"]]
        cut = dict(doc, tests=tests)
        if len(encode(cut)) <= limit:
            return cut
    # thousands of questions: drop the reproduce commands too (names and scores stay)
    return dict(doc, tests=[dict(x, message="", test_code="") for x in doc["tests"]])


def write_step_output(results: t.Sequence[SubmissionResult]) -> str | None:
    """Append `result=<base64>` to $GITHUB_OUTPUT (when set) and return the encoded value."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target or not results:
        return None
    value = encode(fit(render_batch(results)))
    with open(target, "a", encoding="utf-8") as f:
        f.write(f"result={value}\n")       # base64: one line, nothing to escape
    return value
