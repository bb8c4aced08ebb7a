"""The `lagrange` check kind: L(x, lam) = f(x) - lam^T g(x), its gradient, and a solver.

Problems with known answers, as expression graphs handed over as torch
functions (f: Tensor (d,) -> 0-d Tensor, g: Tensor (d,) -> Tensor (m,), both
differentiable by the student's autograd):

- quadratic: f = 1/2 x^T Q x + c^T x (Q symmetric positive definite) with
  linear constraints A x = b; the optimum solves the KKT system
  [[Q, -A^T], [A, 0]] [x; lam] = [-c; b];
- circle: maximise a x + b y on x^2 + y^2 = 1, started near the maximum:
  x* = (a, b) / r, lam* = r / 2 with r = |(a, b)|.

The solver is judged by stationarity and feasibility residuals (computed here
with torch autograd) and by its distance to the known answer; the opposite
sign convention and a solver that ignores the constraints are named.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from grader.checks import compare
from grader.checks.cases import seeded_cases
from grader.checks.context import GradeContext, Prepared
from grader.checks.diagnose import WRONG_ROLE
from grader.checks.graph_text import spell
from grader.checks.kinds.lagrange import LagrangeCheck
from grader.checks.scoring import GeneratedCase, Verdict, outcome_failure, score_question, written
from grader.expr.spec import Builder, Graph
from grader.expr.torch_eval import evaluate
from grader.probe.session import CallOutcome, CallSpec, QuestionCalls
from grader.probe.values import encode_tensor, tensor_function
from grader.results import CaseReport, QuestionResult
from grader.rubric.model import Question

TOL = 1e-6


@dataclass(frozen=True)
class Problem:
    f: Graph                  # d inputs -> 1 output
    g: Graph                  # d inputs -> m outputs
    x_star: tuple[float, ...]
    lam_star: tuple[float, ...]
    x0: tuple[float, ...]
    lam0: tuple[float, ...]
    name: str


def _linear(b: Builder, coefficients, names) -> int:
    terms = [b.op("rmul", n, const=float(c)) for c, n in zip(coefficients, names)]
    total = terms[0]
    for term in terms[1:]:
        total = b.op("add", total, term)
    return total


def quadratic(rng: np.random.Generator) -> Problem:
    d, m = int(rng.integers(3, 5)), int(rng.integers(1, 3))
    B = rng.standard_normal((d, d))
    Q = np.round(B @ B.T / d + np.eye(d), 3)
    c, A, bvec = (np.round(rng.standard_normal(k), 3) for k in (d, (m, d), m))
    names = [f"x{i}" for i in range(d)]
    fb = Builder(names)
    quad = [fb.op("rmul", fb.op("mul", names[i], names[j]), const=float(Q[i, j] * (0.5 if i == j else 1.0)))
            for i in range(d) for j in range(i, d)]
    total = _linear(fb, c, names)
    for term in quad:
        total = fb.op("add", total, term)
    gb = Builder(names)
    outs = [gb.op("sub", _linear(gb, A[k], names), gb.const(float(bvec[k]))) for k in range(m)]
    kkt = np.block([[Q, -A.T], [A, np.zeros((m, m))]])
    sol = np.linalg.solve(kkt, np.concatenate([-c, bvec]))
    return Problem(fb.build([total]), gb.build(outs), tuple(sol[:d]), tuple(sol[d:]),
                   tuple(rng.standard_normal(d)), tuple(rng.standard_normal(m)), "quadratic")


def circle(rng: np.random.Generator) -> Problem:
    a, bb = rng.uniform(0.5, 2.0, 2)
    r = math.hypot(a, bb)
    fb = Builder(["x", "y"])
    f = fb.op("add", fb.op("rmul", "x", const=float(a)), fb.op("rmul", "y", const=float(bb)))
    gb = Builder(["x", "y"])
    g = gb.op("sub", gb.op("add", gb.op("mul", "x", "x"), gb.op("mul", "y", "y")), gb.const(1.0))
    x_star = (a / r, bb / r)
    x0 = tuple(v + float(rng.uniform(-0.15, 0.15)) for v in x_star)
    return Problem(fb.build([f]), gb.build([g]), x_star, (r / 2,), x0, (1.0,), "circle")


def objective_and_constraints(p: Problem, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return evaluate(p.f, x)[0], evaluate(p.g, x)


def lagrangian(p: Problem, x: torch.Tensor, lam: torch.Tensor, sign: float = 1.0) -> torch.Tensor:
    f, g = objective_and_constraints(p, x)
    return f - sign * (lam @ g)


def grad_lagrangian(p: Problem, x, lam, sign: float = 1.0) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64).clone().requires_grad_(True)
    lam = torch.as_tensor(lam, dtype=torch.float64).clone().requires_grad_(True)
    gx, gl = torch.autograd.grad(lagrangian(p, x, lam, sign), (x, lam))
    return torch.cat([gx, gl]).detach()


@dataclass(frozen=True)
class LCase(GeneratedCase):
    problem: Problem
    x: tuple[float, ...]          # the point (lagrangian, gradient) or x0 (solve)
    lam: tuple[float, ...]


def lagrange_cases(q: Question, public_only: bool) -> list[LCase]:
    check = q.check
    assert isinstance(check, LagrangeCheck)

    def draw(visibility: str, number: int, rng: np.random.Generator) -> LCase:
        kind = check.problems[(number - 1) % len(check.problems)]
        p = quadratic(rng) if kind == "quadratic" else circle(rng)
        if check.via == "solve":
            x, lam = p.x0, p.lam0
        else:
            x = tuple(rng.standard_normal(len(p.x0)))
            lam = tuple(rng.standard_normal(len(p.lam0)))
        return LCase(f"{visibility}-{number}", visibility, number, p, x, lam)
    return seeded_cases(q, public_only, draw)


def calls_for(case: LCase, timeout: float) -> list[CallSpec]:
    p = case.problem
    args = [tensor_function(p.f, scalar_output=True), tensor_function(p.g, scalar_output=False),
            encode_tensor(torch.tensor(case.x, dtype=torch.float64), "float64"),
            encode_tensor(torch.tensor(case.lam, dtype=torch.float64), "float64")]
    return [CallSpec(args, timeout=timeout)]



NO_STEP = ("no step was taken: you returned the start point (x0, lam0) unchanged; each Newton step "
           "must update (x, lam) by solving H d = -grad L, until grad L = 0")

SIGN_HINT = ("the course's sign convention is L(x, lam) = f(x) - sum_i lam_i g_i(x); your result "
             "matches L = f + lam^T g")


def _tensor(value) -> list[float] | None:
    if value is None or value.kind not in ("tensor", "float", "int") or (value.kind == "tensor" and value.data is None):
        return None
    return [value.number] if value.kind != "tensor" else value.data.reshape(-1).tolist()


def _near(got: list[float], ref: list[float], tol: float = TOL) -> bool:
    """compare.py's rule with rtol = atol = tol."""
    return len(got) == len(ref) and compare.close(got, ref, tol, tol).ok


