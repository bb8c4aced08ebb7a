"""Rubrics already found sound, remembered on disk: the semantic check costs seconds.

`semantics.check_rubric` evaluates every expression and generates every check
kind's first cases and references: for the graph checks seconds of torch work
(and torch's lazy imports), the same for the same rubric every time. A rubric
that passed leaves an empty file named by its fingerprint in the user's cache
(`GRADER_CACHE_DIR`, else `$XDG_CACHE_HOME/autograd-grader`, else
`~/.cache/autograd-grader`); the next command that loads the same rubric with the
same grader and torch skips the check. The fingerprint covers the rubric's
validated JSON, the grader's version, torch's, and the source of the modules
the check runs (rubric, checks, expr), so a changed check never trusts an old
verdict. Only passes are remembered: a problem is found again, and reported,
every time. A cache that cannot be read or written is no cache.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import metadata
from pathlib import Path

from grader import __version__

GRADER = Path(__file__).resolve().parent.parent
CHECKED_SOURCES = ("rubric", "checks", "expr")


def cache_dir() -> Path:
    if os.environ.get("GRADER_CACHE_DIR"):
        return Path(os.environ["GRADER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "autograd-grader"


@functools.lru_cache(maxsize=1)
def _code() -> str:
    """The grader's version, torch's (read without importing it) and the checked sources."""
    digest = hashlib.sha256(__version__.encode())
    try:
        digest.update(metadata.version("torch").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"no torch")
    for folder in CHECKED_SOURCES:
        for path in sorted((GRADER / folder).rglob("*.py")):
            digest.update(path.relative_to(GRADER).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _marker(rubric_json: str) -> Path:
    key = hashlib.sha256((_code() + "\0" + rubric_json).encode()).hexdigest()
    return cache_dir() / "sound-rubrics" / key


def known_sound(rubric_json: str) -> bool:
    try:
        return _marker(rubric_json).is_file()
    except OSError:
        return False


def remember_sound(rubric_json: str) -> None:
    try:
        marker = _marker(rubric_json)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass
