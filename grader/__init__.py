"""Auto-grader for autograd exercises.

Data flow (one sub-package per stage):
rubric -> submissions -> sandbox -> probe -> checks -> reports, driven by
`grader.grade` and exposed by `grader.cli`.
"""

from importlib import metadata as _metadata

try:    # one source of truth: pyproject.toml's version, as installed (results and reports carry it)
    __version__ = _metadata.version("autograd-grader")
except _metadata.PackageNotFoundError:     # a source tree that was never installed
    __version__ = "0+unknown"
