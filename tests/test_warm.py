"""Warm kernels forked from a zygote (`grader.sandbox.warm`, `grader.sandbox.zygote`).

Most tests drive the real `SandboxedKernel` (limits, network namespace,
private workdir, restarts) with its kernel manager swapped for the warm one,
which is the whole integration: `SandboxedKernel.start` builds
`AsyncKernelManager(...)`, and `WarmKernelManager` takes the same arguments.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

import grader.sandbox.client as client_mod
from grader.config import Execution
from grader.sandbox import warm
from grader.sandbox.client import SandboxedKernel, network_isolation_available
from helpers import tagged_pids, wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")

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
    # 6: no history database (client.KERNEL_OPTIONS), yet _, In and Out as usual
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
        z = warm.Zygote(threads=1, layout=request.param).start()
    except warm.WarmUnavailable as exc:
        pytest.skip(f"warm kernels unavailable here: {exc}")
    yield z
    z.stop()
    os.environ.pop(SECRET_NAME, None)


@pytest.fixture
def warm_kernels(zygote, monkeypatch):
    """SandboxedKernel with its kernels forked from `zygote` (the integration, see module doc)."""
    monkeypatch.setattr(client_mod, "AsyncKernelManager",
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


# -- Jupyter semantics -----------------------------------------------------------------

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


def test_notebook_runs_with_jupyter_semantics_in_a_warm_kernel(warm_kernels):
    async def go():
        kernel = SandboxedKernel(notebook(SEMANTICS_CELLS), LIMITS)
        try:
            log = await kernel.run_notebook()
            check_semantics(kernel, log)
            assert kernel._client.km.kernel_mode == "warm"
            # it really was forked from the zygote (no new interpreter)
            assert Path(f"/proc/{kernel.pid}/stat").read_text().rsplit(")", 1)[1].split()[1] \
                == str(warm_kernels.pid)
        finally:
            await kernel.close()
    run(go())


def test_fresh_kernels_still_work():
    # No patch: the unmodified SandboxedKernel spawns launcher.py as before.
    async def go():
        kernel = SandboxedKernel(notebook(SEMANTICS_CELLS), LIMITS)
        try:
            check_semantics(kernel, await kernel.run_notebook())
            assert isinstance(kernel._client.km, client_mod.AsyncKernelManager)
            assert not isinstance(kernel._client.km, warm.WarmKernelManager)
        finally:
            await kernel.close()
    run(go())


# -- isolation ------------------------------------------------------------------------------

def test_two_warm_kernels_do_not_share_rng_state(warm_kernels):
    code = "import random, numpy, torch\n(torch.rand(4).tolist(), numpy.random.rand(2).tolist(), random.random())"

    async def draw():
        kernel = SandboxedKernel(notebook([]), LIMITS)
        try:
            await kernel.start()
            result = await kernel.execute(code, timeout=10)
            assert result.value_text and not result.error, result
            return result.value_text
        finally:
            await kernel.close()

    async def go():
        return await asyncio.gather(draw(), draw())
    a, b = run(go())
    a, b = eval(a), eval(b)   # noqa: S307 - lists of floats from our own test kernel
    for x, y in zip(a, b):
        assert x != y, (a, b)


def test_kernel_sees_nothing_of_the_graders_environment(warm_kernels):
    assert os.environ[SECRET_NAME] == SECRET_VALUE
    code = f"""\
import os, json
seen = {{"env": sorted(os.environ),
        "self": "{SECRET_NAME}".encode() in open("/proc/self/environ", "rb").read(),
        "parent": "{SECRET_NAME}".encode() in open(f"/proc/{{os.getppid()}}/environ", "rb").read(),
        "zygote": "{SECRET_NAME}".encode() in open("/proc/{warm_kernels.pid}/environ", "rb").read()}}
json.dumps(seen)"""

    async def go():
        kernel = SandboxedKernel(notebook([]), LIMITS)
        try:
            await kernel.start()
            result = await kernel.execute(code, timeout=10)
            assert result.value_text and not result.error, result
            seen = json.loads(eval(result.value_text))  # noqa: S307 - a str repr from our test kernel
            given = {k for k in kernel._env() if k != "GRADER_SANDBOX"}
            # what IPython itself sets for a kernel (pager, colours), as in a fresh kernel
            assert given <= set(seen["env"]) <= given | IPYTHON_SETS, seen["env"]
            assert SECRET_NAME not in seen["env"]
            assert not (seen["self"] or seen["parent"] or seen["zygote"]), seen
            # Nor anywhere in memory: not in the kernel's, not in the zygote's (which
            # every later kernel inherits). The needle lives only in this process.
            needle = SECRET_VALUE.encode()
            assert not memory_contains(kernel_pid(kernel.pid, warm_kernels.layout), needle)
            assert not memory_contains(warm_kernels.pid, needle)
            assert memory_contains(os.getpid(), needle)      # the scan itself works
        finally:
            await kernel.close()
    run(go())


def test_warm_kernel_gets_the_same_sandbox_as_a_fresh_one(warm_kernels):
    code = """\
