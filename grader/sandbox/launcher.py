"""Kernel entry point: apply the sandbox, then run an IPython kernel under a tiny init.

Run as a script (stdlib only, it imports nothing of the grader) by the kernel
spec that `grader.sandbox.client` builds:

    python launcher.py -f CONNECTION_FILE

The limits arrive as JSON in the environment variable GRADER_SANDBOX, which
is removed before the kernel starts. ``python launcher.py --probe`` reports
what this machine allows (used once per grader process).

Process layout: this script stays as the parent of the kernel and makes
itself a *child subreaper*, so every process the student starts, even one
that calls `setsid()` and double-forks, stays inside this process's subtree.
The grader kills that subtree at the end (`grader.sandbox.reap`); when the
kernel exits on its own, this init kills what is left and exits with the
kernel's status, so the grader sees the kernel die.
"""

import ctypes
import ctypes.util
import json
import os
import resource
import signal
import sys

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


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


def apply(sandbox: dict) -> None:
    mib = 1024 * 1024
    # CUDA reserves huge address ranges, so with CUDA only the data segment is
    # limited; on CPU the whole address space is.
    memory_limit = "RLIMIT_DATA" if sandbox.get("cuda") else "RLIMIT_AS"
    set_limit(memory_limit, sandbox["memory_mb"] * mib)
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


def children_of(parent: int) -> list:
    """pids whose parent is `parent`, from every /proc/PID/stat (the name may hold spaces)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == parent:
                found.append(int(entry))
    return found


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


def run_init(argv: list[str]) -> int:
    _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    kernel = os.fork()
    if kernel == 0:
        die_with_parent()
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *argv])
    # Interrupts reach the kernel through the process group; the init ignores them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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


def main() -> None:
    if sys.argv[1:] == ["--probe"]:
        print(json.dumps({"network": isolate_network()}))
        return
    sandbox = json.loads(os.environ.pop("GRADER_SANDBOX"))
    apply(sandbox)
    sys.exit(run_init(sys.argv[1:]))


if __name__ == "__main__":
    main()
