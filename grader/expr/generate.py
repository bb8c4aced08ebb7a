"""Seeded graphs and inputs that keep every op inside its domain.

How domains are kept: a node's domain depends on intermediate values, so the
generator evaluates as it builds. `random_dag` draws its input points first,
then grows the graph one node at a time, evaluating each candidate node on
all points in float64 (with the trusted op table) and keeping it only if
every operand is inside the op's domain (`DOMAIN`, with margins) and every
value stays bounded; a rejected candidate is simply re-drawn. No guard nodes
are wrapped around operands, so graphs stay as random as their seed.
`deep_chain` is built from templates that are in domain by construction for
inputs in [-1, 1] (and checked). Graphs with fixed structure (`reuse_graph`,
`single_op`) get their points by rejection sampling (`sample_inputs`).

Every generator returns a `Generated`: the graph plus points (k, n) at which
every op is in its domain. Same arguments, same graph and points, bit for bit
(numpy's PCG64 via default_rng).
"""

from __future__ import annotations

import typing as t
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.autograd.forward_ad as fwad

from grader.expr.ops import DEEP_CHAIN_TEMPLATES, GRAPH_OPS
from grader.expr.spec import BINARY, OPS, Builder, Graph, Ref, SpecError
from grader.expr.torch_eval import TORCH_OPS, dual_node_values, node_values

TINY = 1e-9          # a derivative this small counts as zero (rounding left from a cancellation)
VALUE_BOUND = 1e3     # |every node value| <= this: no overflow, derivatives stay moderate
ALL_OPS = GRAPH_OPS
# What the course's classes must support (EXERCISES.md §3, §4), and the public
# micrograd engine (which must grade as correct where it has the operation).
DUAL_OPS = tuple(op for op in ALL_OPS if "Dual" in OPS[op].classes)
VALUE_OPS = tuple(op for op in ALL_OPS if "Value" in OPS[op].classes)
MICROGRAD_OPS = tuple(op for op in ALL_OPS if OPS[op].micrograd)
EXPONENTS = (2, 3, -1, 0.5, 1.5, 2.0, -0.5)   # ints stay ints: `x ** 2` and `x ** 2.0` both appear


# op -> which points its operands allow (operands as float64 tensors, c the const): the records'
DOMAIN: dict[str, t.Callable[..., torch.Tensor]] = {name: op.domain for name, op in OPS.items() if op.domain}


@dataclass(frozen=True)
class Generated:
    graph: Graph
    points: np.ndarray    # (k, n) float64; every op is inside its domain at each row


def _ok(op: str, const: t.Any, operands: list[t.Any], result: t.Any) -> torch.Tensor:
    """Per point: operands inside `op`'s domain and the result finite and bounded."""
    ts = [torch.as_tensor(x, dtype=torch.float64) for x in operands]
    r = torch.as_tensor(result, dtype=torch.float64)
    ok = torch.isfinite(r) & (r.abs() <= VALUE_BOUND)
    if op in DOMAIN:
        ok = ok & DOMAIN[op](*ts, const)
    return ok


def point_mask(graph: Graph, points: t.Any) -> np.ndarray:
    """For each row of `points` (k, n): is every node of `graph` in its domain there?"""
    return _violations(graph, points)[1]


def violations(graph: Graph, points: t.Any) -> list[str]:
    """Which nodes leave their domain (or bounds) at some of `points`; [] if none."""
    return _violations(graph, points)[0]


