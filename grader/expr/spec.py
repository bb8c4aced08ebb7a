"""The expression specification: a scalar function handed to a student as data.

A `Graph` lists named inputs, then nodes in topological order, then which
nodes are the outputs. A node's arguments are input names (str) or indices of
earlier nodes (int); numbers live in the `const` op or in a node's `const`
field. Two interpreters read it: `torch_eval` (trusted reference) and
`kernel_interp.py` (inside the student's kernel, building the graph out of the
student's `Dual` / `Value` objects with plain Python operators).

Every Python expression has exactly one spelling, so the student's operator
that a node exercises is unambiguous:

    x + y    add(x, y)          x + 2.0  add(x, <const node 2.0>)
    2.0 + x  radd(x; 2.0)       x ** 3   pow(x; 3)

A `const` node may therefore only be the *second* operand of add/sub/mul/div
(a number on the right); a number on the left is a reflected op (radd, rsub,
rmul, rdiv), which calls the student's `__radd__` & co. Nothing else may take
a constant operand, so no node is computed from numbers alone and every output
is one of the student's objects.
"""

from __future__ import annotations

import json
import math
import numbers
import typing as t
from dataclasses import dataclass

from grader.expr.ops import BINARY, OPS

SPEC_VERSION = 1

Ref = t.Union[int, str]   # an earlier node's index, or an input's name

# The operators (their arity, constants and spellings) are records in ops.py.


class SpecError(ValueError):
    """A malformed graph; the message names the node and what is wrong."""


def _plain_number(x: t.Any) -> t.Any:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or type(x) in (int, float):
        return x
    return int(x) if isinstance(x, numbers.Integral) else float(x)


def _is_number(x: object) -> bool:
    # bool is an int subclass but never a sensible constant; NaN/inf are not plain JSON.
    return type(x) in (int, float) and math.isfinite(x)


def _is_ref(x: object) -> bool:
    return type(x) in (int, str)


@dataclass(frozen=True)
class Node:
    id: int                                 # its index in Graph.nodes (kept for readable JSON)
    op: str
    args: tuple[Ref, ...] = ()
    const: int | float | None = None        # int stays int: `x ** 2` and `x ** 2.0` differ for some classes

    def __post_init__(self) -> None:
        if not isinstance(self.args, (list, tuple)):   # a bare "x" would become ("x",) silently
            raise SpecError(f"node {self.id!r}: args must be a list, got {self.args!r}")
        # the numeric tower in, plain JSON numbers out: numpy.int64 refs, numpy.float64
        # constants (bool stays bool, and is refused as a constant by validate)
        object.__setattr__(self, "args", tuple(_plain_number(a) for a in self.args))
        object.__setattr__(self, "const", _plain_number(self.const))


@dataclass(frozen=True)
class Graph:
    inputs: tuple[str, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        for name in ("inputs", "nodes", "outputs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        validate(self)

    # -- plain JSON --------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": self.version, "inputs": list(self.inputs),
                "nodes": [{"id": n.id, "op": n.op, "args": list(n.args), "const": n.const}
                          for n in self.nodes],
                "outputs": list(self.outputs)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: object) -> "Graph":
        if not isinstance(data, dict):
            raise SpecError("a graph is a JSON object")
        unknown = set(data) - {"version", "inputs", "nodes", "outputs"}
        if unknown:
            raise SpecError(f"unknown graph keys: {sorted(unknown)}")
        if data.get("version") != SPEC_VERSION:
            raise SpecError(f"unsupported spec version {data.get('version')!r} "
                            f"(this grader reads {SPEC_VERSION})")
        try:
            nodes = [Node(id=n["id"], op=n["op"], args=n.get("args", ()), const=n.get("const"))
                     for n in data.get("nodes", [])]
        except (KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"a node must be an object with id, op, args, const ({exc})") from None
        return cls(inputs=data.get("inputs", []), nodes=nodes, outputs=data.get("outputs", []))

    @classmethod
    def from_json(cls, text: str) -> "Graph":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"not JSON: {exc}") from None
        return cls.from_dict(data)

    # -- facts -------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    def depth(self) -> int:
        """Longest path from an input to any node, in operations (iterative)."""
        level = [0] * len(self.nodes)
        for i, node in enumerate(self.nodes):
            level[i] = 1 + max((level[a] for a in node.args if type(a) is int), default=0)
        return max(level, default=0)


