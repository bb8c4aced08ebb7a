"""Auto-grader for autograd exercises.

Data flow (one sub-package per stage):
rubric -> submissions -> sandbox -> probe -> checks -> reports, driven by
`grader.grade` and exposed by `grader.cli`.
"""

__version__ = "0.1.0"
