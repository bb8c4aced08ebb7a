"""Warm kernels: fork each sandboxed kernel from a zygote that has already imported torch.

A fresh kernel pays for a new interpreter and `import torch` (about 1.3 s
here) before the student's first cell. `zygote.py` pays that once per grader
process; every kernel after that is a fork of it (a few ms) plus
`IPKernelApp.initialize` (tens of ms). The kernel is a real IPython kernel on
a connection file the grader wrote, so magics, `display()` and
`%matplotlib inline` behave as in Jupyter, and nbclient drives it unchanged.

Grader side, in this module:

* `Zygote` starts and stops the zygote process (clean environment, private
  0700 directory, stdin pipe whose EOF tells it the grader is gone) and asks
  it for kernels. `shared_zygote()` gives one per grader process and thread
  count. If it cannot start (not Linux, torch missing, ...) it raises
  `WarmUnavailable` with the reason, and the caller falls back to fresh kernels.
* `WarmProvisioner`, a jupyter_client `LocalProvisioner` whose kernel comes
  from the zygote: poll/wait/send_signal/kill/terminate/cleanup act on the
  forked process through the zygote, which is its parent (so no pid can be
  reused under us) and reports its exit status on the connection.
* `WarmKernelManager`, an `AsyncKernelManager` that uses that provisioner
  (no entry point needed) and waits on the exit report instead of polling
  every 0.1 s; `WarmKernelClient` waits for `kernel_info_reply` plus one iopub
  message instead of 0.2 s of iopub silence, and both reconnect their zmq
  sockets every 5 ms instead of 100 ms (the client connects before the forked
  kernel has bound its sockets).

The limits are the same as a fresh kernel's: they arrive in the
`GRADER_SANDBOX` entry of the kernel's environment (as `launcher.py` reads
them) and the forked process applies them with `launcher.apply`. See
`zygote.py` for the process layout that keeps every process a kernel starts
killable.

At the ``bwrap`` sandbox level the zygote itself runs in bubblewrap
(`ZygoteSandbox`, `bwrap.zygote_options`), so every kernel it forks inherits
the fresh kernel's view: read-only system, no repository, rubrics, solutions
or output folder, no network, /tmp of its own (shared by the zygote's kernels,
not with the host). The zygote's folder and every warm kernel's workdir and
runtime folder live in one private folder of the grader process
(`kernels_dir`), bound read-write; each kernel becomes a uid of its own and
takes its folders, so kernels cannot read or signal one another. What differs
from a fresh kernel's sandbox: no PID namespace (the zygote's own /proc, mounted
with hidepid, shows a kernel its own processes only, where Linux allows that
per mount: 5.8 and later; before, it sees every process of the machine, e.g. the
grader's command line, but cannot signal or read any of them), and one network
namespace and one /tmp for all kernels of the zygote (a loopback but no way out).

What a forked kernel inherits from the zygote and a fresh one would read
from its own environment: variables read once at import (`zygote_env`),
Python's hash seed (one per zygote), `sys.flags`, and matplotlib's config
directory (the zygote's private one). Its own environment, working
directory, TMPDIR, IPYTHONDIR, RNG seeds and thread count are per kernel.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Any as AnyTrait
from traitlets import Bool, DottedObjectName, Type, Unicode

from grader.sandbox import bwrap, launcher, levels

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
LAUNCHER_SCRIPT = Path(__file__).with_name("launcher.py")      # the zygote loads it by path
RECONNECT_IVL_MS = 5


class WarmUnavailable(RuntimeError):
    """The zygote cannot run here; use fresh kernels (the message says why)."""


def zygote_env(threads: int) -> dict[str, str]:
    """The zygote's whole environment: nothing of the grader's.

    Variables read once at import time (thread counts, the matplotlib backend,
    malloc arenas, bytecode writing) are fixed here for every kernel forked
    later; `SandboxedKernel._env` gives a fresh kernel the same ones (it builds on these).
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "MALLOC_ARENA_MAX": "2",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


