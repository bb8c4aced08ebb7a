"""Sandbox levels: which isolation runs here, detected once per grader process.

From strongest to weakest:

* ``bwrap``  bubblewrap: read-only system, a private working directory and
  /tmp, no network, the course's rubrics, solutions and the batch's output
  invisible, no capabilities; plus the limits. A fresh kernel also gets its own
  PID namespace. A warm kernel inherits the bubblewrap sandbox of the zygote it
  is forked from and runs as a uid of its own instead (it sees the machine's
  processes in /proc but can signal or read none of them; the kernels of one
  zygote share its /tmp and empty network namespace): see `warm`.
* ``netns``  the kernel in its own empty network namespace (`launcher.py`
  unshares it; needs root or CAP_SYS_ADMIN); plus the limits.
* ``limits`` resource limits only (memory, CPU time, file size, open files,
  processes) and a private working directory as cwd and HOME.

`execution.sandbox: auto` takes the best level that runs here; naming a
level that does not run here is a configuration error (`check_config`).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import typing as t
from pathlib import Path

Level = t.Literal["bwrap", "netns", "limits"]
LEVELS: tuple[Level, ...] = ("bwrap", "netns", "limits")    # strongest first
LAUNCHER = Path(__file__).with_name("launcher.py")

#: what a student's feedback says when the sandbox was weaker than bubblewrap
MEANING = {
    "netns": "your notebook ran with resource limits and without network access, "
             "but the filesystem was not sandboxed",
    "limits": "your notebook ran with resource limits only: the network and the filesystem were not sandboxed",
}


class LevelUnavailable(RuntimeError):
    """The sandbox level asked for does not run on this machine (the message says why)."""


@functools.lru_cache(maxsize=1)
def network_isolation_available() -> bool:
    """Whether `launcher.py` can put a kernel in its own network namespace here."""
    try:
        out = subprocess.run([sys.executable, str(LAUNCHER), "--probe"], capture_output=True,
                             text=True, timeout=30, check=False)
        return bool(json.loads(out.stdout or "{}").get("network"))
    except (OSError, ValueError, subprocess.SubprocessError):
        return False


def bwrap_status() -> tuple[bool, str]:
    """(True, "") where bubblewrap runs a Python with our flags, else (False, why)."""
    from grader.sandbox import bwrap       # deferred: the detector is what tests replace
    return bwrap.probe()


def warm_bwrap_status() -> tuple[bool, str]:
    """(True, "") where the warm kernels' zygote runs in bubblewrap with a uid per kernel."""
    ok, why = bwrap_status()
    if not ok:
        return ok, why
    from grader.sandbox import bwrap
    return bwrap.probe_zygote()


def available(level: str, *, warm: bool = False) -> tuple[bool, str]:
    if level == "bwrap":
        return warm_bwrap_status() if warm else bwrap_status()
    if level == "netns":
        return (True, "") if network_isolation_available() else (
            False, "cannot create a network namespace (needs root or CAP_SYS_ADMIN)")
    return True, ""


def resolve(requested: str, *, warm: bool = False) -> Level:
    """The level a kernel gets for `execution.sandbox` = `requested`.

    Warm kernels reach bwrap where their zygote can run in bubblewrap with a uid
    per kernel (`warm_bwrap_status`); elsewhere `auto` gives them the best level
    below it, and says so. A named level is checked for fresh kernels: a warm
    kernel that cannot reach it is started fresh (`SandboxedKernel`).
    """
    if requested != "auto":
        ok, why = available(requested)
        if not ok:
            raise LevelUnavailable(f"sandbox level '{requested}' does not run here: {why}")
        return t.cast(Level, requested)
    for level in LEVELS:
        if available(level, warm=warm)[0]:
            return level
    return "limits"


def check_config(requested: str, path: Path | str) -> None:
    """A level named in the config must run here: else one line naming the file and key."""
    if requested in ("auto", "limits"):
        return
    ok, why = available(requested)
    if not ok:
        from grader.errors import InputError
        raise InputError(path, f"sandbox level '{requested}' does not run on this machine ({why}); "
                         "use 'auto' to take the best level available", key="execution.sandbox")


def warning(sandbox: dict) -> str | None:
    """One line for the student's feedback when the sandbox was weaker than bubblewrap."""
    level = sandbox.get("level")
    if level not in MEANING:
        return None
    return f"Sandbox level '{level}': {MEANING[level]}."
