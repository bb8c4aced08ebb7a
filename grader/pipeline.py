"""Grade one submission: sandboxed kernel -> probe -> trusted checks -> result.

This is the data flow of docs/architecture.md for a single notebook. Everything that
decides a score (inputs, references, comparisons) happens here, in the
grader's process; the kernel only ever receives call arguments and returns
plain values.
"""

from __future__ import annotations

import asyncio
import re
import time
import typing as t
from pathlib import Path

import nbformat

from grader import __version__
from grader.checks import reference
from grader.checks.context import GradeContext, Prepared, grader_has_cuda
from grader.checks.static import NotebookCode
from grader.config import Config
from grader.errors import InputError
from grader.prerun import Prerun, clear_outputs, hidden_paths  # noqa: F401 - hidden_paths: re-exported
from grader.probe.session import ProbeSession
from grader.results import QuestionResult, SubmissionResult
from grader.rubric.kinds import KINDS
from grader.rubric.model import Question, Rubric
from grader.sandbox.kernel import KernelStartError, SandboxedKernel
from grader.sandbox.plan import SandboxPlan, decide_plan
from grader.submissions import Submission, read_notebook


def submission_result(sub: Submission, rubric: Rubric, status: str, *, message: str = "",
            questions: list[QuestionResult] | None = None, public_only: bool = False,
            sandbox: dict | None = None, issues: list[str] | None = None) -> SubmissionResult:
    questions = questions or []
    return SubmissionResult(
        submission=sub.id, student=sub.student, source=str(sub.path), sha256=sub.sha256, assignment=rubric.assignment,
        rubric_version=rubric.version, rubric_sha256=rubric.fingerprint(),
        grader_version=__version__, status=status, message=message,
        score=round(sum(q.score for q in questions), 6), max_score=rubric.max_score,
        public_only=public_only, sandbox=sandbox or {}, notebook_issues=issues or [], questions=questions)


def not_run(question: Question, why: str) -> QuestionResult:
    return QuestionResult(id=question.id, title=question.title, calls=question.calls, score=0.0,
                          max_score=question.points, status="not_run", feedback=why)


def prepare(question: Question, ctx: GradeContext) -> Prepared:
    """The question's calls and how to judge them, by its check kind (grader/rubric/kinds.py)."""
    return KINDS[question.check.kind].prepare(question, ctx)


#: check kinds whose references run torch autograd (first call: torch's lazy imports)
_AUTOGRAD_KINDS = {name for name, kind in KINDS.items() if kind.autograd}


def warm_references(rubric: Rubric) -> None:
    """Pay the references' lazy imports now, in a thread, rather than on the event loop at
    the first judging; value and Lagrange checks need none."""
    if {q.check.kind for q in rubric.questions} & _AUTOGRAD_KINDS:
        reference.warm_up()


def warm_questions(rubric: Rubric, cfg: Config, public_only: bool) -> None:
    """Prepare every question once without a kernel, for what preparing memoizes per process
    (cases, encoded calls, the graph checks' expected results: a second for some rubrics), so
    that the real preparation, once the kernel is ready, finds it made. `grader check` does
    this while the kernel runs the notebook. CUDA cases are planned as skipped: only where
    the grader has no CUDA does their plan not depend on the kernel."""
    class NoKernel:          # what `prepare` may ask of a session before any call
        kernel_cuda = False
    ctx = GradeContext(rubric, cfg, t.cast(ProbeSession, NoKernel()), NotebookCode(nbformat.v4.new_notebook()),
                       public_only)
    for question in rubric.questions:
        prepare(question, ctx)


async def grade_question(question: Question, ctx: GradeContext) -> QuestionResult:
    """One question alone, in a request of its own (the authoring tools' mutants)."""
    p = prepare(question, ctx)
    return p.finish(await ctx.session.call(p.request.fn, p.request.calls, watch_autograd=p.request.watch_autograd))


async def _timed_close(kernel: SandboxedKernel) -> float:
    started = time.perf_counter()
    await kernel.close()
    return time.perf_counter() - started


def sandbox_plan(rubric: Rubric, cfg: Config, hide: tuple[Path, ...] = ()) -> SandboxPlan:
    """The sandbox of a run's kernels, decided once (the batch, `grader validate`): CUDA where
    the grader has it and the rubric or config asks for CUDA cases; `hide` as `grade_notebook`'s."""
    wants_cuda = grader_has_cuda() and "cuda" in (rubric.defaults.devices or cfg.devices)
    return decide_plan(cfg.execution, hidden_paths(cfg, hide), cuda=wants_cuda)


async def grade_notebook(sub: Submission, rubric: Rubric, cfg: Config, *,
                         public_only: bool = False, hide: tuple[Path, ...] = (),
                         closing: set[asyncio.Task] | None = None,
                         prerun: Prerun | None = None, plan: SandboxPlan | None = None,
                         kernel: t.Callable[[], SandboxedKernel | None] | None = None) -> SubmissionResult:
    """Grade one submission; never raises for anything the student did.
    `hide`: more folders the kernel must not see (the batch's output folder).
    `closing`: where to leave the kernel's shutdown running once the result is known
    (the batch awaits them, and its next kernel starts meanwhile); None: wait for it here.
    `prerun`: this submission's kernel, already started with its notebook running
    (`grader.prerun.start`, what `grader check` does while this process imports torch).
    `plan`: the run's sandbox (`sandbox_plan`, made with the same `hide`); None: decided here.
    `kernel`: called once the notebook is read, it may give a kernel started early with that
    plan (`SandboxedKernel.start_early`); an unreadable notebook takes none."""
    if prerun is not None:
        return await _grade_valid(sub, prerun.kernel.nb, rubric, cfg, public_only, (), closing, prerun)
    try:
        nb = read_notebook(sub.path)
    except InputError as exc:
        return submission_result(sub, rubric, "invalid", message=str(exc), public_only=public_only,
                       questions=[not_run(q, "the notebook could not be read") for q in rubric.questions])
    return await _grade_valid(sub, nb, rubric, cfg, public_only, hide, closing, plan=plan,
                              early=kernel() if kernel else None)


