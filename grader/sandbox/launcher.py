"""Kernel entry point: apply the sandbox, then run an IPython kernel under a tiny init.

Run as a script (stdlib only, it imports nothing of the grader) by the kernel
spec that `grader.sandbox.kernel` builds:

    python launcher.py -f CONNECTION_FILE

The limits arrive as JSON in the environment variable GRADER_SANDBOX, which
is removed before the kernel starts. ``python launcher.py --probe`` reports
what this machine allows (used once per grader process).

At the ``bwrap`` sandbox level the script runs twice: first outside, where it
moves itself into the kernel's cgroups and replaces itself with bubblewrap
(options through a pipe, so that bwrap's command line, which the student
can read as /proc/1/cmdline, holds nothing but the kernel command); then
inside, where it applies the limits and runs the kernel as below.

Process layout: this script stays as the parent of the kernel and makes
itself a *child subreaper*, so every process the student starts, even one
that calls `setsid()` and double-forks, stays inside this process's subtree.
The grader kills that subtree at the end (`kill_tree`); when the
kernel exits on its own, this init kills what is left and exits with the
kernel's status, so the grader sees the kernel die.

At the ``uid`` sandbox level (the grader is root, bubblewrap does not run)
the script, still root, enters a mount namespace of its own that hides the
course, the output and the submissions (`isolate_filesystem`, in mountns.py); the init stays
root and the kernel it forks becomes an unprivileged uid of its own
(`become_user`) before it execs.
"""

import ctypes
import functools
import ctypes.util
import json
import os
import resource
import signal
import sys

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


@functools.lru_cache(maxsize=None)   # find_library runs `ldconfig -p`: once per process, not per call
def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def isolate_network() -> bool:
    """Move this process into a fresh, empty network namespace (needs root/CAP_SYS_ADMIN)."""
    return _libc().unshare(CLONE_NEWNET) == 0


def die_with_parent() -> None:
    """SIGKILL this process when the grader that started it dies (kept across exec)."""
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def set_limit(name: str, soft: int, hard: int | None = None) -> None:
    kind = getattr(resource, name)
    hard = soft if hard is None else hard
    _, old_hard = resource.getrlimit(kind)
    if old_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, old_hard), min(hard, old_hard)
    resource.setrlimit(kind, (soft, hard))


def join_cgroups(dirs: list) -> None:
    """Move this process (and so everything it will start) into the kernel's cgroups."""
    for d in dirs:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def tasks_of_user(uid: int) -> int:
    """Threads of every process of `uid`: what RLIMIT_NPROC counts against."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    count += int(fields["Threads"])
            except (OSError, KeyError, ValueError):
                continue
    return count


def apply(sandbox: dict) -> None:
    mib = 1024 * 1024
    if sandbox.get("cgroups"):
        join_cgroups(sandbox["cgroups"])
    # CUDA reserves huge address ranges, so with CUDA only the data segment is
    # limited, and not even that where a memory cgroup counts real memory. On
    # CPU the address space stays limited even with a cgroup: a student's one
    # huge allocation then fails with a MemoryError in its cell instead of an
    # OOM kill of the kernel; the cgroup bounds what rlimits cannot (several
    # processes, files in the private /tmp).
    if not sandbox.get("cuda"):
        set_limit("RLIMIT_AS", sandbox["memory_mb"] * mib)
    elif sandbox.get("memory") != "cgroup":
        set_limit("RLIMIT_DATA", sandbox["memory_mb"] * mib)
    if sandbox.get("memory") != "cgroup" and os.getuid() != 0 and sandbox.get("max_processes"):
        # no pids cgroup: RLIMIT_NPROC counts all of this user's threads, so allow
        # what the user already runs plus the kernel's share (it never binds root)
        set_limit("RLIMIT_NPROC", tasks_of_user(os.getuid()) + sandbox["max_processes"])
    # RLIMIT_CPU counts the kernel's whole life: SIGXCPU at soft, SIGKILL at hard.
    set_limit("RLIMIT_CPU", sandbox["cpu_seconds"], sandbox["cpu_seconds"] + 5)
    set_limit("RLIMIT_FSIZE", sandbox["file_size_mb"] * mib)
    set_limit("RLIMIT_CORE", 0)
    set_limit("RLIMIT_NOFILE", 1024)
    if sandbox.get("network") == "isolate" and not isolate_network():
        sys.stderr.write("grader sandbox: could not isolate the network\n")
        sys.exit(97)
    die_with_parent()
    os.chdir(sandbox["workdir"])


#: a kernel at the ``uid`` level, and a warm kernel at the ``bwrap`` level, runs as
#: UID_BASE + its pid: a uid of its own, unique while it lives
UID_BASE = 2_000_000_000


# -- the ``uid`` level: a user and a mount namespace of the kernel's own (needs root) ----

def isolate_filesystem(spec: dict) -> None:
    """Enter a mount namespace of our own that hides the course, the output and the
    submissions and gives private scratch folders (mountns.py says how). Run as root,
    before `become_user`."""
    _mountns().isolate_filesystem(spec)


@functools.lru_cache(maxsize=None)
def _mountns():
    """mountns.py, loaded by path on first use (as the zygote loads this file): only the
    ``uid`` level needs it, and that level runs outside bubblewrap, where the file is there.
    Inside bubblewrap only launcher.py is bound, and nothing there calls this."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mountns.py")
    spec = importlib.util.spec_from_file_location("_grader_mountns", path)
    module = importlib.util.module_from_spec(spec)
    module._libc = _libc        # one libc loader (find_library runs ldconfig) per process
    spec.loader.exec_module(module)
    return module


