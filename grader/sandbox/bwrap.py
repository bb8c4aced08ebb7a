"""The bubblewrap view of the filesystem a kernel gets (the ``bwrap`` sandbox level).

What the kernel sees: the system (/usr, /etc, /lib*, /bin, /sbin) and this
Python's prefixes and site-packages, all read-only; its own working
directory and runtime directory (connection file, ipc sockets) read-write,
at the same paths as outside; a fresh /tmp, /dev and /proc. Nothing else:
the repository, the grader's HOME, the course's rubrics and solutions and the
batch's output folder are simply not there. Where a folder to hide lies
inside something bound (a course kept under the Python prefix, say), a tmpfs
covers it.

The options reach bwrap through a pipe (`--args FD`, see `launcher.py`), not
its command line: bwrap is PID 1 in the kernel's PID namespace, and its
`/proc/1/cmdline` is readable by the student.

Warm kernels get the same view from the zygote they are forked from, which
runs in bubblewrap itself (`zygote_options`; the scripts it binds: `warm_env.ZYGOTE_SCRIPTS`).
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from grader.sandbox.launcher import UID_BASE   # a forked warm kernel's uid is UID_BASE + its pid

SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: readable by root inside even without capabilities; nothing a kernel needs
UNREADABLE = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh")
NVIDIA_DEVICES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


def executable() -> str | None:
    return shutil.which("bwrap")


def python_roots() -> list[Path]:
    """Where this interpreter, its standard library and its packages live (what a kernel at
    the ``uid`` level must still reach)."""
    return list(_python_roots())


@functools.lru_cache(maxsize=1)   # asked for every kernel; the interpreter does not move
def _python_roots() -> list[Path]:
    """Where this interpreter, its standard library and its packages live."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(site.getsitepackages())
    paths.update(p for key in ("stdlib", "platstdlib", "purelib", "platlib")
                 if (p := sysconfig.get_path(key)))
    return [Path(p) for p in paths if p and os.path.isdir(p)]


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop every path inside another one of the list (binding the outer one covers it)."""
    kept: list[Path] = []
    for p in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(p == k or k in p.parents for k in kept):
            kept.append(p)
    return kept


@functools.lru_cache(maxsize=1)   # asked for several times per kernel; the system does not move
def readonly_roots() -> tuple[Path, ...]:
    """Real paths bound read-only (symlinked system folders are recreated as links)."""
    roots = [Path(os.path.realpath(p)) for p in SYSTEM if os.path.exists(p)]
    roots += [Path(os.path.realpath(p)) for p in _python_roots()]
    return tuple(_outermost(roots))


def _under_tmp(path: Path) -> bool:
    """Inside /tmp, which every sandbox covers with a fresh tmpfs."""
    return path.parts[:2] == ("/", "tmp") and path != Path("/tmp")


def _system_links() -> list[str]:
    """/bin -> usr/bin and friends on merged-/usr systems: links, as on the host."""
    args: list[str] = []
    for p in SYSTEM:
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
    return args


def options(*, workdir: Path, runtime: Path, launcher: Path, hide: tuple[Path, ...] = (),
            network: bool = False, cuda: bool = False, tmp_mb: int = 256) -> list[str]:
    """bwrap's options (no command) for one fresh kernel. Order matters: later mounts cover earlier ones."""
    args = view(writable=(workdir, runtime), scripts=(launcher,), hide=hide, cuda=cuda, tmp_mb=tmp_mb)
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if not network:
        args.append("--unshare-net")
    return args


