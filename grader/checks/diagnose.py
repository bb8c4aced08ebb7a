"""Name the classic mistake behind a wrong gradient, in words a student reads.

Given the student's tensor and the reference (float64, same device), try
the question's own known mistakes (rubric `mistakes`), then the generic ones:
Jacobian instead of its transpose (layout), off by a factor 2, sign flipped,
all zeros. The first explanation that matches, within the case's tolerance,
wins; none matching means a plain wrong value.
"""

from __future__ import annotations

import typing as t

import torch

from grader.checks.compare import matches

LAYOUT = ("returned the Jacobian instead of its transpose: gradients here use the denominator "
          "layout (the gradient w.r.t. x has x's shape first; grad_x (A x) = A^T)")


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


def explain(got: torch.Tensor, ref: torch.Tensor, known: list[tuple[torch.Tensor, str]],
            rtol: float, atol: float) -> str | None:
    got = got.double().to(ref.device)
    for candidate, hint in known:
        if matches(got, candidate, rtol, atol):
            return hint
    if not torch.any(ref != 0) and not torch.any(got != 0):
        return None
    for hint, make in GENERIC:
        candidate = make(ref)
        if candidate is not None and not torch.equal(candidate, ref) and matches(got, candidate, rtol, atol):
            return hint
    return None


def shape_hint(got_shape: tuple[int, ...], ref_shape: tuple[int, ...], arg_shapes: dict[str, tuple]) -> str:
    if got_shape == tuple(reversed(ref_shape)) and len(ref_shape) == 2:
        return f"wrong shape {list(got_shape)}, expected {list(ref_shape)}: " + LAYOUT
    same = [name for name, shape in arg_shapes.items() if shape == got_shape]
    extra = f" (the shape of `{same[0]}`)" if same else ""
    return f"wrong shape {list(got_shape)}{extra}, expected {list(ref_shape)}"
