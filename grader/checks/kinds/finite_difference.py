"""The `finite_difference` check kind: the student's scheme with the grader's `f`, its value at
one h, its order of convergence and its calls of f. Its work is done by grader/checks/numdiff.py."""

from __future__ import annotations

import inspect
import typing as t

from pydantic import Field

from grader.rubric.kinds import Kind, question_snippet
from grader.rubric.parts import CheckModel
from grader.yamlmodel import StrictModel


class OrderCheck(StrictModel):
    h_min: float = Field(1e-4, gt=0)
    h_max: float = Field(1e-1, gt=0)
    steps: int = Field(7, ge=3, le=30)
    tolerance: float = Field(0.35, gt=0, description="allowed |student slope - reference slope|")


class FiniteDifferenceCheck(CheckModel):
    """A finite-difference scheme: its value at a fixed h (against the same scheme in float64),
    its order of convergence (slope of log error against log h), and how often it calls f."""

    kind: t.Literal["finite_difference"]
    scheme: t.Literal["forward", "central"]
    form: t.Literal["scalar", "gradient"] = Field(
        "scalar", description="scalar: f float -> float, called as fn(f, x, h); gradient: f Tensor (n,) -> "
        "scalar Tensor, called as fn(f, x, h)")
    h: float = Field(1e-3, gt=0, description="h of the value check")
    order: t.Optional[OrderCheck] = None
    exact_calls: t.Optional[str] = Field(None, pattern=r"^[0-9]*n?$",
                                         description="e.g. '2n': f must be called exactly that often")
    inputs: tuple[int, int] = Field((2, 5), description="gradient form: range of n")


def _prepare(question, ctx):
    from grader.checks import numdiff     # torch: when a question is prepared, never when a rubric loads
    return numdiff.prepare(question, ctx)


def _tolerance(q, dtypes: list[str]) -> str:
    from grader.checks import numdiff     # the checks' floor: not at a record's top
    rtol = inspect.signature(numdiff._close).parameters["rtol"].default   # the value check's only rtol
    order = f"; order: slope within {q.check.order.tolerance:g}" if q.check.order else ""
    return f"value: rtol {rtol:g}{order}"


def _problem(q):
    from grader.checks import numdiff, semantics     # the checks' floor: not at a record's top

    def generate(small) -> None:
        for case in numdiff.fd_cases(small, public_only=False):
            numdiff.reference_fd(q.check, case.graph, case.x, q.check.h)
    return semantics.generation_problem(q, generate)


def _describe(c: FiniteDifferenceCheck) -> str:
    parts = [f"{c.scheme} difference ({c.form} form), value at h = {c.h:g}"]
    if c.order:
        parts.append(f"order from {c.order.steps} steps of h in [{c.order.h_min:g}, {c.order.h_max:g}]")
    if c.exact_calls:
        parts.append(f"exactly {c.exact_calls} calls of f")
    if c.form == "gradient":
        parts.append(f"n in [{c.inputs[0]}, {c.inputs[1]}]")
    return "; ".join(parts)


FINITE_DIFFERENCE = Kind(
    "finite_difference", FiniteDifferenceCheck, _prepare, autograd=True, tensors=False,
    convention="The function `f` is the grader's; the estimate is compared with the same scheme "
               "computed in float64 at the question's `h`, the error's order of convergence is "
               "the slope of log error against log h, and calls of `f` are counted.",
    snippet=question_snippet("a finite-difference scheme", "{id}", note="called as fn(f, x, h)", hidden=3, check="""\
  check:
    kind: finite_difference
    scheme: central              # forward | central
    form: scalar                 # scalar: f float -> float; gradient: f Tensor (n,) -> scalar Tensor
    h: 1.0e-3
    order: {{h_min: 1.0e-4, h_max: 1.0e-1, steps: 7, tolerance: 0.35}}
    exact_calls: "2"             # e.g. "2n" for a gradient
"""),
    describe=_describe, tolerance=_tolerance, problem=_problem)