def view(*, writable: tuple[Path, ...], scripts: tuple[Path, ...], hide: tuple[Path, ...] = (),
         cuda: bool = False, tmp_mb: int = 256, tmp_perms: str | None = None) -> list[str]:
    """The filesystem every sandboxed kernel sees, fresh or warm (the zygote's sandbox, see
    `zygote_options`): the read-only roots, a fresh /dev, /proc and /tmp (`tmp_perms`: its
    mode, e.g. 1777 where kernels of several uids share it), `writable` folders and the
    grader's own `scripts` at the same paths as outside; nothing else."""
    roots = readonly_roots()
    args: list[str] = []
    # kernels of other uids: the folders bwrap makes above each mount must let them pass.
    # Those under /tmp are made again after the fresh /tmp covers them (a checkout kept
    # under /tmp: else bwrap makes them 0700 and the kernel gets EACCES, not ENOENT).
    above = sorted({a for p in (*roots, *writable, *scripts) for a in p.parents if a != Path("/")},
                   key=lambda a: len(a.parts)) if tmp_perms else []
    in_tmp = [a for a in above if _under_tmp(a)]
    for folder in above:
        args += ["--perms", "0755", "--dir", str(folder)]
    # Python found through a symlinked prefix (a venv, pyenv shims): the path it was started by
    links = [(Path(os.path.realpath(p)), p) for p in _python_roots()
             if str(p) != os.path.realpath(p) and not any(p == r or r in p.parents for r in roots)]
    # What lies under /tmp (a venv, an interpreter unpacked there) is bound after the fresh
    # /tmp, which would otherwise cover it: bwrap would then find no Python to run.
    bind_now = [(r, r) for r in roots if not _under_tmp(r)] + [(s, d) for s, d in links if not _under_tmp(d)]
    bind_later = [(r, r) for r in roots if _under_tmp(r)] + [(s, d) for s, d in links if _under_tmp(d)]
    for source, dest in bind_now:
        args += ["--ro-bind", str(source), str(dest)]
    args += _system_links()
    args += ["--dev", "/dev", "--proc", "/proc", "--size", str(tmp_mb * 1024 * 1024)]
    args += (["--perms", tmp_perms] if tmp_perms else []) + ["--tmpfs", "/tmp"]
    for folder in in_tmp:
        args += ["--perms", "0755", "--dir", str(folder)]
    for source, dest in bind_later:
        args += ["--ro-bind", str(source), str(dest)]
    if cuda:   # the driver's device nodes and what it reads about them
        args += [a for name in NVIDIA_DEVICES + tuple(sorted(_gpus()))
                 for a in ("--dev-bind", f"/dev/{name}", f"/dev/{name}") if os.path.exists(f"/dev/{name}")]
        args += ["--ro-bind", "/sys", "/sys"]
    args += covers((*(Path(p) for p in UNREADABLE), *hide))
    for own in writable:
        args += ["--bind", str(own), str(own)]
    for script in scripts:
        args += ["--ro-bind", str(script), str(script)]
    return args


#: what the zygote keeps so that each forked kernel can become its own user (and the
#: zygote can still kill it; DAC_READ_SEARCH: a restarted kernel takes over folders that
#: the uid of the kernel before it owns); a kernel loses all of them when it changes its uid.
#: SYS_ADMIN only mounts the /proc on which a kernel sees its own processes alone; the
#: zygote drops it before it imports anything (`zygote._private_proc`)
ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN")


def zygote_options(*, base: Path, scripts: tuple[Path, ...], hide: tuple[Path, ...] = (),
                   network: bool = False, tmp_mb: int = 256) -> list[str]:
    """bwrap's options for the warm kernels' zygote (see `grader.sandbox.warm`, `warm_env`).

    The same view as a fresh kernel's, with `base` (the grader process's folder of
    warm kernels: the zygote's socket, each kernel's workdir and runtime folder)
    read-write and /tmp shared by the zygote's kernels (1777). No PID namespace:
    the grader keeps killing kernel trees by their pids (`launcher.kill_tree`, the
    zygote's own kill), which a namespace would renumber. Instead every kernel runs as
    its own unprivileged uid (`zygote.py`), which keeps it from signalling, tracing or
    reading the grader, the zygote and the other kernels, and the zygote mounts a /proc
    on which each kernel sees only its own processes.
    """
    args = view(writable=(base,), scripts=scripts, hide=hide, tmp_mb=tmp_mb, tmp_perms="1777")
    # No --die-with-parent: it fires when the *thread* that started bwrap ends (`warm.prestart`
    # starts the zygote from a short-lived one). The zygote exits, killing its kernels, when
    # its stdin, a pipe from the grader, closes: that is, when the grader is gone.
    args += ["--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--new-session",
             "--cap-drop", "ALL"]
    for cap in ZYGOTE_CAPS:
        args += ["--cap-add", cap]
    if not network:
        args.append("--unshare-net")
    return args


