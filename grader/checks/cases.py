"""Seeded inputs for a question: public and hidden cases x dtypes x devices.

Values are drawn in float64 with numpy's PCG64 (stable across torch
versions), then rounded to the case's dtype *before* anything else, so the
reference is computed from exactly the numbers the student's code receives.
Distinct dimension symbols always get distinct sizes (when the ranges allow),
so a transposed result can never have the right shape by accident.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import numpy as np
import torch

from grader.checks.memo import PerQuestion
from grader.rubric.model import ArgSpec, Question

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Case:
    id: str                               # e.g. "public-1/float32/cpu"
    visibility: t.Literal["public", "hidden"]
    number: int
    dtype: str
    device: str
    args: dict[str, t.Any]                # CPU tensors in `dtype` (or ints), in call order
    dims: dict[str, int]


def draw_dims(ranges: dict[str, tuple[int, int]], rng: np.random.Generator) -> dict[str, int]:
    dims: dict[str, int] = {}
    for name in sorted(ranges):
        lo, hi = ranges[name]
        free = [v for v in range(lo, hi + 1) if v not in dims.values()] or list(range(lo, hi + 1))
        dims[name] = int(rng.choice(free))
    return dims


def _orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def draw_tensor(spec: ArgSpec, dims: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    shape = [dims[s] if isinstance(s, str) else s for s in spec.shape]
    if spec.kind == "general":
        return rng.standard_normal(shape)
    n = shape[0]
    b = rng.standard_normal((n, n))
    if spec.kind == "symmetric":
        return (b + b.T) / 2
    if spec.kind == "spd":
        return b @ b.T / n + np.eye(n)
    # well conditioned: singular values in [1, 3], so inverses stay accurate in float32
    u, v = _orthogonal(n, rng), _orthogonal(n, rng)
    a = u @ np.diag(rng.uniform(1.0, 3.0, n)) @ v.T
    if spec.kind == "positive_det" and np.linalg.det(a) < 0:
        a[:, 0] = -a[:, 0]
    return a


def numbered_cases(question: Question, *, hidden: bool = True) -> t.Iterator[tuple[str, int, int]]:
    """(visibility, number, seed of its set) for every case of the question, public first;
    every check kind draws its inputs from these."""
    sets = [("public", question.cases.public)] + ([("hidden", question.cases.hidden)] if hidden else [])
    for visibility, case_set in sets:
        for number in range(1, case_set.count + 1):
            yield visibility, number, case_set.seed


C = t.TypeVar("C")


def seeded_cases(question: Question, public_only: bool,
                 draw: t.Callable[[str, int, np.random.Generator], C]) -> list[C]:
    """One generated case per (visibility, number), public first: `draw(visibility, number, rng)`
    with a generator seeded by the case set's seed and the case's number, so a case's inputs do
    not depend on how many cases come before it."""
    return [draw(visibility, number, np.random.default_rng([seed, number]))
            for visibility, number, seed in numbered_cases(question, hidden=not public_only)]


_CASES: PerQuestion[list[Case]] = PerQuestion()


def cases_for(question: Question, dtypes: list[str], devices: list[str],
              *, hidden: bool = True) -> list[Case]:
    return _CASES.get(question, (tuple(dtypes), tuple(devices), hidden),
                      lambda: _draw_cases(question, dtypes, devices, hidden))


def _draw_cases(question: Question, dtypes: list[str], devices: list[str], hidden: bool) -> list[Case]:
    out: list[Case] = []
    for visibility, number, seed in numbered_cases(question, hidden=hidden):
        rng = np.random.default_rng([seed, number])
        dims = draw_dims(question.dims, rng)
        base = {name: int(rng.integers(spec.integer[0], spec.integer[1] + 1)) if spec.integer
                else draw_tensor(spec, dims, rng) for name, spec in question.args.items()}
        for dtype in dtypes:
            args = {k: v if isinstance(v, int) else torch.from_numpy(v.copy()).to(DTYPES[dtype])
                    for k, v in base.items()}
            for device in devices:
                out.append(Case(f"{visibility}-{number}/{dtype}/{device}", visibility,
                                number, dtype, device, args, dims))
    return out