def _violations(graph: Graph, points: t.Any) -> tuple[list[str], np.ndarray]:
    """Every node at once, each op's domain rule once per (op, constant) on all its nodes
    stacked: node by node, a 5,000-deep chain took 0.3 s of `grader check`'s critical path."""
    pts = torch.as_tensor(np.atleast_2d(np.asarray(points, dtype=np.float64)))
    k = pts.shape[0]
    with torch.no_grad():
        values = node_values(graph, pts)
    column = {name: pts[:, i] for i, name in enumerate(graph.inputs)}
    rows = [i for i, node in enumerate(graph.nodes) if node.op != "const"]
    if not rows:
        return [], np.ones(k, dtype=bool)

    def at_points(value: t.Any) -> torch.Tensor:
        return torch.as_tensor(value, dtype=torch.float64).expand(k)

    results = torch.stack([at_points(values[i]) for i in rows])          # (nodes, k)
    ok = torch.isfinite(results) & (results.abs() <= VALUE_BOUND)
    groups: dict[tuple[str, t.Any], list[int]] = {}
    for j, i in enumerate(rows):
        node = graph.nodes[i]
        if node.op in DOMAIN:
            groups.setdefault((node.op, node.const), []).append(j)
    for (op, const), js in groups.items():
        nodes = [graph.nodes[rows[j]] for j in js]
        operands = [torch.stack([at_points(column[a] if type(a) is str else values[a]) for a in args])
                    for args in zip(*(node.args for node in nodes))]
        ok[js] &= DOMAIN[op](*operands, const)
    problems = [f"node {rows[j]} ({graph.nodes[rows[j]].op}) outside its domain at {int(bad)} point(s)"
                for j, bad in enumerate((~ok).sum(dim=1).tolist()) if bad]
    return problems, ok.all(dim=0).numpy()


def sample_inputs(graph: Graph, seed: int, k: int = 8, low: float = -2.0, high: float = 2.0,
                  max_draws: int = 100_000) -> np.ndarray:
    """k points drawn uniformly from [low, high]^n, rejecting those where some op
    leaves its domain. Raises SpecError if too few are found."""
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    drawn = 0
    while sum(len(f) for f in found) < k and drawn < max_draws:
        batch = rng.uniform(low, high, (max(64, 4 * k), graph.n_inputs))
        drawn += len(batch)
        found.append(batch[point_mask(graph, batch)])
    points = np.concatenate(found)[:k]
    if len(points) < k:
        raise SpecError(f"only {len(points)} of {k} points inside every op's domain after {drawn} draws")
    return points


# -- random DAGs ------------------------------------------------------------------

def _number(rng: np.random.Generator) -> int | float:
    """A constant operand: sometimes a small int (exercises int on either side)."""
    if rng.random() < 0.3:
        return int(rng.choice([-3, -2, -1, 1, 2, 3]))
    return float(np.round(rng.uniform(-3.0, 3.0), 2))


def _pick(rng: np.random.Generator, live: list[Ref]) -> Ref:
    """An operand: half the time one of the 3 newest (chains), else any (reuse)."""
    pool = live[-3:] if rng.random() < 0.5 else live
    return pool[int(rng.integers(len(pool)))]


@dataclass(frozen=True)
class _Num:
    """A number operand of a candidate node (an int must not pass for a node index)."""
    value: int | float


def _candidate(rng, ops, live, numbers: bool = True) -> tuple[str, list[Ref | _Num], int | float | None]:
    """(op, operands, const); a `_Num` operand becomes a const node if the node is kept.
    Without `numbers`, a binary op takes two of the class's objects, never a plain number."""
    op = ops[int(rng.integers(len(ops)))]
    a = _pick(rng, live)
    if op in BINARY:
        b = _Num(_number(rng)) if numbers and rng.random() < 0.25 else _pick(rng, live)
        return op, [a, b], None
    if op == "pow":
        return op, [a], EXPONENTS[int(rng.integers(len(EXPONENTS)))]
    if OPS[op].const != "none":
        return op, [a], _number(rng)
    return op, [a], None


