"""A zygote in bubblewrap (the ``bwrap`` sandbox level): semantics, a uid per kernel, and
kernels that cannot see or reach one another."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from grader.config import Execution
from grader.sandbox import warm_env, warm_shared, zygote_handle
from grader.sandbox.kernel import SandboxedKernel
from grader.sandbox.plan import decide_plan
from helpers import wait_until
from warm_helpers import (MARK, SEMANTICS_CELLS, check_semantics, marked_processes, notebook, run,
                          start_detached_sleeper)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")


BWRAP_LIMITS = Execution(cell_timeout=20, max_restarts=1, kernel="warm", sandbox="auto")


def needs_bwrap_zygote():
    from grader.sandbox import levels
    ok, why = levels.warm_bwrap_status()
    if not ok:
        pytest.skip(f"the zygote cannot run in bubblewrap here: {why}")


def test_warm_kernel_in_bubblewrap_keeps_jupyter_semantics_and_gets_its_own_uid():
    needs_bwrap_zygote()
    from grader.sandbox import bwrap

    async def go():
        kernel = SandboxedKernel(notebook([*SEMANTICS_CELLS, "import os\n(os.getuid(), os.getpid())"]), BWRAP_LIMITS)
        try:
            log = await kernel.run_notebook()
            assert log.kernel == "warm" and log.level == "bwrap", log
            check_semantics(kernel, log)
            uid, pid = eval(kernel.nb.cells[-1].outputs[0]["data"]["text/plain"])  # noqa: S307 - our kernel
            assert pid == kernel.pid and uid == bwrap.UID_BASE + pid, (uid, pid)
            assert kernel.workdir.stat().st_uid == uid      # it took its folders
        finally:
            await kernel.close()
    run(go())


def test_warm_kernels_in_bubblewrap_cannot_reach_one_another():
    """Kernel A tries kernel B's process, folders and connection file, and the zygote's memory."""
    needs_bwrap_zygote()
    zygote = warm_shared.shared_zygote(1, decide_plan(BWRAP_LIMITS, warm=True).zygote_sandbox())

    async def go():
        b = SandboxedKernel(notebook([]), BWRAP_LIMITS)
        a = SandboxedKernel(notebook([]), BWRAP_LIMITS)
        try:
            await b.start()
            await a.start()
            code = f"""\
import os
import sys
def attempt(action):
    try:
        action()
        return "done"
    except OSError as e:
        return type(e).__name__
[attempt(f) for f in (lambda: os.kill({b.pid}, 0), lambda: os.listdir({str(b.workdir)!r}),
                      lambda: open({str(b._runtime / "kernel.json")!r}).read(),
                      lambda: open("/proc/{b.pid}/environ", "rb").read(),
                      lambda: open("/proc/{zygote.info["pid"]}/mem", "rb").read(1),
                      lambda: os.listdir({str(zygote.socket_path.parent)!r}))]"""
            result = await a.execute(code, timeout=10)
            assert result.value_text and not result.error, result
            return eval(result.value_text)      # noqa: S307 - a list of names from our kernel
        finally:
            await a.close()
            await b.close()
    # where the zygote mounted its own /proc, the other processes are not there at all
    unseen = "FileNotFoundError" if zygote.info.get("private_proc") else "PermissionError"
    assert run(go()) == ["PermissionError"] * 3 + [unseen] * 2 + ["PermissionError"]


def test_a_warm_kernel_in_bubblewrap_sees_only_its_own_processes():
    needs_bwrap_zygote()
    zygote = warm_shared.shared_zygote(1, decide_plan(BWRAP_LIMITS, warm=True).zygote_sandbox())
    if not zygote.info.get("private_proc"):
        pytest.skip("proc has no per-mount options here (Linux < 5.8): warm kernels see every process")
    code = """\
import os, subprocess
child = subprocess.Popen(["sleep", "30"])
seen = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
child.kill()
(seen, os.getpid(), child.pid, os.path.exists("/proc/1"), os.path.exists("/proc/%d" % os.getppid()))"""

    async def go():
        other = SandboxedKernel(notebook([]), BWRAP_LIMITS)
        kernel = SandboxedKernel(notebook([code]), BWRAP_LIMITS)
        try:
            await other.start()
            log = await kernel.run_notebook()
            assert log.level == "bwrap" and log.kernel == "warm", log
            return eval(kernel.nb.cells[0].outputs[0]["data"]["text/plain"])   # noqa: S307 - our kernel
        finally:
            await kernel.close()
            await other.close()
    seen, me, child, init_seen, parent_seen = run(go())
    assert seen == sorted([me, child]), seen          # not the grader, the zygote or the other kernel
    assert not init_seen and not parent_seen


def test_zygote_in_bubblewrap_dies_with_the_grader_and_takes_its_kernels():
    needs_bwrap_zygote()
    z = zygote_handle.ZygoteHandle(sandbox=warm_env.ZygoteSandbox()).start()
    mark = f"{MARK}-bwrap-grader-dies"
    home = Path(tempfile.mkdtemp(dir=warm_env.kernels_dir()))

    try:
        kernel = run(start_detached_sleeper(z, home, mark))
        folder = z.socket_path.parent
        assert wait_until(lambda: len(marked_processes(mark)) == 1)
        assert home.stat().st_uid == Path(f"/proc/{kernel}").stat().st_uid != 0
        z._proc.stdin.close()             # what the grader's death does to the pipe
        assert z._proc.wait(10) is not None
        assert wait_until(lambda: not marked_processes(mark)), marked_processes(mark)
        assert wait_until(lambda: not Path(f"/proc/{kernel}").exists())
        assert not folder.exists()
    finally:
        z.stop()
        shutil.rmtree(home, ignore_errors=True)