def _signature(fn: str, check: LagrangeCheck) -> str:
    return f"{fn}(f, g, {'x0, lam0' if check.via == 'solve' else 'x, lam'})"


def _role_hint(fn: str, check: LagrangeCheck, error: str) -> str | None:
    """A shape or type mismatch inside the student's code: most often f and g (or x and lam)
    taken in another order than the grader's call."""
    if not WRONG_ROLE.search(error or ""):
        return None
    return (f"an argument was used in the wrong role (a shape or type mismatch): the grader calls "
            f"{_signature(fn, check)} with f the objective and g the constraints; check the order of your "
            "function's parameters")


def _returned_argument(fn: str, check: LagrangeCheck, value) -> str | None:
    if value.kind == "other" and value.type_name == "function":
        return (f"you returned a function (the argument `f` or `g`) itself: {_signature(fn, check)} must "
                "return tensors computed from them")
    return None


def judge(check: LagrangeCheck, case: LCase, out: CallOutcome, fn: str) -> Verdict:
    if out.status != "ok" or out.value is None:
        kind, message, hint = outcome_failure(fn, out)
        return Verdict(case, False, kind, message, hint or _role_hint(fn, check, out.error or ""))
    returned = _returned_argument(fn, check, out.value)
    if returned:
        return Verdict(case, False, "wrong", f"returned {out.value.describe()}", returned, got=written(out.value))
    p, x, lam = case.problem, torch.tensor(case.x, dtype=torch.float64), torch.tensor(case.lam, dtype=torch.float64)
    for name, sent, after in zip(("x", "lam"), (x, lam), out.args_after[2:4]):
        if after.data is None or tuple(after.data.shape) != tuple(sent.shape) or not torch.equal(after.data, sent):
            return Verdict(case, False, "wrong", f"modified its argument `{name}` in place",
                           "work on copies of x and lam (x.detach().clone()), never on the caller's tensors")
    wrong_dtype = _dtype_problem(out.value)
    if wrong_dtype:
        return Verdict(case, False, "wrong", wrong_dtype, "keep the dtype of x (float64 here): no float32 casts")
    if check.via == "lagrangian":
        ref = [float(lagrangian(p, x, lam))]
        got = _tensor(out.value)
        f_only = [float(objective_and_constraints(p, x)[0])]
        return _compare(case, got, ref, [float(lagrangian(p, x, lam, -1.0))], "L(x, lam)",
                        [(f_only, "the constraint term - lam^T g(x) is missing: you returned f(x) alone")],
                        as_written=written(out.value))
    if check.via == "gradient":
        ref = grad_lagrangian(p, x, lam).tolist()
        got = _tensor(out.value)
        if got is not None and len(got) == len(case.x) != len(ref):
            return Verdict(case, False, "wrong", f"returned {len(got)} numbers: only grad_x L",
                           "the gradient in (x, lam) has length d + m: append grad_lam L = -g(x)", expected=ref, got=got)
        return _compare(case, got, ref, grad_lagrangian(p, x, lam, -1.0).tolist(), "grad L",
                        as_written=written(out.value))
    return _judge_solution(case, out)


