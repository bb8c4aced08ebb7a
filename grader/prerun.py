"""A submission's kernel started before the grader's trusted side is ready (`grader check`).

Checking one notebook has two halves that need nothing of each other until the
probe's calls: the kernel's start, the notebook's run and the probe's
installation (a fresh kernel imports torch in the notebook's first cell, or for
the probe), and this process importing torch, checking the rubric and warming
its references. Each takes seconds, each mostly one core:
`start` sets the first going, the caller does the second meanwhile (in a
thread), and `pipeline.grade_notebook(..., prerun=...)` goes on with the kernel
where it is. Nothing here imports torch.

One thing needs the grader's torch before the kernel starts: whether the kernel
gets CUDA (`pipeline`: CUDA on both sides). Where a GPU may be present, `start`
declines and the caller grades as before, one half after the other.
"""

from __future__ import annotations

import asyncio
import typing as t
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.config import Config
from grader.rubric.model import Rubric
from grader.sandbox.kernel import SandboxedKernel
from grader.sandbox.notebook_client import ExecutionLog
from grader.sandbox.plan import decide_plan, may_use_cuda
from grader.submissions import Submission, read_notebook

if t.TYPE_CHECKING:
    from grader.probe.session import ProbeSession

def hidden_paths(cfg: Config, extra: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """What a kernel must not see (at the bwrap level): the course's rubrics and
    solutions, the default output folder, and whatever the caller adds."""
    return (cfg.path("rubrics"), cfg.path("solutions"), cfg.path("out"), *extra)


def clear_outputs(nb: nbformat.NotebookNode) -> None:
    """The outputs saved in the file are the student's: the kernel's run shows only its own."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


@dataclass
class Prerun:
    kernel: SandboxedKernel
    ran: asyncio.Future[ExecutionLog]      # the notebook's run (`SandboxedKernel.run_notebook`)
    # then the probe's installation: its session, and whether it took (`ProbeSession.install`)
    installed: asyncio.Future[tuple[ProbeSession, bool]]

    async def abandon(self) -> None:
        """The grading will not happen (the rubric is bad): stop the run, close the kernel."""
        for task in (self.installed, self.ran):
            task.cancel()
        await asyncio.gather(self.installed, self.ran, return_exceptions=True)
        await self.kernel.close()


def start(sub: Submission, rubric: Rubric, cfg: Config, hide: tuple[Path, ...] = ()) -> Prerun | None:
    """The kernel started and the notebook running, in the running event loop; None where
    the kernel must wait for the grader's torch (CUDA) or the notebook cannot be read
    (`grade_notebook` then says so as usual)."""
    if may_use_cuda(rubric, cfg):
        return None
    try:
        nb = read_notebook(sub.path)
    except Exception:  # noqa: BLE001 - the pipeline reads it again and reports the problem
        return None
    clear_outputs(nb)
    # `grader check`'s one kernel: its plan is the run's
    kernel = SandboxedKernel(nb, cfg.execution, plan=decide_plan(cfg.execution, hidden_paths(cfg, hide), cuda=False))
    ran = asyncio.ensure_future(kernel.run_notebook())

    async def install() -> tuple[ProbeSession, bool]:     # the probe asks nothing of the grader's side
        await ran
        # its module decodes replies into tensors: imported off the event loop (the torch import
        # under way in the caller's thread would hold the loop, and the kernels' messages, meanwhile)
        session = await asyncio.to_thread(_session, kernel)
        return session, await session.install()
    return Prerun(kernel, ran, asyncio.ensure_future(install()))


def _session(kernel: SandboxedKernel) -> ProbeSession:
    from grader.probe.session import ProbeSession    # torch: imported once the notebook runs
    return ProbeSession(kernel)
