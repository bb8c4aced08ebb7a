"""Warm kernels: fork each sandboxed kernel from a zygote that has already imported torch.

A fresh kernel pays for a new interpreter and `import torch` (about 1.3 s
here) before the student's first cell. `zygote.py` pays that once per grader
process; every kernel after that is a fork of it (a few ms) plus
`IPKernelApp.initialize` (tens of ms). The kernel is a real IPython kernel on
a connection file the grader wrote, so magics, `display()` and
`%matplotlib inline` behave as in Jupyter, and nbclient drives it unchanged.

Where each job lives:

* grader side, the handle: `zygote_handle.ZygoteHandle` starts and stops the
  zygote process and asks it for kernels; `warm_shared.shared_zygote()` gives
  one per grader process and thread count; `warm_env` holds what a zygote is
  given (environment, folder, bubblewrap view); `warm_process.WarmProcess` is
  one forked kernel seen from the grader. If a zygote cannot start (not Linux,
  torch missing, ...) `WarmUnavailable` says why, and the caller falls back to
  fresh kernels.
* server side, run by path as scripts: `zygote.py` (start, imports, ready
  line), `zygote_server.py` (the serving loop), `zygote_child.py` (the forked
  child's set-up: cgroups, rlimits, namespace and uid, then the kernel).
* here, the jupyter_client plumbing:
  `WarmProvisioner`, a `LocalProvisioner` whose kernel comes
  from the zygote: poll/wait/send_signal/kill/terminate/cleanup act on the
  forked process through the zygote, which is its parent (so no pid can be
  reused under us) and reports its exit status on the connection.
  `WarmKernelManager`, an `AsyncKernelManager` that uses that provisioner
  (no entry point needed) and waits on the exit report instead of polling
  every 0.1 s; `WarmKernelClient` waits for `kernel_info_reply` plus one iopub
  message instead of 0.2 s of iopub silence, and both reconnect their zmq
  sockets every 5 ms instead of 100 ms (the client connects before the forked
  kernel has bound its sockets).

The limits are the same as a fresh kernel's: they arrive in the
`GRADER_SANDBOX` entry of the kernel's environment (as `launcher.py` reads
them) and the forked process applies them with `launcher.apply`. See
`zygote_child.py` for the process layout that keeps every process a kernel starts
killable.

At the ``bwrap`` sandbox level the zygote itself runs in bubblewrap
(`warm_env.ZygoteSandbox`, `bwrap.zygote_options`), so every kernel it forks inherits
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
import os
import subprocess
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Any as AnyTrait
from traitlets import Bool, DottedObjectName, Type, Unicode

from grader.sandbox import levels
from grader.sandbox.plan import read_sandbox
from grader.sandbox.warm_env import WarmUnavailable, ZygoteSandbox, kernels_dir
from grader.sandbox.warm_shared import shared_zygote

RECONNECT_IVL_MS = 5


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


_context: zmq.asyncio.Context | None = None


def shared_context() -> zmq.asyncio.Context:
    """One zmq context for the clients and managers of every warm kernel of this process.
    jupyter_client makes two per kernel: each starts an I/O thread and, when its kernel
    closes, destroys it and waits for that thread (about 3 ms of the event loop, which
    serves the other kernels, per submission). Sockets are still closed with their kernel:
    the channels' by `stop_channels`, the control socket's by `cleanup_resources`."""
    global _context
    if _context is None or _context.closed:
        _context = _fast_reconnect(zmq.asyncio.Context())
    return _context


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
        sandbox = read_sandbox(env)     # `plan.sandbox_json`'s, for the zygote's child
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
        return shared_context()      # not jupyter_client's own: it is not destroyed with the kernel

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
        return shared_context()      # not jupyter_client's own: it is not destroyed with the kernel

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
