"""The `forward_mode` and `reverse_mode` check kinds' cases: the graphs and points each
question is tested on, the calls that hand them to the kernel, and torch's expected results.

Public cases are made to show what hidden cases catch: a reverse-mode
operation is also tested with its operand used again (`x.exp() + x`), `**`
at a negative base and with float exponents, and the public random graphs
of a class question together exercise every operation it lists
(generate.covering_dag). Judging them is grader.checks.autodiff.
"""

from __future__ import annotations

import functools
import typing as t
from dataclasses import dataclass

import numpy as np
import torch

from grader.checks import autodiff_explain as ex
from grader.checks import engines
from grader.checks.cases import numbered_cases
from grader.checks.kinds.autodiff import ForwardModeCheck, ReverseModeCheck
from grader.checks.scoring import GeneratedCase
from grader.expr import generate
from grader.expr.spec import BINARY, OPS, Builder, Graph
from grader.expr.torch_eval import forward_reference, jacobian, reverse_reference
from grader.probe.session import CallSpec
from grader.probe.values import encode_plain, scalar_function
from grader.rubric.model import Question
from grader.rubric.parts import GraphSpec

#: (rtol, atol): students compute in Python floats (float64) in another order than torch
TOLERANCE = (1e-6, 1e-9)
NUMBERS = (2.0, -1.5, 0.5, 3.0, -0.75)
POW_EXPONENTS = (3, 0.5, -1, 2.0, 1.5, 2, -0.5)
COVER_TRIES = 100     # seeds tried per public random graph, for one that exercises the ops not yet seen


@dataclass(frozen=True)
class GraphCase(GeneratedCase):
    graphs: tuple[Graph, ...]       # one; two for accumulation (same leaves)
    x: tuple[float, ...]
    v: tuple[float, ...] = ()      # tangent (jvp) or cotangent (vjp)
    op: str | None = None          # single-operation questions: the operation

    @property
    def graph(self) -> Graph:
        return self.graphs[0]


# -- cases ---------------------------------------------------------------------

def _reuse_family(seed: int) -> Graph:
    """The course's d = a * (a + b), and interior reuse (s = a + b; s * s + a)."""
    b = Builder(["a", "b"])
    kind = seed % 3
    if kind == 0:
        out = b.op("mul", "a", b.op("add", "a", "b"))
    elif kind == 1:
        s = b.op("add", "a", "b")
        out = b.op("add", b.op("mul", s, s), "a")
    else:
        s = b.op("mul", "a", "b")
        out = b.op("add", s, b.op("mul", s, "a"))
    return b.build([out])


