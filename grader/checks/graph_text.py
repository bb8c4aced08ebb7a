"""A graph specification as the Python a student can paste and run.

Each node is spelled with its operator from spec.OPS (`a + b`, `2.0 - a`,
`a.exp()`). A node used more than once is one object in the graph, so it is
printed once, as a named statement (`s = a + b; s * s + a`): re-running the
printed text builds the same graph, node reuse included, and reproduces a
failure that depends on it (an overwritten `.grad`). Only the nodes the
printed result depends on appear.
"""

from __future__ import annotations

import re
from collections import Counter

from grader.expr.ops import ATOM, OPS, UNARY
from grader.expr.spec import Graph

_TOKEN = re.compile(r"\b[abc]\b")


def _ancestors(graph: Graph, roots: list[int]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:   # a loop: graphs are thousands of nodes deep
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(a for a in graph.nodes[i].args if type(a) is int)
    return seen


def _names(graph: Graph, live: set[int], roots: list[int]) -> dict[int, str]:
    """Names for the nodes used more than once (an output used by another output too)."""
    uses = Counter(a for i in live for a in graph.nodes[i].args
                   if type(a) is int and graph.nodes[a].op != "const")
    uses.update(r for r in roots if len(roots) > 1)
    shared = sorted(i for i in live if uses[i] > 1 and graph.nodes[i].op != "const")
    taken = set(graph.inputs)
    if len(shared) == 1 and "s" not in taken:
        return {shared[0]: "s"}
    names, k = {}, 0
    for i in shared:
        k += 1
        while f"s{k}" in taken:
            k += 1
        names[i] = f"s{k}"
    return names


def _operand(text: str, has: int, needs: int) -> str:
    return text if has >= needs else f"({text})"


def _const(value: int | float) -> tuple[str, int]:
    return repr(value), UNARY if value < 0 else ATOM


def spell(graph: Graph, limit: int = 300, target: int | None = None) -> str:
    """The graph's outputs (or the one node `target`) as Python source, shared nodes named."""
    roots = [target] if target is not None else list(graph.outputs)
    live = _ancestors(graph, roots)
    names = _names(graph, live, roots)
    text: dict[int, tuple[str, int]] = {}
    statements: list[str] = []
    for i in sorted(live):
        node = graph.nodes[i]
        if node.op == "const":
            text[i] = _const(node.const)
            continue
        prec, left, right = OPS[node.op].binds   # methods (a.exp()) bind as atoms
        args = [(a, ATOM) if isinstance(a, str) else text[a] for a in node.args]
        parts = {"a": _operand(*args[0], left), "b": _operand(*args[1], right) if len(args) > 1 else "",
                 "c": repr(node.const)}
        text[i] = (_TOKEN.sub(lambda m: parts[m.group(0)], OPS[node.op].python), prec)
        if i in names:
            statements.append(f"{names[i]} = {text[i][0]}")
            text[i] = (names[i], ATOM)
        if sum(map(len, statements)) + len(text[i][0]) > limit:
            return f"<{len(graph.nodes)}-node graph>"
    outs = [text[r][0] for r in roots]
    result = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"
    return "; ".join([*statements, result])
