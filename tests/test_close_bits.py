"""`close`, the closeness rule every check kind uses, computed in numpy (a judged case calls it
a few times on small arrays, where each torch operation costs ten times a numpy one), held to
the bits the torch version gave."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grader.checks.compare import close


def _close_in_torch(got, ref, rtol, atol):
    """The rule as it was computed before (in torch): the oracle for `close`."""
    got = got.detach().double() if isinstance(got, torch.Tensor) else torch.tensor(got, dtype=torch.float64)
    ref = ref.detach().double() if isinstance(ref, torch.Tensor) else torch.tensor(ref, dtype=torch.float64)
    if tuple(got.shape) != tuple(ref.shape):
        return (False, math.inf, math.inf, None)
    if got.numel() == 0:
        return (True, 0.0, 0.0, None)
    diff = (got - ref).abs()
    ratio = torch.where(diff == 0, 0.0, diff / (atol + rtol * ref.abs()))
    ratio = torch.where(torch.isnan(ratio), math.inf, ratio)
    flat = int(torch.argmax(ratio))
    index = tuple(int(i) for i in np.unravel_index(flat, tuple(ratio.shape)))
    worst = float(ratio.reshape(-1)[flat])
    return (worst <= 1.0, worst, float(diff.reshape(-1)[flat]), index)


@pytest.mark.parametrize("seed", range(6))
def test_close_gives_the_bits_torch_gave(seed):
    """Random values with NaN, infinities, exact zeros and ties, in float32 and float64, with
    atol 0 (an allowance of zero), shapes from a scalar to a matrix, lists and Python floats."""
    gen = torch.Generator().manual_seed(seed)
    specials = torch.tensor([0.0, -0.0, math.nan, math.inf, -math.inf, 1e-300, 1e300])
    for shape in [(), (0,), (1,), (5,), (3, 4), (2, 3, 2)]:
        for dtype in (torch.float64, torch.float32):
            ref = torch.randn(shape, generator=gen, dtype=torch.float64)
            got = (ref + 1e-6 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
            if got.numel():
                mask = torch.rand(shape, generator=gen) < 0.3
                picks = specials[torch.randint(len(specials), shape, generator=gen)].to(dtype)
                got = torch.where(mask, picks, got)
                ref = torch.where(torch.rand(shape, generator=gen) < 0.2, got.double(), ref)
            for rtol, atol in [(1e-7, 1e-7), (1.3e-6, 1e-5), (0.0, 0.0), (1e-3, 0.0)]:
                expected = _close_in_torch(got, ref, rtol, atol)
                c = close(got, ref, rtol, atol)
                # repr: NaN equals NaN, and -0.0 differs from 0.0
                assert repr((c.ok, c.worst_ratio, c.worst_abs, c.worst_index)) == repr(expected), \
                    (shape, dtype, rtol, atol)
    assert close([1.0, 2.0], [1.0, 2.5], 0.1, 0.0).worst_index == (1,)
    assert close(3.0, 3.0, 0.0, 0.0) == close(torch.tensor(3.0), 3.0, 0.0, 0.0)
    assert not close(torch.ones(2), torch.ones(3), 1.0, 1.0).ok
