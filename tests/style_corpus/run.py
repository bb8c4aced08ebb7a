"""Grade the whole style corpus on warm kernels, one batch per assignment.

    python -m tests.style_corpus.run      # the table and the two figures

Every notebook is correct: anything short of full marks, and any flag (a
question `forbidden`, a notebook issue, a submission not graded), is a false
fail of the grader.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import helpers

from .build import notebooks


@dataclass
class StyleRun:
    results: dict        # notebook name -> SubmissionResult
    assignment_of: dict  # notebook name -> assignment
    seconds: float


def flags(result) -> list[str]:
    """What marks a submission as suspect besides its score."""
    found = [f"{q.id}: {q.status}: {q.feedback}" for q in result.questions if q.status == "forbidden"]
    found += [f"notebook: {issue}" for issue in result.notebook_issues]
    if result.status != "graded":
        found.append(f"submission {result.status}: {result.message}")
    return found


def shortfalls(result) -> list[str]:
    """Every question that did not pass with full points, with its feedback."""
    return [f"{q.id}: {q.status} ({q.score:g}/{q.max_score:g}): {q.feedback}"
            for q in result.questions if q.status != "passed" or q.score < q.max_score]


def grade_corpus(folder: Path, *, workers: int = 2) -> StyleRun:
    cfg = helpers.config(kernel="warm")
    results, assignment_of = {}, {}
    start = time.monotonic()
    for assignment, paths in notebooks(folder / "subs").items():
        got = helpers.grade(paths, folder / "out" / assignment, cfg=cfg, workers=workers,
                            rubric=helpers.ROOT / "rubrics" / f"{assignment}.yaml")
        results.update(got)
        assignment_of.update({name: assignment for name in got})
    return StyleRun(results, assignment_of, time.monotonic() - start)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        run = grade_corpus(Path(tmp))
    full = flagged = 0
    for name, result in sorted(run.results.items()):
        problems = shortfalls(result) + flags(result)
        full += result.score == result.max_score
        flagged += bool(flags(result))
        print(f"{name:28} {result.score:5g} / {result.max_score:<5g} {'ok' if not problems else problems[0][:150]}")
    print(f"full marks: {full}/{len(run.results)}; flagged: {flagged}; {run.seconds:.0f} s")
    return 0 if full == len(run.results) and not flagged else 1


if __name__ == "__main__":
    sys.exit(main())
