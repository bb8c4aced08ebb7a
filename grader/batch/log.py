"""The batch log: OUT/batch-log.jsonl, one line per submission handled.

Results carry no timings (they are byte-stable); how long each submission
took (`seconds`, and per phase in `phases`: PHASES; waiting for a free worker
is in none of them), whether it was graded or reused from an earlier run, and why it was
graded again live here instead. Lines are appended with O_APPEND after the
result file is in place, so a kill can lose at most the last line, never
make a result look graded twice; a torn last line is skipped on reading.

Each line also holds the sha256 of the result file as the grader wrote it
(`result_sha256`): a result is only ever read back (resume, merge) when its
bytes are the ones the log names, so a file that appeared in the output
folder by another hand, or was changed after it was written, is never taken
for a result (`resume`, `merge`, `run.seal`).
"""

from __future__ import annotations

import hashlib
import json
import os
import typing as t
from dataclasses import asdict, dataclass, field
from pathlib import Path

Event = t.Literal["graded", "reused"]


@dataclass(frozen=True)
class Entry:
    submission: str
    sha256: str
    event: Event
    seconds: float = 0.0           # wall time of grading it, without waiting for a worker (0 when reused)
    student_seconds: float = 0.0   # time the kernel spent in the student's cells and calls
    why: str = ""                  # why it was graded again, when a result was there
    result_sha256: str = ""        # sha256 of results/ID.json as the grader wrote (or reused) it
    # where `seconds` went: kernel start, the notebook's run, probe calls, judging, writing reports
    phases: dict[str, float] = field(default_factory=dict)


LOG_NAME = "batch-log.jsonl"
#: the phases of grading one submission, in order (`Entry.phases`)
PHASES = ("start", "run", "probe", "judge", "write")


def log_path(out: Path) -> Path:
    return out / LOG_NAME


def append(out: Path, entry: Entry) -> None:
    line = line_of(entry)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path(out), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)    # one write of one line: appends from parallel writers do not interleave
    finally:
        os.close(fd)


def read(out: Path) -> list[Entry]:
    entries = []
    try:
        lines = log_path(out).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            entries.append(Entry(**json.loads(line)))
        except (ValueError, TypeError):
            continue   # a line torn by a kill
    return entries


def result_hashes(entries: t.Iterable[Entry]) -> dict[str, str]:
    """submission -> sha256 of its result file, as the most recent line about it says."""
    return {e.submission: e.result_sha256 for e in entries}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def line_of(entry: Entry) -> bytes:
    return (json.dumps(asdict(entry), sort_keys=True) + "\n").encode()


def latest_seconds(entries: t.Iterable[Entry]) -> dict[str, float]:
    """Wall seconds of each submission's most recent grading (for "slowest submissions")."""
    return {e.submission: e.seconds for e in entries if e.event == "graded"}
