"""What the warm-kernel tests share (tests/test_warm_*.py): the zygote fixtures, one per
process layout, and helpers to run notebooks and find the processes they leave.

The fixtures are imported by each test module (module scope: one zygote per layout
and module). Most tests drive the real `SandboxedKernel` (limits, network namespace,
private workdir, restarts) with its kernel manager swapped for the warm one, which is
the whole integration: `SandboxedKernel.start` builds `AsyncKernelManager(...)`, and
`WarmKernelManager` takes the same arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
from pathlib import Path

import nbformat
import pytest

import grader.sandbox.kernel as kernel_mod
from grader.config import Execution
from grader.sandbox import warm, warm_env, zygote_handle
from grader.sandbox.kernel import SandboxedKernel
from helpers import tagged_pids

SECRET_NAME = "GRADER_WARM_TEST_SECRET"
SECRET_VALUE = f"s3cr3t-{secrets.token_hex(12)}"
MARK = f"grader-warm-{secrets.token_hex(6)}"     # tags the processes notebooks spawn
LIMITS = Execution(cell_timeout=20, max_restarts=1)
IPYTHON_SETS = {"TERM", "CLICOLOR", "PAGER", "GIT_PAGER", "FORCE_COLOR", "CLICOLOR_FORCE"}

SEMANTICS_CELLS = [
    # 0: torch and a backward pass
    "import torch\nx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
    "(x ** 2).sum().backward()\nx.grad.tolist()",
    # 1: the inline backend and a plot
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    # 2: display()
    "from IPython.display import display, HTML\ndisplay(HTML('<b>bold</b>'))\ndisplay(6 * 7)",
    # 3: line magic and a shell escape
    "%time y = 2 + 2\n!echo shell-escape-works",
    # 4: where it runs
    "import os\nos.getcwd()",
    # 5: IPython's files follow this kernel's IPYTHONDIR, not the zygote's
    "str(get_ipython().history_manager.hist_file)",
    # 6: no history database (notebook_client.KERNEL_OPTIONS), yet _, In and Out as usual
    "(_.rsplit('/', 1)[-1], In[1].split()[:2], sorted(Out)[:1], get_ipython().history_manager.enabled)",
]


@pytest.fixture(scope="module", params=["direct", "init"])
def zygote(request):
    """One zygote per process layout: "direct" (the forked child is the kernel and its
    own subreaper; the zygote kills what it leaves) and "init" (a subreaper init above
    the kernel, as launcher.py)."""
    # The grader has a secret in its environment before the zygote starts:
    # none of it may reach a kernel (environment, /proc, or memory).
    os.environ[SECRET_NAME] = SECRET_VALUE
    try:
        z = zygote_handle.ZygoteHandle(threads=1, layout=request.param).start()
    except warm_env.WarmUnavailable as exc:
        pytest.skip(f"warm kernels unavailable here: {exc}")
    yield z
    z.stop()
    os.environ.pop(SECRET_NAME, None)


@pytest.fixture
def warm_kernels(zygote, monkeypatch):
    """SandboxedKernel with its kernels forked from `zygote` (the integration, see module doc)."""
    monkeypatch.setattr(kernel_mod, "AsyncKernelManager",
                        functools.partial(warm.WarmKernelManager, zygote=zygote))
    return zygote


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])


def run(coro):
    return asyncio.run(coro)


def outputs(cell) -> list[tuple[str, object]]:
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            out.append(("stream", o["text"]))
        else:
            out.append((o["output_type"], dict(o.get("data", {}))))
    return out


def kernel_pid(pid: int, layout: str) -> int:
    """The kernel process: the provisioner's process itself, or the init's only child."""
    if layout == "direct":
        return pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def marked_processes(mark: str = MARK) -> list[int]:
    return tagged_pids(mark)


def gone_or_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True




def memory_contains(pid: int, needle: bytes, chunk: int = 16 << 20) -> bool:
    """Whether `needle` is anywhere in the readable memory of process `pid`."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if "r" not in fields[1] or name.startswith("[v"):        # [vvar], [vdso], [vsyscall]
                continue
            at = start
            while at < end:
                try:
                    mem.seek(at)
                    data = mem.read(min(chunk + len(needle), end - at))
                except (OSError, ValueError, OverflowError):
                    break
                if needle in data:
                    return True
                at += chunk
    return False


DETACH_SLEEP = f"""\
import os, sys
pid = os.fork()
if pid == 0:                      # double fork + setsid: a daemon that left the kernel's group
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["{MARK}", "1000"])     # argv[0] tags it
    os._exit(0)
os.waitpid(pid, 0)
"started"
"""


def check_semantics(kernel: SandboxedKernel, log) -> None:
    assert log.finished and not log.issues, log.issues
    cells = kernel.nb.cells
    assert outputs(cells[0]) == [("execute_result", {"text/plain": "[2.0, 4.0, 6.0]"})]
    plot = [data for kind, data in outputs(cells[1]) if kind == "display_data"]
    assert plot and "image/png" in plot[0], outputs(cells[1])
    shown = [data for kind, data in outputs(cells[2]) if kind == "display_data"]
    assert shown[0]["text/html"] == "<b>bold</b>" and shown[1]["text/plain"] == "42", shown
    text = "".join(d for kind, d in outputs(cells[3]) if kind == "stream")
    assert "Wall time" in text and "shell-escape-works" in text, text
    assert outputs(cells[4]) == [("execute_result", {"text/plain": repr(str(kernel.workdir))})]
    hist = kernel._runtime / "ipython" / "profile_default" / "history.sqlite"
    assert outputs(cells[5]) == [("execute_result", {"text/plain": repr(str(hist))})]
    assert outputs(cells[6]) == [("execute_result", {"text/plain": repr(("history.sqlite", ["import", "torch"],
                                                                           [1], False))})]


async def start_raw_kernel(zygote, home: Path, name: str = ""):
    """A kernel from `zygote` through WarmKernelManager alone (none of SandboxedKernel's tree
    kill), its files in `home`; returns (manager, ready client) and leaves it running."""
    km = warm.WarmKernelManager(zygote=zygote, transport="ipc", ip=str(home / "-".join(filter(None, (name, "ipc")))),
                                connection_file=str(home / f"{name or 'kernel'}.json"))
    await km.start_kernel(env={"PATH": os.environ["PATH"], "HOME": str(home)}, cwd=str(home))
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=30)
    return km, kc


async def start_detached_sleeper(zygote, home: Path, mark: str) -> int:
    """A raw kernel that started a detached `sleep` (tagged `mark`); returns its pid."""
    km, kc = await start_raw_kernel(zygote, home)
    await kc.execute_interactive(DETACH_SLEEP.replace(MARK, mark), timeout=30)
    kc.stop_channels()
    return km.provisioner.process.pid


@contextlib.asynccontextmanager
async def kernel_with_value(code: str, limits: Execution):
    """A warm kernel started, `code` run in it: (the kernel, the repr of its last value);
    the kernel closed on the way out."""
    kernel = SandboxedKernel(notebook([]), limits)
    try:
        await kernel.start()
        result = await kernel.execute(code, timeout=10)
        assert result.value_text and not result.error, result
        yield kernel, result.value_text
    finally:
        await kernel.close()
