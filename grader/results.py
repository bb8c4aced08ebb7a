"""The result of grading one submission: the one JSON file every report reads.

Deterministic by construction (no timestamps, no timings, sorted keys), so
the same submission, rubric and seed give the same bytes (written atomically:
`grader.files`). A floor below the checks, which fill it, and the reports, which
read it (docs/architecture.md, Layers).
"""

from __future__ import annotations

import typing as t

from pydantic import BaseModel, Field

Status = t.Literal["passed", "failed", "not_implemented", "missing", "error", "timeout",
                   "crashed", "forbidden", "not_run"]


class DeviceCount(BaseModel):
    passed: int = 0
    total: int = 0
    skipped: int = 0
    skip_reason: str | None = None


class CaseReport(BaseModel):
    """A failing public case, shown to the student in full (hidden ones never are)."""

    case: str
    message: str
    inputs: dict[str, t.Any] = Field(default_factory=dict)
    expected: t.Any = None
    got: t.Any = None
    worst: list[dict[str, t.Any]] = Field(
        default_factory=list, description="for large tensors: the entries farthest from the reference, "
        "each {index, got, expected} (grader.checks.compare.worst_entries)")


class QuestionResult(BaseModel):
    id: str
    title: str | None = None
    calls: list[str]
    score: float
    max_score: float
    status: Status
    feedback: str
    hints: list[str] = Field(default_factory=list)
    worst_error: float | None = Field(None, description="worst |got-ref| / (atol + rtol |ref|)")
    cases: dict[str, DeviceCount] = Field(default_factory=dict, description="per device")
    public_failures: list[CaseReport] = Field(default_factory=list)
    hidden_failed: int = 0
    hidden_total: int = Field(0, description="hidden cases run (public ones: the per-device totals less these)")
    plot: dict[str, t.Any] | None = Field(None, description="series for a plot in the feedback "
                                          "(error against h for finite differences)")


class SubmissionResult(BaseModel):
    submission: str
    student: str | None = Field(None, description="the student's id in the LMS export, when known")
    source: str
    sha256: str
    assignment: str
    rubric_version: int
    rubric_sha256: str = Field("", description="Rubric.fingerprint() of the rubric it was graded with")
    grader_version: str
    status: t.Literal["graded", "invalid", "error"]
    message: str = ""
    score: float
    max_score: float
    public_only: bool = False
    sandbox: dict[str, t.Any] = Field(default_factory=dict)
    notebook_issues: list[str] = Field(default_factory=list)
    questions: list[QuestionResult] = Field(default_factory=list)
    # Not part of the JSON (results are byte-stable): how long the kernel spent in the
    # student's cells and calls, for the batch log and the benchmark's floor.
    student_seconds: float = Field(0.0, exclude=True)
    # Not part of the JSON either: where this grading's wall time went ("start", "run", "probe",
    # "judge", then "write" in the batch), for the batch log and `grader grade --profile`.
    phases: dict[str, float] = Field(default_factory=dict, exclude=True)
    # Not part of the JSON either: the notebook as the kernel ran it (outputs capped), from
    # the kernel's run to the `notebook` format's writer, which drops it once the page is written.
    executed: t.Any = Field(None, exclude=True, repr=False)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"
