"""What every LMS layout reader returns, and the folder walking they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.submissions.ids import Upload

JUNK = "__MACOSX"   # macOS resource forks in zips made on a Mac: never student work


@dataclass
class Scan:
    """An export folder read by one layout."""

    lms: str
    root: Path
    uploads: list[Upload] = field(default_factory=list)   # files the layout attributes to a student
    loose: list[Path] = field(default_factory=list)       # files it names nobody for
    notes: list[str] = field(default_factory=list)


def hidden(name: str) -> bool:
    return name.startswith(".") or name == JUNK


def children(folder: Path) -> list[Path]:
    """Visible entries of a folder, sorted by name (checkpoints, dot files and junk left out)."""
    return sorted(p for p in folder.iterdir() if not hidden(p.name))


def files_under(folder: Path) -> list[Path]:
    """Visible files anywhere below a folder, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(hidden(part) for part in p.relative_to(folder).parts))
