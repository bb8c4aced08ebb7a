"""The `lagrange` check kind: equality-constrained problems with known answers. Its work is done
by grader/checks/lagrange.py."""

from __future__ import annotations

import typing as t

from pydantic import Field

from grader.rubric.kinds import Kind, question_snippet
from grader.rubric.parts import CheckModel


class LagrangeCheck(CheckModel):
    """Equality-constrained problems with known answers, L = f - lam^T g."""

    kind: t.Literal["lagrange"]
    via: t.Literal["lagrangian", "gradient", "solve"]
    problems: list[t.Literal["quadratic", "circle"]] = Field(
        default_factory=lambda: ["quadratic", "circle"], description="cycled through the cases")


def _prepare(question, ctx):
    from grader.checks import lagrange     # torch: when a question is prepared, never when a rubric loads
    return lagrange.prepare(question, ctx)


def _tolerance(q, dtypes: list[str]) -> str:
    from grader.checks.lagrange import TOL     # the checks' floor: not at a record's top
    return f"{TOL:g} x max(1, \\|reference\\|) per entry"


def _problem(q):
    from grader.checks import lagrange, semantics     # the checks' floor: not at a record's top
    return semantics.generation_problem(q, lambda small: lagrange.lagrange_cases(small, public_only=False))


def _describe(c: LagrangeCheck) -> str:
    return f"via `{c.via}` on the problems {', '.join(c.problems)}"


LAGRANGE = Kind(
    "lagrange", LagrangeCheck, _prepare, autograd=False, tensors=False,
    convention="Sign convention `L(x, lam) = f(x) - lam^T g(x)`; `f` and `g` are written with torch. "
               "Problems have known optima; a solver's answer is also checked by the KKT residual.",
    snippet=question_snippet(
        "an equality-constrained solver", "{id}", note="called as fn(f, g, x0, lam0) for via: solve", hidden=4,
        check="  check: {{kind: lagrange, via: solve, problems: [quadratic, circle]}}\n"),
    describe=_describe, tolerance=_tolerance, problem=_problem)
