"""Warm parent ("zygote") for sandboxed kernels: import once, fork one kernel per request.

Run as its own process by `grader.sandbox.warm` (stdlib only at module level;
it imports nothing of the grader and is run as a script, with a clean
environment):

    python zygote.py --socket DIR/zygote.sock --parent GRADER_PID [--uid-per-kernel] [--no-plotting]

It imports torch, numpy, ipykernel, IPython and matplotlib (inline backend;
not with --no-plotting), builds the kernels' IPython shell once (each kernel
adopts it, `_adopt_shell`: about 20 ms less per start) and then *computes
nothing*: a child forked after torch has run any OpenMP work hangs in libgomp. It runs no asyncio loop and holds no zmq context, and
it never holds anything of the grader's (no rubric, no inputs, no secrets):
every child can read all of its parent's memory. `gc.freeze()` keeps the
inherited heap out of the children's collections (IPython's `gc.collect()`
at exit walked all of it).

Protocol, one newline-terminated JSON message per line over a unix socket in
a private 0700 directory; only the process that started the zygote may
connect (checked with SO_PEERCRED: a kernel, root or not, cannot ask its
parent for an unsandboxed sibling):

    grader -> {"op": "launch", "args": [...], "env": {...}, "sandbox": {...} | null,
               "cwd": "..." | null, "layout": "direct" | "init", "own": [...]}
              + 3 file descriptors (stdin, stdout, stderr), then one opened
                `cgroup.procs` per kernel cgroup (the kernel joins them through
                these: the zygote's sandbox need not see /sys/fs/cgroup)
    zygote -> {"pid": PID}              (or {"error": "..."}); PID leads the kernel's
                                        session and process group
    grader -> {"op": "signal", "signum": N} | {"op": "kill"}     (any number)
    zygote -> {"exit": CODE}            when the kernel is gone (at once after a
                                        "kill": SIGKILLed, it runs no more code); then
                                        the zygote closes the connection
    grader -> {"op": "ping"}        ->  {"pong": ZYGOTE_PID, "kernels": N}

Signals and kills go through the zygote on purpose: it is the parent of PID
and reaps it, so a pid it signals can never have been reused. If the grader
closes a kernel's connection, that kernel is killed.

Per request the forked child applies the sandbox exactly as `launcher.py`
does (`launcher.apply`: rlimits, a new network namespace as root when asked,
PDEATHSIG, chdir; plus setsid, a clean environment, reset signal handlers and
mask, fresh RNG seeds) and makes itself a *child subreaper*. With
--uid-per-kernel (the zygote runs in bubblewrap, see
`grader.sandbox.bwrap.zygote_options`) it then becomes a user of its own, uid
UID_BASE + its pid: it takes the folders named in "own" (its workdir and
runtime folder), drops every capability by the uid change and sets
no_new_privs. Kernels of one zygote then cannot signal, trace
or read each other, the zygote or the grader, nor each other's folders. At the
``uid`` sandbox level (no bubblewrap; a zygote run by root), a request whose
sandbox holds a "uid" entry gets the same uid change, after the child has
entered a mount namespace of its own that hides the course and the output
(`launcher.isolate_filesystem`). Then, with
layout "direct" (the default), it becomes the kernel itself:

    zygote (subreaper) ── kernel (subreaper: IPKernelApp in-process, no exec)
                              └── whatever the student starts, however detached

Everything the student starts stays below the kernel while it lives; when
the kernel dies, what is left is re-parented to the zygote, which kills
every child of its own that is not a live kernel. With layout "init" the
child stays as a small init above the kernel, as `launcher.run_init` does
(one more fork per kernel, about 10 ms):

    zygote (subreaper) ── init (subreaper) ── kernel ── ...

Either way, the grader's kill (the zygote's, or `launcher.kill_tree` on PID)
stops and kills the whole subtree. The zygote exits when its stdin (a pipe
from the grader) reaches EOF, i.e. when the grader is gone, killing and
reaping every kernel tree it still has first.
"""

import gc
import importlib.util
import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))

# Run as a script: our own folder must not be importable from the kernels
# (`import launcher`, `import client` would find grader internals).
if sys.path and os.path.abspath(sys.path[0] or ".") == HERE:
    del sys.path[0]


