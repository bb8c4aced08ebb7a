"""Warm parent ("zygote") for sandboxed kernels: import once, fork one kernel per request.

Run as its own process by `grader.sandbox.zygote_handle` (stdlib only at module level;
it imports nothing of the grader and is run as a script, with a clean
environment):

    python zygote.py --socket DIR/zygote.sock --parent GRADER_PID [--uid-per-kernel] [--no-plotting] [--cotangents]

It imports torch, numpy, ipykernel, IPython and matplotlib (inline backend;
not with --no-plotting), builds the kernels' IPython shell once (each kernel
adopts it, `zygote_child._adopt_shell`: about 20 ms less per start) and then *computes
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

The process is three files, each loaded by path (the zygote's bubblewrap binds
them, and launcher.py, one by one: `warm_env.ZygoteSandbox.options`):

* this script: the start (imports, the shell built once, `gc.freeze`, the
  private /proc of a zygote in bubblewrap) and the ready line; what can wait
  (a kernel's first traceback, set up once) runs once it is idle;
* `zygote_server.py`: the serving loop (accept, fork, signal, kill, reap);
* `zygote_child.py`: what a forked child does before it is a kernel (cgroups,
  rlimits and network as `launcher.apply`, a uid of its own, the process layout
  "direct" or "init") and the kernel's start.

The grader's side (start, stop, ask for a kernel) is `grader.sandbox.zygote_handle`.
Either way, the grader's kill (the zygote's, or `launcher.kill_tree` on PID)
stops and kills the whole subtree. The zygote exits when its stdin (a pipe
from the grader) reaches EOF, i.e. when the grader is gone, killing and
reaping every kernel tree it still has first.
"""

import gc
import importlib.util
import json
import os
import signal
import socket
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))

# Run as a script: our own folder must not be importable from the kernels
# (`import launcher`, `import kernel` would find grader internals).
if sys.path and os.path.abspath(sys.path[0] or ".") == HERE:
    del sys.path[0]


def _load(name: str, **siblings):
    """Import a sibling stdlib-only module by path (not through the grader package), with
    the `siblings` it uses set as its globals before it runs: they are not in sys.modules,
    so that no kernel can `import` them by name."""
    spec = importlib.util.spec_from_file_location(f"_grader_zygote_{name}", os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(siblings)
    spec.loader.exec_module(module)
    return module


launcher = _load("launcher")
cells = _load("cells_kernel_side")
child = _load("zygote_child", launcher=launcher, cells=cells)
server = _load("zygote_server", launcher=launcher, child=child)
#: the kernel options the shell is prebuilt for (a test holds them equal to the client's)
PREBUILT_OPTIONS = child.PREBUILT_OPTIONS

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
#: what torch imports the first time a backward pass is handed a cotangent (`y.backward(v)`,
#: `torch.autograd.grad(y, x, v)`): torch.fx's symbolic shapes and sympy, 480 modules, about
#: 0.3 s that each kernel doing it paid again. With --cotangents only (a batch where a notebook
#: may do it): in the zygote they cost every kernel about 1,000 more copy-on-write page faults
COTANGENTS = ("torch.fx.experimental.symbolic_shapes",)
CAP_SYS_ADMIN = 21
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_SLAVE = 2, 4, 8, 1 << 14, 1 << 19
CLONE_NEWNS = 0x00020000


# -- the zygote's start --------------------------------------------------------------------

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


def _preload(plotting: bool = True, cotangents: bool = False) -> dict:
    missing = {}
    for name in PRELOAD + (COTANGENTS if cotangents else ()):
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
    try:
        launcher._mountns()              # the ``uid`` level's mount code: once, here, not per kernel
    except OSError:
        pass                             # in bubblewrap, where that level never runs, it is not bound
    child.prebuild_shell()              # the kernels' IPython shell, built once
    cells.faster_cell_names()           # and the hash that names each cell's code


def _arguments():
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
    parser.add_argument("--cotangents", action="store_true",
                        help="import what a backward pass handed a cotangent needs (COTANGENTS)")
    return parser.parse_args()


def _get_ready(opts):
    """Everything before serving: checks, imports, the frozen heap, the listening socket.
    Returns the server and the ready line's facts; raises where the zygote cannot serve."""
    if not sys.platform.startswith("linux"):
        raise RuntimeError(f"needs Linux (fork, prctl, SO_PEERCRED); this is {sys.platform}")
    if opts.parent not in (os.getppid(), launcher.parent_of(os.getppid())):    # bwrap may sit between
        raise RuntimeError("started by another process than --parent")
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the grader's to handle
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    private_proc = _private_proc() if opts.uid_per_kernel else False
    started = time.perf_counter()
    # No collection while importing: the collector ran some 500 times over the growing heap
    # (three full passes), about 0.3 s of the batch's start, which waits for this ready line,
    # to free some 8,000 objects. What the imports made is frozen below, garbage and all (a few
    # MB, shared by every kernel), and collection is back on before any kernel is forked.
    gc.disable()
    missing = _preload(plotting=not opts.no_plotting, cotangents=opts.cotangents)
    for name in opts.preload:
        importlib.import_module(name)
    for name in ("torch", "ipykernel.kernelapp"):
        if name in missing:
            raise RuntimeError(f"cannot import {name}: {missing[name]}")
    import_s = time.perf_counter() - started
    threads = len(os.listdir("/proc/self/task"))
    gc.freeze()
    gc.enable()         # a kernel collects as a fresh Python does
    listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listen.bind(opts.socket)
    os.chmod(opts.socket, 0o600)
    listen.listen(64)
    keep = {int(fd) for fd in os.listdir("/proc/self/fd")} - {listen.fileno()}
    # a kernel's first traceback, set up here once the zygote is idle (a quarter of a second
    # that the batch's first kernels would otherwise wait for)
    zygote = server.ZygoteServer(listen, opts.parent, keep, opts.uid_per_kernel, idle=(child.warm_tracebacks,))
    keep.discard(zygote.wake_r)
    keep.discard(zygote.wake_w)
    import torch
    return zygote, {"ready": True, "pid": os.getpid(), "import_s": round(import_s, 3),
                    "private_proc": private_proc, "threads": threads, "torch": torch.__version__,
                    "missing": sorted(missing)}


def main() -> None:
    opts = _arguments()
    out = sys.stdout
    try:
        zygote, ready = _get_ready(opts)
        # The ready line is the last thing on stdout; later prints would be lost anyway.
        out.write(json.dumps(ready) + "\n")
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
