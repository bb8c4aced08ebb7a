"""The one closeness rule, for every check kind (and the in-notebook self-check).

An element passes when ``|got - ref| <= atol + rtol * |ref|``, as
`torch.testing.assert_close` decides. The tolerance follows the dtype the
student computed in (a question may override it per dtype; a check kind may
bring its own default, as the graph checks do for answers computed in Python
floats); the worst element is reported as the ratio of its error to its
allowance, so 1.0 is exactly at the limit. An exact answer passes even where
the allowance is zero; NaN never passes.
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

import numpy as np
import torch

from grader.rubric.model import Question

#: (rtol, atol) by dtype, as torch.testing.assert_close
DEFAULT_TOLERANCE = {"float64": (1e-7, 1e-7), "float32": (1.3e-6, 1e-5)}


def tolerance(question: Question, dtype: str,
              defaults: dict[str, tuple[float, float]] = DEFAULT_TOLERANCE) -> tuple[float, float]:
    """(rtol, atol): the question's override for `dtype`, else the check kind's default."""
    override = question.tolerance.get(dtype)
    return (override.rtol, override.atol) if override else defaults[dtype]


@dataclass(frozen=True)
class Closeness:
    ok: bool
    worst_ratio: float      # max |got-ref| / (atol + rtol |ref|); <= 1 passes
    worst_abs: float
    worst_index: tuple[int, ...] | None


def close(got: t.Any, ref: t.Any, rtol: float, atol: float) -> Closeness:
    """Tensors, numbers or nested lists of numbers, compared in float64; a shape that
    differs never passes. Computed with numpy: a judged case calls this a few times on
    small arrays, where each torch operation costs ten times a numpy one; elementwise
    float64 arithmetic gives the same bits either way."""
    got, ref = _float64(got), _float64(ref)
    if got.shape != ref.shape:
        return Closeness(False, math.inf, math.inf, None)
    if got.size == 0:
        return Closeness(True, 0.0, 0.0, None)
    with np.errstate(all="ignore"):         # x / 0 and inf - inf are meant: inf and NaN
        diff = np.abs(got - ref)
        ratio = np.where(diff == 0, 0.0, diff / (atol + rtol * np.abs(ref)))   # exact: 0, even at atol 0
    ratio = np.where(np.isnan(ratio), math.inf, ratio)
    flat = int(np.argmax(ratio))            # the first of equal worst entries, as torch.argmax
    index = tuple(int(i) for i in np.unravel_index(flat, ratio.shape))
    worst = float(ratio.reshape(-1)[flat])
    return Closeness(worst <= 1.0, worst, float(diff.reshape(-1)[flat]), index)


def _float64(x: t.Any) -> np.ndarray:
    # through torch for anything that is not a tensor: the same conversions (and refusals) as before
    x = x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64)
    return x.detach().double().numpy(force=True)


def matches(got: torch.Tensor, candidate: torch.Tensor, rtol: float, atol: float) -> bool:
    """Same shape and close: used to recognise a known wrong answer."""
    return tuple(got.shape) == tuple(candidate.shape) and close(got, candidate, rtol, atol).ok


def worst_entries(expected: t.Any, got: t.Any, *, k: int = 5) -> list[dict[str, t.Any]]:
    """The `k` entries where `got` is farthest from `expected` (same shape), for `CaseReport.worst`.

    For the checks to call on large tensors (anything array-like numpy accepts,
    torch tensors included after `.cpu()`), so that the feedback can show where
    a large result is wrong rather than only its first entries."""
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    if e.shape != g.shape or e.size == 0:
        return []
    diff = np.abs(g - e)
    diff = np.where(np.isnan(diff), np.inf, diff)
    order = np.argsort(-diff.reshape(-1), kind="stable")[:k]
    return [{"index": [int(i) for i in np.unravel_index(int(flat), e.shape)],
             "got": float(f"{g.reshape(-1)[flat]:.6g}"), "expected": float(f"{e.reshape(-1)[flat]:.6g}")}
            for flat in order if diff.reshape(-1)[flat] > 0]   # only entries that are actually off
