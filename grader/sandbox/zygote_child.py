"""The zygote's forked child: set itself up as a sandboxed kernel, then become that kernel.

Loaded by path by `zygote.py` (stdlib only at module level; never imported through
the grader package) and run only in a process the zygote server just forked
(`run_child`). Per request the child applies the sandbox exactly as `launcher.py`
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

The kernel's IPython shell is built once in the zygote (`prebuild_shell`, before
serving) and adopted by each kernel (`_adopt_shell`): the shell state is module
state here, so it must live in the module the kernel runs.
"""

import contextlib
import os
import re
import signal
import sys
import traceback
import types

# launcher.py's and cells_kernel_side.py's modules, handed over by `zygote._load` before this
# runs: siblings loaded by path, not importable by name (see zygote.py).
launcher = globals()["launcher"]
cells = globals()["cells"]


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


class _SysWithoutModules:
    """`sys` as `ipykernel.ipkernel` sees it while the kernel is built: every attribute is the
    real one, but `sys.modules.copy()` is empty."""

    modules = types.SimpleNamespace(copy=dict)

    def __getattr__(self, name):
        return getattr(sys, name)


@contextlib.contextmanager
def _no_module_list():
    """IPythonKernel.__init__ lists the file of every module in `sys.modules` (1,700 of them,
    torch's), for its debugger only (which a grading kernel never starts). In a forked kernel
    that walk writes the reference count of every inherited module object and file name: about
    1,700 copy-on-write page faults, 5 ms of each kernel's start. Within this block the kernel
    finds no modules to list; anything else `ipykernel.ipkernel` reads of `sys` is the real one
    (an ipykernel that no longer names `sys` there is left alone)."""
    import ipykernel.ipkernel as ipkernel

    if getattr(ipkernel, "sys", None) is not sys:
        yield
        return
    ipkernel.sys = _SysWithoutModules()
    try:
        yield
    finally:
        ipkernel.sys = sys


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
        with _no_module_list():
            app.initialize(args)
        if prebuilt:
            _adopt_shell(app.kernel)
        try:
            # a notebook's cells on one message (the grader falls back without)
            connection = getattr(app, "abs_connection_file", None) or os.path.abspath(app.connection_file)
            cells.install(app.kernel, os.path.dirname(connection))
        except Exception:  # noqa: BLE001 - an optimisation only
            traceback.print_exc()
        # traitlets leaves the app's logger at DEBUG and filters in its handler: every debug line
        # (four per request) was a log record built and thrown away
        app.log.setLevel(app.log_level)
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


def _set_up(req: dict, fds: list, keep: set, uid_per_kernel: bool) -> None:
    """The request's descriptors, cgroups, session, environment and sandbox, in that order:
    the cgroups before anything else runs, the uid change last (it drops what the rest needs)."""
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


def _stay_as_init(args: list, threads) -> int:
    """Layout "init": fork the kernel and stay above it, as `launcher.run_init` does;
    the kernel's exit code once it is gone and everything below it killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # interrupts are for the kernel
    init = os.getpid()
    kernel = os.fork()
    if kernel == 0:
        _become_kernel(args, threads, init)
    return launcher.init_until_kernel_exits(kernel)


def run_child(req: dict, fds: list, keep: set, zygote: int, uid_per_kernel: bool) -> None:
    """Runs in the process forked for a request; never returns.

    Applies the sandbox as `launcher.py` does (`_set_up`), makes itself a child
    subreaper, then either becomes the kernel ("direct") or forks it and stays as its
    init ("init", as `launcher.run_init`).
    """
    code = 98
    try:
        _set_up(req, fds, keep, uid_per_kernel)
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
        code = _stay_as_init(args, threads)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        os._exit(code)


# -- the kernel's IPython shell, built once ----------------------------------------------------

#: the kernel options the grader gives every kernel (grader.sandbox.notebook_client.KERNEL_OPTIONS; a
#: test holds the two equal): a kernel given exactly these takes the shell built here
PREBUILT_OPTIONS = ("--HistoryManager.enabled=False",)
_prebuilt = False


def prebuild_shell() -> None:
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


def warm_tracebacks() -> None:
    """Show one traceback with the prebuilt shell's formatter, here, once. A kernel's first
    traceback (a cell that raises) otherwise sets up what every later one reuses: pygments
    compiles its Python lexer's regexes, and `executing` parses every file on the stack,
    IPython's 3,900-line `interactiveshell.py` among them (its `run_code` frame is in every
    cell's traceback): about 150 ms of that kernel's CPU, 30 ms once set up. The same bytes
    come out either way. The throwaway source is taken out of `linecache` again; the library
    sources read stay there, as a kernel's own first traceback would leave them."""
    import linecache

    if not _prebuilt:
        return
    name, source = "<grader-zygote-warm-up>", "def f():\n    return undefined_name\n\n\nf()\n"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    try:
        from IPython.core import interactiveshell, ultratb
        from ipykernel.zmqshell import ZMQInteractiveShell

        # the parser IPython's tracebacks use (stack_data, over executing), as ultratb found it
        stack_source = getattr(getattr(ultratb, "stack_data", None), "Source", None)
        if stack_source is not None:
            stack_source.for_filename(interactiveshell.__file__)
        try:
            exec(compile(source, name, "exec"), {})
        except NameError:
            ZMQInteractiveShell.instance().InteractiveTB.structured_traceback(*sys.exc_info(), tb_offset=1)
    except Exception:  # noqa: BLE001 - an optimisation only
        traceback.print_exc()
    finally:
        linecache.cache.pop(name, None)


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
