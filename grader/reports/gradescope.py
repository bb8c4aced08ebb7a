"""Gradescope's `results.json` for one submission.

The fields are Gradescope's documented autograder output (see
`RESULTS_SCHEMA`, which the tests validate against): top level `score`,
`output`, `output_format`, `visibility`, `stdout_visibility`, `extra_data`,
`tests`; each test `name`, `number`, `score`, `max_score`, `status`,
`output`, `output_format`, `visibility`, `tags`. The assignment's maximum is
each test's `max_score` added up (Gradescope takes the total from the
assignment's settings; it is also in `extra_data.max_score`).

One test per case group (grader/reports/views.py): `QUESTION [public]`,
visible, with what was checked, the failing public cases (input, expected,
got), the hint and the command that reproduces it; and `QUESTION [hidden]`,
shown `after_published` by default, which says only how many hidden cases
failed. Nothing about a particular hidden case (its id, inputs or message)
appears in any output that is visible before then.
"""

from __future__ import annotations

import typing as t
from pathlib import PurePath

from grader.reports.views import case_groups, device_summary, public_feedback, reproduce, show_value, skip_notes
from grader.results import SubmissionResult
from grader.rubric.model import Rubric

Visibility = t.Literal["hidden", "after_due_date", "after_published", "visible"]
VISIBILITIES: tuple[str, ...] = t.get_args(Visibility)
FORMATS = ["text", "html", "simple_format", "md", "ansi"]

_TEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number", "minimum": 0},
        "status": {"enum": ["passed", "failed"]},
        "name": {"type": "string"},
        "name_format": {"enum": FORMATS},
        "number": {"type": "string"},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": {"enum": list(VISIBILITIES)},
        "extra_data": {"type": "object"},
    },
}

#: Gradescope's documented results.json fields (autograder specifications, "Output format")
RESULTS_SCHEMA: dict[str, t.Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Gradescope autograder results.json",
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["score"]},
              {"properties": {"tests": {"items": {"required": ["score"]}}}, "required": ["tests"]}],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "test_output_format": {"enum": FORMATS},
        "test_name_format": {"enum": FORMATS},
        "visibility": {"enum": list(VISIBILITIES)},
        "stdout_visibility": {"enum": list(VISIBILITIES)},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": _TEST},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}}}},
    },
}


def _public_output(result: SubmissionResult, group) -> str:
    q = group.question
    lines = []
    if q.title:
        lines.append(f"{q.title} (calls {', '.join(q.calls)})")
    if group.outcome == "passed":
        lines.append("the public cases passed")
    else:
        lines.append(public_feedback(q) if q.status not in ("not_run",) else q.feedback)
    # a hint may come from hidden cases: only with a public failure (or a failure not about cases)
    if group.outcome != "passed" and (group.failed or not q.hidden_failed):
        lines += [f"hint: {h}" for h in q.hints if h not in q.feedback]
    for case in q.public_failures:
        lines += ["", f"public case {case.case}: {case.message}"]
        lines += [f"  {name} = {show_value(v, limit=600)}" for name, v in case.inputs.items()]
        lines += [f"  expected: {show_value(case.expected, limit=600)}", f"  got: {show_value(case.got, limit=600)}"]
    if group.outcome != "passed":
        command = reproduce(q, PurePath(result.source).name, result.assignment)   # the student's own copy
        if command and command.startswith("grader check"):
            lines += ["", f"reproduce: {command}"]
    return "\n".join(lines)


def _hidden_output(group) -> str:
    q = group.question
    text = (f"{group.failed} hidden case(s) failed (their inputs are not shown)" if group.failed
            else "the hidden cases passed" if group.outcome == "passed" else group.message)
    return text + f"\nall cases per device: {device_summary(q, marks=False)}"


def render(result: SubmissionResult, rubric: Rubric | None = None, *,
           hidden_visibility: Visibility = "after_published") -> dict[str, t.Any]:
    tests = []
    for number, g in enumerate(case_groups(result, rubric), start=1):
        public = g.visibility == "public"
        tests.append({
            "name": g.name,
            "number": str(number),
            "score": round(g.points, 6),
            "max_score": round(g.max_points, 6),
            # never "passed" with no points or a failed case (a skipped group earns nothing)
            "status": "passed" if g.outcome == "passed" or (g.outcome == "skipped" and not g.max_points)
            else "failed",
            "output": _public_output(result, g) if public else _hidden_output(g),
            "output_format": "text",
            "visibility": "visible" if public else hidden_visibility,
            "tags": [g.question.id, g.visibility],
        })
    head = [f"{result.assignment}: {result.score:g} / {result.max_score:g}"]
    if result.message:
        head.append(result.message)
    head += [f"notebook: {issue}" for issue in result.notebook_issues]
    head += skip_notes(result.questions)
    return {
        "score": result.score,
        "output": "\n".join(head),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"max_score": result.max_score, "submission": result.submission,
                       "sha256": result.sha256, "status": result.status,
                       "grader_version": result.grader_version, "rubric_version": result.rubric_version},
        "tests": tests,
    }
