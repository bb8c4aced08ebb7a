"""The `gradient` and `value` check kinds: a tensor function of tensor arguments, compared with
the gradient (or the value) of a torch expression of the arguments. Their work is done by
grader/checks/gradient.py; the expressions' semantic check by grader/checks/semantics.py."""

from __future__ import annotations

import typing as t

from pydantic import Field

from grader.rubric.kinds import Kind, question_snippet
from grader.rubric.parts import CheckModel, Mistake, check_expression


class GradientCheck(CheckModel):
    """Compare the student's result with the denominator-layout gradient of `of` w.r.t. `wrt`."""

    kind: t.Literal["gradient"]
    of: str = Field(description="torch expression of the arguments (scalar- or vector-valued)")
    wrt: str = Field(description="the argument to differentiate with respect to")
    forbid: list[t.Literal["autograd"]] = Field(
        default_factory=list, description="'autograd': flag torch autograd inside the student's code")
    mistakes: list[Mistake] = Field(default_factory=list)

    def check_with_args(self, args: t.Mapping[str, t.Any]) -> None:
        if not args:
            raise ValueError("a gradient check needs `args`")
        if self.wrt not in args:
            raise ValueError(f"check.wrt '{self.wrt}' is not one of the args ({', '.join(args)})")
        check_expression(self.of, args)
        for m in self.mistakes:
            check_expression(m.when, args)


class ValueCheck(CheckModel):
    """Compare the student's tensor with the value of a torch expression of the arguments,
    and check autograd semantics: a plain result, arguments (and their .grad) untouched."""

    kind: t.Literal["value"]
    expect: str = Field(description="torch expression of the args (torch and math available)")
    plain_result: bool = Field(True, description="the result must not require grad nor have a grad_fn")
    mistakes: list[Mistake] = Field(default_factory=list)

    def check_with_args(self, args: t.Mapping[str, t.Any]) -> None:
        if not args:
            raise ValueError("a value check needs `args`")
        check_expression(self.expect, args)
        for m in self.mistakes:
            check_expression(m.when, args)


def _prepare(question, ctx):
    from grader.checks import gradient     # torch: when a question is prepared, never when a rubric loads
    return gradient.prepare(question, ctx)


def _tolerance(q, dtypes: list[str]) -> str:
    from grader.checks.compare import tolerance     # the checks' floor: not at a record's top
    return "; ".join(f"{d}: rtol {tolerance(q, d)[0]:g}, atol {tolerance(q, d)[1]:g}" for d in dtypes)


def _problem(q):
    from grader.checks import semantics     # the checks' floor: not at a record's top
    return semantics.expression_problem(q)


def _describe_gradient(c: GradientCheck) -> str:
    text = f"gradient of `{c.of}` with respect to `{c.wrt}`"
    return text + ("; torch autograd inside the function scores 0" if "autograd" in c.forbid else "")


def _describe_value(c: ValueCheck) -> str:
    return f"value of `{c.expect}`" + ("; a plain result, arguments untouched" if c.plain_result else "")


GRADIENT = Kind(
    "gradient", GradientCheck, _prepare, autograd=True, tensors=True,
    convention="The result is the gradient in the **denominator layout**: it has the shape of the "
               "argument it is taken with respect to, and for a vector-valued expression it is the "
               "transpose of the Jacobian (`grad_x (A x) = A^T`). The reference is torch autograd's "
               "derivative of the expression (one backward pass per output element), in float64, in the "
               "grader's process.",
    snippet=question_snippet("gradient of x^T A x", "{id}", note="the student's function, called with the args below",
                             hidden=4, check="""\
  args:
    A: {{shape: [n, n]}}           # kinds: general, symmetric, spd, well_conditioned, positive_det
    x: {{shape: [n]}}
  dims: {{n: [2, 6]}}              # distinct symbols always get distinct sizes
  check:
    kind: gradient
    of: x @ A @ x                # torch expression; the reference is its gradient (denominator layout)
    wrt: x
    forbid: [autograd]
    mistakes:
      - when: 2 * A @ x
        hint: You assumed A is symmetric.
"""),
    describe=_describe_gradient, tolerance=_tolerance, problem=_problem)

VALUE = Kind(
    "value", ValueCheck, _prepare, autograd=False, tensors=True,
    convention="The result is compared with the value of a torch expression of the arguments. Where the "
               "question asks for a plain result, it must not require grad nor have a `grad_fn`, and the "
               "caller's arguments (and their `.grad`) must come back untouched.",
    snippet=question_snippet("a tensor-valued function and its autograd semantics", "{id}", hidden=4, check="""\
  args:
    x: {{shape: [n], requires_grad: true}}
    k: {{integer: [1, 4]}}
  dims: {{n: [1, 6]}}
  check:
    kind: value
    expect: 2 * k * x.detach()   # torch expression of the args (torch and math available)
    plain_result: true           # no grad_fn, requires_grad off
"""),
    describe=_describe_value, tolerance=_tolerance, problem=_problem)
