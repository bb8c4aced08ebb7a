"""Warm kernels die whole: every process a kernel started goes with it, however the kernel
ends, and the zygote goes with the grader and takes its kernels."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from grader.config import Execution
from grader.sandbox import warm, zygote_handle
from grader.sandbox.kernel import SandboxedKernel
from helpers import wait_until
from warm_helpers import (DETACH_SLEEP, LIMITS, MARK, gone_or_zombie, kernel_pid, marked_processes,
                          notebook, run, start_detached_sleeper, start_raw_kernel)
from warm_helpers import warm_kernels, zygote  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")


def test_detached_sleep_is_gone_after_the_kernel_is_killed(warm_kernels):
    async def go():
        kernel = SandboxedKernel(notebook([DETACH_SLEEP]), LIMITS)
        try:
            log = await kernel.run_notebook()
            assert not log.issues, log.issues
            assert wait_until(lambda: len(marked_processes()) == 1), "the notebook's daemon never started"
        finally:
            await kernel.close()
        assert wait_until(lambda: not marked_processes()), f"survivors: {marked_processes()}"
    run(go())


def test_kernel_command_line_reaches_the_kernel(zygote, tmp_path):
    """`-f FILE` and `--Class.trait=value` (what nbclient adds) are honoured, and so is
    anything else (here an alias and a flag), through traitlets' own parser."""
    async def go(extra):
        km = warm.WarmKernelManager(zygote=zygote, transport="ipc", ip=str(tmp_path / "ipc"),
                                    connection_file=str(tmp_path / "kernel.json"))
        await km.start_kernel(env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, cwd=str(tmp_path),
                              extra_arguments=extra)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=30)
            seen = []
            await kc.execute_interactive(
                "ip = get_ipython()\n(str(ip.history_manager.hist_file), ip.config.IPKernelApp.get('log_level'),"
                " ip.autocall, ip.config.IPKernelApp.connection_file)", timeout=30,
                output_hook=lambda m: seen.append(m["content"].get("data", {}).get("text/plain")))
            return eval([x for x in seen if x][0])   # noqa: S307 - our own test kernel's repr
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
    conn = str(tmp_path / "kernel.json")
    assert run(go(["--HistoryManager.hist_file=:memory:", "--InteractiveShell.autocall=2"])) \
        == (":memory:", None, 2, conn)
    assert run(go(["--log-level=ERROR", "--HistoryManager.hist_file=:memory:"])) == (":memory:", "ERROR", 0, conn)


@pytest.mark.parametrize("how", ["shutdown_kernel", "kill_init_only", "kernel_exits"])
def test_detached_sleep_is_gone_however_the_kernel_ends(zygote, how, tmp_path):
    """Without SandboxedKernel's own tree kill: jupyter_client's shutdown alone (the zygote
    kills the tree), a SIGKILL of the init only (its orphans come to the zygote, which
    kills them), and a kernel that exits by itself (the init kills what is left)."""
    mark = f"{MARK}-{how}"

    async def go(tmp: Path):
        km = warm.WarmKernelManager(zygote=zygote, transport="ipc", ip=str(tmp / "ipc"),
                                    connection_file=str(tmp / "kernel.json"))
        await km.start_kernel(env={"PATH": os.environ["PATH"], "HOME": str(tmp)}, cwd=str(tmp))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=30)
            reply = await kc.execute_interactive(DETACH_SLEEP.replace(MARK, mark), timeout=30)
            assert reply["content"]["status"] == "ok", reply["content"]
            assert wait_until(lambda: len(marked_processes(mark)) == 1)
            init = km.provisioner.process.pid
            if how == "shutdown_kernel":
                await km.shutdown_kernel(now=True)
            elif how == "kill_init_only":
                os.kill(init, signal.SIGKILL)
                assert await asyncio.wait_for(km.provisioner.process.wait(), 10) == -signal.SIGKILL
            else:
                kc.execute("import os; os._exit(3)")
                assert await asyncio.wait_for(km.provisioner.process.wait(), 10) == 3
            assert wait_until(lambda: not marked_processes(mark)), f"survivors: {marked_processes(mark)}"
            assert wait_until(lambda: gone_or_zombie(init)), "the kernel's process lives on"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    run(go(tmp_path))
    assert zygote.ping()["pong"] == zygote.pid


