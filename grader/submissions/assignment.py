"""Which assignment a notebook is: the one rule for `grader check` and the in-notebook check
(`grader/selfcheck/where.py`)."""

from __future__ import annotations

import difflib
from pathlib import Path

from grader.config import Config
from grader.errors import InputError
from grader.rubric.load import available_assignments
from grader.submissions.discover import read_notebook


def infer_assignment(cfg: Config, notebook: Path) -> str:
    """From the notebook's metadata (`grader.assignment`), else from its file name."""
    meta = read_notebook(notebook).metadata.get("grader", {})
    if isinstance(meta, dict) and isinstance(meta.get("assignment"), str):
        return meta["assignment"]
    names = available_assignments(cfg)
    stem = notebook.stem.lower()
    hits = [n for n in names if n in stem] or difflib.get_close_matches(stem, names, n=1)
    if not hits:
        raise InputError(notebook, "cannot tell which assignment this is: pass --assignment "
                                   f"({', '.join(names)})")
    return max(hits, key=len)
