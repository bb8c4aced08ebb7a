"""Reference engines with a classic bug, to recognise the bug in a student's gradients.

A micrograd-style reverse pass over a graph specification, whose only local
derivatives come from torch autograd on the trusted op table (so there is no
second copy of any derivative rule), with two switchable mistakes:

- overwrite: `operand.grad = ...` instead of `+=` in every backward step;
- revisit:   the topological order lists a node once per path that reaches
             it (no visited set), so its backward step runs several times.

The result depends on the order in which a node's operands are walked, so
`candidates` tries both orders. A student's leaf gradients matching one of
them (and not the correct ones) names the mistake.
"""

from __future__ import annotations

import typing as t

import torch

from grader.expr.spec import Graph
from grader.expr.torch_eval import TORCH_OPS


def _local_partials(graph: Graph, x: list[float]) -> tuple[list[float], list[list[float]]]:
    """Value of every slot (inputs, then nodes) and each node's partials w.r.t. its operands."""
    values: list[float] = list(x)
    slot = {name: i for i, name in enumerate(graph.inputs)}
    partials: list[list[float]] = []
    for node in graph.nodes:
        if node.op == "const":
            values.append(float(node.const))
            partials.append([])
            continue
        operands = [torch.tensor(values[_slot(a, slot, graph)], dtype=torch.float64, requires_grad=True)
                    for a in node.args]
        out = TORCH_OPS[node.op](*operands, node.const)
        grads = torch.autograd.grad(out, operands, allow_unused=True)
        values.append(float(out.detach()))
        partials.append([0.0 if g is None else float(g) for g in grads])
    return values, partials


def _slot(ref, slot: dict[str, int], graph: Graph) -> int:
    return slot[ref] if isinstance(ref, str) else len(graph.inputs) + ref


def leaf_grads(graph: Graph, x: list[float], *, overwrite: bool, revisit: bool,
               reverse_operands: bool, partials: list[list[float]] | None = None) -> list[float]:
    """Leaf gradients of output 0 under the given (mis)behaviour (`partials`: the graph's
    local partials at x, when already known)."""
    if partials is None:
        partials = _local_partials(graph, x)[1]
    n = len(graph.inputs)
    slot = {name: i for i, name in enumerate(graph.inputs)}
    operands = [[_slot(a, slot, graph) for a in node.args] for node in graph.nodes]
    order: list[int] = []
    seen: set[int] = set()
    stack = [(n + graph.outputs[0], False)]
    while stack:   # iterative post-order DFS, like a topological sort
        s, expanded = stack.pop()
        if expanded:
            order.append(s)
            continue
        if s in seen and not revisit:
            continue
        seen.add(s)
        stack.append((s, True))
        if s >= n:
            kids = operands[s - n][::-1] if reverse_operands else operands[s - n]
            stack.extend((k, False) for k in reversed(kids))
    grad = [0.0] * (n + len(graph.nodes))
    grad[n + graph.outputs[0]] = 1.0
    for s in reversed(order):
        if s < n:
            continue
        for k, p in zip(operands[s - n], partials[s - n]):
            grad[k] = p * grad[s] if overwrite else grad[k] + p * grad[s]
    return grad[:n]


MISTAKES = {
    "overwrite": ("gradients are overwritten instead of accumulated: a node used more than once keeps "
                  "only one contribution; use `+=` (not `=`) in every backward step"),
    "revisit": ("a node's backward step runs more than once: the topological order lists a node once "
                "per path that reaches it; keep a visited set so each node appears once"),
}


def candidates(graph: Graph, x: list[float],
               mistakes: t.Iterable[str] = tuple(MISTAKES)) -> list[tuple[str, list[float]]]:
    """(mistake, leaf gradients) of each buggy engine, in both operand orders."""
    partials = _local_partials(graph, x)[1]   # once: the slow part
    out = []
    for name in mistakes:
        for reverse in (False, True):
            out.append((name, leaf_grads(graph, x, overwrite=name == "overwrite", revisit=name == "revisit",
                                         reverse_operands=reverse, partials=partials)))
    return out
