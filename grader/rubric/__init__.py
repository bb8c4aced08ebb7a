"""Rubrics: YAML files validated into typed models (`model`), found by `load`; loaded and
checked by the check kinds' own code in `grader.checks.semantics.load_rubric`.

The names below are looked up when first used: importing a check kind's module (which imports
`grader.rubric.kinds` and `grader.rubric.parts`) must not import `model`, which loads the kinds'
modules to build the rubric's union.
"""

from __future__ import annotations

import importlib
import typing as t

__all__ = ["Question", "Rubric", "find_rubric"]
_HOMES = {"Question": "grader.rubric.model", "Rubric": "grader.rubric.model", "find_rubric": "grader.rubric.load"}

if t.TYPE_CHECKING:
    from grader.rubric.load import find_rubric
    from grader.rubric.model import Question, Rubric


def __getattr__(name: str) -> t.Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'grader.rubric' has no attribute '{name}'")