def _load(name: str):
    """Import a sibling stdlib-only module by path (not through the grader package)."""
    spec = importlib.util.spec_from_file_location(f"_grader_zygote_{name}", os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


launcher = _load("launcher")

# What a kernel imports anyway (found by diffing sys.modules after a kernel's start,
# a backward pass and an inline plot). Importing is fine; computing is not (see above).
PRELOAD = (
    "numpy", "torch",
    "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
    "ipykernel.iostream", "ipykernel.heartbeat", "ipykernel.comm", "ipykernel.debugger",
    "ipykernel.eventloops", "ipykernel.displayhook", "ipykernel.jsonutil",
    "ipykernel.pylab.backend_inline", "jupyter_client.session", "comm",
    "IPython.core.completer", "IPython.core.history", "IPython.core.magics",
    "IPython.core.formatters", "IPython.display", "IPython.core.interactiveshell",
    "IPython.core.completerlib", "tornado.platform.asyncio", "faulthandler",
    "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline",
    "matplotlib.backends.backend_agg", "PIL.PngImagePlugin", "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin", "PIL.JpegImagePlugin", "PIL.PpmImagePlugin",
    "sqlite3", "jedi", "debugpy", "psutil", "nest_asyncio",
)
#: what only a notebook that plots imports (about half a second of the zygote's start):
#: left out with --no-plotting, for a batch none of whose notebooks mentions plotting
PLOTTING = ("ipykernel.pylab.backend_inline", "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline",
            "matplotlib.backends.backend_agg")

SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)
MAX_FDS = 8                     # stdin, stdout, stderr and the kernel's cgroup.procs files
CAP_SYS_ADMIN = 21
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_SLAVE = 2, 4, 8, 1 << 14, 1 << 19
CLONE_NEWNS = 0x00020000


def log(*parts) -> None:
    print(f"[zygote {os.getpid()}]", *parts, file=sys.stderr, flush=True)


def _send(conn: socket.socket, msg: dict) -> None:
    try:
        conn.sendall((json.dumps(msg) + "\n").encode())
    except OSError:
        pass


def _peer_pid(conn: socket.socket) -> int:
    pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, 12))
    return pid


# -- in the forked children --------------------------------------------------------

