"""The formats other systems read: json (the result itself), gradescope (results.json), github
(the job summary, annotations and step outputs), classroom (GitHub Classroom's step output) and
prairielearn (its external grader's results.json)."""

from __future__ import annotations

import json
from pathlib import Path

from grader.files import write_atomic
from grader.reports import classroom, gradescope, prairielearn    # classroom's step output: grader/cli/options.py
from grader.reports.formats import Format, ReportOptions, output_of, own_folder
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


def _gradescope_json(result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> str:
    return json.dumps(gradescope.render(result, rubric, hidden_visibility=opts.hidden_visibility), indent=2) + "\n"


def _write_gradescope(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(output_of("gradescope", out, result.submission), _gradescope_json(result, rubric, opts))


def _write_gradescope_single(out: Path, results: list[SubmissionResult], rubric: Rubric,
                             opts: ReportOptions) -> None:
    if len(results) == 1:     # Gradescope grades one submission at a time: OUT/results.json is its file
        write_atomic(out / "results.json", _gradescope_json(results[0], rubric, opts))


def _write_classroom(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    doc = classroom.fit(classroom.render(result))     # what the step output holds for this notebook alone
    write_atomic(output_of("classroom", out, result.submission),
                 json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _write_prairielearn(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(output_of("prairielearn", out, result.submission), prairielearn.dumps(result))


# results/ID.json: always written, and last, by grader/batch/writers.py (its presence marks a
# submission done for a resumed batch)
JSON = Format("json")
GRADESCOPE = Format("gradescope", own_folder("gradescope"), _write_gradescope, _write_gradescope_single)
# job summary, annotations, step outputs: written by grader/cli/options.py (needs the exit policy)
GITHUB = Format("github", implies=("junit",))
CLASSROOM = Format("classroom", own_folder("classroom"), _write_classroom)
PRAIRIELEARN = Format("prairielearn", own_folder("prairielearn"), _write_prairielearn)
