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


# The student's checks from inside the notebook (grader/selfcheck/). Forwarded lazily: the CLI
# imports this package too, and `import grader` must not import torch.
def check(*questions: str, assignment: str | None = None):
    """`grader.check("grad_inner")`: the public checks of these questions, in this kernel."""
    from grader.selfcheck import api
    return api.check(*questions, assignment=assignment)


def check_all(assignment: str | None = None):
    """`grader.check_all()`: the public checks of every question, in this kernel."""
    from grader.selfcheck import api
    return api.check_all(assignment)


def init(assignment: str | None = None, course=None) -> None:
    """`grader.init("matrix_calculus")`: the assignment (and course folder) later checks use."""
    from grader.selfcheck import api
    api.init(assignment, course)


def load_ipython_extension(ipython) -> None:
    """`%load_ext grader`: the `%check [QUESTION ...]` magic."""
    from grader.selfcheck import api
    api.load_ipython_extension(ipython)
