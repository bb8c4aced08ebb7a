"""The `lagrange` check kind: equality-constrained problems with known answers. Its work is done
by grader/checks/lagrange.py."""

from __future__ import annotations

import typing as t

from pydantic import Field

from grader.rubric.kinds import Kind
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
    from grader.checks.lagrange import TOL
    return f"{TOL:g} x max(1, \\|reference\\|) per entry"


def _problem(q):
    from grader.checks import lagrange, semantics
    return semantics.generation_problem(q, lambda small: lagrange.lagrange_cases(small, public_only=False))


def _describe(c: LagrangeCheck) -> str:
    return f"via `{c.via}` on the problems {', '.join(c.problems)}"


LAGRANGE = Kind(
    "lagrange", LagrangeCheck, _prepare, autograd=False, tensors=False,
    convention="Sign convention `L(x, lam) = f(x) - lam^T g(x)`; `f` and `g` are written with torch. "
               "Problems have known optima; a solver's answer is also checked by the KKT residual.",
    snippet="""\
- id: {id}
  title: an equality-constrained solver
  points: 1
  calls: [{id}]                  # called as fn(f, g, x0, lam0) for via: solve
  check: {{kind: lagrange, via: solve, problems: [quadratic, circle]}}
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 4, seed: 1001}}}}
""",
    describe=_describe, tolerance=_tolerance, problem=_problem)
