"""The grader's handle on one zygote: start and stop the process, ask it for kernels.

`ZygoteHandle` starts `zygote.py` (clean environment, private 0700 folder, a
stdin pipe whose EOF tells it the grader is gone; in bubblewrap where `sandbox`
says so), waits for its ready line, and sends it one launch request per kernel
over its unix socket (the protocol is in zygote.py). Where it cannot start it
raises `WarmUnavailable` with the reason, and the caller falls back to fresh
kernels. One handle per grader process and thread count: `warm_shared`.
"""

from __future__ import annotations

import asyncio
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
from pathlib import Path
from typing import Any

from grader.sandbox import bwrap, launcher
from grader.sandbox.warm_env import ZYGOTE_SCRIPT, WarmUnavailable, ZygoteSandbox, kernels_dir, zygote_env
from grader.sandbox.warm_process import WarmProcess, as_fd


class ZygoteHandle:
    """The warm parent process: started once, asked for one kernel per submission."""

    def __init__(self, *, threads: int = 1, start_timeout: float = 120.0,
                 python: str = sys.executable, preload: tuple[str, ...] = (), layout: str = "direct",
                 sandbox: ZygoteSandbox | None = None, plotting: bool = True, cotangents: bool = False):
        """`sandbox`: run the zygote in bubblewrap (its kernels then reach the ``bwrap``
        level, each as a uid of its own; `bwrap.probe_zygote` says whether that runs here).
        `plotting`: preload matplotlib too (half a second of the start; a kernel that plots
        without it imports it itself). `cotangents`: preload what torch imports for a backward
        pass handed a cotangent (zygote.py COTANGENTS)."""
        self.plotting = plotting
        self.cotangents = cotangents
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
        self.ready_at: float | None = None      # time.perf_counter() when its ready line came
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

    def start(self) -> ZygoteHandle:
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
            self._spawn()
            self.info = self._wait_ready()
            self.ready_at = time.perf_counter()
            self.start_seconds = self.ready_at - started
            assert self._proc is not None and self._proc.stdout is not None
            self._proc.stdout.close()           # the zygote wrote its last line
            return self

    def _spawn(self) -> None:
        """Start the zygote process in a private folder of its own (0700; for a sandboxed
        zygote inside the folder it sees, the only one it can write)."""
        self._dir = Path(tempfile.mkdtemp(prefix="grader-zygote-",
                                          dir=kernels_dir() if self.sandbox else None))
        for sub in ("home", "mpl", "ipython", "tmp"):
            (self._dir / sub).mkdir()
        env = zygote_env(self.threads) | {
            "HOME": str(self._dir / "home"), "MPLCONFIGDIR": str(self._dir / "mpl"),
            "IPYTHONDIR": str(self._dir / "ipython"), "TMPDIR": str(self._dir / "tmp")}
        log = open(self._dir / "zygote.log", "ab")
        cmd, pass_fds = self._in_bwrap(self._command())
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

    def _command(self) -> list[str]:
        cmd = [self.python, str(ZYGOTE_SCRIPT), "--socket", str(self.socket_path),
               "--parent", str(os.getpid())]
        for name in self.preload:
            cmd += ["--preload", name]
        if self.sandbox is not None:
            cmd.append("--uid-per-kernel")
        if not self.plotting:
            cmd.append("--no-plotting")
        if self.cotangents:
            cmd.append("--cotangents")
        return cmd

    def _wait_ready(self) -> dict:
        """The zygote's ready line; WarmUnavailable (with its log's tail) if none came."""
        line = self._read_ready_line()
        try:
            info = json.loads(line) if line else {}
        except ValueError:
            info = {}
        if not info.get("ready"):
            why = info.get("error") or (line.decode(errors="replace").strip() if line else self._silent_why())
            tail = self._log_tail()
            self._stop_locked()
            raise WarmUnavailable(f"the zygote did not start: {why}" + (f"\n{tail}" if tail else ""))
        return info

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

    def _silent_why(self) -> str:
        """Why no ready line came: the zygote ended first (its output closed), or time ran out."""
        try:
            code = self._proc.wait(timeout=1) if self._proc is not None else None
        except subprocess.TimeoutExpired:
            code = None
        return (f"no answer in {self.start_timeout:g} s" if code is None
                else f"it exited (status {code}) before it was ready")

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

    async def ensure_started(self) -> ZygoteHandle:
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
        fds = [as_fd(stdin, 0), as_fd(stdout, 1), as_fd(stderr, 2)]
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
