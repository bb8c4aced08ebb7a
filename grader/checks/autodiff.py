"""The `forward_mode` and `reverse_mode` check kinds: the student's Dual / Value on graphs.

A case is a generated expression graph (grader.expr) at one point. The
graph goes to the kernel as data; there the expression interpreter builds it
out of the student's objects (a scenario) or hands it to the student's
`derivative` / `jvp` / `jacobian` / `vjp` as `f`. What comes back is plain
floats, compared with torch's forward- or reverse-mode result on the same
specification. Failures are explained (grader.checks.autodiff_explain) by
the smallest failing graph (a single operation this submission gets wrong),
the operation it is built on (grader.checks.class_ops), a buggy reference
engine (overwritten or double-counted gradients), swapped operands, sign, or
the exception a method raised, with the argument that broke it.

The cases, their calls and expected results are grader.checks.graph_cases;
this module judges the replies and writes the feedback.
"""

from __future__ import annotations

import functools
import math
import typing as t
from dataclasses import dataclass

import numpy as np

from grader.checks import autodiff_explain as ex
from grader.checks import class_ops, engines
from grader.checks.compare import DEFAULT_TOLERANCE, tolerance
from grader.checks.context import GradeContext, Prepared
from grader.checks.graph_cases import TOLERANCE, GraphCase, calls_for, expected_grads, planned
from grader.checks.graph_text import spell
from grader.checks.memo import PerQuestion
from grader.checks.kinds.autodiff import ForwardModeCheck, ReverseModeCheck
from grader.checks.scoring import Verdict, outcome_failure, score_question
from grader.checks.static import evidence
from grader.probe.session import CallOutcome, CallSpec, QuestionCalls
from grader.probe.values import NotNumbers, as_numbers
from grader.results import CaseReport, QuestionResult
from grader.rubric.model import Question

#: (rtol, atol) by the dtype the student computed in (graph_cases.TOLERANCE: Python floats)
GRAPH_TOLERANCE = {"float64": TOLERANCE, "float32": DEFAULT_TOLERANCE["float32"]}


# -- judging -----------------------------------------------------------------------

@dataclass
class GraphVerdict(Verdict):
    node: str | None = None     # the node whose operation raised, spelled (it may not feed an output)


def _tolerance(q: Question, got) -> tuple[float, float]:
    """The closeness rule of the dtype the student computed in: an engine whose every
    number is a float32 (numpy.float32 data) is held to float32's tolerance, in every
    part of the verdict (values, derivatives, and the words that explain them)."""
    numbers = ex.flat(got) or []
    dtype = "float32" if numbers and all(
        not math.isfinite(v) or float(np.float32(v)) == v for v in numbers) else "float64"
    return tolerance(q, dtype, GRAPH_TOLERANCE)


def _class_name(q: Question) -> str:
    return next((name for name in reversed(q.calls) if name[:1].isupper()), q.calls[-1])


def _well_formed(check, case: GraphCase, got) -> tuple[str, str | None] | None:
    """What is wrong with the *shape* of what came back, in the terms of the exercise."""
    n, m = len(case.x), len(case.graph.outputs)
    if check.via == "jacobian" and ex.shape(got) == (n, m) and n != m:
        return f"returned a {n} x {m} list: that is the transposed Jacobian; J is m x n (one row per output)", None
    want = {"derivative": (), "jacobian": (m, n), "jvp": (2, m), "vjp": (n,)}.get(check.via)
    if want is not None and ex.shape(got) != want:
        shape = " x ".join(map(str, ex.shape(got))) or "a number"
        wanted = " x ".join(map(str, want)) or "a number"
        hint = None
        if check.via == "vjp" and ex.shape(got) == (m,):
            hint = ("one value per output is `J v`'s shape (a forward-mode product); `v^T J` has one "
                    "value per input")
        return f"returned {shape}, expected {wanted}", hint
    return None