def _gpus() -> list[str]:
    try:
        return [n for n in os.listdir("/dev") if n.startswith("nvidia") and n[6:].isdigit()]
    except OSError:
        return []


def covers(hide: tuple[Path, ...]) -> list[str]:
    """Mounts that blank out each hidden path lying inside a bound root (others are not there)."""
    roots = readonly_roots()
    args: list[str] = []
    for path in hide:
        real = Path(os.path.realpath(path))
        if not real.exists() or not any(real == r or r in real.parents for r in roots):
            continue
        if any(real == r or real in r.parents for r in roots):
            continue      # a bound root itself (a config kept in /usr, say): covering it would hide Python
        if real.is_dir():
            args += ["--tmpfs", str(real)]
        else:
            args += ["--ro-bind", "/dev/null", str(real)]
    return args


@functools.lru_cache(maxsize=1)
def probe() -> tuple[bool, str]:
    """(True, "") if bwrap runs this Python with the kernel's options here, else (False, why).
    Once per grader process (about 50 ms)."""
    exe = executable()
    if exe is None:
        return False, "bwrap (bubblewrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="grader-bwrap-probe-") as tmp:
        work, rt = Path(tmp, "work"), Path(tmp, "rt")
        work.mkdir()
        rt.mkdir()
        launcher = Path(__file__).with_name("launcher.py")
        cmd = [exe, *options(workdir=work, runtime=rt, launcher=launcher),
               sys.executable, "-c", "import site, json; open('ok', 'w').write('ok')"]
        return _try(cmd, work / "ok", "bwrap failed", cwd=work, scrub=tmp)


def _try(cmd: list[str], sentinel: Path, failed: str, cwd: str | Path | None = None,
         scrub: str = "") -> tuple[bool, str]:
    """Run a probe in bwrap: (True, "") when it exits 0 and wrote `sentinel`, else (False, why).
    `scrub`: the probe's temporary folder, named as such in `why` (results record the reason,
    and must be the same bytes on every run)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False, cwd=cwd,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"bwrap failed to run: {exc}"
    if out.returncode != 0 or not sentinel.exists():
        why = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return False, f"{failed}: {why.replace(scrub, '<probe folder>') if scrub else why}"
    return True, ""



_BECOME_USER = f"""
import os
uid = {UID_BASE} + os.getpid()
os.chown("own", uid, uid)
os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
import sys
os.listdir(os.path.dirname(os.__file__))    # the new uid can still reach this Python
open("own/ok", "w").write("ok")
"""


@functools.lru_cache(maxsize=1)
def probe_zygote() -> tuple[bool, str]:
    """(True, "") if the warm kernels' zygote can run in bubblewrap here and give each kernel
    a uid of its own (needs real root: an unprivileged bwrap maps a single uid), else
    (False, why). Once per grader process (about 50 ms). Its bwrap runs while `probe`'s
    does, where that one has not run yet: two Python starts in bubblewrap, at once (the
    warm kernels' parent starts after both; `grader grade` asks for this one first)."""
    if os.geteuid() != 0 or executable() is None:
        ok, why = probe()
        return (ok, why) if not ok else (False, "a uid per warm kernel needs the grader to run as root")
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="grader-bwrap-probe") as pool:
        own = pool.submit(_probe_uid_per_kernel)
        ok, why = probe()
        return own.result() if ok else (ok, why)


def _probe_uid_per_kernel() -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="grader-bwrap-probe-") as tmp:
        os.chmod(tmp, 0o711)        # as the kernels' folder (`warm.kernels_dir`): passable, not listable
        own = Path(tmp, "own")
        own.mkdir()
        cmd = [executable() or "bwrap", *zygote_options(base=Path(tmp), scripts=()),
               "--chdir", tmp, sys.executable, "-c", _BECOME_USER]
        return _try(cmd, own / "ok", "bwrap with a uid per kernel failed", scrub=tmp)