def _scaled(got: list[float], ref: list[float], what: str) -> str | None:
    """The generic slips: twice, the negative, all zeros."""
    if any(r != 0 for r in ref):
        if _near(got, [2 * r for r in ref]):
            return f"off by a factor 2: your {what} is twice the right one"
        if _near(got, [-r for r in ref]):
            return f"sign flipped: your {what} is minus the right one"
        if all(g == 0 for g in got):
            return f"returned all zeros for {what}"
    return None


def _dtype_problem(value) -> str | None:
    tensors = [value] if value.kind == "tensor" else [v for v in value.items if v.kind == "tensor"]
    bad = [v.dtype for v in tensors if v.dtype != "float64"]
    return f"returned {bad[0]} for float64 inputs" if bad else None


def _compare(case: LCase, got, ref, flipped, what: str, known: list[tuple[list[float], str]] = (),
             as_written=None) -> Verdict:
    if got is None:
        return Verdict(case, False, "wrong", f"expected a tensor for {what}", expected=ref, got=as_written)
    if _near(got, ref):
        return Verdict(case, True, expected=ref, got=got)
    hint = SIGN_HINT if _near(got, flipped) else None
    hint = hint or next((h for candidate, h in known if _near(got, candidate)), None) or _scaled(got, ref, what)
    shown = ", ".join(f"{v:.6g}" for v in got[:6])
    return Verdict(case, False, "wrong", f"wrong {what}: got [{shown}], expected "
                   f"[{', '.join(f'{v:.6g}' for v in ref[:6])}]", hint, expected=ref, got=got)


def _judge_solution(case: LCase, out: CallOutcome) -> Verdict:
    p = case.problem
    value = out.value
    expected = [list(p.x_star), list(p.lam_star)]
    if value.kind not in ("tuple", "list") or len(value.items) != 2:
        return Verdict(case, False, "wrong", f"returned {value.describe()}, expected (x_star, lam_star)",
                       expected=expected, got=written(value))
    xs, ls = _tensor(value.items[0]), _tensor(value.items[1])
    if xs is None or ls is None or len(xs) != len(p.x_star) or len(ls) != len(p.lam_star):
        return Verdict(case, False, "wrong", f"expected x_star of length {len(p.x_star)} and lam_star of "
                       f"length {len(p.lam_star)}", expected=expected, got=written(value))
    got = [xs, ls]
    if not all(map(math.isfinite, xs + ls)):
        return Verdict(case, False, "wrong", "returned NaN or infinity", expected=expected, got=got)
    residual = float(grad_lagrangian(p, xs, ls).norm())
    feasibility = float(objective_and_constraints(p, torch.tensor(xs, dtype=torch.float64))[1].norm())
    if _near(xs, list(p.x_star)) and _near(ls, list(p.lam_star)):
        return Verdict(case, True, ratio=residual, expected=expected, got=got)
    message = (f"not the constrained optimum: |grad L| = {residual:.2e}, |g(x)| = {feasibility:.2e}, "
               f"distance to x* = {math.dist(xs, p.x_star):.2e}")
    hint = None
    if _near(xs, list(p.x_star)) and _near(ls, [-v for v in p.lam_star]):
        hint = SIGN_HINT + " (x_star is right, lam_star has the opposite sign)"
    elif _near(xs, list(case.x)) and _near(ls, list(case.lam)):
        hint = NO_STEP
    elif _scaled(xs + ls, list(p.x_star) + list(p.lam_star), "(x_star, lam_star)"):
        hint = _scaled(xs + ls, list(p.x_star) + list(p.lam_star), "(x_star, lam_star)")
    elif feasibility > 1e-3:
        hint = ("x_star does not satisfy the constraints g(x) = 0: solve grad_(x, lam) L = 0, whose lam "
                "part is -g(x), not grad f = 0 alone")
    return Verdict(case, False, "wrong", message, hint, ratio=residual, expected=expected, got=got)


def case_report(v: Verdict) -> CaseReport:
    p = v.case.problem
    return CaseReport(case=v.case.id, message=v.message,
                      inputs={"problem": p.name, "f": spell(p.f), "g": spell(p.g), "x": list(v.case.x),
                              "lam": list(v.case.lam)}, expected=v.expected, got=v.got)


def prepare(q: Question, ctx: GradeContext) -> Prepared:
    assert isinstance(q.check, LagrangeCheck)
    cases = lagrange_cases(q, ctx.public_only)
    calls = [c for case in cases for c in calls_for(case, ctx.call_timeout(q))]
    return Prepared(QuestionCalls(q.calls[0], calls), functools.partial(_finish, q, cases))


def _finish(q: Question, cases: list, outcomes: list[CallOutcome]) -> QuestionResult:
    check = q.check
    assert isinstance(check, LagrangeCheck)
    verdicts = [judge(check, case, out, q.calls[0]) for case, out in zip(cases, outcomes)]
    return score_question(q, verdicts, {}, case_report)
