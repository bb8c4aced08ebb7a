"""The names of the report formats, and which are on when config.yaml names none.

Why the names live here, on the config's floor, and not beside the writers: `formats:` in
config.yaml and `--format` are validated by grader/config.py and grader/cli/options.py, and the
config (floor 1) may not import the reports (floor 9, grader/layers.py). So this module holds
only what the config needs, as data; how each format is written (its writers, its output file,
the formats it implies) is its record in grader/reports/formats.py, the one table of formats.
tests/test_registries.py fails unless the two name the same formats in the same order.

The formats (json is always written): markdown/html feedback, csv gradebook, summary (HTML
batch summary with histograms), junit XML, gradescope results.json, github (job summary,
annotations, step outputs; also on whenever GITHUB_ACTIONS is "true"), classroom (GitHub
Classroom's reporter step output `result`), prairielearn (PrairieLearn's external-grading
results.json), notebook (the executed notebook as HTML with each verdict after its function's
cell; on with html), similarity (pairs whose code shares more than chance explains:
similarity.csv and a summary section; never changes a score).
"""

from __future__ import annotations

#: format -> on by default (config.yaml without `formats:`); the order help and errors list them in
ON_BY_DEFAULT: dict[str, bool] = {
    "json": True, "markdown": True, "html": False, "csv": True, "summary": True, "junit": False,
    "gradescope": False, "github": False, "classroom": False, "prairielearn": False,
    "notebook": False, "similarity": False}
NAMES: tuple[str, ...] = tuple(ON_BY_DEFAULT)
DEFAULT: tuple[str, ...] = tuple(name for name, on in ON_BY_DEFAULT.items() if on)
