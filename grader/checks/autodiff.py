"""The `forward_mode` and `reverse_mode` check kinds: the student's Dual / Value on graphs.

A case is a generated expression graph (grader.expr) at one point. The
graph goes to the kernel as data; there the expression interpreter builds it
out of the student's objects (a scenario) or hands it to the student's
`derivative` / `jvp` / `jacobian` / `vjp` as `f`. What comes back is plain
floats, compared with torch's forward- or reverse-mode result on the same
specification. Failures are explained by the smallest failing graph (a
single operation this submission gets wrong), by matching a buggy reference
engine (overwritten or double-counted gradients), or by sign.
"""

from __future__ import annotations

import functools
import math
import re
import typing as t
from dataclasses import dataclass

import numpy as np
import torch

from grader.checks import engines
from grader.checks.cases import numbered_cases
from grader.checks.context import GradeContext, Prepared
from grader.checks.scoring import GeneratedCase, Verdict, outcome_failure, score_question
from grader.expr import generate
from grader.expr.spec import BINARY, OPS, Builder, Graph
from grader.expr.torch_eval import forward_reference, jacobian, reverse_reference
from grader.probe.session import CallOutcome, CallSpec, QuestionCalls
from grader.probe.values import NotNumbers, as_numbers, encode_plain, scalar_function
from grader.reports.result import CaseReport, QuestionResult
from grader.rubric.model import ForwardModeCheck, GraphSpec, Question, ReverseModeCheck

#: (rtol, atol): students compute in Python floats (float64) in another order than torch
TOLERANCE = (1e-6, 1e-9)
NUMBERS = (2.0, -1.5, 0.5, 3.0, -0.75)


@dataclass(frozen=True)
class GraphCase(GeneratedCase):
    graphs: tuple[Graph, ...]       # one; two for accumulation (same leaves)
    x: tuple[float, ...]
    v: tuple[float, ...] = ()      # tangent (jvp) or cotangent (vjp)
    op: str | None = None          # single-operation questions: the operation

    @property
    def graph(self) -> Graph:
        return self.graphs[0]



_TOKEN = re.compile(r"\b[abc]\b")


def spell(graph: Graph, limit: int = 300) -> str:
    """The graph as Python source for feedback, from each op's spelling in spec.OPS."""
    names: list[str] = []
    for node in graph.nodes:
        if node.op == "const":
            names.append(repr(node.const))
            continue
        args = [a if isinstance(a, str) else names[a] for a in node.args]
        parts = {"a": args[0], "b": args[1] if len(args) > 1 else "", "c": repr(node.const)}
        wrap = {k: f"({v})" if " " in v else v for k, v in parts.items()}
        names.append(_TOKEN.sub(lambda m: wrap[m.group(0)], OPS[node.op].python))
        if len(names[-1]) > limit:
            names[-1] = f"<{len(graph.nodes)}-node graph>"
    outs = [names[o] for o in graph.outputs]
    return outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"


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


def _generate(spec: GraphSpec, seed: int, number: int, outputs: int) -> tuple[tuple[Graph, ...], list, str | None]:
    rng = np.random.default_rng(seed)
    if spec.generator == "single_op":
        op = spec.ops[(number - 1) % len(spec.ops)]
        const = None
        if op in BINARY and spec.number_right or OPS[op].const == "left operand":
            const = float(rng.choice(NUMBERS))
        elif op == "pow":
            const = generate.EXPONENTS[int(rng.integers(len(generate.EXPONENTS)))]
        g = generate.single_op(op, seed=seed, n_points=1, const=const)
        return (g.graph,), list(g.points[0]), op
    if spec.generator == "random_dag":
        g = generate.random_dag(seed, n_inputs=spec.inputs, n_nodes=spec.nodes, n_outputs=outputs,
                                ops=tuple(spec.ops), n_points=1)
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
    out: list[GraphCase] = []
    for visibility, number, seed in numbered_cases(q, hidden=not public_only):
        seed = seed * 10_007 + number
        graphs, x, op = _generate(check.graphs, seed, number, outputs)
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


def _flat(a) -> list[float] | None:
    if isinstance(a, (int, float)):
        return [float(a)]
    if isinstance(a, list):
        out: list[float] = []
        for item in a:
            f = _flat(item)
            if f is None:
                return None
            out.extend(f)
        return out
    return None


def _shape(a) -> tuple:
    return (len(a), *(_shape(a[0]) if a else ())) if isinstance(a, list) else ()


def _ratio(got: list[float], ref: list[float], rtol: float, atol: float) -> float:
    worst = 0.0
    for g, r in zip(got, ref):
        if not math.isfinite(g):
            return math.inf
        worst = max(worst, abs(g - r) / (atol + rtol * abs(r)))
    return worst


# -- judging -----------------------------------------------------------------------

