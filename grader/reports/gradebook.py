"""The gradebook: one CSV row per submission, one column per question.

Columns: submission, student (the LMS id, when the submissions came from an
LMS export), total, max, status, then each question id (its score), then
source and sha256. Rows are sorted by submission id so the file is the
same whatever order the workers finished in.

For an LMS the key is `submission` (the notebook's name: name the files
after the students' logins) and the grade is `total` (out of `max`): Moodle's
CSV import maps them to the user field and the grade item as they are;
Canvas needs its own identity columns, so `total` goes into an exported
Canvas gradebook by matching `submission` to `SIS Login ID` (README, "CI
and LMS").
"""

from __future__ import annotations

import csv
import io

from grader.results import SubmissionResult
from grader.rubric.model import Rubric


def render(rubric: Rubric, results: list[SubmissionResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ids = [q.id for q in rubric.questions]
    writer.writerow(["submission", "student", "total", "max", "status", *ids, "source", "sha256"])
    for r in sorted(results, key=lambda r: r.submission):
        scores = {q.id: q.score for q in r.questions}
        writer.writerow([r.submission, r.student or "", f"{r.score:g}", f"{r.max_score:g}", r.status,
                         *(f"{scores.get(i, 0):g}" for i in ids), r.source, r.sha256])
    return out.getvalue()
