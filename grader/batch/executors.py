"""Where a submission is graded: in this process's event loop, or on a Dask cluster.

Both run the same per-submission work, `pipeline.grade_notebook`. Locally a
semaphore keeps `workers` kernels running at once; each kernel is its own
process, and this process only waits on sockets and computes small
references. On Dask (`--executor dask --scheduler ADDRESS`) each submission
is one task: the notebook's bytes travel with it (workers need not share a
filesystem with us) and the result comes back as JSON text, which this
process validates like any other untrusted input before writing it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
import typing as t
from pathlib import Path

import nbformat

from grader.config import Config
from grader.errors import InputError
from grader.pipeline import grade_notebook, sandbox_plan
from grader.results import SubmissionResult
from grader.rubric.model import Rubric
from grader.sandbox import cgroup
from grader.sandbox.kernel import SandboxedKernel
from grader.sandbox.levels import WEAK
from grader.sandbox.plan import SandboxPlan
from grader.submissions import Submission

Grade = t.Callable[[Submission], t.Awaitable[SubmissionResult]]


class LocalExecutor:
    def __init__(self, rubric: Rubric, cfg: Config, *, workers: int, public_only: bool,
                 hide: tuple[Path, ...] = (), closes: list[float] | None = None,
                 plan: SandboxPlan | None = None, expected: int = 0):
        """`closes`: where each kernel's close time goes (seconds), if anywhere. `plan`: the
        batch's sandbox as `grader grade` decided it (with `hide` among its hidden paths).
        `expected`: how many submissions are coming (the batch's kernels, none started in vain):
        while one is left that no spare kernel waits for, a worker that begins a submission
        starts the next one's kernel (`SandboxedKernel.start_early`), which starts while this
        one runs and is judged, on the cycles those leave idle."""
        self.rubric, self.cfg, self.public_only = rubric, cfg, public_only
        self.hide = hide     # folders the kernels must not see (the batch's output)
        self.gate = asyncio.Semaphore(max(1, workers))
        # the batch's sandbox: the caller's, else decided once, at the first kernel
        # (`pipeline.sandbox_plan`)
        self.plan: SandboxPlan | None = plan
        self.closing: set[asyncio.Task] = _Closing(closes)    # kernels shutting down after their result
        self.workers = max(1, workers)
        self.to_come = expected     # submissions not yet begun
        self.spares: list[SandboxedKernel] = []    # kernels started before their notebook is known
        self.isolated = True    # until a kernel says otherwise, kernels cannot reach each other

    async def __aenter__(self) -> "LocalExecutor":
        return self

    async def __aexit__(self, *exc) -> None:
        spares, self.spares = self.spares, []
        await asyncio.gather(*(k.close() for k in spares), return_exceptions=True)
        while self.closing:     # every kernel is gone before the batch ends
            await asyncio.gather(*list(self.closing), return_exceptions=True)
        await asyncio.to_thread(cgroup.pool.clear)     # and so is every kernel cgroup it made

    def _take_kernel(self) -> SandboxedKernel | None:
        """For a notebook that was read: the spare kernel started for it, if any, and the next
        one's start while submissions are still to come that no spare waits for. Only where
        kernels cannot reach each other (each its own uid, or its own bubblewrap): at a weak
        level the submission running now could reach the next student's kernel before its
        notebook runs."""
        kernel = self.spares.pop(0) if self.spares else None
        # a warm kernel may get less than the plan (`SandboxedKernel._level_that_ran`)
        if self.plan.level in WEAK or (kernel is not None and kernel.level in WEAK):
            self.isolated = False
        if not self.isolated:
            return kernel
        if self.to_come > len(self.spares) and len(self.spares) < self.workers:
            spare = SandboxedKernel(nbformat.v4.new_notebook(), self.cfg.execution, plan=self.plan)
            spare.start_early()
            self.spares.append(spare)
        return kernel

    async def grade(self, sub: Submission) -> SubmissionResult:
        async with self.gate:   # a worker is free as soon as the result is known
            if self.plan is None:
                self.plan = sandbox_plan(self.rubric, self.cfg, self.hide)
            self.to_come = max(0, self.to_come - 1)
            return await grade_notebook(sub, self.rubric, self.cfg, public_only=self.public_only,
                                        hide=self.hide, closing=self.closing, plan=self.plan,
                                        kernel=self._take_kernel)


class _Closing(set):
    """The kernels' close tasks under way; each one's seconds (its result) go to `closes`."""

    def __init__(self, closes: list[float] | None):
        super().__init__()
        self.closes = closes

    def add(self, task: asyncio.Task) -> None:
        super().add(task)
        if self.closes is not None:
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None and isinstance(task.result(), float):
            self.closes.append(task.result())


def grade_on_worker(sub: Submission, notebook: bytes, rubric: Rubric, cfg: Config,
                    public_only: bool, hide: tuple[Path, ...] = ()) -> tuple[str, float, str | None]:
    """A Dask task: grade one notebook sent as bytes; return (result JSON, student seconds, the
    executed notebook as JSON for the `notebook` format, None when not asked for)."""
    with tempfile.TemporaryDirectory(prefix="grader-task-") as tmp:
        local = Path(tmp) / Path(sub.path).name
        local.write_bytes(notebook)
        moved = dataclasses.replace(sub, path=local)
        # no plan from the scheduler: the worker's machine decides its own sandbox (`sandbox_plan`)
        result = asyncio.run(grade_notebook(moved, rubric, cfg, public_only=public_only, hide=hide))
    # the result names the notebook as the instructor gave it, not the worker's copy
    result = result.model_copy(update={"source": str(sub.path)})
    executed = json.dumps(result.executed) if "notebook" in cfg.formats and result.executed is not None else None
    return result.to_json(), result.student_seconds, executed


class DaskExecutor:
    """Submissions as tasks of an existing Dask distributed scheduler."""

    def __init__(self, rubric: Rubric, cfg: Config, *, scheduler: str, public_only: bool,
                 hide: tuple[Path, ...] = ()):
        self.rubric, self.cfg, self.public_only = rubric, cfg, public_only
        self.scheduler, self.hide = scheduler, hide
        self.client = None

    async def __aenter__(self) -> "DaskExecutor":
        try:
            from distributed import Client   # optional dependency: imported only for this executor
        except ImportError:
            raise InputError("--executor", "dask needs the 'distributed' package "
                             "(pip install 'autograd-grader[dask]')") from None
        self.client = await Client(self.scheduler, asynchronous=True, timeout="30s")
        return self

    async def __aexit__(self, *exc) -> None:
        if self.client is not None:
            await self.client.close()

    async def grade(self, sub: Submission) -> SubmissionResult:
        assert self.client is not None
        # pure=False: the same notebook graded twice is two tasks (the batch decides what to skip)
        future = self.client.submit(grade_on_worker, sub, Path(sub.path).read_bytes(), self.rubric,
                                    self.cfg, self.public_only, self.hide, pure=False)
        return received(*await future)


def received(text: str, student_seconds: float, executed: str | None) -> SubmissionResult:
    """What a worker's task gave back (`grade_on_worker`), validated like any untrusted input;
    the executed notebook is hostile like the notebook itself (its page sanitizes it)."""
    result = SubmissionResult.model_validate_json(text)
    result.student_seconds = float(student_seconds)
    if executed is not None:
        result.executed = nbformat.from_dict(json.loads(executed))
    return result
