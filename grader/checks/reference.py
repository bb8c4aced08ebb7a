"""References by torch autograd, in float64, in the grader's process.

A rubric expression (`check.of`) is the one specification of the function:
the reference is its derivative by torch autograd, never a second hand-written
formula. Gradients use the denominator layout: for `y = f(w)` with `w` of
shape W and `y` of shape Y the result has shape W + Y, i.e. the transposed
Jacobian (for scalar `y`, the shape of `w`).
"""

from __future__ import annotations

import builtins
import functools
import math

import torch

from grader.rubric.parts import EXPRESSION_BUILTINS

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
    """The first autograd call in a process pays torch's lazy imports; pay them early,
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

    # one backward pass per output element, rather than torch.func.grad/jacrev: the same
    # derivatives, without torch.func's first call importing torch._dynamo (over a second)
    w = args[wrt].detach().requires_grad_(True)
    y = f(w)
    if y.dim() == 0:
        return _grad(y, w)
    rows = [_grad(y.reshape(-1)[i], w) for i in range(y.numel())]
    jac = torch.stack(rows).reshape(*y.shape, *w.shape)                  # shape Y + W
    ny = y.dim()
    return jac.permute(*range(ny, jac.dim()), *range(ny)).contiguous()   # shape W + Y


def _grad(y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """∂y/∂w of a scalar y; zeros where y does not depend on w (as torch.func gives). The
    backward starts from y itself, not from a cotangent tensor: torch.autograd.grad imports
    torch.fx's symbolic shapes (0.6 s) the first time it is handed one."""
    if not y.requires_grad:
        return torch.zeros_like(w)
    (g,) = torch.autograd.grad(y, w, retain_graph=True, allow_unused=True)
    return torch.zeros_like(w) if g is None else g.detach()
