"""The `gradient` check kind: the student's tensor against the autograd reference.

`judge_case` turns one call's outcome into a verdict with a reason a student
can act on; `judge_question` turns a question's verdicts into a score.
Pure functions of plain values: the kernel is never consulted here.
"""

from __future__ import annotations

import functools
import typing as t


import torch

from grader.checks import reference
from grader.checks.cases import Case, cases_for
from grader.checks.context import GradeContext, Prepared, grader_has_cuda
from grader.checks.compare import close, tolerance, worst_entries
from grader.checks.diagnose import (explain, explain_known, join_hints, layout_hint, returned_argument_hint, shape_hint,
                                    swapped_hint, wrong_role_hint)
from grader.checks.kinds.gradient import GradientCheck, ValueCheck
from grader.checks.memo import PerQuestion
from grader.checks.scoring import Verdict, outcome_failure, score_question, written
from grader.checks.static import Finding, evidence, probe_tampering
from grader.probe.session import CallOutcome, CallSpec, QuestionCalls
from grader.probe.values import encode_plain, encode_tensor
from grader.results import CaseReport, QuestionResult
from grader.rubric.model import Question

SHOW_IN_FULL = 36   # tensors with at most this many entries appear whole in feedback



Expected = t.Tuple[torch.Tensor, t.List[t.Tuple[torch.Tensor, str]]]
_REFERENCES: PerQuestion[Expected] = PerQuestion()
_CALLS: PerQuestion[list[CallSpec]] = PerQuestion()


def expected_for(question: Question, case: Case, device: str) -> Expected:
    return _REFERENCES.get(question, (case.id, device), lambda: _compute_expected(question, case, device))


def _answer(question: Question, args: dict) -> torch.Tensor:
    check = question.check
    if isinstance(check, ValueCheck):
        return reference.evaluate(check.expect, args).double()
    return reference.gradient(check.of, check.wrt, args)


def _compute_expected(question: Question, case: Case, device: str) -> Expected:
    check = question.check
    args = reference.as_float64(case.args, device)
    ref = _answer(question, args)
    known = [(reference.evaluate(m.when, args).double(), m.hint) for m in check.mistakes]
    return ref, known + _structural_mistakes(question, args)


def _structural_mistakes(question: Question, args: dict) -> list[tuple[torch.Tensor, str]]:
    """Mistakes any function can make, in this question's words: an argument returned as it
    came, and the right answer for two tensor arguments given in the other order."""
    tensors = [name for name, a in args.items() if isinstance(a, torch.Tensor)]
    out = [(args[name], returned_argument_hint(question, name)) for name in tensors]
    for i, first in enumerate(tensors):
        for second in tensors[i + 1:]:
            swapped = {**args, first: args[second], second: args[first]}
            try:
                out.append((_answer(question, swapped), swapped_hint(question, first, second)))
            except Exception:       # noqa: BLE001 - shapes that do not fit the other way round
                continue
    return out


def _error_verdict(question: Question, case: Case, out: CallOutcome) -> Verdict:
    kind, message, hint = outcome_failure(question.calls[0], out)
    if hint is None and kind == "error":
        hint = wrong_role_hint(question, out.error or "")
    return Verdict(case, False, kind, message, hint)


