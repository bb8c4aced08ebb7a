"""Who uploaded a file, and the submission id that follows from it.

A submission id names the student's result files (``results/ID.json``,
``feedback/ID.md``), their gradebook row and the resume state, so it must be
the same on every run over the same export and safe on every filesystem. It
is ``<name>-<student>``:

- ``<student>`` is the id the LMS keeps for the student: the Canvas user id,
  the Gradescope SID (else the e-mail; the Gradescope submission id when a
  submitter has neither), the Moodle participant id; or the one another
  tool's folders give: nbgrader's student folder, the GitHub username of a
  Classroom repository, an otter zip's name (these have no ``<name>``
  part: the id is the student's). It is what makes the id
  unique (two students called Jane Doe) and what duplicates are found by;
  a group submission joins its members' ids with ``+``.
- ``<name>`` is the name as the export spells it, so that a person can read
  the gradebook and the results folder, which both sort by it.

Both parts are lower-case ASCII letters, digits and ``-`` (accents dropped,
anything else a ``-``), so the id needs no quoting anywhere; the name part is
cut at 40 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

NAME_CHARS = 40
NOTEBOOK = ".ipynb"


@dataclass(frozen=True)
class Upload:
    """One file of an LMS export, attributed to a student by the export's layout."""

    path: Path
    lms: str                      # "canvas", "gradescope", "moodle"; or "nbgrader", "classroom", "otter"
    student: str | None           # the LMS's id of the student(s); None when the file names nobody
    name: str = ""                # the student's name as the export spells it
    rank: tuple = field(default=())   # larger is later: which upload of a student is graded
    late: bool = False            # the LMS marked it late (Canvas)

    @property
    def is_notebook(self) -> bool:
        return self.path.suffix.lower() == NOTEBOOK

    @property
    def who(self) -> str:
        """The student for a note: readable name and LMS id."""
        return f"{self.name or 'student'} ({self.lms} id {self.student})"


def slug(text: str, limit: int | None = None) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return out[:limit].rstrip("-") if limit else out


def submission_id(name: str, student: str) -> str:
    """``<name>-<student>`` (see the module docstring for why)."""
    who = "+".join(filter(None, (slug(part) for part in student.split("+"))))
    return "-".join(filter(None, (slug(name, NAME_CHARS), who))) or "submission"
