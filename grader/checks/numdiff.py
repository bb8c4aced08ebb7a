"""The `finite_difference` check kind: a scheme's value, its order, and its calls of f.

The function handed to the student is an expression graph (grader.expr): a
float -> float function for `forward_difference` / `central_difference`, a
Tensor (n,) -> scalar Tensor for `numerical_gradient`, wrapped in the kernel
so that every call of it is counted. Three checks per case:

- value: the student's result at the rubric's h against the same scheme
  evaluated here in float64 (so the comparison is tight, and a wrong
  denominator or the other scheme is recognised);
- order: over h from h_max down to h_min (where truncation, not round-off,
  dominates) the slope of log |error| against log h, next to the reference
  scheme's slope on the same function: about 1 forward, about 2 central;
- calls: exactly the required number of calls of f (e.g. 2n).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from grader.checks import compare
from grader.checks.cases import seeded_cases
from grader.checks.context import GradeContext, Prepared
from grader.checks.graph_text import spell
from grader.checks.kinds.finite_difference import FiniteDifferenceCheck
from grader.checks.scoring import GeneratedCase, Verdict, outcome_failure, score_question, written
from grader.expr.spec import Builder, Graph
from grader.expr.torch_eval import evaluate, forward_reference, reverse_reference
from grader.probe.session import CallOutcome, CallSpec, QuestionCalls
from grader.probe.values import (NotNumbers, as_numbers, encode_plain, encode_tensor, scalar_function,
                                 tensor_function)
from grader.results import CaseReport, QuestionResult
from grader.rubric.model import Question

COURSE_X = 1.5   # the course's example: f(x) = 3x^3 - 5x^2, f'(1.5) = 5.25
ONE_SIDED = ("one-sided differences (f(x + h e_i) - f(x)) / h are only order 1: use "
             "(f(x + h e_i) - f(x - h e_i)) / (2h), order 2")


def course_example() -> Graph:
    b = Builder(["x"])
    f = b.op("sub", b.op("rmul", b.op("pow", "x", const=3), const=3.0),
             b.op("rmul", b.op("pow", "x", const=2), const=5.0))
    return b.build([f])


def _smooth_scalar(kind: int) -> Graph:
    """Smooth functions with non-vanishing second and third derivatives on [0.5, 2]."""
    b = Builder(["x"])
    if kind == 0:
        out = b.op("mul", b.op("sin", "x"), b.op("pow", "x", const=2))            # sin(x) x^2
    elif kind == 1:
        out = b.op("sub", b.op("exp", b.op("mul", "x", b.const(0.5))),
                   b.op("mul", b.op("pow", "x", const=3), b.const(0.25)))          # e^(x/2) - x^3/4
    else:
        out = b.op("add", b.op("mul", b.op("tanh", "x"), "x"),
                   b.op("log", b.op("add", b.op("mul", "x", "x"), b.const(1.0))))  # x tanh x + log(x^2+1)
    return b.build([out])


def _smooth_gradient(n: int, rng: np.random.Generator) -> Graph:
    """f(x) = sum_i c_i t_i(x_i) + x_0 x_1: every coordinate curved, coordinates coupled."""
    b = Builder([f"x{i}" for i in range(n)])
    terms = []
    for i in range(n):
        xi, c = f"x{i}", float(rng.choice([0.5, 1.0, 1.5, -0.75]))
        kind = int(rng.integers(3))
        term = (b.op("sin", xi) if kind == 0 else b.op("exp", b.op("mul", xi, b.const(0.5))) if kind == 1
                else b.op("pow", xi, const=3))
        terms.append(b.op("rmul", term, const=c))
    total = b.op("mul", "x0", "x1")
    for term in terms:
        total = b.op("add", total, term)
    return b.build([total])


@dataclass(frozen=True)
class FDCase(GeneratedCase):
    graph: Graph
    x: tuple[float, ...]


def fd_cases(q: Question, public_only: bool) -> list[FDCase]:
    check = q.check
    assert isinstance(check, FiniteDifferenceCheck)

    def draw(visibility: str, number: int, rng: np.random.Generator) -> FDCase:
        if check.form == "scalar":
            if visibility == "public" and number == 1:
                graph, x = course_example(), (COURSE_X,)
            else:
                graph, x = _smooth_scalar(int(rng.integers(3))), (float(rng.uniform(0.5, 2.0)),)
        else:
            n = int(rng.integers(check.inputs[0], check.inputs[1] + 1))
            graph, x = _smooth_gradient(n, rng), tuple(float(v) for v in rng.uniform(0.3, 1.5, n))
        return FDCase(f"{visibility}-{number}", visibility, number, graph, x)
    return seeded_cases(q, public_only, draw)


# -- the reference side ------------------------------------------------------------

def _f(graph: Graph, x: torch.Tensor) -> float:
    return float(evaluate(graph, x)[0])


def reference_fd(check: FiniteDifferenceCheck, graph: Graph, x: tuple[float, ...], h: float,
                 scheme: str | None = None) -> list[float]:
    """The scheme in float64, coordinate by coordinate."""
    scheme = scheme or check.scheme
    base = torch.tensor(x, dtype=torch.float64)
    out = []
    for i in range(len(x)):
        e = torch.zeros_like(base)
        e[i] = h
        if scheme == "forward":
            out.append((_f(graph, base + e) - _f(graph, base)) / h)
        else:
            out.append((_f(graph, base + e) - _f(graph, base - e)) / (2 * h))
    return out


def analytic(graph: Graph, x: tuple[float, ...]) -> list[float]:
    base = torch.tensor(x, dtype=torch.float64)
    if len(x) == 1:
        return [float(forward_reference(graph, base, torch.ones(1, dtype=torch.float64))[1][0])]
    return reverse_reference(graph, base, torch.ones(1, dtype=torch.float64))[1].tolist()


def h_values(check: FiniteDifferenceCheck) -> list[float]:
    o = check.order
    return [] if o is None else list(np.geomspace(o.h_max, o.h_min, o.steps))


def slope(hs: list[float], errors: list[float]) -> float:
    """Least-squares slope of log error against log h (errors of exactly 0 are floored)."""
    ys = np.log(np.maximum(np.asarray(errors, dtype=float), 1e-300))
    return float(np.polyfit(np.log(hs), ys, 1)[0])


# -- calls ---------------------------------------------------------------------

def calls_for(check: FiniteDifferenceCheck, case: FDCase, timeout: float) -> list[CallSpec]:
    def one(h: float) -> CallSpec:
        if check.form == "scalar":
            f, x = scalar_function(case.graph), encode_plain(case.x[0])
        else:
            f = tensor_function(case.graph, scalar_output=True)
            x = encode_tensor(torch.tensor(case.x, dtype=torch.float64), "float64")
        return CallSpec([f, x, encode_plain(float(h))], timeout=timeout)
    return [one(check.h)] + [one(h) for h in h_values(check)]


def _numbers(out: CallOutcome) -> list[float]:
    got = as_numbers(out.value) if out.value.kind != "tensor" or out.value.data is None \
        or out.value.data.numel() == 1 else out.value.data.reshape(-1).tolist()
    return [got] if isinstance(got, float) else list(got)


# -- judging -----------------------------------------------------------------------


def _close(got: list[float], ref: list[float], rtol: float = 1e-6) -> tuple[bool, float]:
    """compare.py's rule, its atol scaled to the reference's size (a difference quotient
    carries rounding of about eps/h times |f|, whatever the derivative)."""
    if len(got) != len(ref) or not ref:
        return False, math.inf
    c = compare.close(got, ref, rtol, atol=1e-9 * max(1.0, max(abs(r) for r in ref)))
    return c.ok, c.worst_ratio


def _value_problem(check, case, got, ref) -> tuple[str, str | None] | None:
    ok, _ = _close(got, ref)
    if ok:
        return None
    other = "central" if check.scheme == "forward" else "forward"
    if _close(got, [r / 2 for r in ref])[0]:
        return "half the expected value", (f"your result is half the {check.scheme} difference: check the "
                                           f"denominator of {FORMULA[check.scheme]}")
    if _close(got, [2 * r for r in ref])[0]:
        return "twice the expected value", (f"your result is twice the {check.scheme} difference: check the "
                                            f"denominator of {FORMULA[check.scheme]}")
    if _close(got, reference_fd(check, case.graph, case.x, check.h, other))[0]:
        hint = (ONE_SIDED if check.scheme == "central" else
                "the forward difference is (f(x+h) - f(x)) / h, not the central one")
        return f"that is the {other} difference", hint
    if _close(got, [-r for r in ref])[0]:
        return "minus the expected value", (f"sign flipped: the {check.scheme} difference is "
                                            f"{FORMULA[check.scheme]}, not its negative")
    if all(g == 0 for g in got):
        return "all zeros", (f"returned zero: the {check.scheme} difference {FORMULA[check.scheme]} is "
                             "not zero here (is f called at two different points?)")
    if _close(got, _first_term_only(check, case, check.h))[0]:
        return "f(x + h) alone over the denominator", (
            f"a term is missing: the {check.scheme} difference is {FORMULA[check.scheme]}; you divided "
            f"f(x + h) alone")
    shown = ", ".join(f"{g:.8g}" for g in got[:4])
    want = ", ".join(f"{r:.8g}" for r in ref[:4])
    return f"got {shown}, expected {want} at h = {check.h:g}", None


FORMULA = {"forward": "(f(x + h) - f(x)) / h", "central": "(f(x + h) - f(x - h)) / (2h)"}


def _first_term_only(check: FiniteDifferenceCheck, case: FDCase, h: float) -> list[float]:
    """The scheme with its second evaluation of f dropped: f(x + h e_i) / denominator."""
    base = torch.tensor(case.x, dtype=torch.float64)
    denominator = h if check.scheme == "forward" else 2 * h
    out = []
    for i in range(len(case.x)):
        e = torch.zeros_like(base)
        e[i] = h
        out.append(_f(case.graph, base + e) / denominator)
    return out


def _role_hint(fn: str, error: str) -> str | None:
    """A function where a number was expected (or a number called): the parameters are in
    another order than the grader's call."""
    if re.search(r"'function'|not callable|object is not subscriptable", error or ""):
        return (f"an argument was used in the wrong role: the grader calls {fn}(f, x, h) with the "
                "function first; check the order of your function's parameters")
    return None


