"""`moodle-feedback.zip`: a Moodle batch's feedback files, for the assignment's
"Upload multiple feedback files in a zip" (the file feedback plugin).

How Moodle's importer reads the zip (mod/assign/feedback/file/importziplib.php,
`is_valid_filename_for_import`): it skips folders and any file whose own name
starts with ``.`` or ``~``. It splits each entry's path at ``/`` and, from the
left, splits a part at ``_`` into at most five pieces; a part with at least
four pieces whose second piece is a number, the "participant id" (the id the
export's folder names carry, `get_uniqueid_for_user`), of a participant of
the assignment, and whose third and fourth pieces name one of the
assignment's plugins (type and name, e.g. ``assignfeedback`` ``file``),
picks the student; a part that does not qualify is skipped and the next one
tried. Only the number finds the student: the name piece is never compared,
which is why Moodle's own export turns a ``_`` inside the name into a space
(mod/assign/classes/downloader.php), so that the number stays the second
piece. What follows the plugin piece in that part, joined with the parts
after it, becomes the feedback file's name; the import then stores it in the
student's feedback files (replacing one of the same name) and notifies them.
Both exported forms are accepted: folders (``Jane Doe_7_assignsubmission_file/``,
with a trailing ``_`` before Moodle 4.1) and the older flat names
(``Jane Doe_7_assignsubmission_file_hw.ipynb``).

Here every entry is flat, ``<Full Name>_<participant id>_assignfeedback_file_<file>``:
a flat name leaves exactly ``<file>`` as the feedback file's name, stored at
the top of the feedback area (a folder part leaves a leading ``/`` on it).
The plugin piece only picks what the importer compares a file with before
taking it: the file feedback plugin lists no files for that comparison (it
keeps the base plugin's empty list), so every file in the zip is taken and
every student in it notified, on each upload; ``assignfeedback_file`` is
named because these are feedback files, and the plugin is there whenever
the zip upload is.

A result is a Moodle student's when its notebook came from a Moodle export:
its source, or a folder above it, is named like a Moodle entry
(grader/submissions/moodle.py) with the participant id the result carries.
Moodle team submissions are not told apart (from Moodle 4.1 their folders
carry a group id where a participant id would be); their feedback would go to
whichever participant has that number, so do not upload it for team assignments.
The zip is the same bytes for the same files: entries sorted, fixed times.
"""

from __future__ import annotations

import io
import typing as t
import zipfile
from pathlib import Path, PurePath

from grader.files import write_atomic_bytes
from grader.reports.formats import output_of
from grader.results import SubmissionResult
from grader.submissions.moodle import ENTRY

ZIP_NAME = "moodle-feedback.zip"
#: the per-submission formats whose files are feedback a student can read
FEEDBACK_FORMATS = ("html", "notebook", "markdown")
PLUGIN = "assignfeedback_file"
EPOCH = (1980, 1, 1, 0, 0, 0)     # the earliest time a zip holds: no build time in the bytes


class Participant(t.NamedTuple):
    name: str           # as the export spells it
    id: str             # Moodle's participant id


def participant(result: SubmissionResult) -> Participant | None:
    """The Moodle participant `result` was graded for, or None when it is not from a Moodle export."""
    if not result.student:
        return None
    source = PurePath(result.source)
    for part in (source.name, *(p.name for p in source.parents)):
        match = ENTRY.match(part)
        if match and match["participant"] == result.student:
            return Participant(match["name"], match["participant"])
    return None


def prefix(who: Participant) -> str:
    """``<name>_<id>_assignfeedback_file_``: a ``_`` in the name becomes a space, as in Moodle's
    export (else the name's own pieces would be read as the id), and a name starting with ``.``
    or ``~`` loses those (Moodle skips such files as hidden)."""
    name = who.name.replace("_", " ").lstrip(".~ ") or "Participant"
    return f"{name}_{who.id}_{PLUGIN}_"


def feedback_files(out: Path, result: SubmissionResult, formats: t.Iterable[str]) -> list[Path]:
    """The feedback files written for `result` in the formats asked for, plus the Markdown page's plots."""
    wanted = set(formats)
    files = [output_of(fmt, out, result.submission) for fmt in FEEDBACK_FORMATS if fmt in wanted]
    if "markdown" in wanted:      # its plots sit beside it as ID.QUESTION.png (grader/reports/plots.py)
        files += sorted((out / "feedback").glob(f"{result.submission}.*.png"))
    return [f for f in files if f.is_file()]


def build(out: Path, results: t.Iterable[SubmissionResult], formats: t.Iterable[str]) -> bytes | None:
    """The zip for the Moodle students among `results`, or None when none has a feedback file."""
    formats = tuple(formats)
    entries: dict[str, Path] = {}
    for result in results:
        who = participant(result)
        if who is None:
            continue
        for path in feedback_files(out, result, formats):
            entries[prefix(who) + path.name] = path
    if not entries:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                  # Unix, so the mode below is read as one
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name].read_bytes())
    return buffer.getvalue()


def write(out: Path, results: t.Iterable[SubmissionResult], formats: t.Iterable[str]) -> Path | None:
    """Write OUT/moodle-feedback.zip when the batch holds Moodle students with feedback files."""
    data = build(out, results, formats)
    if data is None:
        return None
    write_atomic_bytes(out / ZIP_NAME, data)
    return out / ZIP_NAME