def judge_case(question: Question, case: Case, out: CallOutcome, ref: torch.Tensor,
               known: list[tuple[torch.Tensor, str]]) -> Verdict:
    if out.status != "ok" or out.value is None:
        return _error_verdict(question, case, out)
    v = out.value
    verdict = Verdict(case, False, "wrong", expected=ref, got=v,
                      autograd=out.autograd_calls > 0 or v.grad_fn is not None)
    rtol, atol = tolerance(question, case.dtype)
    problems: list[str] = []
    if v.kind != "tensor" or v.subclass:
        what = f"a subclass of torch.Tensor ({v.subclass})" if v.subclass else v.describe()
        same = v.data is not None and tuple(v.data.shape) == tuple(ref.shape) and close(v.data, ref, rtol, atol).ok
        verdict.message = f"returned {what}, expected a torch.Tensor" + (" (the values are right)" if same else "")
        verdict.hint = ("return a plain torch.Tensor of the inputs' dtype and device: build the result "
                        "with torch operations on the arguments, not numpy or Python lists")
        return verdict
    if v.data is None:
        verdict.message = f"returned {v.describe()} whose values could not be read (complex or too large)"
        return verdict
    layout = layout_hint(question, ref.dim())
    if tuple(v.shape or ()) != tuple(ref.shape):
        verdict.message = shape_hint(tuple(v.shape or ()), tuple(ref.shape),
                                     {k: tuple(a.shape) for k, a in case.args.items()
                                      if isinstance(a, torch.Tensor)}, layout)
        verdict.hint = join_hints([explain_known(v.data, known, rtol, atol),
                                   layout if layout in verdict.message else None])
        return verdict
    if not torch.isfinite(v.data).all():
        problems.append("contains NaN or infinity")
    else:
        c = close(v.data, ref, rtol, atol)
        verdict.ratio = c.worst_ratio
        if not c.ok:
            idx = list(c.worst_index or ())
            problems.append(f"wrong values: at index {idx} got {float(v.data[tuple(idx)]):.6g}, "
                            f"expected {float(ref[tuple(idx)]):.6g}")
            verdict.hint = explain(v.data, ref, known, rtol, atol, layout=layout,
                                   what="the gradient" if isinstance(question.check, GradientCheck)
                                   else "the expected value")
    if v.dtype != case.dtype:
        problems.append(f"returned {v.dtype} for {case.dtype} inputs")
        verdict.hint = verdict.hint or ("keep the dtype of the inputs: no .float() / .double() casts, "
                                        "and create new tensors with dtype=x.dtype, device=x.device")
    if v.device != case.device and not (v.device or "").startswith(case.device):
        problems.append(f"returned a tensor on {v.device} for inputs on {case.device}")
        verdict.hint = verdict.hint or "keep the device of the inputs (create tensors with device=x.device)"
    if isinstance(question.check, ValueCheck) and question.check.plain_result and (v.requires_grad or v.grad_fn):
        history = f"grad_fn={v.grad_fn}" if v.grad_fn else "requires_grad=True"
        problems.append(f"the result still carries autograd history ({history})")
        verdict.hint = verdict.hint or ("return a plain tensor: compute it under torch.no_grad(), or "
                                        "return .detach() of it (a fresh tensor with no grad_fn)")
    touched = _touched_autograd_state(question, case, out)
    if touched:
        problems.append(touched)
        verdict.hint = verdict.hint or ("leave the caller's tensor as it came: work on "
                                        "x.detach().clone().requires_grad_(True) and read that copy's .grad")
    modified = _modified_arguments(case, out)
    if modified:
        problems.append(modified)
        verdict.hint = verdict.hint or ("do not modify the arguments: no in-place ops like `x.zero_()`, "
                                        "`x += ...`, `x[i] = ...` or writes through `x.data` on them; work on a copy (`x.clone()`)")
    verdict.passed = not problems
    verdict.kind = "ok" if verdict.passed else "wrong"
    verdict.message = "; ".join(problems)
    return verdict


def _touched_autograd_state(question: Question, case: Case, out: CallOutcome) -> str | None:
    for (name, sent), after in zip(case.args.items(), out.args_after):
        if not isinstance(sent, torch.Tensor) or after.kind != "tensor":
            continue
        wanted = question.args[name].requires_grad
        if after.has_grad:
            return f"set .grad on your argument `{name}` (the caller's tensor)"
        if after.requires_grad != wanted:
            return f"changed requires_grad of your argument `{name}` to {after.requires_grad}"
    return None


def _modified_arguments(case: Case, out: CallOutcome) -> str | None:
    changed = []
    for (name, sent), after in zip(case.args.items(), out.args_after):
        if not isinstance(sent, torch.Tensor):
            continue
        if after.data is None or tuple(after.shape or ()) != tuple(sent.shape) or \
                not torch.equal(after.data, sent.double()):
            changed.append(name)
    if changed:
        return "modified its argument " + ", ".join(f"`{n}`" for n in changed) + " in place"
    return None


def show(t: torch.Tensor | None) -> object:
    """A tensor for the feedback: whole when small, else its shape and first entries;
    6 significant digits (the comparison itself used every bit)."""
    if t is None:
        return None
    rounded = [float(f"{v:.6g}") for v in t.reshape(-1).tolist()]
    if t.numel() <= SHOW_IN_FULL:
        return torch.tensor(rounded, dtype=torch.float64).reshape(t.shape).tolist()
    return {"shape": list(t.shape), "first": rounded[:8]}


