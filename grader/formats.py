"""The one table of report formats: each one's name, where its record is, and whether it is on
when config.yaml names none. A new format is one module (its record and writers, under
grader/reports/formats/) and one line here.

Why the table lives here, on the config's floor, and names each record as text: `formats:` in
config.yaml and `--format` are validated by grader/config.py and grader/cli/options.py, and the
config (floor 1) may not import the reports (floor 9, grader/layers.py). So this table holds what
the config needs as data, and each record by its "module:attribute" (the form of a package's
entry points); grader/reports/formats/ loads a record when a format is used. Its module may
import at its top only what the reports floor may (tests/test_layers.py); a slow library
(matplotlib, jinja2, nbconvert, copydetect) inside its writer, so that a batch pays only for the
formats it asks for.

The formats (json is always written): markdown/html feedback, csv gradebook, summary (HTML
batch summary with histograms), junit XML, gradescope results.json, github (job summary,
annotations, step outputs; also on whenever GITHUB_ACTIONS is "true"), classroom (GitHub
Classroom's reporter step output `result`), prairielearn (PrairieLearn's external-grading
results.json), notebook (the executed notebook as HTML with each verdict after its function's
cell; on with html), similarity (pairs whose code shares more than chance explains:
similarity.csv and a summary section; never changes a score).
"""

from __future__ import annotations

import typing as t


class Entry(t.NamedTuple):
    record: str             # "module:attribute" of its record (a grader.reports.formats.Format)
    on_by_default: bool     # written when config.yaml has no `formats:`


#: format -> its entry, in the order help and errors list them and the writers run in (a
#: submission's notebook page after its markdown and html pages: it links to one that exists)
TABLE: dict[str, Entry] = {
    "json": Entry("grader.reports.formats.platforms:JSON", True),
    "markdown": Entry("grader.reports.formats.feedback:MARKDOWN", True),
    "html": Entry("grader.reports.formats.feedback:HTML", False),
    "csv": Entry("grader.reports.formats.batch:CSV", True),
    "summary": Entry("grader.reports.formats.batch:SUMMARY", True),
    "junit": Entry("grader.reports.formats.batch:JUNIT", False),
    "gradescope": Entry("grader.reports.formats.platforms:GRADESCOPE", False),
    "github": Entry("grader.reports.formats.platforms:GITHUB", False),
    "classroom": Entry("grader.reports.formats.platforms:CLASSROOM", False),
    "prairielearn": Entry("grader.reports.formats.platforms:PRAIRIELEARN", False),
    "notebook": Entry("grader.reports.formats.feedback:NOTEBOOK", False),
    "similarity": Entry("grader.reports.formats.batch:SIMILARITY", False),
}
NAMES: tuple[str, ...] = tuple(TABLE)
DEFAULT: tuple[str, ...] = tuple(name for name, entry in TABLE.items() if entry.on_by_default)