def judge(q: Question, mode: str, case: GraphCase, ref, outs: list[CallOutcome], ctx: GradeContext) -> Verdict:
    check = q.check
    bad = next((o for o in outs if o.status != "ok" or o.value is None), None)
    if bad is not None:
        return _failed_call(q, mode, case, ref, bad, ctx)
    try:
        per_direction = check.via == "class" and mode == "forward"
        got = [as_numbers(o.value) for o in outs] if per_direction else as_numbers(outs[0].value)
    except NotNumbers as exc:
        hint = ex.function_call_failed(check.via, str(exc)) if check.via != "class" else None
        return GraphVerdict(case, False, "wrong", str(exc), hint, expected=ref)
    autograd = any(o.autograd_calls for o in outs)
    shape_problem = _well_formed(check, case, got)
    if shape_problem:
        return GraphVerdict(case, False, "wrong", shape_problem[0], shape_problem[1], expected=ref, got=got,
                            autograd=autograd)
    rtol, atol = _tolerance(q, got)
    ok, ratio = ex.close(got, ref, rtol, atol)
    verdict = GraphVerdict(case, ok, "ok" if ok else "wrong", expected=ref, got=got, ratio=ratio, autograd=autograd)
    if not ok:
        verdict.message, verdict.hint = _explain(q, mode, case, got, ref, ctx, rtol, atol)
    return verdict


def _failed_call(q: Question, mode: str, case: GraphCase, ref, out: CallOutcome, ctx: GradeContext) -> Verdict:
    kind, message, hint = outcome_failure(q.calls[0], out)
    cls, node = _class_name(q), None
    if kind == "unsupported":
        defined = class_ops.defined_methods(ctx.code, cls)
        message, hint, node = ex.unsupported(out.error or message, case.graphs, defined, cls)
    elif out.recursion:
        hint = ex.recursion_hint(mode, case.graph, out.line, cls)
    elif kind == "error" and case.op and q.check.via == "class":   # the operation's method raised
        message, hint = ex.raised(case.op, _const_of(case), out.error or "an exception", out.line, cls,
                                  spell(case.graph))
    elif q.check.via != "class":
        hint = ex.function_call_failed(q.check.via, f"{message} {out.error or ''}") or hint
    if case.op and kind not in ("missing", "not_implemented", "timeout", "crashed"):
        hint = ex.root_cause(case, ctx.op_failures.get(mode, {}), class_ops.built_on(ctx.code, cls), cls) or hint
        ctx.op_failures.setdefault(mode, {})[case.op] = message
    return GraphVerdict(case, False, kind, message, hint, expected=ref, node=node)


def _const_of(case: GraphCase):
    """The number a one-operation case hands the method: a reflected op's left number,
    pow's exponent, or the number on the right of `x + 2.0`."""
    node = next(n for n in case.graph.nodes if n.op == case.op)
    if node.const is not None:
        return node.const
    second = node.args[1] if len(node.args) > 1 else None
    if type(second) is int and case.graph.nodes[second].op == "const":
        return case.graph.nodes[second].const
    return None


def _explain(q: Question, mode, case, got, ref, ctx, rtol, atol) -> tuple[str, str | None]:
    check, cls = q.check, _class_name(q)
    if check.via == "class" and case.op:
        message, hint = ex.single_op_problem(case, got, ref, rtol, atol, mode, cls)
        hint = ex.root_cause(case, ctx.op_failures.get(mode, {}), class_ops.built_on(ctx.code, cls), cls,
                             own=message.startswith(ex.OVERWRITTEN)) or hint
        ctx.op_failures.setdefault(mode, {})[case.op] = message
        return message, hint
    message = ex.wrong_message(check.via, mode, got, ref, rtol, atol)
    used = {n.op for g in case.graphs for n in g.nodes}
    failing = [op for op in ctx.op_failures.get(mode, {}) if op in used]
    if failing:
        op = failing[0]
        return message, f"the smallest failing graph is a single `{op}`: {ctx.op_failures[mode][op]}"
    if mode == "reverse" and check.via == "class":
        hint = _engine_mistake(case, got, ref, rtol, atol)
        if hint:
            return message, hint
    if check.via == "vjp" and ex.forward_product(case.graph, list(case.x), list(case.v), got, rtol, atol):
        return message, ex.FORWARD_PRODUCT
    if check.via != "class" and (hint := ex.function_mistake(check.via, got, ref, rtol, atol)):
        return message, hint
    if check.via != "class" and ctx.class_failures.get(mode):
        failed = ", ".join(ctx.class_failures[mode][:3])
        return message, f"this function builds on your class, which fails {failed}: fix those first"
    return message, None


def _engine_mistake(case: GraphCase, got, ref, rtol, atol) -> str | None:
    grads = got[1]
    if len(case.graphs) > 1:
        last = expected_grads(case.graphs[-1], list(case.x))
        if ex.close(grads, last, rtol, atol)[0]:
            return ("the leaves' .grad kept only the last backward pass: gradients must "
                    "accumulate with `+=` across graphs and backward calls, as in torch")
    for mistake, candidate in engines.candidates(case.graph, list(case.x)):
        if ex.close(grads, candidate, rtol, atol)[0] and not ex.close(candidate, ref[1], rtol, atol)[0]:
            return engines.MISTAKES[mistake]
    return None


