"""The one closeness rule (grader/checks/compare.py) and the check kinds that use it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from grader.checks import autodiff_explain, compare

CHECKS = Path(compare.__file__).parent


def test_the_rule_is_atol_plus_rtol_times_ref():
    assert compare.close([1.0 + 1.9e-6], [1.0], rtol=1e-6, atol=0.0).ok is False
    c = compare.close([1.0 + 1.5e-6], [1.0], rtol=1e-6, atol=1e-6)
    assert c.ok and c.worst_ratio == pytest.approx(0.75)
    assert c.worst_index == (0,)


def test_an_exact_answer_passes_even_with_a_zero_allowance():
    # rtol only (atol 0) and an exact zero: 0/0 must not fail a correct answer
    assert compare.close([0.0, 2.0], [0.0, 2.0], rtol=1e-6, atol=0.0).ok
    assert not compare.close([1e-12], [0.0], rtol=1e-6, atol=0.0).ok


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_never_pass(bad):
    c = compare.close([bad], [1.0], rtol=1.0, atol=1.0)
    assert not c.ok and c.worst_ratio == math.inf


def test_lists_and_tensors_give_the_same_verdict_and_ratio():
    ref = [[1.0, -2.0], [3e-3, 4e5]]
    got = [[1.0000004, -2.0], [3e-3, 4e5 * (1 + 3e-7)]]
    a = compare.close(got, ref, 1e-6, 1e-9)
    b = compare.close(torch.tensor(got, dtype=torch.float64), torch.tensor(ref, dtype=torch.float64), 1e-6, 1e-9)
    assert a == b and a.ok


def test_a_shape_that_differs_never_passes():
    assert not compare.close([1.0, 2.0], [[1.0, 2.0]], 1.0, 1.0).ok
    assert autodiff_explain.close([[1.0], [2.0]], [1.0, 2.0], 1.0, 1.0) == (False, math.inf)


def test_no_check_kind_spells_its_own_closeness_rule():
    # the rule's shape, |a - b| over (atol + rtol |b|) or tol * max(1, |r|), lives in compare.py only
    rule = re.compile(r"atol\s*\+\s*rtol|\*\s*max\(1(\.0)?,\s*abs\(")
    owners = [p.name for p in CHECKS.glob("*.py") if rule.search(p.read_text(encoding="utf-8"))]
    assert owners == ["compare.py"]
