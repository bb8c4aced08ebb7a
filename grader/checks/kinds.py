"""The one table of check kinds: for each, its rubric model and how a question of it is prepared.

A new kind is one module under grader/checks/ (its `prepare`), its model class in
grader/rubric/model.py (added to CHECK_MODELS there: the rubric's floor validates rubrics and may
not import this floor), and one line below; tests/test_registries.py fails until the table and
the rubric's union name the same kinds. The pipeline dispatches through this table.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from grader.checks import autodiff, gradient, lagrange, numdiff
from grader.checks.context import GradeContext, Prepared
from grader.rubric.model import (FiniteDifferenceCheck, ForwardModeCheck, GradientCheck, LagrangeCheck, Question,
                                 ReverseModeCheck, ValueCheck)
from grader.yamlmodel import StrictModel


class CheckKind(t.Protocol):
    """What the pipeline needs of a check kind."""

    name: str                   # `check.kind` in a rubric
    model: type[StrictModel]    # the rubric's model of its `check:` (grader/rubric/model.py)
    autograd: bool              # its references run torch autograd (warmed up before the first)

    def prepare(self, question: Question, ctx: GradeContext) -> Prepared:
        """The question's calls and how to judge their answers."""
        ...


@dataclass(frozen=True)
class Kind:
    """A kind as a record (every kind of the table is one)."""

    name: str
    model: type[StrictModel]
    prepare: t.Callable[[Question, GradeContext], Prepared]
    autograd: bool


#: kind name -> its record, in the order of the rubric's union
KINDS: dict[str, CheckKind] = {k.name: k for k in (
    Kind("gradient", GradientCheck, gradient.prepare, autograd=True),
    Kind("value", ValueCheck, gradient.prepare, autograd=False),
    Kind("forward_mode", ForwardModeCheck, autodiff.prepare, autograd=True),
    Kind("reverse_mode", ReverseModeCheck, autodiff.prepare, autograd=True),
    Kind("finite_difference", FiniteDifferenceCheck, numdiff.prepare, autograd=True),
    Kind("lagrange", LagrangeCheck, lagrange.prepare, autograd=False),
)}