def become_user(own: list, sandbox: dict) -> None:
    """Become uid UID_BASE + our pid (unique while we live), owner of the folders in `own`.

    Changing from uid 0 clears every capability; no_new_privs keeps setuid
    binaries from giving any back. The change also clears PDEATHSIG and the
    dumpable flag: re-arm the one, restore the other (a non-dumpable process
    cannot read its own /proc/self/fd)."""
    uid = UID_BASE + os.getpid()
    for top in own:
        # bottom up: without CAP_DAC_OVERRIDE we can no longer list a folder once it is not ours
        for folder, dirs, files in os.walk(top, topdown=False):
            for name in dirs + files:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
        os.chown(top, uid, uid, follow_symlinks=False)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    if sandbox.get("memory") != "cgroup" and sandbox.get("max_processes"):
        set_limit("RLIMIT_NPROC", sandbox["max_processes"])   # a new uid: counts this kernel only
    die_with_parent()


def enter_own_user(sandbox: dict) -> None:
    """The ``uid`` level, after `apply`: our own mount namespace, then our own uid."""
    isolate_filesystem(sandbox["uid"])
    become_own_user(sandbox)


def become_own_user(sandbox: dict) -> None:
    become_user([sandbox["uid"]["own"]], sandbox)
    os.chdir(sandbox["workdir"])


