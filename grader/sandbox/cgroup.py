"""One cgroup per kernel: a memory limit and a process limit that bind even root.

RLIMIT_NPROC does not bind root (not even with every capability dropped) and
RLIMIT_AS counts address space per process, not memory, per tree; a cgroup's
`pids.max` and memory limit count the kernel's whole tree, however it forks.

cgroup v2 is preferred (one folder, `cgroup.kill`); v1 with the memory and
pids controllers (two folders) otherwise. The grader creates the folders
under its own cgroup, `launcher.py` moves the kernel into them before it
runs anything of the student's, and `KernelCgroup.destroy` kills what is
inside and removes them. Where no cgroup can be written (not root, no
delegation), `available()` says so and the kernel keeps its rlimits only.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import subprocess
import threading
import time
import typing as t
from pathlib import Path

from grader.sandbox.launcher import stop_then_kill

ROOT = Path("/sys/fs/cgroup")
_serial = itertools.count()


def _own_paths() -> dict[str, str]:
    """controller ("" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            found[name] = path
    return found


@functools.lru_cache(maxsize=1)   # set up once per process (it also enables the controllers)
def _v2_base() -> Path | None:
    """Our v2 cgroup, if it can hold children with the memory and pids controllers."""
    own = _own_paths().get("")
    for mount in (ROOT, ROOT / "unified"):
        if own is None or not (mount / "cgroup.controllers").is_file():
            continue
        base = mount / own.lstrip("/")
        try:
            if {"memory", "pids"} <= set((base / "cgroup.controllers").read_text().split()):
                (base / "cgroup.subtree_control").write_text("+memory +pids")
                return base
        except OSError:
            continue
    return None


@functools.lru_cache(maxsize=1)
def _v1_bases() -> list[Path] | None:
    own = _own_paths()
    bases = []
    for name in ("memory", "pids"):
        mount = ROOT / name
        if name not in own or not (mount / "cgroup.procs").is_file():
            return None
        bases.append(mount / own[name].lstrip("/"))
    return bases


class KernelCgroup:
    """The cgroup folders of one kernel (one for v2, memory + pids for v1)."""

    def __init__(self, dirs: list[Path], version: int):
        self.dirs = dirs
        self.version = version

    @classmethod
    def create(cls, memory_mb: int, max_processes: int, *, version: int | None = None) -> KernelCgroup:
        """New folders with the limits written; OSError where that is not allowed."""
        version = version or available()
        if version == 0:
            raise OSError("no writable cgroup hierarchy")
        name = f"grader-{os.getpid()}-{next(_serial)}"
        if version == 2:
            base = _v2_base()
            assert base is not None
            group = cls([base / name], 2)
        else:
            group = cls([b / name for b in _v1_bases() or []], 1)
        for d in group.dirs:
            d.mkdir()
        try:
            group.limit(memory_mb, max_processes)
        except OSError:
            group.destroy()
            raise
        return group

    def limit(self, memory_mb: int, max_processes: int) -> None:
        """Write the limits (again, for a pooled group: a kernel run as root may have
        changed them); OSError where a limit cannot be written."""
        limit = str(memory_mb * 1024 * 1024)
        if self.version == 2:
            files = {"memory.max": limit, "memory.swap.max": "0", "pids.max": str(max_processes)}
        else:
            # memsw (memory + swap) must not be below the memory limit: write it second
            files = {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit,
                     "pids.max": str(max_processes)}
        for file, value in files.items():
            target = next((d / file for d in self.dirs if (d / file).exists()), None)
            if target is not None:
                target.write_text(value)
            elif file in ("memory.max", "memory.limit_in_bytes", "pids.max"):
                raise OSError(f"cgroup has no {file}")

    def reusable(self) -> bool:
        """Empty, and nothing made inside it (a kernel run as root can make child groups)."""
        try:
            return not self.procs() and all(d.is_dir() and not any(p.is_dir() for p in d.iterdir())
                                            for d in self.dirs)
        except OSError:
            return False

    def procs(self) -> list[int]:
        pids: set[int] = set()
        for d in self.dirs:
            try:
                pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(pids)

    def kill(self, timeout: float = 5.0) -> None:
        """Kill every process inside and wait until the cgroup is empty."""
        kill_file = self.dirs[0] / "cgroup.kill"
        deadline = time.monotonic() + timeout
        pause = 0.0005      # a killed kernel is gone in a few ms; a fork bomb takes longer
        while (pids := self.procs()) and time.monotonic() < deadline:
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            else:   # v1: stop first, so nothing forks between our reads and kills
                stop_then_kill(pids)
            time.sleep(pause)
            pause = min(2 * pause, 0.01)

    def destroy(self) -> None:
        """Kill what is left and remove the folders (a dying process may hold them a moment)."""
        self.kill()
        for d in self.dirs:
            for _ in range(600):     # a killed kernel not yet reaped keeps its cgroup busy
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)


class Pool:
    """Emptied kernel cgroups of this process, kept for its next kernels: a kernel's close
    then only kills (`release`), and the next kernel's start writes three limits instead
    of making folders; removing a memory cgroup also waits until its last process is
    reaped. A group is reused only when it is empty, holds no child group and takes the
    limits again; a batch empties the pool when its last kernel is closed (so does the
    process's exit, and `_remove_stale` removes the groups of a grader that could not)."""

    def __init__(self, size: int = 8):
        self.size = size
        self.free: list[KernelCgroup] = []
        self.lock = threading.Lock()

    def take(self, memory_mb: int, max_processes: int) -> KernelCgroup:
        """A pooled group with these limits, or a new one (OSError where none can be made)."""
        while True:
            with self.lock:
                group = self.free.pop() if self.free else None
            if group is None:
                return KernelCgroup.create(memory_mb, max_processes)
            try:
                if group.reusable():
                    group.limit(memory_mb, max_processes)
                    return group
            except OSError:
                pass
            group.destroy()

    def release(self, group: KernelCgroup) -> None:
        """Kill what is inside and keep the group for the next kernel (or remove it)."""
        group.kill()
        with self.lock:
            if len(self.free) < self.size and group.reusable():
                self.free.append(group)
                return
        group.destroy()

    def clear(self) -> None:
        with self.lock:
            groups, self.free = self.free, []
        for group in groups:
            group.destroy()


pool = Pool()
atexit.register(pool.clear)


def _remove_stale(bases: list[Path]) -> None:
    """Empty kernel cgroups of grader processes that are gone (killed before their cleanup)."""
    for base in bases:
        for d in base.glob("grader-*-*"):
            owner = d.name.split("-")[1]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                try:
                    d.rmdir()        # fails, harmlessly, while anything still runs inside
                except OSError:
                    pass


@functools.lru_cache(maxsize=1)
def available() -> int:
    """2 or 1 where a kernel cgroup can be created, limited and joined here; 0 where not.
    Tried for real once per grader process (a few ms)."""
    for version in (2, 1):
        bases = [_v2_base()] if version == 2 else _v1_bases()
        if bases is None or None in bases:
            continue
        _remove_stale(t.cast(list, bases))
        try:
            group = KernelCgroup.create(64, 16, version=version)
        except OSError:
            continue
        try:
            joined = subprocess.run(
                ["/bin/sh", "-c", " && ".join(f"echo $$ > {d}/cgroup.procs" for d in group.dirs)],
                capture_output=True, timeout=10, check=False).returncode == 0
        except (OSError, subprocess.SubprocessError):
            joined = False
        finally:
            group.destroy()
        if joined:
            return version
    return 0
