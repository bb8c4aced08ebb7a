"""Element-wise comparison with the tolerance table of `torch.testing.assert_close`.

An element passes when ``|got - ref| <= atol + rtol * |ref|``. The tolerance
follows the dtype the student was given (a question may loosen it); the
worst element is reported as the ratio of its error to its allowance, so
1.0 is exactly at the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grader.rubric.model import Question

#: (rtol, atol) by dtype, as torch.testing.assert_close
DEFAULT_TOLERANCE = {"float64": (1e-7, 1e-7), "float32": (1.3e-6, 1e-5)}


def tolerance(question: Question, dtype: str) -> tuple[float, float]:
    override = question.tolerance.get(dtype)
    return (override.rtol, override.atol) if override else DEFAULT_TOLERANCE[dtype]


@dataclass(frozen=True)
class Closeness:
    ok: bool
    worst_ratio: float      # max |got-ref| / (atol + rtol |ref|); <= 1 passes
    worst_abs: float
    worst_index: tuple[int, ...] | None


def close(got: torch.Tensor, ref: torch.Tensor, rtol: float, atol: float) -> Closeness:
    """`got` and `ref` must have the same shape; both are compared in float64."""
    got, ref = got.double().cpu(), ref.double().cpu()
    if got.numel() == 0:
        return Closeness(True, 0.0, 0.0, None)
    diff = (got - ref).abs()
    ratio = diff / (atol + rtol * ref.abs())
    ratio = torch.where(torch.isnan(ratio), torch.full_like(ratio, float("inf")), ratio)
    flat = int(torch.argmax(ratio))
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), ratio.shape))
    worst = float(ratio.reshape(-1)[flat])
    return Closeness(worst <= 1.0, worst, float(diff.reshape(-1)[flat]), index)


def matches(got: torch.Tensor, candidate: torch.Tensor, rtol: float, atol: float) -> bool:
    """Same shape and close: used to recognise a known wrong answer."""
    return tuple(got.shape) == tuple(candidate.shape) and close(got, candidate, rtol, atol).ok