import os, resource, torch
(resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)[0],
 resource.getrlimit(resource.RLIMIT_FSIZE)[0], resource.getrlimit(resource.RLIMIT_NOFILE)[0],
 sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]),
 os.getcwd(), os.getpgid(0), os.getsid(0), torch.get_num_threads(), os.environ.get("HOME"))"""

    async def go():
        kernel = SandboxedKernel(notebook([]), LIMITS)
        try:
            await kernel.start()
            result = await kernel.execute(code, timeout=10)
            assert result.value_text and not result.error, result
            return eval(result.value_text), kernel, kernel.pid  # noqa: S307 - our test kernel's repr
        finally:
            await kernel.close()
    (rlimit_as, cpu, fsize, nofile, nics, cwd, pgid, sid, threads, home), kernel, pid = run(go())
    mib = 1024 * 1024
    assert rlimit_as == (LIMITS.memory_mb * mib, LIMITS.memory_mb * mib)
    assert cpu == LIMITS.cpu_seconds and fsize == LIMITS.file_size_mb * mib and nofile == 1024
    if network_isolation_available():
        assert nics == ["lo"], nics
    assert cwd == str(kernel.workdir) == home
    assert pgid == sid == pid, "the forked child must lead its own session and group (setsid)"
    assert threads == LIMITS.torch_threads


def test_only_the_grader_may_talk_to_the_zygote(zygote):
    probe = ("import json, socket, sys\n"
             "s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])\n"
             "try:\n"
             "    s.sendall(b'{\"op\": \"ping\"}\\n')\n"
             "    print(repr(s.recv(100)))\n"
             "except (ConnectionResetError, BrokenPipeError):\n"
             "    print(repr(b''))")
    out = subprocess.run([sys.executable, "-c", probe, str(zygote.socket_path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "b''", (out.stdout, out.stderr)
    assert zygote.ping()["pong"] == zygote.pid


# -- killing -----------------------------------------------------------------------------------

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


def test_zygote_dies_with_the_grader_and_takes_its_kernels(tmp_path):
    """The zygote exits when its stdin (a pipe from the grader) closes, killing every kernel."""
    z = warm.Zygote().start()
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
    z = warm.Zygote().start()
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


# -- no zygote ------------------------------------------------------------------------

def test_unavailable_zygote_says_why(monkeypatch):
    with pytest.raises(warm.WarmUnavailable, match="no_such_module_for_the_zygote"):
        warm.Zygote(preload=("no_such_module_for_the_zygote",)).start()
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(warm.WarmUnavailable, match="Linux"):
        warm.Zygote().start()


def test_without_a_zygote_the_warm_manager_falls_back_to_a_fresh_kernel(monkeypatch):
    broken = warm.Zygote(python="/nonexistent/python3")
    monkeypatch.setattr(client_mod, "AsyncKernelManager",
                        functools.partial(warm.WarmKernelManager, zygote=broken))

    async def go():
        kernel = SandboxedKernel(notebook(["import torch\ntorch.tensor([1.0, 2.0]).sum().item()"]), LIMITS)
        try:
            log = await kernel.run_notebook()
            assert log.finished and not log.issues, log.issues
            assert kernel._client.km.kernel_mode == "fresh"
            assert kernel.nb.cells[0].outputs[0]["data"]["text/plain"] == "3.0"
        finally:
            await kernel.close()
    run(go())
    with pytest.raises(warm.WarmUnavailable, match="cannot start the zygote"):
        broken.start()


def test_a_failed_shared_zygote_is_not_retried_for_every_kernel(monkeypatch):
    calls = []

    def cannot_start(self):
        calls.append(self)
        raise warm.WarmUnavailable("not here")
    monkeypatch.setattr(warm.Zygote, "start", cannot_start)
    monkeypatch.setattr(warm, "_shared", {})
    monkeypatch.setattr(warm, "_failed", {})
    assert warm.warm_available(threads=3) == (False, "not here")
    with pytest.raises(warm.WarmUnavailable, match="not here"):
        warm.shared_zygote(threads=3)
    assert len(calls) == 1


def test_kernel_args_from_kernel_commands():
    assert warm.kernel_args([sys.executable, "/x/launcher.py", "-f", "k.json"]) == ["-f", "k.json"]
    assert warm.kernel_args([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json", "--x=1"]) \
        == ["-f", "k.json", "--x=1"]


# -- a zygote in bubblewrap (the bwrap sandbox level) ------------------------------------

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
    zygote = warm.shared_zygote(1, warm.sandbox_for(BWRAP_LIMITS))

    async def go():
        b = SandboxedKernel(notebook([]), BWRAP_LIMITS)
        a = SandboxedKernel(notebook([]), BWRAP_LIMITS)
        try:
            await b.start()
            await a.start()
            code = f"""\
import os
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
    zygote = warm.shared_zygote(1, warm.sandbox_for(BWRAP_LIMITS))
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
    z = warm.Zygote(sandbox=warm.ZygoteSandbox()).start()
    mark = f"{MARK}-bwrap-grader-dies"
    home = Path(tempfile.mkdtemp(dir=warm.kernels_dir()))

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
