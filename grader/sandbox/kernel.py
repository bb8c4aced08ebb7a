"""One sandboxed kernel per submission, driven by nbclient.

`SandboxedKernel` starts the kernel through `launcher.py` (limits, no
network, private working directory, a subreaper init above it; under
bubblewrap and in its own cgroups where the machine allows: see `levels`,
`bwrap`, `cgroup`), runs the
notebook cell by cell (a warm kernel gets them all on one message: `one_request`)
and keeps going past failing cells, then stays alive so
the probe can ask it for values. A cell that kills the kernel, or that runs
past its limit and ignores the interrupt, is skipped after a restart: the
notebook is run again without it, so functions defined elsewhere still count.
The kernel spec, the output cap and the records a run gives back are in
`notebook_client`; warm kernels (forked, not spawned) come from `warm`.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from nbformat import NotebookNode
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.config import Execution
from grader.sandbox import cgroup, one_request, warm_env
from grader.sandbox import warm as warm_kernels
from grader.sandbox.launcher import kill_tree
from grader.sandbox.plan import ENV as SANDBOX_ENV
from grader.sandbox.plan import SandboxPlan, decide_plan, sandbox_json
from grader.sandbox.notebook_client import (FLOOD_GRACE_S, TIMEOUT_ENAME, CappedClient, CellIssue, ExecResult,
                                            ExecutionLog, SandboxSpecs, outcome_of)
from grader.submissions.check_cells import is_check_cell


class KernelStartError(RuntimeError):
    pass


class SandboxedKernel:
    """A kernel for one submission: run its notebook, then answer probe calls."""

    def __init__(self, nb: nbformat.NotebookNode, limits: Execution, *, cuda: bool = False,
                 warm: bool | None = None, hide: tuple[Path, ...] = (), plan: SandboxPlan | None = None):
        """`plan`: the run's sandbox (`plan.decide_plan`, made once by the batch, `grader check`,
        `grader validate`); without one it is decided here from `limits`, `cuda`, `warm` and
        `hide` (folders or files the kernel must not see at the bwrap and uid levels, e.g. the
        course's rubrics and solutions and the batch's output folder)."""
        if plan is None:
            plan = decide_plan(limits, hide, warm=warm, cuda=cuda)
        self.plan = plan
        self.nb = nb
        self.limits = limits
        self.cuda = plan.cuda
        self.hide = plan.hide
        self.warm = plan.warm
        self.log = ExecutionLog()
        self._skip: dict[int, CellIssue] = {}
        self._free_restarts = 0
        self._one_by_one = False        # a kernel died on the one message: one request per cell now
        self._own_cell: tuple[NotebookNode, int] | None = None   # `execute`'s cell and its limit
        # where a zygote in bubblewrap can see them, should a warm kernel manager start this kernel
        self._root = Path(tempfile.mkdtemp(prefix="grader-", dir=warm_env.kernels_dir()))
        self.workdir = self._root / "work"           # the student's cwd and HOME
        self._runtime = self._root / "rt"            # connection file, ipc sockets
        self.workdir.mkdir()
        self._runtime.mkdir()
        self._client: CappedClient | None = None
        self._early: asyncio.Future | None = None     # a start begun before the notebook was known
        self._cgroup: cgroup.KernelCgroup | None = None
        self._cgroup_tried = False
        self._level_error = plan.error
        self.level = plan.level     # this kernel's: a warm one may get less (`_level_that_ran`)
        self.log.network = "isolated" if plan.isolated else "allowed"
        self.log.level, self.log.why = plan.level, plan.why

    # -- lifecycle ---------------------------------------------------------
    def _sandbox(self) -> str:
        """What `launcher.py` (or the zygote's child) applies before the kernel starts."""
        return sandbox_json(self.plan, level=self.level, root=self._root, workdir=self.workdir,
                            runtime=self._runtime, cgroups=self._cgroup.dirs if self._cgroup else None,
                            memory=self.log.memory)

    def _netns_possible(self) -> bool:
        return self.plan.netns_possible()

    def _level_that_ran(self, km) -> None:
        """A warm kernel whose zygote runs outside bubblewrap got `network_without`:
        report the level the kernel really got."""
        in_bwrap = getattr(getattr(km, "provisioner", None), "in_bwrap", False)
        if self.level == "bwrap" and self.log.kernel == "warm" and not in_bwrap:
            self.level = self.log.level = "netns" if self._netns_possible() else "limits"
            self.log.why = "a warm kernel whose zygote runs outside bubblewrap"
            self.log.network = "isolated" if self.level == "netns" else "allowed"

    def _make_cgroup(self) -> None:
        """The kernel's cgroup, once (restarts reuse it); rlimits alone where none can be made."""
        if self._cgroup_tried:
            return
        self._cgroup_tried = True
        try:
            if cgroup.available():
                self._cgroup = cgroup.pool.take(self.limits.memory_mb, self.limits.max_processes)
                self.log.memory = "cgroup"
        except OSError:
            self._cgroup = None
        if self._cgroup is None:
            self.log.memory = "rlimit"

    def _env(self) -> dict[str, str]:
        sandbox = self._sandbox()
        tmp = self.workdir / ".tmp"
        tmp.mkdir(exist_ok=True)
        # A clean environment: nothing of the grader's (tokens, paths) reaches the kernel; the
        # fixed part is the warm parent's, so fresh and warm kernels see the same variables.
        return warm_env.zygote_env(self.limits.torch_threads) | {
            "HOME": str(self.workdir), "TMPDIR": str(tmp), "IPYTHONDIR": str(self._runtime / "ipython"),
            SANDBOX_ENV: sandbox,
        }

    async def start(self) -> None:
        started = time.perf_counter()
        try:
            await self._start()
        finally:
            self.log.start_seconds += time.perf_counter() - started

    def start_early(self) -> None:
        """Start the kernel now, before its notebook is known (`adopt` gives it one): a batch
        worker's next kernel starts while the worker's current submission runs and is judged,
        on the cycles those leave idle. A start does not depend on the notebook."""
        self._early = asyncio.ensure_future(self._start())

    def adopt(self, nb: nbformat.NotebookNode) -> None:
        """The notebook this early-started kernel runs."""
        self.nb = nb
        if self._client is not None:
            self._client.nb = nb

    async def _first_start(self) -> None:
        """The first start: the early one if there was one (the log counts only the time
        this submission waited for it), else a start now."""
        early, self._early = self._early, None
        if early is None:
            await self.start()
            return
        waited = time.perf_counter()
        try:
            await early
        finally:
            self.log.start_seconds += time.perf_counter() - waited

    async def _start(self) -> None:
        if self._level_error:
            raise KernelStartError(self._level_error)
        self._make_cgroup()
        manager = warm_kernels.WarmKernelManager if self.warm else AsyncKernelManager
        # signals would kill bwrap itself: interrupts go as messages on the control channel
        specs = SandboxSpecs("message" if self.level == "bwrap" else "signal")
        km = manager(kernel_name="grader-sandbox", kernel_spec_manager=specs,
                                transport="ipc", ip=str(self._runtime / "ipc"),
                                connection_file=str(self._runtime / "kernel.json"))
        if km.client_factory is AsyncKernelClient:      # a fresh kernel's: no heartbeat thread either
            km.client_factory = warm_kernels.NoHeartbeatClient
        client = CappedClient(self.nb, km=km, timeout=int(self.limits.cell_timeout) or 1,
                               startup_timeout=int(self.limits.startup_timeout),
                               allow_errors=True, interrupt_on_timeout=True,
                               error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
                               # after a cell's reply, how long its last outputs may take: a
                               # notebook's thread flooding the channel with another request's
                               # messages (tests/attacks: forged_late_reply) made the next call's
                               # reply miss 2 s on a loaded machine
                               iopub_timeout=10, shutdown_kernel="immediate",
                               timeout_func=self._cell_timeout)
        client.cap = self.limits.output_cap_kb * 1024
        self._client = client
        stderr = open(self._runtime / "kernel.stderr", "ab")
        try:
            await client.async_start_new_kernel(cwd=str(self.workdir), env=self._env(),
                                                stdout=subprocess.DEVNULL, stderr=stderr)
            await client.async_start_new_kernel_client()
            self.log.kernel = getattr(km, "kernel_mode", "") or "fresh"
            self._level_that_ran(km)
        except Exception as exc:  # noqa: BLE001 - any start failure is reported, not raised
            await self._kill()
            raise KernelStartError(f"the kernel did not start: {type(exc).__name__}: {exc}") from None
        finally:
            stderr.close()

    def _cell_timeout(self, cell) -> int:
        """The configured limit, for every notebook cell whatever its metadata says; the
        grader's own cell that `execute` is running has its own (held here, not in the cell,
        where a notebook could have put one too)."""
        if self._own_cell is not None and cell is self._own_cell[0]:
            return self._own_cell[1]
        return max(1, round(self.limits.cell_timeout))

    @property
    def pid(self) -> int | None:
        km = self._client.km if self._client else None
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        return proc.pid if proc is not None else None

    async def _kill(self) -> None:
        """Kill the kernel's whole process tree and release the client."""
        client = self._client
        if client is None:
            return
        # off the event loop (the next kernel may be starting), while the kernel manager
        # waits for the kernel's exit
        await asyncio.gather(asyncio.to_thread(self._kill_processes, self.pid), self._release(client))
        self._client = None

    def _kill_processes(self, pid: int | None) -> None:
        """The kernel's tree, then anything that escaped it (it cannot leave the cgroup)."""
        if pid is not None:
            kill_tree(pid)
        if self._cgroup is not None:
            self._cgroup.kill()

    @staticmethod
    async def _release(client: NotebookClient) -> None:
        try:
            if client.kc is not None:
                client.kc.stop_channels()
            if client.km is not None:
                await client.km.shutdown_kernel(now=True)
                await client.km.cleanup_resources()
        except Exception:  # noqa: BLE001 - the tree is already dead; tidy up best-effort
            pass

    async def close(self) -> None:
        if self._early is not None:     # an early start nobody took: let it finish, then kill it
            await asyncio.gather(self._early, return_exceptions=True)
            self._early = None
        await self._kill()
        group, self._cgroup = self._cgroup, None
        await asyncio.to_thread(self._dispose, group)

    def _dispose(self, group: cgroup.KernelCgroup | None) -> None:
        """Off the event loop, where the next kernel meanwhile starts: empty the cgroup and
        keep it for that kernel (`cgroup.pool`), and remove this kernel's folders (on a
        disk mounted with `discard` each folder removed costs milliseconds)."""
        if group is not None:
            cgroup.pool.release(group)
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return self._client is not None

    # -- the notebook --------------------------------------------------------
    async def run_notebook(self) -> ExecutionLog:
        """Run every code cell; restart and skip a cell that kills or wedges the kernel."""
        for attempt in range(self.limits.max_restarts + 1):
            if attempt:
                self.log.restarts += 1
                await self.start()
            else:
                await self._first_start()
            if await self._run_cells():
                self.log.finished = True
                break
        self.log.issues.extend(self._skip.values())
        self.log.issues.sort(key=lambda i: i.cell)
        return self.log

    async def _run_cells(self) -> bool:
        assert self._client is not None
        client = self._client
        issues: list[CellIssue] = []
        # a check cell (`grader.check(...)`) is for the student's own kernel
        cells = [(index, cell) for index, cell in enumerate(self.nb.cells)
                 if cell.cell_type == "code" and index not in self._skip and not is_check_cell(cell)]
        ran = await self._run_in_one_request(cells)
        if ran is None:     # the kernel died on the one message: find the cell one request each
            await self._kill()
            self._one_by_one = True
            await self.start()
            client, ran = self._client, {}
        for index, cell in cells:
            outcome = ran.get(index)
            if outcome is None:         # not run by the one request: a request of its own
                client.new_cell(probe=False)
                started = time.perf_counter()
                outcome = await self._execute(cell, index)
                self.log.cell_seconds += time.perf_counter() - started
            if outcome.died or (outcome.timed_out and (outcome.unresponsive or not await self._responsive())):
                kind = "crash" if outcome.died else "timeout"
                why = ("the kernel died while running this cell" if outcome.died else
                       f"ran past the {self.limits.cell_timeout:g} s limit and could not be interrupted")
                if client.truncated:   # the restart gets a new client: say it here or lose it
                    self.log.output_truncated = True
                    why += f" after printing more than {self.limits.output_cap_kb} KiB"
                self._skip[index] = CellIssue(index, kind, why + "; skipped on a restart")
                await self._kill()
                return False
            if outcome.timed_out:
                issues.append(CellIssue(index, "timeout",
                                        f"interrupted after {self.limits.cell_timeout:g} s"))
            elif outcome.error:
                issues.append(CellIssue(index, "error", outcome.error))
        if client.truncated:
            self.log.output_truncated = True
            issues.append(CellIssue(-1, "output", f"output past {self.limits.output_cap_kb} KiB was "
                                    "dropped (a cell still printing "
                                    f"{FLOOD_GRACE_S:g} s past the cap is interrupted)"))
        self.log.issues = issues
        return True

    async def _run_in_one_request(self, cells: list) -> dict[int, ExecResult] | None:
        """The outcomes of the cells `one_request` ran, by index (none where it does not apply:
        a fresh kernel has no handler for it); None if the kernel died meanwhile. That new
        start is the grader's choice, not the notebook's doing: it is not counted as a restart."""
        sent = [(index, cell) for index, cell in cells if one_request.sent(cell)]
        if (not self.limits.cells_in_one_request or self._one_by_one or self.log.kernel != "warm"
                or len(sent) < 2):
            return {}
        run = await one_request.run_cells(self._client, sent, self._cell_timeout, self._runtime)
        self.log.cell_seconds += run.seconds
        return None if run.lost else run.outcomes

    async def _execute(self, cell, index: int) -> ExecResult:
        client = self._client
        assert client is not None
        replies: list[dict] = []
        client.on_cell_executed = lambda **kw: replies.append(kw.get("execute_reply") or {})
        try:
            await client.async_execute_cell(cell, index, store_history=not client.probe_mode)
        except Exception as exc:  # noqa: BLE001 - a broken channel is a dead kernel for us
            # nbclient turns a cancellation (our submission time limit) into
            # DeadKernelError: give the cancellation back so the limit holds.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from exc
            if isinstance(exc, DeadKernelError):
                return ExecResult(died=True)
            return ExecResult(died=True, error=f"{type(exc).__name__}: {exc}")
        return outcome_of((replies[-1] if replies else {}).get("content", {}), cell, probe_mode=client.probe_mode)

    async def _responsive(self, grace: float = 3.0) -> bool:
        """After an interrupt: does the kernel answer a trivial request again?"""
        kc = self._client.kc if self._client else None
        if kc is None:
            return False
        msg_id = kc.execute("", silent=True, store_history=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await kc.get_shell_msg(timeout=left)
            except Empty:
                return False
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    # -- probe calls -----------------------------------------------------------
    async def execute(self, code: str, timeout: float) -> ExecResult:
        """Run grader code in the kernel; a wedged kernel is killed (result.died)."""
        if self._client is None:
            return ExecResult(died=True)
        # built as nbformat.v4.new_code_cell / new_notebook would, without validating them
        # against the schema (a millisecond per request): the grader's own code, in a known shape
        cell = NotebookNode(cell_type="code", metadata=NotebookNode(), execution_count=None, source=code, outputs=[])
        client = self._client
        client.new_cell(probe=True)
        # nbclient stores the executed cell into client.nb: give it a scratch notebook
        client.nb = NotebookNode(nbformat=4, nbformat_minor=5, metadata=NotebookNode(), cells=[cell])
        self._own_cell = (cell, max(1, int(timeout + 0.999)))
        try:
            result = await self._execute(cell, 0)
        finally:
            client.nb, self._own_cell = self.nb, None
        if result.died or (result.timed_out and not await self._responsive()):
            await self._kill()
            result.died = True
        return result

    async def restart(self, *, charged: bool = True) -> bool:
        """Start over after a probe call killed the kernel: run the notebook again.
        `charged=False`: a restart the grader chose (it asks again in smaller requests),
        reported in the log but not counted against `max_restarts`."""
        await self._kill()
        if self.log.restarts - self._free_restarts >= self.limits.max_restarts:
            return False
        self.log.restarts += 1
        self._free_restarts += 0 if charged else 1
        await self.start()
        return await self._run_cells()
