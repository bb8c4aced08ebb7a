"""GitHub Classroom repositories as `gh classroom clone student-repos` leaves them.

The command clones each accepted assignment's repository into
``<assignment slug>-submissions/<repository name>/``, and GitHub Classroom
names a student's repository ``<assignment slug>-<GitHub username>`` (a group
assignment's, ``<slug>-<team name>``). The student is that username (or team).

Read as GitHub Classroom's: a folder named ``<slug>-submissions`` whose folders
start with ``<slug>-``, or a folder of at least two git clones (each with its
``.git``) whose names share one ``<slug>-`` start. Another folder in it is
graded under its path, with a note. A repository holds many files: only its
notebooks count, the one named like the rubric's assignment first (the others
noted as skipped), else the batch grades one and notes the rest; a repository
without a notebook is graded as invalid.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.submissions.ids import NOTEBOOK, Upload
from grader.submissions.layout import Scan, children, files_under
from grader.submissions.nbgrader import named_notebook

SUFFIX = "-submissions"   # gh classroom clone student-repos: <assignment slug>-submissions/


def scan(root: Path, assignment: str | None = None) -> Scan | None:
    """The GitHub Classroom reading of `root`, or None when it is not a folder of student repos."""
    folders = [p for p in children(root) if p.is_dir()]
    prefix = _prefix(root, folders)
    if prefix is None:
        return None
    found = Scan("classroom", root)
    for entry in children(root):
        if not (entry.is_dir() and entry.name.startswith(prefix) and len(entry.name) > len(prefix)):
            found.loose.extend(files_under(entry) if entry.is_dir() else [entry])
            continue
        login = entry.name[len(prefix):]
        files = files_under(entry)
        notebooks = named_notebook(found, [f for f in files if f.suffix.lower() == NOTEBOOK], assignment)
        if not notebooks:
            notebooks = files[:1]
            found.notes.append(f"{entry}: no notebook in the repository; {login} is graded as invalid"
                               if files else f"{entry}: empty repository; {login} has no row")
        found.uploads += [Upload(nb, "classroom", login) for nb in notebooks]
    return found


def _prefix(root: Path, folders: list[Path]) -> str | None:
    """`<slug>-`: from the folder's name, else what its git clones' names start with."""
    if root.name.endswith(SUFFIX) and len(root.name) > len(SUFFIX):
        prefix = root.name[:-len(SUFFIX)] + "-"
        return prefix if any(f.name.startswith(prefix) for f in folders) else None
    clones = [f.name for f in folders if (f / ".git").exists()]
    if len(clones) < 2:
        return None
    common = os.path.commonprefix(clones)
    prefix = common[:common.rfind("-") + 1]
    return prefix or None
