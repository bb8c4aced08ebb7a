"""Name the classic mistake behind a wrong gradient, in words a student reads.

Given the student's tensor and the reference (float64, same device), try
the question's own known mistakes (rubric `mistakes`, then an argument
returned as it came and the answer for swapped arguments), then the generic
ones: the transpose (layout), off by a factor 2, sign flipped, all zeros. The
first explanation that matches, within the case's tolerance, wins; none
matching means a plain wrong value. Every hint is worded for the question
that failed (its own function, argument names and shapes), never borrowed
from another question.
"""

from __future__ import annotations

import re
import typing as t

import torch

from grader.checks.compare import matches
from grader.checks.kinds.gradient import GradientCheck
from grader.rubric.model import Question

LAYOUT = ("returned the Jacobian instead of its transpose: gradients here use the denominator "
          "layout (the gradient w.r.t. x has x's shape first; grad_x (A x) = A^T)")


def layout_hint(question: "Question | None", ref_dim: int = 2) -> str:
    """The transpose hint in the question's own terms: which argument the gradient is taken
    with respect to, and the shape it must have first (denominator layout)."""
    check = question.check if question is not None else None
    if not isinstance(check, GradientCheck):
        return "returned the transpose of the expected result: swap the two dimensions back"
    wrt = check.wrt
    shape = ", ".join(str(s) for s in question.args[wrt].shape)
    if ref_dim > len(question.args[wrt].shape):      # a vector function: the Jacobian's transpose
        return (f"returned the Jacobian of `{check.of}` instead of its transpose: gradients here use the "
                f"denominator layout, so the gradient with respect to `{wrt}` has `{wrt}`'s dimension "
                f"[{shape}] first, then the output's")
    return (f"returned the transpose of the gradient of `{check.of}`: in the denominator layout the "
            f"gradient with respect to `{wrt}` has the shape of `{wrt}`, [{shape}]")


def signature(question: "Question") -> str:
    return f"{question.calls[0]}({', '.join(question.args)})"


def returned_argument_hint(question: "Question", name: str) -> str:
    return (f"you returned the argument `{name}` itself: {signature(question)} must compute "
            "a new tensor from its arguments")


def swapped_hint(question: "Question", first: str, second: str) -> str:
    return (f"this is the answer with the arguments `{first}` and `{second}` swapped: the grader calls "
            f"{signature(question)}; check the order of your function's parameters")


#: exception texts of an argument used in the wrong role (wrong order, wrong kind)
WRONG_ROLE = re.compile(r"shapes cannot be multiplied|inconsistent tensor size|size of tensor a|"
                         r"must match the size|is invalid for input of size|mismatch|"
                         r"'(int|float|function)' object (has no attribute|is not)|not callable|"
                         r"unsupported operand type\(s\)|not supported between instances")


def wrong_role_hint(question: "Question", error: str) -> str | None:
    """An exception that says an argument was used as something it is not (a shape or type
    mismatch) most often means the parameters are in another order than the grader's call."""
    if len(question.args) < 2 or not WRONG_ROLE.search(error or ""):
        return None
    return (f"an argument was used in the wrong role (a shape or type mismatch): the grader calls "
            f"{signature(question)}; check the order of your function's parameters and which "
            "factors are transposed")


def _transposed(ref: torch.Tensor) -> torch.Tensor | None:
    if ref.dim() < 2:
        return None
    return ref.movedim(0, -1) if ref.dim() > 2 else ref.T


GENERIC: list[tuple[str, t.Callable[[torch.Tensor], torch.Tensor | None]]] = [
    (LAYOUT, _transposed),
    ("off by a factor 2: your result is twice the gradient", lambda r: 2 * r),
    ("off by a factor 2: your result is half the gradient (a missing factor 2?)", lambda r: r / 2),
    ("sign flipped: your result is minus the gradient", lambda r: -r),
    ("returned all zeros", lambda r: torch.zeros_like(r)),
]


def explain_known(got: torch.Tensor | None, known: list[tuple[torch.Tensor, str]], rtol: float, atol: float,
                  ref: torch.Tensor | None = None) -> str | None:
    """The hints of every known mistake `got` matches (of any shape), joined: where two
    mistakes give the same numbers (returning `x`, or `x` for swapped arguments) the
    student is told both."""
    if got is None:
        return None
    got = got.double().to(known[0][0].device) if known else got
    hits: list[str] = []
    for candidate, hint in known:
        if ref is not None and candidate.shape == ref.shape and torch.equal(candidate, ref):
            continue            # indistinguishable from the right answer on this case
        if hint not in hits and matches(got, candidate, rtol, atol):
            hits.append(hint)
    return join_hints(hits)


def explain(got: torch.Tensor, ref: torch.Tensor, known: list[tuple[torch.Tensor, str]],
            rtol: float, atol: float, *, layout: str = LAYOUT, what: str = "the gradient") -> str | None:
    """`known`: the question's own (candidate, hint) pairs, tried first; `layout`: the
    question's transpose hint; `what`: what the question asks for ("the gradient")."""
    got = got.double().to(ref.device)
    hits = [explain_known(got, known, rtol, atol, ref)]
    if torch.any(ref != 0) or torch.any(got != 0):
        for hint, make in GENERIC:
            candidate = make(ref)
            if candidate is not None and not torch.equal(candidate, ref) and matches(got, candidate, rtol, atol):
                hits.append(layout if hint == LAYOUT else hint.replace("the gradient", what))
                break
    return join_hints(hits)


def join_hints(hints: list[str | None]) -> str | None:
    """Two explanations of the same numbers (the argument `A` returned as it came, which is
    also the transpose of the gradient) are both told: the grader cannot tell which it was."""
    kept = [h for h in hints if h]
    return "; or: ".join(kept[:2]) if kept else None


def shape_hint(got_shape: tuple[int, ...], ref_shape: tuple[int, ...], arg_shapes: dict[str, tuple],
               layout: str = LAYOUT) -> str:
    if got_shape == tuple(reversed(ref_shape)) and len(ref_shape) == 2:
        return f"wrong shape {list(got_shape)}, expected {list(ref_shape)}: " + layout
    same = [name for name, shape in arg_shapes.items() if shape == got_shape]
    extra = f" (the shape of `{same[0]}`)" if same else ""
    return f"wrong shape {list(got_shape)}{extra}, expected {list(ref_shape)}"
