"""The probe imports torch in the kernel only when something needs it, and loses no watch by it.

A notebook that never touches torch (the course's Dual class) is graded without torch ever
imported in its kernel: that import is about 1.4 s of a one-notebook `grader check`. A call
during which the student's code first imports torch is asked again with torch taken in, so a
question that forbids torch still sees autograd used that way, even hidden from the static scan.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from grader.checks.semantics import load_rubric
from grader.pipeline import prepare
from grader.checks.context import GradeContext
from grader.probe.session import ProbeSession
from grader.sandbox.kernel import SandboxedKernel
from grader.checks.static import NotebookCode
import helpers

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = ROOT / "rubrics" / "dual_numbers.yaml"
SOLUTION = ROOT / "solutions" / "dual_numbers.ipynb"

# Dual.__mul__ through torch's forward mode, the import spelled so no static scan can see it
FORWARD_AD_MUL = '''
def _mul(self, other):
    other = other if isinstance(other, Dual) else Dual(other, 0.0)
    t = __import__("".join(("to", "rch")))
    fwad = __import__("".join(("to", "rch.autograd.forward_ad")), fromlist=["x"])
    with fwad.dual_level():
        a = fwad.make_dual(t.tensor(self.real, dtype=t.float64), t.tensor(self.dual, dtype=t.float64))
        b = fwad.make_dual(t.tensor(other.real, dtype=t.float64), t.tensor(other.dual, dtype=t.float64))
        p = fwad.unpack_dual(a * b)
        return Dual(float(p.primal), float(p.tangent))
Dual.__mul__ = _mul
'''


@contextlib.asynccontextmanager
async def probed(nb, rubric, cfg):
    """A fresh kernel that ran `nb`, its probe installed: (kernel, session, grading context)."""
    kernel = SandboxedKernel(nb, cfg.execution)
    try:
        await kernel.run_notebook()
        session = ProbeSession(kernel)
        assert await session.install()
        yield kernel, session, GradeContext(rubric, cfg, session, NotebookCode(nb), public_only=True)
    finally:
        await kernel.close()


def request_of(rubric, ctx, qid):
    return prepare(next(q for q in rubric.questions if q.id == qid), ctx).request


async def _graded_in_one_kernel(nb, rubric, cfg):
    """Every public question through the probe; then whether torch is in the kernel's modules."""
    async with probed(nb, rubric, cfg) as (kernel, session, ctx):
        prepared = [prepare(q, ctx) for q in rubric.questions]
        results = []
        async for outcomes in session.call_all([p.request for p in prepared]):
            results.append(prepared[len(results)].finish(outcomes))
        shown = await kernel.execute("'torch' in __import__('sys').modules", timeout=30)
        return {r.id: r for r in results}, shown.value_text


@pytest.fixture(scope="module")
def rubric():
    return load_rubric(RUBRIC)


def test_a_notebook_without_torch_is_graded_without_torch_in_its_kernel(rubric):
    nb = helpers.notebook_with(SOLUTION, [])
    results, torch_loaded = asyncio.run(_graded_in_one_kernel(nb, rubric, helpers.config(kernel="fresh")))
    assert all(r.status == "passed" for r in results.values()), \
        {i: r.feedback for i, r in results.items() if r.status != "passed"}
    assert torch_loaded == "False"


async def _first_call_alone(nb, rubric, cfg, qid):
    """The very first call the probe makes: question `qid`'s first call, alone."""
    async with probed(nb, rubric, cfg) as (_, session, ctx):
        request = request_of(rubric, ctx, qid)
        assert request.watch_autograd
        [outcome] = await session.call(request.fn, request.calls[:1], watch_autograd=True)
        return outcome


def test_torch_first_imported_inside_a_call_is_still_watched(rubric):
    nb = helpers.notebook_with(SOLUTION, [FORWARD_AD_MUL])
    outcome = asyncio.run(_first_call_alone(nb, rubric, helpers.config(kernel="fresh"), "dual_mul"))
    assert outcome.status == "ok" and outcome.autograd_calls > 0, outcome
    assert outcome.tampered == [], outcome.tampered     # torch's entry points, taken in late, are genuine


def test_a_question_using_torch_only_from_inside_a_call_earns_nothing(rubric):
    nb = helpers.notebook_with(SOLUTION, [FORWARD_AD_MUL])
    results, torch_loaded = asyncio.run(_graded_in_one_kernel(nb, rubric, helpers.config(kernel="fresh")))
    assert torch_loaded == "True"
    mul = results["dual_mul"]
    assert mul.score == 0 and "torch autograd ran during the call" in mul.feedback, (mul.status, mul.feedback)
    add = results["dual_add"]           # asked before torch arrived, and torch-free: full marks
    assert add.status == "passed" and add.score == add.max_score, add.feedback


# Dual.__add__ importing torch (not using it) on every call: the first pays torch's import
IMPORTING_ADD = '''
_add = Dual.__add__
def _importing_add(self, other):
    __import__("".join(("to", "rch")))
    return _add(self, other)
Dual.__add__ = _importing_add
'''


async def _timed_out_import(nb, rubric, cfg):
    async with probed(nb, rubric, cfg) as (kernel, session, ctx):
        request = request_of(rubric, ctx, "dual_add")
        first = request.calls[0]
        first.timeout = 0.2                 # far less than torch's import
        [outcome] = await session.call(request.fn, [first], watch_autograd=True)
        later = await session.call(request.fn, request.calls, watch_autograd=True)
        return outcome, later, kernel.alive


def test_a_call_is_not_charged_for_importing_torch_nor_cut_off_inside_it(rubric):
    """Cut short by the call's alarm, torch's import leaves a process that crashes at the next
    try: the alarm waits for the import, and the call is asked again with torch in."""
    nb = helpers.notebook_with(SOLUTION, [IMPORTING_ADD])
    outcome, later, alive = asyncio.run(_timed_out_import(nb, rubric, helpers.config(kernel="fresh")))
    assert outcome.status == "ok" and outcome.autograd_calls == 0, outcome
    assert alive and [o.status for o in later] == ["ok"] * len(later), later