def judge(check: FiniteDifferenceCheck, case: FDCase, outs: list[CallOutcome], fn: str,
          tolerance_slope: float) -> Verdict:
    bad = next((o for o in outs if o.status != "ok" or o.value is None), None)
    if bad is not None:
        kind, message, hint = outcome_failure(fn, bad)
        return Verdict(case, False, kind, message, hint or _role_hint(fn, bad.error or ""))
    as_written = written(outs[0].value)
    try:
        results = [_numbers(o) for o in outs]
    except NotNumbers as exc:
        returned_f = outs[0].value.type_name == "function"
        return Verdict(case, False, "wrong", str(exc), (
            f"you returned the argument `f` itself: {fn}(f, x, h) must return the number "
            f"{FORMULA[check.scheme]}" if returned_f else None), got=as_written)
    n = len(case.x)
    expected = "a number" if n == 1 and check.form == "scalar" else f"{n} numbers"
    if any(isinstance(v, list) for r in results for v in r):     # nested (perhaps ragged) lists
        return Verdict(case, False, "wrong", f"returned a nested list, expected {expected}", got=as_written)
    if any(len(r) != n for r in results):
        return Verdict(case, False, "wrong", f"returned {len(results[0])} numbers, expected {n}", got=as_written)
    if check.form == "gradient":   # a tensor exercise: x's dtype (float64 here) and device kept
        v = outs[0].value
        if v.kind != "tensor" or v.dtype != "float64" or v.shape != (n,):
            return Verdict(case, False, "wrong", f"returned {v.describe()}, expected a float64 tensor of "
                           f"shape [{n}] like x", "return torch.tensor(..., dtype=x.dtype, device=x.device)")
    ref = reference_fd(check, case.graph, case.x, check.h)
    verdict = Verdict(case, True, expected=ref, got=results[0])
    problems, hints = [], []
    value = _value_problem(check, case, results[0], ref)
    if value:
        problems.append(f"wrong value at h = {check.h:g}: {value[0]}")
        hints.append(value[1])
    if check.exact_calls:
        want = int(check.exact_calls.rstrip("n") or 1) * (n if check.exact_calls.endswith("n") else 1)
        got_calls = outs[0].f_calls[0] if outs[0].f_calls else 0
        if got_calls != want:
            problems.append(f"called f {got_calls} times for n = {n}, expected exactly {want} ({check.exact_calls})")
            hints.append(f"call f exactly {check.exact_calls} times: once at x + h e_i and once at x - h e_i "
                         "per coordinate (for a scalar x: once at x + h and once at x - h or x)")
    hs = h_values(check)
    if hs:
        exact = analytic(case.graph, case.x)
        student = [max(abs(g - e) for g, e in zip(r, exact)) for r in results[1:]]
        reference = [max(abs(g - e) for g, e in zip(reference_fd(check, case.graph, case.x, h), exact))
                     for h in hs]
        s_student, s_ref = slope(hs, student), slope(hs, reference)
        verdict.series = {"h": hs, "student": student, "reference": reference,
                          "student_slope": s_student, "reference_slope": s_ref}
        if not abs(s_student - s_ref) <= tolerance_slope:
            problems.append(f"the error shrinks like h^{s_student:.2f}, expected about h^{s_ref:.1f} "
                            f"(order {round(s_ref)} for {check.scheme} differences)")
            hints.append(ONE_SIDED if check.scheme == "central" and s_student < s_ref
                         else f"the {check.scheme} difference has order {round(s_ref)}")
    if problems:
        verdict.passed, verdict.kind = False, "wrong"
        verdict.message = "; ".join(problems)
        verdict.hint = next((h for h in hints if h), None)
    return verdict


