"""nbgrader's course folders: ``submitted/<student id>/<assignment id>/<notebook>.ipynb``.

`nbgrader collect` (and `zip_collect`, for files from an LMS) copies each
student's submission there, with a ``timestamp.txt`` beside the notebooks when
nbgrader knows when it was handed in; ``autograded/`` has the same shape. The
student is the folder's name, as nbgrader's own gradebook keys them.

Read as nbgrader's: a folder named ``submitted`` or ``autograded`` holding
``<student>/<assignment>/`` folders, any folder whose ``<x>/<y>/`` folders hold
a ``timestamp.txt``, and one ``<student>/<assignment>/`` folder holding a
``timestamp.txt`` (what the shell glob ``submitted/*/ps1`` gives, one per
student). Such a folder holds every assignment: the one named like the
rubric's is graded; when none is, the only one is; several, none named so,
is bad input (one line saying which glob grades one of them).

An assignment may have several notebooks: the one named like the rubric's
assignment is graded, else the first by name, and the others are noted as
skipped. Other files (data, the timestamp) are the assignment's, not noted; a
student with no notebook still gets a row, graded as invalid.
"""

from __future__ import annotations

from pathlib import Path

from grader.errors import InputError
from grader.submissions.ids import NOTEBOOK, Upload
from grader.submissions.layout import Scan, children, files_under

STEPS = ("submitted", "autograded")   # nbgrader's default folder names for collected submissions
TIMESTAMP = "timestamp.txt"


def scan(root: Path, assignment: str | None = None) -> Scan | None:
    """The nbgrader reading of `root`, or None when it is not laid out as nbgrader's."""
    if (root / TIMESTAMP).is_file():          # one student's <student>/<assignment>/ folder
        found = Scan("nbgrader", root)
        _student(found, root.parent.name, root, assignment)
        return found
    students = [p for p in children(root) if p.is_dir()]
    folders = {s: [a for a in children(s) if a.is_dir()] for s in students}
    stamped = any((a / TIMESTAMP).is_file() for subs in folders.values() for a in subs)
    if not (stamped or (root.name in STEPS and any(folders.values()))):
        return None
    graded = _assignment(root, {a.name for subs in folders.values() for a in subs}, assignment)
    found = Scan("nbgrader", root)
    found.loose += [p for p in children(root) if p.is_file()]
    for student, subs in folders.items():
        for folder in subs:
            if folder.name == graded:
                _student(found, student.name, folder, assignment)
    others = sorted({a.name for subs in folders.values() for a in subs} - {graded})
    if others:
        found.notes.append(f"{root}: assignment {graded} graded; {', '.join(others)} left out (nbgrader "
                           "folders of other assignments)")
    return found


def _assignment(root: Path, names: set[str], wanted: str | None) -> str | None:
    if wanted in names or len(names) <= 1:
        return wanted if wanted in names else next(iter(names), None)
    which = f"none is named {wanted}" if wanted else "which one?"
    raise InputError(root, f"holds the nbgrader assignments {', '.join(sorted(names))}, {which}: grade one "
                           f"with the folders {root}/*/ASSIGNMENT")


def _student(found: Scan, student: str, folder: Path, assignment: str | None) -> None:
    files = [f for f in files_under(folder) if f.name != TIMESTAMP]
    stamp = (folder / TIMESTAMP).read_text(errors="replace").strip() if (folder / TIMESTAMP).is_file() else ""
    notebooks = named_notebook(found, [f for f in files if f.suffix.lower() == NOTEBOOK], assignment)
    if not notebooks:
        notebooks = files[:1] or [f for f in (folder / TIMESTAMP,) if f.is_file()]
        found.notes.append(f"{folder}: no notebook; {student} is graded as invalid" if notebooks else
                           f"{folder}: empty; {student} has no row")
    found.uploads += [Upload(nb, "nbgrader", student, "", (stamp,)) for nb in notebooks]


def named_notebook(found: Scan, notebooks: list[Path], assignment: str | None) -> list[Path]:
    """The notebook named like the assignment when there is one (the others noted as skipped),
    else all of them (the batch grades one and notes the rest)."""
    named = [nb for nb in notebooks if nb.stem == assignment]
    if not named or len(notebooks) == 1:
        return notebooks
    found.notes += [f"{nb}: skipped, not the notebook named {assignment}" for nb in notebooks if nb not in named]
    return named[:1]
