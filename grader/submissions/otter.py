"""otter-grader's submission zips.

`otter.Notebook.export`, run in the student's notebook, writes
``<notebook>_<timestamp>.zip``: the notebook, otter's log ``.OTTER_LOG``, an
entry ``__zip_filename__`` holding the zip's own name, and perhaps a PDF, the
assignment's ``.otter`` file and files the student added. `otter grade` takes
a folder of such zips and names each student by the zip's file name; so does
the grader: the student is the zip's stem (as instructors rename them, or as
an LMS export around them says: then its layout names the student).

Read as otter's: a folder holding otter zips (a zip is one when it holds
``__zip_filename__`` or ``.OTTER_LOG`` at its top), each a student's upload,
and the folder an otter zip named on the command line unpacks to. An otter
zip inside any other layout (a Canvas export of them, say) is that student's
upload too: `open_zips` unpacks each once, with `unzip.py`'s checks, under
``OUT/submissions/otter/``, and grades its notebook (the one the zip's name
starts with, else the one named like the assignment, else the first).
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

from grader.errors import InputError
from grader.submissions.discover import sha256_of
from grader.submissions.ids import NOTEBOOK, Upload, slug
from grader.submissions.layout import Scan, children, files_under
from grader.submissions.unzip import unpack

MARKERS = ("__zip_filename__", ".OTTER_LOG")   # what otter.Notebook.export adds beside the notebook


def is_otter_zip(path: Path) -> bool:
    if path.suffix.lower() != ".zip" or not path.is_file():
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name.removeprefix("./") in MARKERS for name in zf.namelist())
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def scan(root: Path, assignment: str | None = None) -> Scan | None:
    """The otter reading of `root`, or None when it holds no otter zip and is not one unpacked."""
    if any((root / m).is_file() for m in MARKERS):      # an otter zip, unpacked: one student
        found = Scan("otter", root)
        marker = next(root / m for m in MARKERS if (root / m).is_file())
        notebook = _notebook(root, assignment, found.notes)
        if notebook is None:
            found.notes.append(f"{root}: no notebook in the otter zip; {root.name} is graded as invalid")
        found.uploads.append(Upload(notebook or marker, "otter", root.name))
        return found
    entries = children(root)
    zips = [p for p in entries if is_otter_zip(p)]
    if not zips:
        return None
    found = Scan("otter", root)
    found.uploads += [Upload(z, "otter", z.stem, rank=(_exported(z),)) for z in zips]
    found.loose += [f for p in entries if p not in zips for f in (files_under(p) if p.is_dir() else [p])]
    return found


def open_zips(uploads: list[Upload], unpack_to: Path, assignment: str | None, notes: list[str]) -> list[Upload]:
    """Each otter zip among `uploads` replaced by the notebook in it (unpacked once); a zip that
    cannot be unpacked, or holds no notebook, stays (graded as invalid), with a note."""
    out = []
    for upload in uploads:
        if is_otter_zip(upload.path):
            try:
                folder = unpack(upload.path, Path(unpack_to) / "otter" /
                                f"{slug(upload.path.stem, 40) or 'zip'}-{sha256_of(upload.path)[:12]}")
            except InputError as exc:
                notes.append(f"{exc}; {upload.who} is graded as invalid")
            else:
                notebook = _notebook(folder, assignment, notes)
                if notebook is None:
                    notes.append(f"{upload.path}: no notebook in the otter zip; {upload.who} is graded as invalid")
                else:
                    upload = dataclasses.replace(upload, path=notebook)
        out.append(upload)
    return out


def _exported(archive: Path) -> str:
    """The name the zip was exported under (it carries the export's time), for ordering uploads."""
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(MARKERS[0]).decode("utf-8", "replace").strip()
    except (KeyError, zipfile.BadZipFile, OSError, EOFError):
        return ""


def _notebook(folder: Path, assignment: str | None, notes: list[str]) -> Path | None:
    """The notebook an unpacked otter zip was exported from; the others in it are noted."""
    top = [p for p in children(folder) if p.is_file() and p.suffix.lower() == NOTEBOOK]
    found = top or [p for p in files_under(folder) if p.suffix.lower() == NOTEBOOK]
    if not found:
        return None
    exported = (folder / MARKERS[0]).read_text(errors="replace").strip() if (folder / MARKERS[0]).is_file() else ""
    best = min(found, key=lambda p: (not exported.startswith(p.stem + "_"), p.stem != assignment, str(p)))
    notes += [f"{p}: skipped, not the notebook the otter zip was exported from" for p in found if p != best]
    return best