# -- feedback ------------------------------------------------------------------------

def _number(v: float) -> str:
    return f"{v:.6g}"   # as in the messages; a terminal shows about a line of each value


def _shown(check, mode: str, case: GraphCase, result) -> t.Any:
    """A class result as the student's objects print: `Dual(real=..., dual=...)` per output
    and seeded input; a leaf after backward() as `x = Value(data=..., grad=...)`, then the
    output(s) as `output = Value(data=...)`."""
    if result is None or check.via != "class":
        return result
    try:
        if mode == "forward":
            return {f"seed {name}": [f"Dual(real={_number(r)}, dual={_number(d)})" for r, d in column]
                    for name, column in zip(case.graph.inputs, result)}
        leaves = [f"{name} = Value(data={_number(x)}, grad={_number(g)})"    # the leaves first: their
                  for name, x, g in zip(case.graph.inputs, case.x, result[1])]   # grads are the answer
        return leaves + [f"output = Value(data={_number(d)})" for d in result[0]]
    except (TypeError, ValueError, IndexError):   # a malformed result: shown as it came
        return result


def case_report_for(check, mode: str) -> t.Callable[[Verdict], CaseReport]:
    def report(v: Verdict) -> CaseReport:
        inputs: dict[str, t.Any] = {"f": spell(v.case.graph), "x": list(v.case.x)}
        if len(v.case.graphs) > 1:
            inputs["then"] = spell(v.case.graphs[1])
        if v.case.v:
            inputs["v"] = list(v.case.v)
        node = getattr(v, "node", None)
        if node and node != inputs["f"]:
            inputs["failed at"] = node
        return CaseReport(case=v.case.id, message=v.message, inputs=inputs,
                          expected=_shown(check, mode, v.case, v.expected), got=_shown(check, mode, v.case, v.got))
    return report


#: each question's calls, the same for every submission: encoding a graph (a deep chain is
#: thousands of nodes) is made once per grader process, not once per submission
_PLANS: PerQuestion[tuple[list[list[CallSpec]], list[CallSpec]]] = PerQuestion()


def _plans(check, cases: list[tuple[GraphCase, t.Any]], timeout: float) -> tuple[list[list[CallSpec]], list[CallSpec]]:
    plans = [calls_for(check, c, timeout) for c, _ in cases]
    return plans, [c for p in plans for c in p]


def prepare(q: Question, ctx: GradeContext) -> Prepared:
    check = q.check
    assert isinstance(check, (ForwardModeCheck, ReverseModeCheck))
    cases = planned(q, ctx.public_only)
    timeout = ctx.call_timeout(q)
    plans, flat = _PLANS.get(q, (ctx.public_only, timeout), lambda: _plans(check, cases, timeout))
    calls = QuestionCalls(q.calls[0], flat, watch_autograd="torch" in check.forbid)
    return Prepared(calls, functools.partial(_finish, q, ctx, cases, plans))


def _finish(q: Question, ctx: GradeContext, cases: list[tuple[GraphCase, t.Any]], plans: list[list[CallSpec]],
            outcomes: list[CallOutcome]) -> QuestionResult:
    check = q.check
    assert isinstance(check, (ForwardModeCheck, ReverseModeCheck))
    mode = "forward" if check.kind == "forward_mode" else "reverse"
    watch = "torch" in check.forbid
    verdicts, i = [], 0
    for (case, ref), plan in zip(cases, plans):
        verdicts.append(judge(q, mode, case, ref, outcomes[i:i + len(plan)], ctx))
        i += len(plan)
    forbidden = None
    if watch:
        findings = [f for name in q.calls for f in ctx.code.torch_uses(name)]
        where = evidence(findings, any(v.autograd for v in verdicts), "torch autograd ran during the call")
        if where:
            forbidden = (f"uses torch ({where}); this exercise asks for your own automatic "
                         "differentiation in plain Python, so the question earns no points",
                         "implement the derivative rules yourself with Python floats and `math`")
    result = score_question(q, verdicts, {}, case_report_for(check, mode), forbidden)
    if check.via == "class" and result.status != "passed":
        ctx.class_failures.setdefault(mode, []).append(q.id)
    return result
