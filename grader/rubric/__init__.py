"""Rubrics: YAML files validated into typed models (`model`), found by `load`; loaded and
checked by the check kinds' own code in `grader.checks.semantics.load_rubric`."""

from grader.rubric.load import find_rubric
from grader.rubric.model import Question, Rubric

__all__ = ["Question", "Rubric", "find_rubric"]
