"""The trusted interpreter: a `Graph` as torch code, and its autograd references.

Everything runs in float64 on the grader's side: forward mode with
torch.autograd.forward_ad, reverse mode with torch.autograd.grad. Inputs are
the last axis of `xs`, so one call evaluates a whole batch of points
(`(..., n) -> (..., m)`); every op is elementwise. Constants stay Python
numbers, as in the kernel, and each operator is its record's spelling
(`ops.py`), evaluated on tensors.
"""

from __future__ import annotations

import typing as t

import torch
import torch.autograd.forward_ad as fwad

from grader.expr.ops import OPS
from grader.expr.spec import Graph

# op -> function of (operands..., const): each record's spelling (ops.py), evaluated on
# tensors (`a + b` is torch.add, `a.sin()` torch.sin); the kernel side evaluates the same text.
TORCH_OPS: dict[str, t.Callable[..., t.Any]] = {name: op.compile(torch) for name, op in OPS.items()}


def _as_points(xs: t.Any, graph: Graph) -> torch.Tensor:
    xs = torch.as_tensor(xs, dtype=torch.float64)
    if xs.ndim == 0 or xs.shape[-1] != graph.n_inputs:
        raise ValueError(f"expected inputs with last axis {graph.n_inputs}, got shape {tuple(xs.shape)}")
    return xs


def _as_is(c: float) -> float:
    return c


#: ops whose constant is an operand (`c + a`, a const node), not an exponent
_CONST_OPERAND = frozenset(name for name, op in OPS.items() if op.const in ("value", "left operand"))


def node_values(graph: Graph, xs: t.Any, operand: t.Callable[[float], t.Any] = _as_is) -> list[t.Any]:
    """The value of every node (tensor of the batch shape, or a Python number
    for a const node), in node order. `operand` is what a constant becomes
    where it is an operand (forward mode makes it a dual number)."""
    xs = _as_points(xs, graph)
    column = {name: xs[..., i] for i, name in enumerate(graph.inputs)}
    values: list[t.Any] = []
    for node in graph.nodes:   # a loop, not recursion: graphs are thousands deep
        operands = [column[a] if type(a) is str else values[a] for a in node.args]
        const = operand(node.const) if node.op in _CONST_OPERAND else node.const
        values.append(TORCH_OPS[node.op](*operands, const))
    return values


def evaluate(graph: Graph, xs: t.Any, operand: t.Callable[[float], t.Any] = _as_is) -> torch.Tensor:
    """Outputs at `xs` of shape (..., n): a tensor of shape (..., m)."""
    values = node_values(graph, xs, operand)
    return torch.stack([values[o] for o in graph.outputs], dim=-1)


def reverse_reference(graph: Graph, xs: t.Any, v: t.Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, v^T J) with torch.autograd.grad; batched over leading axes."""
    x = _as_points(xs, graph).detach().clone().requires_grad_(True)
    v = torch.as_tensor(v, dtype=torch.float64)
    with torch.enable_grad():
        y = evaluate(graph, x)
        # the backward of sum(y * v) hands y exactly v, as grad_outputs=v would; without the
        # first cotangent tensor's import of torch.fx's symbolic shapes (0.6 s)
        (vjp,) = torch.autograd.grad((y * v.expand_as(y)).sum(), x, allow_unused=True)
    if vjp is None:   # no output depends on any input through a differentiable op
        vjp = torch.zeros_like(x)
    return y.detach(), vjp


def dual_node_values(graph: Graph, x: torch.Tensor, v: torch.Tensor) -> list[t.Any]:
    """`node_values` in forward mode, at `x` along `v` (inside `fwad.dual_level()`).

    A dual times a plain number runs a torch._refs decomposition whose first call
    imports torch._dynamo (over a second, and a torchinductor folder in the temporary
    directory); a constant operand made a dual with zero tangent gives the same numbers
    by the dual-dual rules, and no decomposition runs."""
    zero = torch.zeros((), dtype=torch.float64)
    return node_values(graph, fwad.make_dual(x, v),
                       lambda c: fwad.make_dual(torch.tensor(c, dtype=torch.float64), zero))


def forward_reference(graph: Graph, xs: t.Any, v: t.Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, J v) in forward mode; batched over leading axes.

    torch.autograd.forward_ad rather than torch.func.jvp: the same dual-number
    arithmetic, without functorch's per-op overhead (0.35 s instead of 0.5 s
    on a 5,000-node chain) and its torch.jit deprecation warnings."""
    x = _as_points(xs, graph).detach().clone()
    v = torch.as_tensor(v, dtype=torch.float64).expand_as(x).clone()
    with fwad.dual_level():
        values = dual_node_values(graph, x, v)
        y = torch.stack([values[o] for o in graph.outputs], dim=-1)
        primal, tangent = fwad.unpack_dual(y)
    if tangent is None:   # no output depends on the inputs through a differentiable op
        tangent = torch.zeros_like(primal)
    return primal.detach(), tangent.detach()


def jacobian(graph: Graph, xs: t.Any) -> torch.Tensor:
    """The m x n Jacobian at one point `xs` of shape (n,).

    One batched reverse pass: row i of a batch of m copies of the point gets
    the cotangent e_i, so its input gradient is row i of J (ops are
    elementwise, the rows never mix). jacfwd/jacrev take seconds on a
    5,000-node graph; this takes one backward pass."""
    x = _as_points(xs, graph)
    if x.ndim != 1:
        raise ValueError("jacobian takes one point of shape (n,)")
    m = graph.n_outputs
    return reverse_reference(graph, x.expand(m, -1), torch.eye(m, dtype=torch.float64))[1]