def test_kernel_killed_mid_cell_is_reported_dead(warm_kernels):
    cells = ["import time", "open('sleeping', 'w').close()\ntime.sleep(60)", "answer = 42\nanswer"]

    async def go():
        kernel = SandboxedKernel(notebook(cells), LIMITS)
        try:
            async def assassin():
                flag = kernel.workdir / "sleeping"
                for _ in range(400):        # wait until the second cell sleeps, then SIGKILL the kernel
                    await asyncio.sleep(0.05)
                    if flag.exists():
                        pid = kernel_pid(kernel.pid, warm_kernels.layout)
                        os.kill(pid, signal.SIGKILL)
                        flag.unlink()
                        return pid
                raise AssertionError("the kernel never reached the sleeping cell")
            killer = asyncio.ensure_future(assassin())
            start = time.monotonic()
            log = await kernel.run_notebook()
            await killer
            return kernel, log, time.monotonic() - start
        finally:
            await kernel.close()
    kernel, log, seconds = run(go())
    crashes = [i for i in log.issues if i.kind == "crash"]
    assert [i.cell for i in crashes] == [1], log.issues
    assert "died" in crashes[0].message
    assert log.restarts == 1 and log.finished
    assert kernel.nb.cells[2].outputs[0]["data"]["text/plain"] == "42"   # the restart ran the rest
    assert seconds < 20, f"noticing the dead kernel took {seconds:.1f} s"


def test_zygote_survives_and_serves_the_next_request(warm_kernels):
    before = warm_kernels.ping()

    async def go():
        for cells in (["import os\nos.kill(os.getpid(), 9)"], ["6 * 7"]):
            kernel = SandboxedKernel(notebook(cells), Execution(max_restarts=0))
            try:
                await kernel.run_notebook()
            finally:
                await kernel.close()
        return kernel
    kernel = run(go())
    assert kernel.nb.cells[0].outputs[0]["data"]["text/plain"] == "42"
    after = warm_kernels.ping()
    assert after["pong"] == before["pong"] == warm_kernels.pid
    assert wait_until(lambda: warm_kernels.ping()["kernels"] == 0), "the zygote still tracks a dead kernel"


def test_zygote_dies_with_the_grader_and_takes_its_kernels(tmp_path):
    """The zygote exits when its stdin (a pipe from the grader) closes, killing every kernel."""
    z = zygote_handle.ZygoteHandle().start()
    mark = f"{MARK}-grader-dies"

    try:
        init = run(start_detached_sleeper(z, tmp_path, mark))
        folder = z.socket_path.parent
        assert wait_until(lambda: len(marked_processes(mark)) == 1)
        z._proc.stdin.close()             # what the grader's death does to the pipe
        assert z._proc.wait(10) is not None
        assert wait_until(lambda: not marked_processes(mark)), marked_processes(mark)
        assert not Path(f"/proc/{init}").exists()       # killed and reaped before the zygote left
        assert not folder.exists()                       # and its folder removed
    finally:
        z.stop()


def test_a_killed_zygote_takes_its_kernels_and_is_restarted(tmp_path):
    z = zygote_handle.ZygoteHandle().start()
    first = z.pid

    async def go():
        km, kc = await start_raw_kernel(z, tmp_path, "a")
        pid = km.provisioner.process.pid
        os.kill(first, signal.SIGKILL)                 # the zygote dies: PDEATHSIG takes the kernel
        assert await asyncio.wait_for(km.provisioner.process.wait(), 10) == -signal.SIGKILL
        assert wait_until(lambda: gone_or_zombie(pid))
        assert not await km.is_alive()
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        km, kc = await start_raw_kernel(z, tmp_path, "b")                      # the next launch starts a new zygote
        reply = await kc.execute_interactive("6 * 7", timeout=30)
        assert reply["content"]["status"] == "ok"
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    try:
        run(go())
        assert z.alive and z.pid != first
    finally:
        z.stop()