def random_dag(seed: int, n_inputs: int = 3, n_nodes: int = 24, n_outputs: int = 2,
               ops: t.Sequence[str] = ALL_OPS, n_points: int = 8,
               low: float = -2.0, high: float = 2.0, max_tries: int = 200, numbers: bool = True) -> Generated:
    """A random DAG of `n_nodes` operations (const nodes not counted) with reuse:
    operands are drawn with replacement, so nodes feed several others and
    `x * x` happens. The newest node is always an output. `numbers=False`: no
    plain number as a binary op's operand (`x + 2.0` needs more of a class
    than `x + y`)."""
    unknown = set(ops) - set(ALL_OPS)
    if unknown or not ops or n_outputs > n_nodes:
        raise SpecError(f"bad random_dag arguments (unknown ops {sorted(unknown)}, "
                        f"{n_outputs} outputs of {n_nodes} nodes)")
    rng = np.random.default_rng(seed)
    points = rng.uniform(low, high, (n_points, n_inputs))
    b = Builder([f"x{i}" for i in range(n_inputs)])
    values: dict[Ref, t.Any] = {name: torch.as_tensor(points[:, i]) for i, name in enumerate(b.inputs)}
    live: list[Ref] = list(b.inputs)
    made: list[int] = []
    for _ in range(n_nodes):
        for _ in range(max_tries):
            op, operands, const = _candidate(rng, ops, live, numbers)
            vals = [x.value if isinstance(x, _Num) else values[x] for x in operands]
            result = TORCH_OPS[op](*vals, const)
            if bool(_ok(op, const, vals, result).all()):
                break
        else:
            raise SpecError(f"random_dag(seed={seed}): no op from {list(ops)} stays in its domain")
        args = [b.const(x.value) if isinstance(x, _Num) else x for x in operands]
        node = b.op(op, *args, const=const)
        values[node] = result
        live.append(node)
        made.append(node)
    extra = rng.choice(len(made) - 1, size=n_outputs - 1, replace=False) if n_outputs > 1 else []
    outputs = [made[-1]] + [made[int(i)] for i in extra]
    return Generated(b.build(outputs), points)


def feature_of(graph: Graph, i: int) -> str:
    """What node `i` exercises: its op, for a binary op whether its right operand is a plain
    number (`mul·number`: `x * 2.0` never shows a wrong derivative in the right operand), and
    for `**` whether its exponent is a float (`pow·float`) or an int (`pow`)."""
    node = graph.nodes[i]
    if node.op in BINARY and type(node.args[1]) is int and graph.nodes[node.args[1]].op == "const":
        return f"{node.op}·number"
    if node.op == "pow" and type(node.const) is float:   # `__pow__` that handles only ints
        return "pow·float"
    return node.op


def effective_ops(graph: Graph, point: t.Any) -> set[str]:
    """The features (`feature_of`) of the nodes that matter at one `point`: the outputs
    (summed) depend on the node's value (a nonzero adjoint), and each of its operands moves
    with the inputs (a nonzero tangent along a fixed generic direction). A wrong value or
    derivative rule there shows in the result. Not so a node off every path to an output,
    one behind a relu at its flat side, or one whose operand is constant (`-3 / x * x`).
    A feature is listed only where exactly one node has it (see below)."""
    x = torch.as_tensor(np.asarray(point, dtype=np.float64)).clone()
    direction = torch.tensor([1.0 / (k + 1.37) for k in range(graph.n_inputs)], dtype=torch.float64)
    with fwad.dual_level():
        values = dual_node_values(graph, x, direction)
        moving = {i for i, v in enumerate(values) if isinstance(v, torch.Tensor)
                  and (t := fwad.unpack_dual(v).tangent) is not None and abs(float(t)) > TINY}
    moving |= set(graph.inputs)
    xr = x.clone().requires_grad_(True)
    with torch.enable_grad():
        values = node_values(graph, xr)
        nodes = [i for i, v in enumerate(values) if isinstance(v, torch.Tensor) and v.requires_grad]
        total = sum(values[o] for o in graph.outputs)
        grads = torch.autograd.grad(total, [values[i] for i in nodes], allow_unused=True)
    adjoint = {i for i, g in zip(nodes, grads) if g is not None and abs(float(g)) > TINY}
    counts = Counter(feature_of(graph, i) for i in adjoint
                     if all(a in moving for a in graph.nodes[i].args if not _is_const(graph, a)))
    # an op counts where it matters exactly once: a mistake made in every node of an op
    # can cancel between two of them (a sign flipped in `c - (d - x)` twice)
    return {feature for feature, n in counts.items() if n == 1}


def _is_const(graph: Graph, ref: Ref) -> bool:
    return type(ref) is int and graph.nodes[ref].op == "const"