# /proc/PID/task/TID/children exists (CONFIG_PROC_CHILDREN): looked up once per process
_CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def parent_of(pid: int) -> int:
    """The parent pid from /proc/PID/stat (the command name may hold spaces); 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2:].split()[1])


def children_of(parent: int) -> list:
    """pids whose parent is `parent`: from /proc/PARENT/task/TID/children, one read per
    thread of `parent`, where the kernel has those files; else from every /proc/PID/stat,
    a few ms on a busy machine. The children files can miss a child forked during the
    read: `kill_tree` stops what it finds and walks again."""
    if not _CHILDREN_FILES:
        return _children_by_scan().get(parent, [])
    found = []
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{parent}/task/{tid}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def _children_by_scan() -> dict:
    """parent pid -> its children, for every process in /proc (one scan)."""
    children: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(parent_of(int(entry)), []).append(int(entry))
    return children


def kill_tree(root: int) -> int:
    """SIGSTOP then SIGKILL everything below `root`, then `root`; how many were killed.

    Stopped first, so that nothing can fork faster than we kill; repeated until a
    walk finds nothing new (a process re-parented mid-walk shows up next time).
    The grader calls it on a kernel's pid at the end of a submission, the zygote
    on the kernels it forked."""
    killed = set()
    for _ in range(20):
        # without the children files, one scan of /proc per walk, not one per process
        lookup = children_of if _CHILDREN_FILES else _children_by_scan().get
        todo, victims = [root], []
        while todo:
            for child in lookup(todo.pop()) or []:
                if child not in killed:
                    victims.append(child)
                todo.append(child)
        if not victims:
            break
        stop_then_kill(victims)
        killed.update(victims)
    try:
        os.kill(root, signal.SIGKILL)
    except OSError:
        pass
    return len(killed) + 1


def stop_then_kill(pids) -> None:
    """SIGSTOP every pid, then SIGKILL them: stopped processes cannot fork while we kill
    (a fork bomb would otherwise outrun a plain kill). Used by the grader (`kill_tree`,
    cgroup.py) and the zygote alike; gone or foreign processes are skipped."""
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def kill_all_descendants() -> None:
    """SIGKILL every process below this one (they are all ours: we are a subreaper)."""
    for _ in range(50):
        victims = children_of(os.getpid())
        if not victims:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:  # reap what died, then look again for re-parented grandchildren
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def run_init(argv: list[str], sandbox: dict | None = None) -> int:
    """Fork the kernel and stay above it as its init. At the ``uid`` level the init stays
    root (the kernel can neither signal it nor read its environment, which held the
    sandbox's settings) and only the kernel becomes its own uid."""
    _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    kernel = os.fork()
    if kernel == 0:
        die_with_parent()
        if sandbox and "uid" in sandbox:
            become_own_user(sandbox)
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    # Interrupts reach the kernel through the process group; the init ignores them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return init_until_kernel_exits(kernel)


def init_until_kernel_exits(kernel: int) -> int:
    """As the kernel's init: pass SIGTERM on to it, reap whatever is re-parented here, and
    once the kernel is gone kill everything left below; the kernel's exit code."""
    signal.signal(signal.SIGTERM, lambda *_: os.kill(kernel, signal.SIGTERM))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        except InterruptedError:
            continue
        if pid == kernel:
            kill_all_descendants()
            return os.waitstatus_to_exitcode(status) & 0xFF


def options_pipe(options: list) -> int:
    """The read end of a pipe holding bwrap's options, NUL-separated, for `bwrap --args FD`:
    not on a command line, which every process on the machine can read. ValueError where
    they would not fit in the pipe (64 KiB) before bwrap reads them."""
    data = b"".join(arg.encode() + b"\0" for arg in options)
    if len(data) > 60000:
        raise ValueError("too many bwrap options")
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def enter_bwrap(sandbox: dict, argv: list) -> None:
    """Outside bubblewrap: join the cgroups, then become bwrap running this script again."""
    spec = sandbox.pop("bwrap")
    join_cgroups(sandbox.pop("cgroups", None) or [])
    die_with_parent()
    os.environ.pop("JPY_PARENT_PID", None)   # with a PID namespace the kernel would think it orphaned
    os.environ["GRADER_SANDBOX"] = json.dumps(sandbox)   # what the inside needs, no bwrap options
    try:
        read = options_pipe(spec["options"])
    except ValueError as exc:
        sys.stderr.write(f"grader sandbox: {exc}\n")
        sys.exit(96)
    os.set_inheritable(read, True)
    os.execv(spec["exe"], [spec["exe"], "--args", str(read), sys.executable, os.path.abspath(__file__), *argv])


def probe_uid(sandbox: dict) -> None:
    """`--probe-uid`: the ``uid`` level for real, then this Python started as that uid
    must find the hidden folder empty and write into its own folder."""
    enter_own_user(sandbox)
    check = ("import json, os, site, sys; hidden = sys.argv[1]; "
             "assert not os.path.exists(hidden) or not os.listdir(hidden), 'the hidden folder shows'; "
             "open('ok', 'w').write('ok')")
    os.execv(sys.executable, [sys.executable, "-c", check, sandbox["uid"]["hide"][0]])


def main() -> None:
    if sys.argv[1:] == ["--probe"]:
        print(json.dumps({"network": isolate_network()}))
        return
    sandbox = json.loads(os.environ.pop("GRADER_SANDBOX"))
    if sys.argv[1:] == ["--probe-uid"]:
        probe_uid(sandbox)
    if "bwrap" in sandbox:
        enter_bwrap(sandbox, sys.argv[1:])
    apply(sandbox)
    if "uid" in sandbox:
        isolate_filesystem(sandbox["uid"])      # for the init and the kernel; the uid: the kernel only
    sys.exit(run_init(sys.argv[1:], sandbox))


if __name__ == "__main__":
    main()
