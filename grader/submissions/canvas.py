"""Canvas "Download Submissions": one flat folder of renamed uploads.

Each file is ``<lastnamefirstname>_[LATE_]<user id>_<submission id>_<original name>``;
when a student uploads a file with a name they used before, Canvas renames
the new one ``name-1.ipynb``, ``name-2.ipynb``. The user id is the student;
the submission id (then the resubmission number) orders their uploads.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.submissions.ids import Upload
from grader.submissions.layout import Scan, children

UPLOAD = re.compile(r"^(?P<name>[^_]+)(?P<late>_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$",
                    re.IGNORECASE)
RESUBMISSION = re.compile(r"-(?P<n>\d+)$")


def scan(root: Path) -> Scan | None:
    """The Canvas reading of `root`, or None when it is not a Canvas export (flat, some names match)."""
    entries = children(root)
    if any(p.is_dir() for p in entries) or not any(UPLOAD.match(p.name) for p in entries):
        return None
    found = Scan("canvas", root)
    for path in entries:
        match = UPLOAD.match(path.name)
        if match is None:
            found.loose.append(path)
        else:
            found.uploads.append(_upload(path, match))
    return found


def _upload(path: Path, match: re.Match) -> Upload:
    original = Path(match["file"])
    again = RESUBMISSION.search(original.stem)
    rank = (int(match["submission"]), int(again["n"]) if again else 0)
    return Upload(path, "canvas", match["user"], match["name"], rank, late=bool(match["late"]))