def _generate(spec: GraphSpec, seed: int, number: int, outputs: int, mode: str,
              covered: set[str] | None, share: int = 1) -> tuple[tuple[Graph, ...], list, str | None]:
    rng = np.random.default_rng(seed)
    if spec.generator == "single_op":
        op = spec.ops[(number - 1) % len(spec.ops)]
        const = None
        if op in BINARY and spec.number_right or OPS[op].const == "left operand":
            const = float(rng.choice(NUMBERS))
        elif op == "pow":   # in turn: int, float, negative int, integral float, ...
            const = POW_EXPONENTS[(number - 1) // len(spec.ops) % len(POW_EXPONENTS)]
        # reverse mode: every second round through the ops uses the operand again
        # (`x.exp() + x`), so a backward step that overwrites .grad fails this op's question
        reuse = mode == "reverse" and (number - 1) // len(spec.ops) % 2 == 1
        g = generate.single_op(op, seed=seed, n_points=1, const=const, reuse=reuse)
        x = list(g.points[0])
        if op == "pow" and float(const).is_integer() and number % 2 == 1:
            x[0] = -abs(x[0])   # a negative base: `a ** 3` must not go through log(a)
        return (g.graph,), x, op
    if spec.generator == "random_dag":
        kwargs = dict(n_inputs=spec.inputs, n_nodes=spec.nodes, n_outputs=outputs, numbers=_numbers(spec),
                      ops=tuple(spec.ops))
        if covered is None:   # hidden cases, and the functions built on the class: as drawn
            g = generate.random_dag(seed, n_points=1, **kwargs)
        else:   # public: together the public cases exercise every op of the question
            wanted = generate.features_wanted(spec.ops, _numbers(spec)) | (
                set(engines.MISTAKES) if mode == "reverse" and outputs == 1 else set())
            g, found = generate.covering_dag((seed + k * 1_000_003 for k in range(COVER_TRIES)), covered,
                                             wanted, functools.partial(_features, mode, covered), share,
                                             **kwargs)
            covered |= found
        return (g.graph,), list(g.points[0]), None
    if spec.generator == "deep_chain":
        g = generate.deep_chain(seed, depth=spec.depth, n_outputs=outputs, templates=tuple(spec.ops),
                                n_points=1)
        return (g.graph,), list(g.points[0]), None
    if spec.generator == "reuse":
        graph = _reuse_family(seed)
        return (graph,), list(generate.sample_inputs(graph, seed, 1)[0]), None
    # accumulate: two one-operation graphs over the same leaves x, y
    ops = [op for op in (spec.ops or ["mul", "add", "sub"]) if op in BINARY]
    first, second = rng.choice(ops, 2)
    graphs = (generate.single_op(str(first)).graph, generate.single_op(str(second)).graph)
    x = generate.sample_inputs(graphs[0], seed, 1)[0]
    return graphs, list(x), None


def _features(mode: str, covered: set[str], g: generate.Generated) -> set[str]:
    """What one random graph exercises: its effective ops and, in reverse mode, the engine
    mistakes (an overwritten .grad, a node's backward run twice) that change its gradients
    (looked for only while not yet `covered`: a reference engine run is slow)."""
    x = list(g.points[0])
    found = generate.effective_ops(g.graph, x)
    mistakes = [m for m in engines.MISTAKES if m not in covered]
    if mode == "reverse" and len(g.graph.outputs) == 1 and mistakes:
        right = expected_grads(g.graph, x)
        for mistake, candidate in engines.candidates(g.graph, x, mistakes):
            if not ex.close(candidate, right, *TOLERANCE)[0]:
                found.add(mistake)
    return found


def expected_grads(graph: Graph, x: list[float]) -> list[float]:
    xt = torch.tensor(x, dtype=torch.float64)
    return reverse_reference(graph, xt, torch.ones(1, dtype=torch.float64))[1].tolist()


def _numbers(spec: GraphSpec) -> bool:
    """Plain numbers as operands only where the question lists an op that takes one: the
    functions built on a class (`derivative`, `jvp`, `jacobian`, `vjp`) are tested on graphs of
    `+` and `*` between the class's objects, so a class that lacks `x + 2.0` loses only
    the question about `x + 2.0` (a missing operation costs only its own question)."""
    return spec.number_right or any(OPS[op].const == "left operand" for op in spec.ops)


_PLANNED: dict[tuple[str, bool], list[tuple[GraphCase, t.Any]]] = {}


def planned(q: Question, public_only: bool) -> list[tuple[GraphCase, t.Any]]:
    """Cases with their expected results: the same for every submission, so made once
    per grader process (a deep chain's generation and reference take about a second)."""
    key = (q.model_dump_json(), public_only)
    if key not in _PLANNED:
        _PLANNED[key] = [(c, expected(q.check, c)) for c in graph_cases(q, public_only)]
    return _PLANNED[key]


def graph_cases(q: Question, public_only: bool) -> list[GraphCase]:
    check = q.check
    assert isinstance(check, (ForwardModeCheck, ReverseModeCheck))
    # derivative takes f: R -> R; a Value's backward() starts from one output
    one_output = check.via == "derivative" or (check.via == "class" and check.kind == "reverse_mode")
    outputs = 1 if one_output else check.graphs.outputs
    mode = "forward" if check.kind == "forward_mode" else "reverse"
    covered: set[str] = set()
    out: list[GraphCase] = []
    for visibility, number, seed in numbered_cases(q, hidden=not public_only):
        seed = seed * 10_007 + number
        if check.via == "vjp" and number % 2 == 1:   # square J: `J v` and `v^T J` both fit, and differ
            outputs = check.graphs.inputs
        elif check.via == "vjp":
            outputs = check.graphs.outputs
        public = visibility == "public"
        cover = public and check.via == "class"
        graphs, x, op = _generate(check.graphs, seed, number, outputs, mode, covered if cover else None,
                                  share=q.cases.public.count - number + 1)
        rng = np.random.default_rng([seed, 7])
        m = len(graphs[0].outputs)
        v = rng.uniform(-1, 1, m if check.via == "vjp" else len(x)) if check.via in ("jvp", "vjp") else ()
        out.append(GraphCase(f"{visibility}-{number}", visibility, number, graphs,
                             tuple(float(a) for a in x), tuple(float(a) for a in v), op))
    return out


# -- calls ---------------------------------------------------------------------

def calls_for(check, case: GraphCase, timeout: float) -> list[CallSpec]:
    x = list(case.x)
    if check.via == "class" and check.kind == "forward_mode":   # one pass per input direction
        n = len(x)
        return [CallSpec(scenario={"scenario": "dual", "graph": case.graph.to_json(), "x": x,
                                   "v": [float(i == j) for i in range(n)]}, timeout=timeout) for j in range(n)]
    if check.via == "class":
        return [CallSpec(scenario={"scenario": "value", "graphs": [g.to_json() for g in case.graphs], "x": x},
                         timeout=timeout)]
    if check.via == "derivative":
        return [CallSpec([scalar_function(case.graph), encode_plain(x[0])], timeout=timeout)]
    if check.via == "jacobian":
        return [CallSpec([encode_plain(case.graph), encode_plain(x)], timeout=timeout)]
    return [CallSpec([encode_plain(case.graph), encode_plain(x), encode_plain(list(case.v))], timeout=timeout)]


# -- expected values --------------------------------------------------------------

def expected(check, case: GraphCase) -> t.Any:
    x = torch.tensor(case.x, dtype=torch.float64)
    if check.via == "class" and check.kind == "forward_mode":   # all directions in one batched pass
        n = len(case.x)
        ys, tangents = forward_reference(case.graph, x.expand(n, -1), torch.eye(n, dtype=torch.float64))
        return [[[float(y), float(d)] for y, d in zip(ys[j], tangents[j])] for j in range(n)]
    if check.via == "class":
        data, grad = [], torch.zeros(len(case.x), dtype=torch.float64)
        for g in case.graphs:
            y, vjp = reverse_reference(g, x, torch.ones(1, dtype=torch.float64))
            data.append(float(y[0]))
            grad += vjp
        return [data, grad.tolist()]
    if check.via == "derivative":
        return float(forward_reference(case.graph, x, torch.ones(1, dtype=torch.float64))[1][0])
    if check.via == "jacobian":
        return jacobian(case.graph, x).tolist()
    if check.via == "jvp":
        y, jv = forward_reference(case.graph, x, torch.tensor(case.v, dtype=torch.float64))
        return [y.tolist(), jv.tolist()]
    return reverse_reference(case.graph, x, torch.tensor(case.v, dtype=torch.float64))[1].tolist()