def validate(g: Graph) -> None:
    """Raise SpecError with a message naming the first problem found."""
    if g.version != SPEC_VERSION:
        raise SpecError(f"unsupported spec version {g.version!r} (this grader reads {SPEC_VERSION})")
    if not g.inputs:
        raise SpecError("a graph needs at least one input")
    for name in g.inputs:
        if type(name) is not str or not name:
            raise SpecError(f"input names are non-empty strings, got {name!r}")
    if len(set(g.inputs)) != len(g.inputs):
        raise SpecError(f"duplicate input names in {list(g.inputs)}")
    for i, node in enumerate(g.nodes):
        _check_node(g, i, node)
    if not g.outputs:
        raise SpecError("a graph needs at least one output")
    for o in g.outputs:
        if type(o) is not int or not 0 <= o < len(g.nodes):
            raise SpecError(f"output {o!r} is not a node index (0..{len(g.nodes) - 1})")
        if g.nodes[o].op == "const":
            raise SpecError(f"output {o} is a constant; outputs must depend on an input")


def _check_node(g: Graph, i: int, node: Node) -> None:
    where = f"node {i} ({node.op})"
    if type(node.id) is not int or node.id != i:
        raise SpecError(f"node {i}: id is {node.id!r}, must equal its position {i}")
    info = OPS.get(node.op)
    if info is None:
        raise SpecError(f"node {i}: unknown op {node.op!r}; known: {', '.join(OPS)}")
    if len(node.args) != info.arity:
        raise SpecError(f"{where}: takes {info.arity} argument(s), got {len(node.args)}")
    if info.const == "none" and node.const is not None:
        raise SpecError(f"{where}: takes no constant, got {node.const!r}")
    if info.const != "none" and not _is_number(node.const):
        what = "a constant exponent" if node.op == "pow" else f"a finite int or float as its {info.const}"
        raise SpecError(f"{where}: needs {what}, got {node.const!r}")
    for pos, a in enumerate(node.args):
        _check_arg(g, i, where, pos, a)


def _check_arg(g: Graph, i: int, where: str, pos: int, a: object) -> None:
    if not _is_ref(a):
        raise SpecError(f"{where}: argument {a!r} is neither an input name nor a node index")
    if type(a) is str:
        if a not in g.inputs:
            raise SpecError(f"{where}: unknown input {a!r}; inputs are {list(g.inputs)}")
        return
    if not 0 <= a < i:
        raise SpecError(f"{where}: argument {a} is not an earlier node (forward reference or out of range)")
    if g.nodes[a].op == "const" and not (g.nodes[i].op in BINARY and pos == 1):
        raise SpecError(f"{where}: constant node {a} may only be the right operand of "
                        f"{'/'.join(BINARY)}; use radd/rsub/rmul/rdiv for a number on the left")


class Builder:
    """Write a graph as calls: `b.op("mul", "a", b.op("add", "a", "b"))`."""

    def __init__(self, inputs: t.Sequence[str]):
        self.inputs = list(inputs)
        self.nodes: list[Node] = []
        self.levels: list[int] = []     # longest path to each node, kept as we go
        self._consts: dict[tuple[type, float], int] = {}

    def op(self, op: str, *args: Ref, const: int | float | None = None) -> int:
        self.nodes.append(Node(len(self.nodes), op, tuple(args), const))
        self.levels.append(1 + max((self.levels[a] for a in args
                                    if type(a) is int and 0 <= a < len(self.levels)), default=0))
        return len(self.nodes) - 1

    def const(self, value: int | float) -> int:
        """A constant node, shared when the same number is asked for again."""
        key = (type(value), value)
        if key not in self._consts:
            self._consts[key] = self.op("const", const=value)
        return self._consts[key]

    def build(self, outputs: t.Sequence[int]) -> Graph:
        return Graph(inputs=self.inputs, nodes=self.nodes, outputs=list(outputs))