def features_wanted(ops: t.Sequence[str], numbers: bool) -> set[str]:
    """The features the public random graphs of a question should exercise between them:
    every op, and each binary op with a number on the right too where numbers are drawn."""
    wanted = set(ops) | ({"pow·float"} if "pow" in ops else set())
    return wanted | ({f"{op}·number" for op in ops if op in BINARY} if numbers else set())


MIN_TRIES = 12   # graphs drawn before one that covers only its fair share is taken


def covering_dag(seeds: t.Iterable[int], covered: set[str], wanted: set[str],
                 features: t.Callable[[Generated], set[str]], share: int = 1,
                 **kwargs: t.Any) -> tuple[Generated, set[str]]:
    """Of the random DAGs (one point each) drawn from `seeds`, the first whose `features`
    cover every one of `wanted` not yet `covered`, else the one that adds the most. Public
    cases are drawn so: together they exercise every operation of the question (with an
    object and with a number as the right operand), so a wrong rule of any of them shows
    before the hidden cases. `share`: how many graphs (this one included) are left to cover
    the rest, so a graph that covers its share of it is good enough. Returns the graph and
    its features."""
    best: tuple[int, Generated, set[str]] | None = None
    ops = tuple(kwargs.pop("ops"))
    # draw the ops not yet covered three times as often (the graphs still use only `ops`)
    missing = sorted({f.split("·")[0] for f in wanted - covered} & set(ops))
    weighted = ops + tuple(missing) * 2
    fair = -(-len(wanted - covered) // max(share, 1))   # this graph's share of what is left
    for tried, seed in enumerate(seeds, 1):
        g = random_dag(seed, n_points=1, ops=weighted, **kwargs)
        found = features(g)
        gain = len((found - covered) & wanted)
        if best is None or gain > best[0]:
            best = (gain, g, found)
        if covered | found >= wanted or (tried >= MIN_TRIES and best[0] >= fair):
            break
    if best is None:
        raise SpecError("covering_dag: no seeds")
    return best[1], best[2]


# -- deep chains --------------------------------------------------------------------
# Each template maps u in [-1.5, 1.5] (and an input x in [-1, 1]) back into
# [-1.5, 1.5], with every op in its domain: values stay bounded at any depth,
# and mixing an input into most steps keeps the Jacobian far from zero even
# though the derivative along the chain itself decays.

def _t_tanh(b: Builder, u: Ref, x: Ref) -> int:        # tanh(0.9 u + x * 0.5)
    return b.op("tanh", b.op("add", b.op("rmul", u, const=0.9), b.op("mul", x, b.const(0.5))))


def _t_sin(b: Builder, u: Ref, x: Ref) -> int:         # sin(u - x * 0.5)
    return b.op("sin", b.op("sub", u, b.op("mul", x, b.const(0.5))))


def _t_log(b: Builder, u: Ref, x: Ref) -> int:         # log(u * u + 1) - 0.5
    return b.op("sub", b.op("log", b.op("add", b.op("mul", u, u), b.const(1))), b.const(0.5))


def _t_exp(b: Builder, u: Ref, x: Ref) -> int:         # exp(u * 0.5) - 1
    return b.op("sub", b.op("exp", b.op("mul", u, b.const(0.5))), b.const(1.0))


def _t_div(b: Builder, u: Ref, x: Ref) -> int:         # u / (x * x + 2)
    return b.op("div", u, b.op("add", b.op("mul", x, x), b.const(2.0)))


def _t_rdiv(b: Builder, u: Ref, x: Ref) -> int:        # -(1 / (u + 3))
    return b.op("neg", b.op("rdiv", b.op("add", u, b.const(3)), const=1.0))


def _t_relu(b: Builder, u: Ref, x: Ref) -> int:        # relu(u + 2) - 2, never at the kink
    return b.op("sub", b.op("relu", b.op("add", u, b.const(2.0))), b.const(2.0))


def _t_pow(b: Builder, u: Ref, x: Ref) -> int:         # -(u ** 3) * 0.25
    return b.op("mul", b.op("neg", b.op("pow", u, const=3)), b.const(0.25))


def _t_sqrt(b: Builder, u: Ref, x: Ref) -> int:        # (u * u + 0.5) ** 0.5 - 1
    return b.op("sub", b.op("pow", b.op("add", b.op("mul", u, u), b.const(0.5)), const=0.5), b.const(1))


def _t_cos(b: Builder, u: Ref, x: Ref) -> int:         # 0.5 - cos(u)
    return b.op("rsub", b.op("cos", u), const=0.5)


def _t_mix(b: Builder, u: Ref, x: Ref) -> int:         # 0.25 + 0.5 * (u * x)
    return b.op("radd", b.op("rmul", b.op("mul", u, x), const=0.5), const=0.25)


TEMPLATES = {"tanh": _t_tanh, "sin": _t_sin, "log": _t_log, "exp": _t_exp, "div": _t_div,
             "rdiv": _t_rdiv, "relu": _t_relu, "pow": _t_pow, "sqrt": _t_sqrt, "cos": _t_cos,
             "mix": _t_mix}
assert tuple(TEMPLATES) == DEEP_CHAIN_TEMPLATES, "ops.DEEP_CHAIN_TEMPLATES names these (the rubric checks them)"


def deep_chain(seed: int, depth: int = 5000, n_inputs: int = 2, n_outputs: int = 2,
               templates: t.Sequence[str] = tuple(TEMPLATES), n_points: int = 4) -> Generated:
    """A chain whose longest path is at least `depth` operations, built from
    random bounded templates; outputs are the chain's end and evenly spaced
    points along it. Pick `templates` to match a class's ops (e.g. no sin/cos
    for a `Value` without them)."""
    unknown = set(templates) - set(TEMPLATES)
    if unknown or not templates:
        raise SpecError(f"deep_chain: unknown templates {sorted(unknown)}; choose from {', '.join(TEMPLATES)}")
    rng = np.random.default_rng(seed)
    b = Builder([f"x{i}" for i in range(n_inputs)])
    u: Ref = b.inputs[0]
    steps: list[int] = []
    while not steps or b.levels[steps[-1]] < depth:
        make = TEMPLATES[templates[int(rng.integers(len(templates)))]]
        u = make(b, u, b.inputs[int(rng.integers(n_inputs))])
        steps.append(u)
    marks = np.linspace(0, len(steps) - 1, n_outputs + 1)[1:].round().astype(int)[::-1]
    graph = b.build([steps[int(i)] for i in marks])
    points = rng.uniform(-1.0, 1.0, (n_points, n_inputs))
    problems = violations(graph, points)
    assert not problems, f"deep_chain template left its domain: {problems[:3]}"
    return Generated(graph, points)


# -- fixed graphs -----------------------------------------------------------------

def reuse_graph(seed: int = 0, n_points: int = 4) -> Generated:
    """The course's d = a * (a + b): `a` is used twice, so reverse mode must
    accumulate both contributions (dd/da = 2a + b, dd/db = a)."""
    b = Builder(["a", "b"])
    d = b.op("mul", "a", b.op("add", "a", "b"))
    graph = b.build([d])
    return Generated(graph, sample_inputs(graph, seed, n_points))


def single_op(op: str, seed: int = 0, n_points: int = 8, const: int | float | None = None,
              reuse: bool = False) -> Generated:
    """One operation, for per-operation questions. Binary ops take inputs x, y,
    or with `const` a number on the right (`x + 2.0`); pow's exponent defaults
    to 3 and a reflected op's left number to 2.0. `reuse`: the operation's
    result plus its operand x again (`x.exp() + x`), so x gets two gradient
    contributions and a backward step that overwrites `.grad` shows."""
    if op not in ALL_OPS:
        raise SpecError(f"single_op: {op!r} is not an operation; choose from {', '.join(ALL_OPS)}")
    if op in BINARY:
        b = Builder(["x"] if const is not None else ["x", "y"])
        node = b.op(op, "x", b.const(const) if const is not None else "y")
    else:
        b = Builder(["x"])
        default = 3 if op == "pow" else 2.0 if OPS[op].const != "none" else None
        node = b.op(op, "x", const=const if const is not None else default)
    if reuse:
        node = b.op("add", node, "x")
    graph = b.build([node])
    return Generated(graph, sample_inputs(graph, seed, n_points))