def case_report(v: Verdict) -> CaseReport:
    tensor = v.got is not None and v.got.kind == "tensor" and not v.got.subclass
    got = v.got.data if tensor else None
    large = got is not None and v.expected is not None and got.numel() > SHOW_IN_FULL \
        and tuple(got.shape) == tuple(v.expected.shape)
    return CaseReport(case=v.case.id, message=v.message,
                      inputs={k: show(a) if isinstance(a, torch.Tensor) else a for k, a in v.case.args.items()},
                      expected=show(v.expected), got=show(got) if got is not None else written(v.got),
                      worst=worst_entries(v.expected.cpu(), got) if large else [])


def judge_question(question: Question, verdicts: list[Verdict], skipped: dict[str, tuple[int, str]],
                   autograd_findings: list[Finding], tampering: list[Finding] = ()) -> QuestionResult:
    check = question.check
    forbidden = None
    if isinstance(check, GradientCheck) and "autograd" in check.forbid:
        where = evidence(autograd_findings, any(v.autograd for v in verdicts), "autograd calls during the call")
        if where:
            forbidden = (f"uses torch autograd ({where}); this exercise asks for the closed-form "
                         "derivative, so the question earns no points",
                         "derive the gradient by hand and write it with tensor operations")
        elif tampering:
            # the kernel counts autograd calls, but a notebook that rebinds what the
            # count is reported through can scrub it: such a report proves nothing
            forbidden = (f"patches what the grader's probe reports through ({tampering[0]}), so "
                         "autograd use cannot be ruled out and the question earns no points",
                         "do not reassign json, base64, IPython's display hooks or torch.autograd internals")
    return score_question(question, verdicts, skipped, case_report, forbidden)


def plan(q: Question, ctx: GradeContext) -> tuple[list[Case], dict[str, tuple[int, str]]]:
    """The cases to run here, and the CUDA cases skipped (with the reason) where CUDA is missing."""
    dtypes = q.dtypes or ctx.rubric.defaults.dtypes or ctx.cfg.dtypes
    devices = q.devices or ctx.rubric.defaults.devices or ctx.cfg.devices
    cases = cases_for(q, dtypes, devices, hidden=not ctx.public_only)
    skipped: dict[str, tuple[int, str]] = {}
    if "cuda" in devices and not (grader_has_cuda() and ctx.session.kernel_cuda):
        why = ("CUDA is not available to the grader" if not grader_has_cuda()
               else "CUDA is not available inside the kernel")
        skipped["cuda"] = (sum(c.device == "cuda" for c in cases), why + "; these cases do not count")
        cases = [c for c in cases if c.device != "cuda"]
    return cases, skipped


def _encode_arg(q: Question, name: str, value, dtype: str) -> dict:
    if isinstance(value, torch.Tensor):
        return encode_tensor(value, dtype, requires_grad=q.args[name].requires_grad)
    return encode_plain(value)


def prepare(q: Question, ctx: GradeContext) -> Prepared:
    cases, skipped = plan(q, ctx)
    timeout = ctx.call_timeout(q)
    calls = _CALLS.get(q, (tuple(c.id for c in cases), timeout), lambda: [
        CallSpec([_encode_arg(q, name, a, c.dtype) for name, a in c.args.items()], c.device, timeout)
        for c in cases])
    watch = isinstance(q.check, GradientCheck) and "autograd" in q.check.forbid
    return Prepared(QuestionCalls(q.calls[0], calls, watch), functools.partial(_finish, q, ctx, cases, skipped))


def _finish(q: Question, ctx: GradeContext, cases: list[Case], skipped: dict[str, tuple[int, str]],
            outcomes: list[CallOutcome]) -> QuestionResult:
    watch = isinstance(q.check, GradientCheck) and "autograd" in q.check.forbid
    verdicts = []
    for case, out in zip(cases, outcomes):
        ref, known = expected_for(q, case, case.device if grader_has_cuda() else "cpu")
        verdicts.append(judge_case(q, case, out, ref, known))
    findings = ctx.code.autograd_uses(q.calls[0]) if watch else []
    # decided in the kernel at probe time, located in the notebook's source
    tampering = probe_tampering(ctx.code, outcomes) if watch else []
    return judge_question(q, verdicts, skipped, findings, tampering)
