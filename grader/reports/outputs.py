"""Where each per-submission format's file goes under the output folder: read by the batch's
writers (grader/batch/writers.py), which write them, and by the reports that gather them (the
Moodle feedback zip), so both name the same files."""

from __future__ import annotations

import typing as t
from pathlib import Path

#: format -> the file it writes for a submission (a resumed batch writes the missing ones)
OUTPUT_OF: dict[str, t.Callable[[Path, str], Path]] = {
    "markdown": lambda out, sub_id: out / "feedback" / f"{sub_id}.md",
    "html": lambda out, sub_id: out / "feedback" / f"{sub_id}.html",
    "gradescope": lambda out, sub_id: out / "gradescope" / f"{sub_id}.json",
    "classroom": lambda out, sub_id: out / "classroom" / f"{sub_id}.json",
    "prairielearn": lambda out, sub_id: out / "prairielearn" / f"{sub_id}.json",
    "notebook": lambda out, sub_id: out / "feedback" / f"{sub_id}.notebook.html"}