def _reset_signals() -> None:
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGXCPU, signal.SIGUSR1,
                signal.SIGUSR2, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # what a fresh Python has
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _close_inherited(keep: set) -> None:
    """Close every descriptor the zygote opened itself (sockets, pipes) but not 0-2
    and not those the imported libraries held before serving began."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


_CLASS_TRAIT = re.compile(r"--([A-Za-z_]\w*)\.([A-Za-z_]\w*)=(.*)", re.S)


def _fast_command_line(app, args: list) -> None:
    """Parse what kernel managers pass (`-f FILE`, `--Class.trait=value`) straight
    into the config traitlets would build from it. traitlets' own parser first
    builds an argparse parser from every configurable trait of every class
    (about 10 ms per kernel); any other argument leaves that parser in charge."""
    from copy import deepcopy

    try:
        from traitlets.config import Config
        from traitlets.config.loader import DeferredConfigString
    except ImportError:
        return

    cfg, i = Config(), 0
    while i < len(args):
        if args[i] in ("-f", "--f") and i + 1 < len(args):
            cfg.IPKernelApp.connection_file = args[i + 1]      # the `f` alias
            i += 2
            continue
        match = _CLASS_TRAIT.fullmatch(args[i])
        if not match:
            return
        cfg[match[1]][match[2]] = DeferredConfigString(match[3])
        i += 1

    def parse_command_line(argv=None) -> None:
        app.argv = list(args)
        app.cli_config = deepcopy(cfg)
        app.update_config(app.cli_config)
        app.extra_args = []
    app.parse_command_line = parse_command_line


def _become_kernel(args: list, threads, parent: int) -> None:
    """Runs in the kernel process; never returns."""
    code = 1
    try:
        launcher.die_with_parent()
        if os.getppid() != parent:      # it died before PDEATHSIG was armed
            os._exit(99)
        _reset_signals()
        # Fresh randomness: otherwise every kernel replays the zygote's RNG state.
        import random
        import tempfile

        import numpy
        import torch
        random.seed()
        numpy.random.seed()
        torch.seed()
        tempfile.tempdir = None          # recomputed from this kernel's TMPDIR
        if threads and threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        from ipykernel.kernelapp import IPKernelApp
        sys.argv = ["ipykernel_launcher", *args]
        # parent_handle: no "connect another client" banner, and the kernel quits
        # if its parent goes (as with a fresh kernel, whose parent poller runs too).
        app = IPKernelApp.instance(parent_handle=os.getppid())
        _fast_command_line(app, args)
        prebuilt = _takes_prebuilt_shell(args)
        app.initialize(args)
        if prebuilt:
            _adopt_shell(app.kernel)
        app.start()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report and leave; nothing else may run here
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _join_cgroups(fds: list) -> None:
    """Write our pid into each `cgroup.procs` the grader opened for this kernel."""
    for fd in fds:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)


def _become_user(own: list, sandbox: dict) -> None:
    """Become uid UID_BASE + our pid, owner of the folders in `own` (`launcher.become_user`)."""
    launcher.become_user(own, sandbox)


def _run_child(req: dict, fds: list, keep: set, zygote: int, uid_per_kernel: bool) -> None:
    """Runs in the process forked for a request; never returns.

    Applies the sandbox as `launcher.py` does, makes itself a child subreaper,
    then either becomes the kernel ("direct") or forks it and stays as its init
    ("init", as `launcher.run_init`).
    """
    code = 98
    try:
        signal.set_wakeup_fd(-1)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        _join_cgroups(fds[3:])                         # before anything else runs
        _close_inherited(keep)
        os.setsid()                                    # the group interrupt reaches only this kernel
        _reset_signals()
        os.environ.clear()
        os.environ.update(req.get("env") or {})
        if req.get("cwd"):
            os.chdir(req["cwd"])
        sandbox = req.get("sandbox")
        if sandbox:
            try:
                launcher.apply(sandbox)                # the same limits a fresh kernel gets
            except SystemExit as exc:                  # no network namespace: 97
                os._exit(exc.code if isinstance(exc.code, int) else 97)
        else:
            launcher.die_with_parent()
        if sandbox and sandbox.get("uid"):
            # the ``uid`` level (a zygote outside bubblewrap, run by root): this kernel's own
            # mount namespace hides the course and the output, then its own uid
            launcher.isolate_filesystem(sandbox["uid"])
            _become_user(list(req.get("own") or []), sandbox)
            os.chdir(req.get("cwd") or sandbox["workdir"])
        elif uid_per_kernel:
            _become_user(list(req.get("own") or []), sandbox or {})
        if os.getppid() != zygote:          # it died before PDEATHSIG was armed
            os._exit(99)
        launcher._libc().prctl(launcher.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        threads = None
        try:
            threads = int((req.get("env") or {}).get("OMP_NUM_THREADS", "0")) or None
        except ValueError:
            pass
        args = list(req.get("args") or [])
        if req.get("layout", "direct") == "direct":
            _become_kernel(args, threads, zygote)
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # interrupts are for the kernel
        init = os.getpid()
        kernel = os.fork()
        if kernel == 0:
            _become_kernel(args, threads, init)
        # From here on, as launcher.run_init.
        signal.signal(signal.SIGTERM, lambda *_: os.kill(kernel, signal.SIGTERM))
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                code = 1
                break
            except InterruptedError:
                continue
            if pid == kernel:
                launcher.kill_all_descendants()
                code = os.waitstatus_to_exitcode(status) & 0xFF
                break
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        os._exit(code)


# -- the zygote --------------------------------------------------------------------

def _private_proc() -> bool:
    """Mount over /proc a procfs on which each kernel, a uid of its own, sees only its own
    processes (`hidepid=invisible`; `gid=0` leaves the zygote, group 0, seeing its kernels),
    then give up CAP_SYS_ADMIN, which bwrap grants the zygote for this mount alone.

    False where proc has no options per mount (Linux before 5.8 rejects "invisible"):
    there they would hide the host's processes from the host's users too. The mount is
    made in a mount namespace of the zygote's own that passes nothing back, so that it can
    never cover anything outside (bwrap gives the zygote one already)."""
    libc = launcher._libc()
    done = (libc.unshare(CLONE_NEWNS) == 0 and libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None) == 0
            and libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           b"hidepid=invisible,gid=0") == 0)
    _drop_capability(CAP_SYS_ADMIN)
    return done


def _drop_capability(cap: int) -> None:
    """Remove `cap` from this process's effective, permitted and inheritable sets (it cannot
    come back: the zygote never execs, and its kernels change uid, which clears them all)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    libc = launcher._libc()
    header, data = Header(0x20080522, 0), (Data * 2)()      # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    word, bit = divmod(cap, 32)
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[word], field, getattr(data[word], field) & ~(1 << bit))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    with open("/proc/self/status") as f:
        held = [int(line.split()[1], 16) for line in f if line.startswith(("CapEff:", "CapPrm:"))]
    if any(mask >> cap & 1 for mask in held):
        raise RuntimeError(f"capability {cap} is still held")