def _close(got, ref, rtol, atol) -> tuple[bool, float]:
    g, r = _flat(got), _flat(ref)
    if g is None or r is None or len(g) != len(r) or _shape(got) != _shape(ref):
        return False, math.inf
    ratio = _ratio(g, r, rtol, atol)
    return ratio <= 1.0, ratio


def _sign_flipped(got: list[float], ref: list[float], rtol: float, atol: float) -> bool:
    return any(r != 0 for r in ref) and _ratio([-v for v in got], ref, rtol, atol) <= 1.0


def _single_op_problem(case: GraphCase, got, ref, rtol, atol, mode: str) -> tuple[str, str | None]:
    """Which part of one operation is wrong: its value, or its derivative w.r.t. which input."""
    text = spell(case.graph)
    values_got, values_ref = _values(got, mode), _values(ref, mode)
    if not _close(values_got, values_ref, rtol, atol)[0]:
        return f"the forward value of `{text}` is wrong", None
    partial_got, partial_ref = _partials(got, mode), _partials(ref, mode)
    for j, name in enumerate(case.graph.inputs):
        g, r = partial_got[j], partial_ref[j]
        if _close(g, r, rtol, atol)[0]:
            continue
        rule = {"mul": " (product rule)", "div": " (quotient rule)", "rdiv": " (quotient rule)"}.get(case.op, "")
        if _sign_flipped(_flat(g) or [], _flat(r) or [], rtol, atol):
            return (f"sign error in the derivative of `{text}` with respect to {name}{rule}",
                    f"check the sign in the derivative rule of `{case.op}`{rule}")
        return (f"wrong derivative of `{text}` with respect to {name}: got {_fmt(g)}, expected {_fmt(r)}",
                f"the derivative rule of `{case.op}` is wrong (its value is right)")
    return f"wrong result for `{text}`", None


def _values(result, mode: str):
    """Forward values out of a class result: Dual [[real, dual]...] per direction; Value [data, grad]."""
    return [pair[0] for pair in result[0]] if mode == "forward" else result[0]


def _partials(result, mode: str) -> list:
    """Per input, its derivative(s): Dual per direction j the duals; Value the leaf grads."""
    if mode == "forward":
        return [[pair[1] for pair in column] for column in result]
    return [[g] for g in result[1]]


def _fmt(v) -> str:
    flat = _flat(v) or []
    return ", ".join(f"{x:.6g}" for x in flat[:6]) + (" ..." if len(flat) > 6 else "")


def _well_formed(check, case: GraphCase, got) -> str | None:
    """What is wrong with the *shape* of what came back, in the terms of the exercise."""
    n, m = len(case.x), len(case.graph.outputs)
    if check.via == "jacobian" and _shape(got) == (n, m) and n != m:
        return f"returned a {n} x {m} list: that is the transposed Jacobian; J is m x n (one row per output)"
    want = {"derivative": (), "jacobian": (m, n), "jvp": (2, m), "vjp": (n,)}.get(check.via)
    if want is not None and _shape(got) != want:
        shape = " x ".join(map(str, _shape(got))) or "a number"
        wanted = " x ".join(map(str, want)) or "a number"
        return f"returned {shape}, expected {wanted}"
    return None


def judge(check, mode: str, case: GraphCase, ref, outs: list[CallOutcome], fn: str,
          ctx: GradeContext, rtol: float, atol: float) -> Verdict:
    bad = next((o for o in outs if o.status != "ok" or o.value is None), None)
    if bad is not None:
        kind, message, hint = outcome_failure(fn, bad)
        if case.op and kind == "unsupported":
            ctx.op_failures.setdefault(mode, {})[case.op] = message
        return Verdict(case, False, kind, message, hint, expected=ref)
    try:
        per_direction = check.via == "class" and mode == "forward"
        got = [as_numbers(o.value) for o in outs] if per_direction else as_numbers(outs[0].value)
    except NotNumbers as exc:
        return Verdict(case, False, "wrong", str(exc), expected=ref)
    autograd = any(o.autograd_calls for o in outs)
    shape_problem = _well_formed(check, case, got)
    if shape_problem:
        return Verdict(case, False, "wrong", shape_problem, expected=ref, got=got, autograd=autograd)
    ok, ratio = _close(got, ref, rtol, atol)
    verdict = Verdict(case, ok, "ok" if ok else "wrong", expected=ref, got=got, ratio=ratio, autograd=autograd)
    if not ok:
        verdict.message, verdict.hint = _explain(check, mode, case, got, ref, ctx, rtol, atol)
    return verdict