def _where_it_failed(questions: list[QuestionResult], nb: nbformat.NotebookNode, issues) -> list[QuestionResult]:
    """A function the notebook never defined is most often one whose cell failed (a syntax
    error in the `Value` cell leaves every question of the class "not defined"): such a
    question names that cell and why it failed, where the student looks first."""
    failed = {i.cell: i for i in issues if i.cell >= 0 and i.kind in ("error", "timeout", "crash")}
    if not failed:
        return questions
    out = []
    for q in questions:
        names = [n for n in q.calls if n]
        cell = next((i for i in sorted(failed) if any(re.search(rf"^\s*(def|class)\s+{re.escape(n)}\b",
                                                                nb.cells[i].source, re.M) for n in names)), None)
        if q.status == "missing" and cell is not None:
            q = q.model_copy(update={"feedback": f"{q.feedback}: its cell (cell {cell + 1}) failed: "
                                                 f"{failed[cell].message}"})
        out.append(q)
    return out


async def _grade_valid(sub: Submission, nb: nbformat.NotebookNode, rubric: Rubric, cfg: Config,
                       public_only: bool, hide: tuple[Path, ...],
                       closing: set[asyncio.Task] | None, prerun: Prerun | None = None,
                       plan: SandboxPlan | None = None, early: SandboxedKernel | None = None) -> SubmissionResult:
    if prerun is not None:
        kernel = prerun.kernel
    else:
        clear_outputs(nb)       # the outputs saved in the file are the student's: show only this run's
        if early is not None:
            early.adopt(nb)
        kernel = early or SandboxedKernel(nb, cfg.execution, plan=plan or sandbox_plan(rubric, cfg, hide))
    done: list[QuestionResult] = []
    session: ProbeSession | None = None
    message = ""
    warm = asyncio.create_task(asyncio.to_thread(warm_references, rubric))
    began = time.perf_counter()
    ran = judged = 0.0      # wall seconds of the notebook's run (with the kernel's start), of judging
    try:
        async with asyncio.timeout(cfg.execution.submission_timeout):
            await (kernel.run_notebook() if prerun is None else prerun.ran)
            ran = time.perf_counter() - began
            lap = time.perf_counter()
            await warm
            judged += time.perf_counter() - lap
            if prerun is None:
                session = ProbeSession(kernel)
                installed = await session.install()
            else:
                session, installed = await prerun.installed
            if not installed:
                message = "the notebook's kernel could not be probed (it died or never finished)"
            lap = time.perf_counter()
            ctx = GradeContext(rubric, cfg, session, NotebookCode(nb), public_only)
            prepared = [prepare(q, ctx) for q in rubric.questions]
            judged += time.perf_counter() - lap
            # one request for all questions; each is judged (and keeps its score should the
            # submission's time run out) as soon as its answer is in, in rubric order
            async for outcomes in session.call_all([p.request for p in prepared]):
                lap = time.perf_counter()
                done.append(prepared[len(done)].finish(outcomes))
                judged += time.perf_counter() - lap
    except TimeoutError:
        message = f"stopped at the submission time limit ({cfg.execution.submission_timeout:g} s)"
    except KernelStartError as exc:     # the kernel is closed below, as always
        failed = submission_result(sub, rubric, "error", message=str(exc), public_only=public_only,
                         sandbox={"level": kernel.log.level, "why": kernel.log.why, "memory": kernel.log.memory},
                         questions=[not_run(q, "the kernel did not start") for q in rubric.questions])
        failed.executed = nb
        return failed
    finally:
        if closing is None:
            await kernel.close()
        else:
            task = asyncio.ensure_future(_timed_close(kernel))
            closing.add(task)
            task.add_done_callback(closing.discard)
    graded = {q.id for q in done}
    done += [not_run(q, message or "not graded") for q in rubric.questions if q.id not in graded]
    done = _where_it_failed(done, nb, kernel.log.issues)
    issues = [f"cell {i.cell + 1}: {i.message}" if i.cell >= 0 else i.message for i in kernel.log.issues]
    sandbox = {"level": kernel.log.level, "why": kernel.log.why, "memory": kernel.log.memory,
               "network": kernel.log.network,
               "restarts": kernel.log.restarts, "kernel": kernel.log.kernel,
               "output_truncated": kernel.log.output_truncated}
    result = submission_result(sub, rubric, "graded", message=message, questions=done,
                               public_only=public_only, sandbox=sandbox, issues=issues)
    result.student_seconds = kernel.log.cell_seconds + (session.student_seconds if session else 0.0)
    started = min(kernel.log.start_seconds, ran) if ran else kernel.log.start_seconds
    result.phases = {"start": started, "run": max(0.0, ran - started), "judge": judged,
                     "probe": max(0.0, time.perf_counter() - began - max(ran, started) - judged)}
    result.executed = nb        # run in place by the kernel (nbclient): already in memory, no copy
    return result