class Zygote:
    def __init__(self, listen: socket.socket, parent: int, keep: set, uid_per_kernel: bool = False):
        self.uid_per_kernel = uid_per_kernel
        self.listen = listen
        self.parent = parent
        self.keep = keep
        self.kernels: dict = {}          # init pid -> connection to the grader
        self.by_fd: dict = {}            # connection fd -> init pid
        self.buffers: dict = {}          # connection fd -> partial line
        self.sweep_until = 0.0
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        launcher._libc().prctl(launcher.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        while True:
            conns = list(self.kernels.values())
            timeout = 0.2 if time.monotonic() < self.sweep_until else None
            try:
                ready, _, _ = select.select([self.listen, self.wake_r, 0, *conns], [], [], timeout)
            except InterruptedError:
                continue
            if 0 in ready and not os.read(0, 4096):
                log("grader gone (stdin closed): killing", len(self.kernels), "kernels")
                self.shutdown()
                return
            try:
                self.step(ready, conns, swept=timeout is not None)
            except Exception:  # noqa: BLE001 - keep serving the other kernels; say what broke
                log("error while serving:\n" + traceback.format_exc())

    def step(self, ready: list, conns: list, swept: bool) -> None:
        if self.wake_r in ready:
            try:
                while os.read(self.wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        self.reap()
        for conn in conns:
            if conn in ready and conn.fileno() != -1:
                self.from_grader(conn)
        if self.listen in ready:
            self.accept()
        if swept:
            self.sweep_orphans()

    def shutdown(self) -> None:
        """Kill every kernel tree and orphan, and reap them, before the zygote exits."""
        for pid in list(self.kernels):
            launcher.kill_tree(pid)
        self.sweep_orphans()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    time.sleep(0.01)
                    self.sweep_orphans()
            except ChildProcessError:
                break

    def reap(self) -> None:
        reaped = False      # report every exit first, then look for orphans
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reaped = True
            conn = self.kernels.pop(pid, None)
            if conn is not None:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                self._forget(conn)
        if reaped:
            # An init killed before its subtree leaves orphans; they come to us.
            self.sweep_orphans()
            self.sweep_until = time.monotonic() + 2.0

    def sweep_orphans(self) -> None:
        for pid in launcher.children_of(os.getpid()):
            if pid not in self.kernels:
                launcher.kill_tree(pid)

    def kill(self, pid: int) -> None:
        """Kill a kernel's tree and report it dead at once: after SIGKILL it runs no more
        code, and waiting for its memory to be torn down would only delay the grader."""
        launcher.kill_tree(pid)
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped, status = 0, 0
        code = os.waitstatus_to_exitcode(status) if reaped else -signal.SIGKILL
        conn = self.kernels.pop(pid)
        _send(conn, {"exit": code})
        self._forget(conn)
        self.sweep_until = time.monotonic() + 2.0

    def _forget(self, conn: socket.socket) -> None:
        self.by_fd.pop(conn.fileno(), None)
        self.buffers.pop(conn.fileno(), None)
        conn.close()

    def from_grader(self, conn: socket.socket) -> None:
        pid = self.by_fd.get(conn.fileno())
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:                    # the grader let go of this kernel: kill it
            if pid is not None and pid in self.kernels:
                self.kill(pid)
            else:
                self._forget(conn)
            return
        buf = self.buffers.get(conn.fileno(), b"") + data
        *lines, self.buffers[conn.fileno()] = buf.split(b"\n")
        for line in lines:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if pid is None or pid not in self.kernels:
                return
            if msg.get("op") == "signal":
                try:
                    os.killpg(pid, int(msg["signum"]))
                except OSError:
                    try:
                        os.kill(pid, int(msg["signum"]))
                    except OSError:
                        pass
            elif msg.get("op") == "kill":
                self.kill(pid)
                return

    def accept(self) -> None:
        try:
            conn, _ = self.listen.accept()
        except OSError:
            return
        fds = []
        try:
            if _peer_pid(conn) != self.parent:
                log("refused a connection from pid", _peer_pid(conn))
                conn.close()
                return
            conn.settimeout(5)
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, MAX_FDS)
            while not data.endswith(b"\n"):
                more = conn.recv(1 << 20)
                if not more:
                    raise ValueError("request cut short")
                data += more
            req = json.loads(data)
        except (OSError, ValueError) as exc:
            log("bad request:", exc)
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        op = req.get("op")
        if op == "ping":
            _send(conn, {"pong": os.getpid(), "kernels": len(self.kernels)})
            conn.close()
        elif op == "launch":
            self.launch(conn, req, fds)
        else:
            _send(conn, {"error": f"unknown op {op!r}"})
            conn.close()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def launch(self, conn: socket.socket, req: dict, fds: list) -> None:
        if len(fds) < 3:
            _send(conn, {"error": "a launch needs 3 descriptors (stdin, stdout, stderr)"})
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        me = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            _send(conn, {"error": f"fork failed: {exc}"})
            conn.close()
            return
        if pid == 0:
            _run_child(req, fds, self.keep, me, self.uid_per_kernel)
        conn.setblocking(False)
        self.kernels[pid] = conn
        self.by_fd[conn.fileno()] = pid
        _send(conn, {"pid": pid})


def _preload(plotting: bool = True) -> dict:
    missing = {}
    for name in PRELOAD:
        if not plotting and name in PLOTTING:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - optional extras (debugpy, jedi, ...)
            missing[name] = f"{type(exc).__name__}: {exc}"
    _warm_up()
    return missing


def _warm_up() -> None:
    """One-time lazy set-ups that every kernel would otherwise redo after the fork.
    Nothing here touches torch's math or starts a thread; each kernel reseeds."""
    import random
    import sqlite3

    import numpy
    numpy.random.seed()                 # first call: about 12 ms of lazy set-up
    random.seed()
    sqlite3.connect(":memory:").close()  # IPython's history database
    launcher._libc()                     # find_library("c") runs ldconfig: once, here
    _prebuild_shell()


# -- the kernel's IPython shell, built once ----------------------------------------------------

#: the kernel options the grader gives every kernel (grader.sandbox.client.KERNEL_OPTIONS; a
#: test holds the two equal): a kernel given exactly these takes the shell built here
PREBUILT_OPTIONS = ("--HistoryManager.enabled=False",)
_prebuilt = False


def _prebuild_shell() -> None:
    """Build the kernel's IPython shell (ZMQInteractiveShell) here, once, with the config the
    kernel would give it. It is a singleton: in a kernel forked later, IPythonKernel's
    `ZMQInteractiveShell.instance(...)` finds it instead of building its own (its magics,
    transformers and formatters: about 20 ms of every kernel's start), and `_adopt_shell`
    gives it what is the kernel's own. Building it starts no thread (no history) and opens
    no socket; a kernel with other options clears it and builds its own
    (`_takes_prebuilt_shell`). Where anything fails, kernels build their own as before."""
    global _prebuilt
    try:
        from ipykernel.compiler import XCachingCompiler
        from ipykernel.zmqshell import ZMQInteractiveShell
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        ZMQInteractiveShell.instance(config=config, compiler_class=XCachingCompiler)
        _prebuilt = True
    except Exception:  # noqa: BLE001 - an optimisation only
        _forget_shell()
        traceback.print_exc()


def _forget_shell() -> None:
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython.core.interactiveshell import InteractiveShell
        ZMQInteractiveShell.clear_instance()
        InteractiveShell.clear_instance()
    except Exception:  # noqa: BLE001
        pass


def _takes_prebuilt_shell(args: list) -> bool:
    """In the kernel, before IPKernelApp.initialize: whether this kernel's options are the
    ones the shell was built with (its connection file aside); if not, it builds its own."""
    options = [a for i, a in enumerate(args) if a not in ("-f", "--f") and (i == 0 or args[i - 1] not in ("-f", "--f"))]
    if _prebuilt and options == list(PREBUILT_OPTIONS):
        return True
    _forget_shell()
    return False


def _adopt_shell(kernel) -> None:
    """What a shell built by this kernel would hold of its own (InteractiveShell.__init__
    reads them from the process: the zygote's otherwise): the kernel (also as the
    configurable parent), its IPython folder and profile (with `ip.db`, which `%cd` and
    `%store` write, the history file's name and the extensions folder), the working
    directory it started in
    (`_dh`, `%cd -`), its home (`%cd`, `%logstart`'s folder)."""
    from pathlib import Path

    from IPython.paths import get_ipython_dir
    from IPython.utils.path import get_home_dir

    shell = kernel.shell
    shell.parent = kernel
    shell.kernel = kernel
    shell.ipython_dir = get_ipython_dir()
    shell.profile_dir = kernel.profile_dir
    shell.db = type(shell.db)(os.path.join(kernel.profile_dir.location, "db"))    # IPython's PickleShareDB
    shell.starting_dir = os.getcwd()
    history = shell.history_manager          # disabled (no database): its file is only named
    history.hist_file = history._get_hist_file_name()
    history.dir_hist[:] = [Path.cwd()]
    shell.home_dir = get_home_dir()
    shell.init_logger()


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--uid-per-kernel", action="store_true",
                        help="every kernel becomes a uid of its own (a zygote in bubblewrap)")
    parser.add_argument("--preload", action="append", default=[],
                        help="extra modules to import (a missing one is an error)")
    parser.add_argument("--no-plotting", action="store_true",
                        help="leave matplotlib out (a kernel that plots imports it itself)")
    opts = parser.parse_args()
    out = sys.stdout
    try:
        if not sys.platform.startswith("linux"):
            raise RuntimeError(f"needs Linux (fork, prctl, SO_PEERCRED); this is {sys.platform}")
        if opts.parent not in (os.getppid(), launcher.parent_of(os.getppid())):    # bwrap may sit between
            raise RuntimeError("started by another process than --parent")
        signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the grader's to handle
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        private_proc = _private_proc() if opts.uid_per_kernel else False
        started = time.perf_counter()
        missing = _preload(plotting=not opts.no_plotting)
        for name in opts.preload:
            importlib.import_module(name)
        for name in ("torch", "ipykernel.kernelapp"):
            if name in missing:
                raise RuntimeError(f"cannot import {name}: {missing[name]}")
        import_s = time.perf_counter() - started
        threads = len(os.listdir("/proc/self/task"))
        gc.collect()
        gc.freeze()
        listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listen.bind(opts.socket)
        os.chmod(opts.socket, 0o600)
        listen.listen(64)
        keep = {int(fd) for fd in os.listdir("/proc/self/fd")} - {listen.fileno()}
        zygote = Zygote(listen, opts.parent, keep, opts.uid_per_kernel)
        keep.discard(zygote.wake_r)
        keep.discard(zygote.wake_w)
        # The ready line is the last thing on stdout; later prints would be lost anyway.
        import torch
        out.write(json.dumps({"ready": True, "pid": os.getpid(), "import_s": round(import_s, 3),
                              "private_proc": private_proc,
                              "threads": threads, "torch": torch.__version__,
                              "missing": sorted(missing)}) + "\n")
        out.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except BaseException as exc:  # noqa: BLE001 - the grader falls back to fresh kernels
        out.write(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        traceback.print_exc()
        sys.exit(1)
    zygote.serve()
    # The grader is gone (or stopping us): leave nothing behind in its private folder.
    folder = os.path.dirname(os.path.abspath(opts.socket))
    if os.path.basename(folder).startswith("grader-zygote-"):
        import shutil
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
