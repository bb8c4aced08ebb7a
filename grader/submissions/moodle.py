"""Moodle "Download all submissions".

Moodle puts each student's files in a folder
``<Full Name>_<participant id>_assignsubmission_file/`` (before 4.1 the
folder name ends in ``_``: ``..._assignsubmission_file_/``); older versions, or
the option "download submissions in folders" turned off, prefix each file
instead: ``<Full Name>_<participant id>_assignsubmission_file_<file>``. The
participant id is the student; a Moodle export holds one submission per
student, so no upload outranks another.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.submissions.ids import Upload
from grader.submissions.layout import Scan, children, files_under

ENTRY = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<file>.*))?$")


def scan(root: Path) -> Scan | None:
    """The Moodle reading of `root`, or None when no entry is named like a Moodle submission."""
    entries = children(root)
    if not any(ENTRY.match(p.name) for p in entries):
        return None
    found = Scan("moodle", root)
    for entry in entries:
        match = ENTRY.match(entry.name)
        if match is None:
            found.loose.extend(files_under(entry) if entry.is_dir() else [entry])
            continue
        files = files_under(entry) if entry.is_dir() else [entry]
        found.uploads += [Upload(f, "moodle", match["participant"], match["name"]) for f in files]
    return found
