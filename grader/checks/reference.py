"""References by torch autograd, in float64, in the grader's process.

A rubric expression (`check.of`) is the one specification of the function:
the reference is its derivative by `torch.func`, never a second hand-written
formula. Gradients use the denominator layout: for `y = f(w)` with `w` of
shape W and `y` of shape Y the result has shape W + Y, i.e. the transposed
Jacobian (for scalar `y`, the shape of `w`).
"""

from __future__ import annotations

import builtins
import functools
import math

import torch

from grader.rubric.model import EXPRESSION_BUILTINS

torch.backends.cuda.matmul.allow_tf32 = False   # references in true float64/float32
torch.backends.cudnn.allow_tf32 = False


_BUILTINS = {name: getattr(builtins, name) for name in EXPRESSION_BUILTINS}


@functools.lru_cache(maxsize=256)
def _compiled(expression: str):
    return compile(expression, f"<rubric expression: {expression}>", "eval")


def evaluate(expression: str, args: dict[str, torch.Tensor]) -> torch.Tensor:
    return eval(_compiled(expression), {"torch": torch, "math": math, "__builtins__": _BUILTINS},  # noqa: S307
                dict(args))  # noqa: S307 - rubric text is trusted course material


@functools.lru_cache(maxsize=1)
def warm_up() -> None:
    """The first torch.func call in a process costs ~2 s (lazy imports); pay it early,
    in a thread, while the kernel starts (once per process)."""
    x = torch.ones(2, dtype=torch.float64)
    gradient("x @ x", "x", {"x": x})
    gradient("2 * x", "x", {"x": x})


def as_float64(args: dict, device: str) -> dict:
    return {k: v.to(device=device, dtype=torch.float64) if isinstance(v, torch.Tensor) else v
            for k, v in args.items()}


def gradient(expression: str, wrt: str, args: dict[str, torch.Tensor]) -> torch.Tensor:
    """Denominator-layout derivative of `expression` w.r.t. argument `wrt`."""
    def f(w: torch.Tensor) -> torch.Tensor:
        return evaluate(expression, {**args, wrt: w})

    w = args[wrt]
    y = f(w)
    if y.dim() == 0:
        return torch.func.grad(f)(w)
    jac = torch.func.jacrev(f)(w)                    # shape Y + W
    ny = y.dim()
    return jac.permute(*range(ny, jac.dim()), *range(ny)).contiguous()   # shape W + Y
