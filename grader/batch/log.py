"""The batch log: OUT/batch-log.jsonl, one line per submission handled.

Results carry no timings (they are byte-stable); how long each submission
took, whether it was graded or reused from an earlier run, and why it was
graded again live here instead. Lines are appended with O_APPEND after the
result file is in place, so a kill can lose at most the last line, never
make a result look graded twice; a torn last line is skipped on reading.
"""

from __future__ import annotations

import json
import os
import typing as t
from dataclasses import asdict, dataclass
from pathlib import Path

Event = t.Literal["graded", "reused"]


@dataclass(frozen=True)
class Entry:
    submission: str
    sha256: str
    event: Event
    seconds: float = 0.0           # wall time of grading it (0 when reused)
    student_seconds: float = 0.0   # time the kernel spent in the student's cells and calls
    why: str = ""                  # why it was graded again, when a result was there


LOG_NAME = "batch-log.jsonl"


def log_path(out: Path) -> Path:
    return out / LOG_NAME


def append(out: Path, entry: Entry) -> None:
    line = (json.dumps(asdict(entry), sort_keys=True) + "\n").encode()
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


def latest_seconds(entries: t.Iterable[Entry]) -> dict[str, float]:
    """Wall seconds of each submission's most recent grading (for "slowest submissions")."""
    return {e.submission: e.seconds for e in entries if e.event == "graded"}