def _explain(check, mode, case, got, ref, ctx, rtol, atol) -> tuple[str, str | None]:
    if check.via == "class" and case.op:
        message, hint = _single_op_problem(case, got, ref, rtol, atol, mode)
        ctx.op_failures.setdefault(mode, {})[case.op] = message
        return message, hint
    message = _wrong_message(check, mode, got, ref)
    used = {n.op for g in case.graphs for n in g.nodes}
    failing = [op for op in ctx.op_failures.get(mode, {}) if op in used]
    if failing:
        op = failing[0]
        return message, f"the smallest failing graph is a single `{op}`: {ctx.op_failures[mode][op]}"
    if mode == "reverse" and check.via == "class":
        grads = got[1]
        if len(case.graphs) > 1:
            last = reverse_reference(case.graphs[-1], torch.tensor(case.x, dtype=torch.float64),
                                     torch.ones(1, dtype=torch.float64))[1].tolist()
            if _close(grads, last, rtol, atol)[0]:
                return message, ("the leaves' .grad kept only the last backward pass: gradients must "
                                 "accumulate with `+=` across graphs and backward calls, as in torch")
        for mistake, candidate in engines.candidates(case.graph, list(case.x)):
            if _close(grads, candidate, rtol, atol)[0] and not _close(candidate, ref[1], rtol, atol)[0]:
                return message, engines.MISTAKES[mistake]
    if check.via != "class" and ctx.class_failures.get(mode):
        failed = ", ".join(ctx.class_failures[mode][:3])
        return message, f"this function builds on your class, which fails {failed}: fix those first"
    return message, None


def _wrong_message(check, mode: str, got, ref) -> str:
    if check.via == "class" and mode == "reverse":
        if _ratio(_flat(got[0]) or [], _flat(ref[0]) or [], *TOLERANCE) > 1:
            return f"wrong forward value: got {_fmt(got[0])}, expected {_fmt(ref[0])}"
        return f"wrong leaf gradients: got .grad = [{_fmt(got[1])}], expected [{_fmt(ref[1])}]"
    if check.via == "class":
        values = [[p[0] for p in col] for col in got]
        if _ratio(_flat(values) or [], _flat([[p[0] for p in col] for col in ref]) or [], *TOLERANCE) > 1:
            return f"wrong forward values (.real): got {_fmt(values[0])}"
        duals = [[p[1] for p in col] for col in got]
        return (f"wrong derivatives (.dual, one pass per input): got [{_fmt(duals)}], "
                f"expected [{_fmt([[p[1] for p in col] for col in ref])}]")
    return f"wrong result: got {_fmt(got)}, expected {_fmt(ref)}"


def case_report(v: Verdict) -> CaseReport:
    inputs = {"f": spell(v.case.graph), "x": list(v.case.x)}
    if len(v.case.graphs) > 1:
        inputs["then"] = spell(v.case.graphs[1])
    if v.case.v:
        inputs["v"] = list(v.case.v)
    return CaseReport(case=v.case.id, message=v.message, inputs=inputs, expected=v.expected, got=v.got)


def prepare(q: Question, ctx: GradeContext) -> Prepared:
    check = q.check
    assert isinstance(check, (ForwardModeCheck, ReverseModeCheck))
    cases = planned(q, ctx.public_only)
    plans = [calls_for(check, c, ctx.call_timeout(q)) for c, _ in cases]
    calls = QuestionCalls(q.calls[0], [c for p in plans for c in p], watch_autograd="torch" in check.forbid)
    return Prepared(calls, functools.partial(_finish, q, ctx, cases, plans))


def _finish(q: Question, ctx: GradeContext, cases: list[tuple[GraphCase, t.Any]], plans: list[list[CallSpec]],
            outcomes: list[CallOutcome]) -> QuestionResult:
    check = q.check
    assert isinstance(check, (ForwardModeCheck, ReverseModeCheck))
    mode = "forward" if check.kind == "forward_mode" else "reverse"
    tol = q.tolerance.get("float64")
    rtol, atol = (tol.rtol, tol.atol) if tol else TOLERANCE
    watch = "torch" in check.forbid
    verdicts, i = [], 0
    for (case, ref), plan in zip(cases, plans):
        verdicts.append(judge(check, mode, case, ref, outcomes[i:i + len(plan)], q.calls[0], ctx, rtol, atol))
        i += len(plan)
    forbidden = None
    if watch:
        findings = [f for name in q.calls for f in ctx.code.torch_uses(name)]
        if findings or any(v.autograd for v in verdicts):
            where = str(findings[0]) if findings else "torch autograd ran during the call"
            forbidden = (f"uses torch ({where}); this exercise asks for your own automatic "
                         "differentiation in plain Python, so the question earns no points",
                         "implement the derivative rules yourself with Python floats and `math`")
    result = score_question(q, verdicts, {}, case_report, forbidden)
    if check.via == "class" and result.status != "passed":
        ctx.class_failures.setdefault(mode, []).append(q.id)
    return result
