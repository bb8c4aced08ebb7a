"""Submissions as instructors get them: notebooks, folders, and LMS exports.

`collect` is what `grader grade` reads its paths with. A ``.zip`` is unpacked
(safely, once: `grader.submissions.unzip`) into ``unpack_to/<zip stem>``; a
folder, unpacked or not, is read as a Canvas, Gradescope or Moodle export, or
as the folders nbgrader, `gh classroom clone` or otter-grader leave, when its
layout says so (a single wrapping folder is looked through), else as today's
plain folder of notebooks (`discover`). In an export:

- each student gets one submission, with an id from their LMS id
  (`grader.submissions.ids`); of several uploads the latest notebook is
  graded and the others are listed as skipped;
- a student who handed in no notebook still gets a submission, graded as
  invalid, so that every student of the export has a gradebook row;
- other non-notebook files are skipped, and a notebook that cannot be read is
  graded as invalid; both with a note.

The notes are one line each and name the file; the caller shows them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import InputError
from grader.submissions import canvas, classroom, gradescope, moodle, nbgrader, otter
from grader.submissions.discover import Submission, discover, id_for, read_notebook, sha256_of, unique_ids
from grader.submissions.ids import NOTEBOOK, Upload, submission_id
from grader.submissions.layout import Scan, children
from grader.submissions.unzip import unpack

LAYOUTS = (gradescope.scan, moodle.scan, canvas.scan)   # the most specific sign first
TOOLS = (nbgrader.scan, classroom.scan, otter.scan)     # other tools' folders: they also take the assignment


@dataclass
class Collection:
    submissions: list[Submission] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect(paths: list[Path], unpack_to: Path, assignment: str | None = None, *,
            read_all: bool = True) -> Collection:
    """Submissions from notebooks, folders and LMS export zips, in command-line order. `assignment`
    (the rubric's name) picks an nbgrader assignment's folders and a notebook among several.
    `read_all=False`: the notebooks named are only opened, and the notes on notebooks found in
    folders that cannot be read are left to the caller (`unreadable_notes(..., named=True)`:
    `grader grade` starts the kernels' parent first, and reading and validating every notebook
    takes a while)."""
    out = Collection()
    parts: list[list[Submission]] = []
    uploads: list[tuple[int, Upload]] = []
    stems: dict[str, int] = {}
    for index, raw in enumerate(paths):
        path = Path(raw)
        if path.suffix.lower() == ".zip" and not path.is_dir():
            path = unpack(path, Path(unpack_to) / _unpack_name(path, stems))
        elif not path.is_dir():
            parts.append(discover([path], read_named=read_all))   # named on the command line: must be readable
            continue
        scan = read_export(path, assignment)
        if scan is None:
            parts.append(discover([path]))
            continue
        out.notes += [_summary(Path(raw), scan), *scan.notes]
        parts.append(_loose(scan, out.notes))
        uploads += [(index, upload) for upload in scan.uploads]
    students: dict[int, list[Submission]] = defaultdict(list)
    opened = otter.open_zips([u for _, u in uploads], unpack_to, assignment, out.notes)
    uploads = [(index, u) for (index, _), u in zip(uploads, opened)]
    for index, upload in _choose(uploads, out.notes):
        students[index].append(_submission(upload))
    out.submissions = unique_ids([sub for index, part in enumerate(parts)
                                  for sub in part + sorted(students[index], key=lambda s: s.id)])
    out.notes += _identical(out.submissions) + (unreadable_notes(out.submissions) if read_all else [])
    return out


def read_export(folder: Path, assignment: str | None = None) -> Scan | None:
    """The first layout that recognises `folder`, looking through one wrapping folder; None: plain."""
    for scan in LAYOUTS:
        found = scan(folder)
        if found is not None:
            return found
    for tool in TOOLS:
        found = tool(folder, assignment)
        if found is not None:
            return found
    inside = children(folder)
    if len(inside) == 1 and inside[0].is_dir():
        return read_export(inside[0], assignment)
    return None


def _unpack_name(archive: Path, stems: dict[str, int]) -> str:
    """The zip's stem; a second zip of the same stem on one command line gets -2."""
    n = stems[archive.stem] = stems.get(archive.stem, 0) + 1
    return archive.stem if n == 1 else f"{archive.stem}-{n}"


def _summary(source: Path, scan: Scan) -> str:
    students = len({u.student for u in scan.uploads})
    where = f", read from {scan.root}" if scan.root != source else ""
    return f"{source}: {scan.lms} export, {students} students, {len(scan.uploads)} files{where}"


def _loose(scan: Scan, notes: list[str]) -> list[Submission]:
    """Files the layout names no student for: notebooks are graded under their path, the rest skipped."""
    subs = []
    for path in scan.loose:
        if path.suffix.lower() != NOTEBOOK:
            notes.append(f"{path}: skipped, not a notebook")
            continue
        sub_id = id_for(path, scan.root)
        notes.append(f"{path}: not named like a {scan.lms} upload; graded as {sub_id}")
        subs.append(Submission(sub_id, path, sha256_of(path), explicit=False))
    return subs


def _choose(uploads: list[tuple[int, Upload]], notes: list[str]) -> list[tuple[int, Upload]]:
    """One upload per student: a notebook before any other file, then the latest; a tie goes to the
    later export on the command line, then to the last file name. The others are noted as skipped."""
    by_student: dict[tuple[str, str | None], list[tuple[int, Upload]]] = defaultdict(list)
    for index, upload in uploads:
        by_student[(upload.lms, upload.student)].append((index, upload))
    chosen = []
    for group in by_student.values():
        best = max(group, key=lambda iu: (iu[1].is_notebook, iu[1].rank, iu[0], str(iu[1].path)))
        chosen.append(best)
        if best[1].late:
            notes.append(f"{best[1].path}: handed in late by {best[1].who}")
        notes += [_skipped(other, best) for other in group if other is not best]
    return chosen


def _skipped(other: tuple[int, Upload], best: tuple[int, Upload]) -> str:
    (index, upload), (best_index, graded) = other, best
    if not upload.is_notebook:
        return f"{upload.path}: skipped, not a notebook"
    why = ("has a later upload" if graded.rank > upload.rank else
           "has an upload in a later export on the command line" if best_index > index else
           "handed in several notebooks at once")
    return f"{upload.path}: skipped, {graded.who} {why}; graded: {graded.path}"


def _submission(upload: Upload) -> Submission:
    return Submission(submission_id(upload.name, upload.student or ""), upload.path,
                      sha256_of(upload.path), explicit=False, student=upload.student)


def _identical(subs: list[Submission]) -> list[str]:
    """Byte-identical notebooks of different submissions: all are graded, an instructor may want to look."""
    by_hash: dict[str, dict[Path, Submission]] = defaultdict(dict)
    for sub in subs:
        by_hash[sub.sha256].setdefault(sub.path, sub)   # one file named twice is not a coincidence
    return [f"{', '.join(str(s.path) for s in same.values())}: byte-identical notebooks "
            f"({', '.join(s.id for s in same.values())}); all graded" for same in by_hash.values() if len(same) > 1]


def unreadable_notes(subs: list[Submission], *, named: bool = False) -> list[str]:
    """One note per notebook found in a folder that cannot be read (it is graded as invalid).
    `named`: the notebooks named on the command line are read too, and an invalid one stops
    the command (InputError, exit 2); else they were read when found (`discover`)."""
    notes = []
    for sub in subs:
        if sub.explicit and not named:
            continue   # already read when found: an unreadable one stopped the command
        try:
            read_notebook(sub.path)
        except InputError as exc:
            if sub.explicit:
                raise
            notes.append(f"{exc}; graded as invalid")
    return notes
