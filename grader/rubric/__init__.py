"""Rubrics: YAML files validated into typed models (`model`), loaded by `load`."""

from grader.rubric.load import find_rubric, load_rubric
from grader.rubric.model import Question, Rubric

__all__ = ["Question", "Rubric", "find_rubric", "load_rubric"]
