"""The result of grading one submission: the one JSON file every report reads.

Deterministic by construction (no timestamps, no timings, sorted keys), so
the same submission, rubric and seed give the same bytes. Written
atomically: a temporary file in the same folder, fsync, then rename.
"""

from __future__ import annotations

import os
import tempfile
import typing as t
from pathlib import Path

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
        "each {index, got, expected} (grader.reports.views.worst_entries)")


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


def write_atomic(path: Path, text: str) -> None:
    write_atomic_bytes(path, text.encode("utf-8"))


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask can only be
    read by setting it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write `path` all at once (temporary file, fsync, rename), with the mode any tool would give
    it (0666 less the umask): mkstemp's 0600 would hide reports from the course's TAs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