_kernels_dir: Path | None = None
_kernels_dir_lock = threading.Lock()


def _short_temp_root() -> str:
    """The temp root for kernel folders: a kernel's ipc sockets lie about 50 characters
    below it, and a unix socket path may not exceed 107 bytes ("File name too long":
    the kernel never starts). A long TMPDIR (pytest's, a CI runner's) gives way to /tmp."""
    root = tempfile.gettempdir()
    if len(root) > 48 and os.access("/tmp", os.W_OK | os.X_OK):
        return "/tmp"
    return root


def kernels_dir() -> Path:
    """This grader process's folder of warm kernels (made on first use, removed at exit):
    the zygote's own folder and each warm kernel's workdir and runtime folder go
    here, the one folder a sandboxed zygote sees read-write. Mode 0711: a kernel can
    reach its own folder by its path but not list the others."""
    global _kernels_dir
    with _kernels_dir_lock:
        if _kernels_dir is None or not _kernels_dir.is_dir():
            _kernels_dir = Path(tempfile.mkdtemp(prefix="grader-warm-", dir=_short_temp_root()))
            _kernels_dir.chmod(0o711)
        return _kernels_dir


@dataclass(frozen=True)
class ZygoteSandbox:
    """How a zygote in bubblewrap is sandboxed; fixed for its life, so one zygote serves
    the kernels that ask for the same (a key of `shared_zygote`)."""

    network: bool = False                 # the network is reachable (execution.network: allow)
    hide: tuple[str, ...] = ()            # folders to cover where they lie inside a bound root
    tmp_mb: int = 256                     # size of the /tmp the zygote's kernels share

    @classmethod
    def from_spec(cls, spec: dict) -> ZygoteSandbox:
        """From the "bwrap" entry `SandboxedKernel` puts in a kernel's sandbox. Hidden folders
        outside every bound root are not there anyway; only the others change the zygote."""
        hide = tuple(sorted(p for p in spec.get("hide", ()) if bwrap.covers((Path(p),))))
        return cls(network=bool(spec.get("network")), hide=hide, tmp_mb=int(spec.get("tmp_mb", 256)))

    def options(self, base: Path) -> list[str]:
        return bwrap.zygote_options(base=base, scripts=(ZYGOTE_SCRIPT, LAUNCHER_SCRIPT),
                                    hide=tuple(Path(p) for p in self.hide), network=self.network,
                                    tmp_mb=self.tmp_mb)


# -- one kernel, seen from the grader --------------------------------------------------