def case_report(v: Verdict) -> CaseReport:
    return CaseReport(case=v.case.id, message=v.message,
                      inputs={"f": spell(v.case.graph), "x": list(v.case.x)}, expected=v.expected, got=v.got)


def prepare(q: Question, ctx: GradeContext) -> Prepared:
    check = q.check
    assert isinstance(check, FiniteDifferenceCheck)
    cases = fd_cases(q, ctx.public_only)
    plans = [calls_for(check, c, ctx.call_timeout(q)) for c in cases]
    return Prepared(QuestionCalls(q.calls[0], [c for p in plans for c in p]),
                    functools.partial(_finish, q, cases, plans))


def _finish(q: Question, cases: list, plans: list[list[CallSpec]], outcomes: list[CallOutcome]) -> QuestionResult:
    check = q.check
    assert isinstance(check, FiniteDifferenceCheck)
    verdicts, i = [], 0
    tolerance = check.order.tolerance if check.order else 0.0
    for case, plan in zip(cases, plans):
        verdicts.append(judge(check, case, outcomes[i:i + len(plan)], q.calls[0], tolerance))
        i += len(plan)
    result = score_question(q, verdicts, {}, case_report)
    series = next((v.series for v in verdicts if v.series and v.case.visibility == "public"), None)
    if series:
        result.plot = {"kind": "loglog_error", "title": f"{q.calls[0]}: error against h", **series}
    return result