class WarmProcess:
    """The process the zygote forked for a kernel (the kernel itself, or its init with
    layout "init"), as the grader sees it: a tiny `Popen` look-alike.

    The connection to the zygote is the liveness channel: the zygote writes
    `{"exit": code}` when it has reaped the process (or SIGKILLed it on our
    request), and closes it. EOF without that means the zygote itself died,
    and its kernels with it (PDEATHSIG).
    """

    def __init__(self, sock: socket.socket, pid: int, buffered: bytes = b""):
        self.sock = sock
        self.pid = pid
        self.returncode: int | None = None
        self._buf = buffered
        self._readable: asyncio.Future | None = None
        self._parse()

    def _parse(self) -> None:
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "exit" in msg and self.returncode is None:
                self.returncode = int(msg["exit"])

    def poll(self) -> int | None:
        while self.returncode is None and self.sock is not None:
            try:
                data = self.sock.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            except OSError:
                data = b""
            if not data:
                self.returncode = -signal.SIGKILL    # the zygote is gone, and the kernel with it
                break
            self._buf += data
            self._parse()
        return self.returncode

    async def wait(self) -> int:
        """Wait for the exit report without polling (a reader on the socket)."""
        while self.poll() is None:
            loop = asyncio.get_running_loop()
            fut = self._readable
            if fut is None or fut.done() or fut.get_loop() is not loop:
                fut = self._readable = loop.create_future()
                fd = self.sock.fileno()

                def ready(fut=fut, fd=fd, loop=loop):
                    loop.remove_reader(fd)
                    if not fut.done():
                        fut.set_result(None)
                loop.add_reader(fd, ready)
            await asyncio.shield(fut)
        assert self.returncode is not None
        return self.returncode

    def _request(self, msg: dict) -> None:
        if self.sock is None or self.poll() is not None:
            return
        try:
            self.sock.send((json.dumps(msg) + "\n").encode(), socket.MSG_DONTWAIT)
        except OSError:
            pass        # the zygote is gone: so is the kernel

    def send_signal(self, signum: int) -> None:
        """Signal the kernel's process group (an init ignores SIGINT, forwards SIGTERM)."""
        self._request({"op": "signal", "signum": int(signum)})

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the process and everything below it (SIGSTOP first, then SIGKILL)."""
        self._request({"op": "kill"})

    def close(self) -> None:
        """Let go: a kernel still running is killed by the zygote when we hang up."""
        if self.sock is not None:
            if self._readable is not None and not self._readable.done():
                try:
                    self._readable.get_loop().remove_reader(self.sock.fileno())
                except Exception:  # noqa: BLE001 - loop already closed
                    pass
                self._readable.cancel()
            self.sock.close()
            self.sock = None
            if self.returncode is None:
                self.returncode = -signal.SIGKILL


def _as_fd(stream: Any, default: int) -> tuple[int, bool]:
    """(descriptor, whether we opened it) for a Popen-style stdin/stdout/stderr argument."""
    if stream is None:
        return default, False
    if stream in (subprocess.DEVNULL, subprocess.PIPE):   # no pipes back to us: discard
        return os.open(os.devnull, os.O_RDWR), True
    if isinstance(stream, int):
        return stream, False
    return stream.fileno(), False


# -- the zygote ------------------------------------------------------------------------

class Zygote:
    """The warm parent process: started once, asked for one kernel per submission."""

    def __init__(self, *, threads: int = 1, start_timeout: float = 120.0,
                 python: str = sys.executable, preload: tuple[str, ...] = (), layout: str = "direct",
                 sandbox: ZygoteSandbox | None = None, plotting: bool = True):
        """`sandbox`: run the zygote in bubblewrap (its kernels then reach the ``bwrap``
        level, each as a uid of its own; `bwrap.probe_zygote` says whether that runs here).
        `plotting`: preload matplotlib too (half a second of the start; a kernel that plots
        without it imports it itself)."""
        self.plotting = plotting
        if layout not in ("direct", "init"):
            raise ValueError(f"layout must be 'direct' or 'init', not {layout!r}")
        self.layout = layout
        self.sandbox = sandbox
        self.threads = threads
        self.start_timeout = start_timeout
        self.python = python
        self.preload = preload
        self.info: dict = {}
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen | None = None
        self._dir: Path | None = None
        self._lock = threading.Lock()

    # lifecycle ----------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        assert self._dir is not None
        return self._dir / "zygote.sock"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Zygote:
        """Start the zygote (blocks while it imports torch); WarmUnavailable if it can't."""
        with self._lock:
            if self.alive:
                return self
            self._stop_locked()
            if not sys.platform.startswith("linux") or not hasattr(socket, "send_fds"):
                raise WarmUnavailable(f"warm kernels need Linux and Python >= 3.9 (this is {sys.platform})")
            if self.sandbox is not None and not (ok := bwrap.probe_zygote())[0]:
                raise WarmUnavailable(f"the zygote cannot run in bubblewrap here: {ok[1]}")
            started = time.perf_counter()
            # 0700; inside the folder a sandboxed zygote sees, the only one it can write
            self._dir = Path(tempfile.mkdtemp(prefix="grader-zygote-",
                                              dir=kernels_dir() if self.sandbox else None))
            for sub in ("home", "mpl", "ipython", "tmp"):
                (self._dir / sub).mkdir()
            env = zygote_env(self.threads) | {
                "HOME": str(self._dir / "home"), "MPLCONFIGDIR": str(self._dir / "mpl"),
                "IPYTHONDIR": str(self._dir / "ipython"), "TMPDIR": str(self._dir / "tmp")}
            cmd = [self.python, str(ZYGOTE_SCRIPT), "--socket", str(self.socket_path),
                   "--parent", str(os.getpid())]
            for name in self.preload:
                cmd += ["--preload", name]
            if self.sandbox is not None:
                cmd.append("--uid-per-kernel")
            if not self.plotting:
                cmd.append("--no-plotting")
            log = open(self._dir / "zygote.log", "ab")
            cmd, pass_fds = self._in_bwrap(cmd)
            try:
                # Its own session: a Ctrl-C in the terminal is the grader's to handle.
                self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                              stderr=log, env=env, cwd=self._dir, close_fds=True,
                                              start_new_session=True, pass_fds=pass_fds)
            except OSError as exc:
                self._stop_locked()
                raise WarmUnavailable(f"cannot start the zygote: {exc}") from None
            finally:
                log.close()
                for fd in pass_fds:
                    os.close(fd)
            line = self._read_ready_line()
            try:
                info = json.loads(line) if line else {}
            except ValueError:
                info = {}
            if not info.get("ready"):
                why = info.get("error") or (f"no answer in {self.start_timeout:g} s" if not line
                                            else line.decode(errors="replace").strip())
                tail = self._log_tail()
                self._stop_locked()
                raise WarmUnavailable(f"the zygote did not start: {why}" + (f"\n{tail}" if tail else ""))
            self.info = info
            self.start_seconds = time.perf_counter() - started
            assert self._proc.stdout is not None
            self._proc.stdout.close()           # the zygote wrote its last line
            return self

    def _in_bwrap(self, cmd: list[str]) -> tuple[list[str], tuple[int, ...]]:
        """The command that runs `cmd` in bubblewrap, and the descriptor it reads its options
        from (a pipe, not its command line: every process on the machine can read that)."""
        if self.sandbox is None:
            return cmd, ()
        try:
            read = launcher.options_pipe(self.sandbox.options(kernels_dir()))
        except ValueError as exc:
            raise WarmUnavailable(f"the zygote's sandbox: {exc}") from None
        return [bwrap.executable() or "bwrap", "--args", str(read), *cmd], (read,)

    def _read_ready_line(self) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        out, buf = self._proc.stdout, b""
        deadline = time.monotonic() + self.start_timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                return b""
            try:
                chunk = os.read(out.fileno(), 65536)
            except (OSError, ValueError):    # closed under us: the grader is leaving
                break
            if not chunk:
                break
            buf += chunk
        return buf

    def _log_tail(self, chars: int = 2000) -> str:
        try:
            return (self._dir / "zygote.log").read_text(errors="replace")[-chars:].strip()  # type: ignore[operator]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the zygote; it kills every kernel it still has."""
        with self._lock:
            self._stop_locked(timeout)

    def abandon(self) -> None:
        """Let the zygote go without waiting for it (the grader is leaving): its stdin closes,
        so a serving zygote kills its kernels, removes its folder and exits on its own. One
        still importing (its start, in another thread, holds the lock) has no kernels and
        would only finish importing first: it is killed, with its bubblewrap."""
        proc, ready = self._proc, bool(self.info)
        if proc is None:
            return
        if proc.stdin is not None:      # not stdout: a start under way reads its ready line there
            try:
                proc.stdin.close()
            except OSError:
                pass
        if not ready:
            for pid in (*launcher.children_of(proc.pid), proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _stop_locked(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    try:
                        stream.close()          # stdin EOF: the zygote kills its kernels and exits
                    except OSError:
                        pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def ensure_started(self) -> Zygote:
        """Start (or restart a dead) zygote without blocking the event loop."""
        if not self.alive:
            await asyncio.to_thread(self.start)
        return self

    # requests -------------------------------------------------------------------
    def ping(self, timeout: float = 5.0) -> dict:
        """Ask the zygote whether it is serving (blocking; for tests and health checks)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.socket_path))
            socket.send_fds(sock, [b'{"op": "ping"}\n'], [])
            return json.loads(sock.makefile("rb").readline())

    async def launch(self, args: list[str], *, env: dict[str, str], sandbox: dict | None = None,
                     cwd: str | None = None, stdin: Any = subprocess.DEVNULL, stdout: Any = None,
                     stderr: Any = None, own: str | None = None) -> WarmProcess:
        """Fork a kernel: `args` are IPKernelApp's (`-f CONNECTION_FILE ...`).

        For a sandboxed zygote, `own` is the kernel's folder (its workdir and runtime
        folder, inside `kernels_dir()`), which the kernel's uid takes; the kernel joins
        the cgroups in `sandbox["cgroups"]` through descriptors opened here."""
        await self.ensure_started()
        loop = asyncio.get_running_loop()
        fds = [_as_fd(stdin, 0), _as_fd(stdout, 1), _as_fd(stderr, 2)]
        if self.sandbox is not None and sandbox and sandbox.get("cgroups"):
            sandbox = dict(sandbox)
            for folder in sandbox.pop("cgroups"):
                fds.append((os.open(os.path.join(folder, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC), True))
        request = {"op": "launch", "args": list(args), "env": dict(env), "sandbox": sandbox,
                   "cwd": str(cwd) if cwd else None, "layout": self.layout,
                   "own": [str(own)] if own else []}
        payload = (json.dumps(request) + "\n").encode()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, str(self.socket_path))
            sent = socket.send_fds(sock, [payload], [fd for fd, _ in fds])
            if sent < len(payload):
                await loop.sock_sendall(sock, payload[sent:])
            buf = b""
            while b"\n" not in buf:
                chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 30)
                if not chunk:
                    raise RuntimeError("the zygote hung up without an answer")
                buf += chunk
        except BaseException:
            sock.close()
            raise
        finally:
            for fd, opened in fds:
                if opened:
                    os.close(fd)
        line, rest = buf.split(b"\n", 1)
        reply = json.loads(line)
        if "pid" not in reply:
            sock.close()
            raise RuntimeError(f"the zygote refused the kernel: {reply.get('error', reply)}")
        return WarmProcess(sock, int(reply["pid"]), rest)


_ZygoteKey = tuple[int, "ZygoteSandbox | None"]
_shared: dict[_ZygoteKey, Zygote] = {}
_failed: dict[_ZygoteKey, WarmUnavailable] = {}
_shared_lock = threading.Lock()
_plotting = True        # whether a shared zygote started from now on preloads matplotlib (`prestart`)


def shared_zygote(threads: int = 1, sandbox: ZygoteSandbox | None = None) -> Zygote:
    """This process's zygote for `threads` torch threads (in bubblewrap as `sandbox` says,
    or not at all), started on first use (blocking).

    Raises `WarmUnavailable` (the reason in the message) where it cannot run,
    and from then on at once, without trying again; the caller then uses fresh
    kernels. A zygote that died is restarted.
    """
    key = (threads, sandbox)
    with _shared_lock:
        if key in _failed:
            raise _failed[key]
        zygote = _shared.get(key)
        if zygote is None:
            zygote = _shared[key] = Zygote(threads=threads, sandbox=sandbox, plotting=_plotting)
    try:
        return zygote.start()
    except WarmUnavailable as exc:
        with _shared_lock:
            _failed[key] = exc
        raise


def sandbox_for(execution: Any) -> ZygoteSandbox | None:
    """The zygote sandbox the kernels of `execution` (a config's Execution) get at the
    ``bwrap`` level, or None where that level does not run warm here."""
    try:
        if levels.resolve(execution.sandbox, warm=True) != "bwrap":
            return None
    except levels.LevelUnavailable:
        return None
    return ZygoteSandbox(network=execution.network == "allow", tmp_mb=4 * execution.file_size_mb)


def prestart(threads: int = 1, sandbox: ZygoteSandbox | None = None, *, plotting: bool = True) -> None:
    """Start the shared zygote in the background (it takes seconds), so that the
    first warm kernel need not wait for it; a failure shows at the first launch.
    `plotting=False`: no notebook of the batch plots, matplotlib is not preloaded."""
    global _plotting
    _plotting = plotting
    def start() -> None:
        try:
            shared_zygote(threads, sandbox)
        except WarmUnavailable:
            pass
    threading.Thread(target=start, name="grader-zygote-start", daemon=True).start()


def warm_available(threads: int = 1, sandbox: ZygoteSandbox | None = None) -> tuple[bool, str]:
    """(True, "") if warm kernels can run here, else (False, why). Starts the zygote."""
    try:
        shared_zygote(threads, sandbox)
    except WarmUnavailable as exc:
        return False, str(exc)
    return True, ""


_leaving = False     # set by `leave_without_waiting`


def leave_without_waiting() -> None:
    """From now on the exit handler below waits for no zygote (`Zygote.abandon`): for a
    command that ends with `os._exit` once its last result is written (`grader.cli.main.main`)."""
    global _leaving
    _leaving = True


@atexit.register
def stop_shared_zygotes() -> None:
    global _kernels_dir
    with _shared_lock:
        zygotes = list(_shared.values())
        _shared.clear()
    for zygote in zygotes:
        if _leaving:
            zygote.abandon()
        else:
            zygote.stop()
    with _kernels_dir_lock:
        if _kernels_dir is not None:
            shutil.rmtree(_kernels_dir, ignore_errors=True)
            _kernels_dir = None


# -- jupyter_client plumbing -----------------------------------------------------------

def kernel_args(cmd: list[str]) -> list[str]:
    """IPKernelApp's arguments from a kernel command line (drop the interpreter and the
    script or `-m module`): `[python, launcher.py, -f, F]` and
    `[python, -m, ipykernel_launcher, -f, F]` both give `[-f, F]`."""
    rest = list(cmd[1:])
    if rest[:1] == ["-m"]:
        return rest[2:]
    if rest and rest[0].endswith(".py"):
        return rest[1:]
    return rest


def _fast_reconnect(ctx: zmq.Context) -> zmq.Context:
    # Sockets of this context retry a refused connect after 5 ms, not 100 ms:
    # the client connects before the forked kernel has bound its sockets.
    ctx.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    return ctx


class WarmProvisioner(LocalProvisioner):
    """A LocalProvisioner whose kernel is forked by the zygote instead of spawned.

    Where no zygote can run (`WarmUnavailable`) and `fallback` is set, it says
    so in the log and spawns the kernel command as LocalProvisioner would (a
    fresh kernel through `launcher.py`); `mode` tells which one ran.
    """

    zygote = AnyTrait(allow_none=True)
    fallback = Bool(True)
    mode = Unicode("")          # "warm" or "fresh", once launched
    in_bwrap = Bool(False)      # the kernel got the bwrap sandbox (a fresh one, or a sandboxed zygote's)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        # Never hand the grader's own environment to a kernel by default.
        kwargs.setdefault("env", {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
        return await super().pre_launch(**kwargs)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        env = dict(kwargs.get("env") or {})
        sandbox = json.loads(env.pop("GRADER_SANDBOX")) if "GRADER_SANDBOX" in env else None
        spec = sandbox.pop("bwrap") if sandbox and "bwrap" in sandbox else None
        env.pop("JPY_PARENT_PID", None)     # the kernel's parent is its init, not the grader
        cwd = kwargs.get("cwd")
        own = self._own_folder(cwd)
        try:
            zygote = self.zygote
            if zygote is None:
                threads = int(env.get("OMP_NUM_THREADS") or 1)
                view = ZygoteSandbox.from_spec(spec) if spec and own and levels.warm_bwrap_status()[0] else None
                zygote = await asyncio.to_thread(shared_zygote, threads, view)
            if zygote.sandbox is not None:
                if own is None:
                    raise WarmUnavailable(f"the kernel's folders are not inside {kernels_dir()}, "
                                          "the only folder the sandboxed zygote sees")
                if sandbox and sandbox.get("network") == "isolate" and zygote.sandbox.network:
                    raise WarmUnavailable("the kernel must be offline; this zygote is not")
                if sandbox:     # the zygote's network namespace is the kernel's (it has no caps for its own)
                    sandbox["network"] = "allow"
            elif sandbox and sandbox.get("uid") and (own is None or os.geteuid() != 0):
                raise WarmUnavailable("the uid level needs a zygote run by root and the kernel's "
                                      f"folders inside {kernels_dir()}")
            elif spec is not None:
                # A zygote outside bubblewrap cannot put one kernel into it: the kernel gets the
                # level below (its own network namespace where possible), and the client
                # reports that level. A fresh fallback below still runs bwrap.
                sandbox = dict(sandbox or {}, network=spec["network_without"])
            self.process = await zygote.launch(kernel_args(cmd), env=env, sandbox=sandbox,
                                               cwd=str(cwd) if cwd else None, own=own,
                                               stdin=kwargs.get("stdin", subprocess.DEVNULL),
                                               stdout=kwargs.get("stdout"), stderr=kwargs.get("stderr"))
        except WarmUnavailable as exc:
            if not self.fallback:
                raise
            self.log.warning("warm kernels unavailable, starting a fresh one: %s", exc)
            self.mode, self.in_bwrap = "fresh", spec is not None
            if spec is not None:     # a signal would kill bwrap, and the kernel with it
                self.kernel_spec.interrupt_mode = "message"
            return await super().launch_kernel(cmd, **kwargs)
        self.mode, self.in_bwrap = "warm", zygote.sandbox is not None
        # The kernel's process group is the kernel's (bwrap, if any, is above the zygote):
        # interrupt with a signal, which also stops code that never returns to the loop.
        self.kernel_spec.interrupt_mode = "signal"
        self.pid = self.pgid = self.process.pid     # the init: session and group leader
        self.cwd = cwd or os.getcwd()
        return self.connection_info

    def _own_folder(self, cwd: Any) -> str | None:
        """The kernel's own folder (holding its workdir and runtime folder) where that lies
        inside `kernels_dir()`, the folder a sandboxed zygote sees; else None."""
        files = [Path(cwd)] if cwd else []
        connection_file = getattr(self.parent, "connection_file", "")
        if connection_file:
            files.append(Path(connection_file).parent)
        if not files:
            return None
        own = Path(os.path.commonpath([os.path.realpath(f) for f in files]))
        base = Path(os.path.realpath(kernels_dir()))
        return str(own) if base in own.parents else None

    @property
    def _warm(self) -> bool:
        return self.mode != "fresh"

    async def poll(self) -> int | None:
        if not self._warm:
            return await super().poll()
        return self.process.poll() if self.process is not None else 0

    async def wait(self) -> int | None:
        if not self._warm:
            return await super().wait()
        if self.process is None:
            return 0
        code = await self.process.wait()
        self.process.close()
        self.process = None
        return code

    async def send_signal(self, signum: int) -> None:
        if not self._warm:
            return await super().send_signal(signum)
        if self.process is not None:
            self.process.send_signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if not self._warm:
            return await super().kill(restart)
        if self.process is not None:
            self.process.kill()

    async def terminate(self, restart: bool = False) -> None:
        if not self._warm:
            return await super().terminate(restart)
        if self.process is not None:
            self.process.terminate()

    async def shutdown_requested(self, restart: bool = False) -> None:
        return None

    async def cleanup(self, restart: bool = False) -> None:
        if not self._warm:
            return await super().cleanup(restart)
        if self.process is not None:        # hanging up kills a kernel still running
            self.process.close()
            self.process = None


class NoHeartbeatClient(AsyncKernelClient):
    """An AsyncKernelClient that starts no heartbeat channel unless asked: in the grader that
    channel is a thread with a zmq context and an event loop of its own per kernel, and a
    ping a second for the kernel, for what a client made by a kernel manager never reads
    (`is_alive` asks the manager, which knows the process)."""

    def start_channels(self, shell: bool = True, iopub: bool = True, stdin: bool = True, hb: bool = False,
                       control: bool = True) -> None:
        super().start_channels(shell, iopub, stdin, hb, control)


class WarmKernelClient(AsyncKernelClient):
    """AsyncKernelClient without the fixed waits that dominate a warm start."""

    def _context_default(self) -> zmq.asyncio.Context:
        return _fast_reconnect(super()._context_default())

    def start_channels(self, shell: bool = True, iopub: bool = True, stdin: bool = True, hb: bool = False,
                       control: bool = True) -> None:
        """No heartbeat channel by default (see `NoHeartbeatClient`)."""
        super().start_channels(shell, iopub, stdin, hb, control)

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Ready = a kernel_info_reply on shell and any message on iopub (which proves
        the subscription is live); no trailing 0.2 s of iopub silence."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            reply = None
            resend_at = min(loop.time() + 1.0, deadline)
            while reply is None and (left := resend_at - loop.time()) > 0:
                try:
                    msg = await self.get_shell_msg(timeout=min(left, 0.25))
                except Empty:
                    if not await self._async_is_alive():
                        raise RuntimeError("Kernel died before replying to kernel_info") from None
                    continue
                if msg["msg_type"] == "kernel_info_reply":
                    reply = msg
            if reply is not None:
                try:
                    await self.get_iopub_msg(timeout=min(1.0, max(0.05, deadline - loop.time())))
                except Empty:
                    pass            # not subscribed yet: ask again
                else:
                    self._handle_kernel_info_reply(reply)
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if loop.time() > deadline:
                raise RuntimeError("Kernel didn't respond in %d seconds" % (timeout or 0))


class WarmKernelManager(AsyncKernelManager):
    """AsyncKernelManager whose kernels come from a zygote: the same constructor
    arguments, plus `zygote=` (default: this process's `shared_zygote`, started on
    first use without blocking the event loop) and `fallback=` (default True: a
    fresh kernel, with a warning, where no zygote can run). After a start,
    `kernel_mode` says "warm" or "fresh"."""

    zygote = AnyTrait(allow_none=True)
    fallback = Bool(True)
    client_class = DottedObjectName("grader.sandbox.warm.WarmKernelClient")
    client_factory = Type(klass=WarmKernelClient)

    def _context_default(self) -> zmq.asyncio.Context:
        return _fast_reconnect(super()._context_default())

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = WarmProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                               parent=self, zygote=self.zygote, fallback=self.fallback)
        return await super()._async_pre_start_kernel(**kw)

    @property
    def kernel_mode(self) -> str:
        """ "warm" or "fresh" for the kernel last started ("" before any start)."""
        return getattr(self.provisioner, "mode", "")

    pre_start_kernel = _async_pre_start_kernel

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        provisioner = self.provisioner
        if isinstance(provisioner, WarmProvisioner) and provisioner._warm and provisioner.process is not None:
            await provisioner.process.wait()        # woken by the exit report: no 0.1 s polling
        else:
            await super()._async_wait(pollinterval)

