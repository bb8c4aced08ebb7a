"""Sandbox levels: which isolation runs here, detected once per grader process.

From strongest to weakest:

* ``bwrap``  bubblewrap: read-only system, a private working directory and
  /tmp, no network, the course's rubrics, solutions and the batch's output
  invisible, no capabilities; plus the limits. A fresh kernel also gets its own
  PID namespace. A warm kernel inherits the bubblewrap sandbox of the zygote it
  is forked from and runs as a uid of its own instead (it sees the machine's
  processes in /proc but can signal or read none of them; the kernels of one
  zygote share its /tmp and empty network namespace): see `warm`. Needs
  bubblewrap and user namespaces (or root).
* ``uid``    no bubblewrap, but the grader is root: each kernel runs as an
  unprivileged uid of its own (UID_BASE + its pid, no capabilities,
  no_new_privs), in a mount namespace of its own in which the course's
  rubrics, solutions and config folder, the batch's output and the
  submissions' folders are empty root-owned tmpfs (neither readable nor
  writable), /tmp, /var/tmp and /dev/shm are private and empty, and /proc
  shows its own processes only; plus its own network namespace and the
  limits (`launcher.enter_own_user`; warm kernels: the zygote's child does
  the same). Needs root.
* ``netns``  the kernel in its own empty network namespace (`launcher.py`
  unshares it; needs root or CAP_SYS_ADMIN); plus the limits. The filesystem
  is open: a *weak* level.
* ``limits`` resource limits only (memory, CPU time, file size, open files,
  processes) and a private working directory as cwd and HOME. A *weak* level.

`execution.sandbox: auto` takes the best level that runs here; naming a
level that does not run here is a configuration error (`check_config`).
`grader grade` refuses to grade at a weak level unless it was named
(`--sandbox`, `execution.sandbox`): see `gate`.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

from grader.errors import InputError

Level = t.Literal["bwrap", "uid", "netns", "limits"]
LEVELS: tuple[Level, ...] = ("bwrap", "uid", "netns", "limits")    # strongest first
#: levels at which a kernel can read the course's files: graded at only when named
WEAK: tuple[Level, ...] = ("netns", "limits")
LAUNCHER = Path(__file__).with_name("launcher.py")

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
    from grader.sandbox import bwrap     # with the launcher and ctypes: only where a level is probed
    return bwrap.probe()


def warm_bwrap_status() -> tuple[bool, str]:
    """(True, "") where the warm kernels' zygote runs in bubblewrap with a uid per kernel."""
    ok, why = bwrap_status()
    if not ok:
        return ok, why
    from grader.sandbox import bwrap     # as in bwrap_status
    return bwrap.probe_zygote()


@functools.lru_cache(maxsize=1)
def uid_status() -> tuple[bool, str]:
    """(True, "") where a kernel can run as a uid of its own in a mount namespace of its
    own (`launcher.enter_own_user`), tried for real once per grader process (about 50 ms);
    else (False, why)."""
    if os.geteuid() != 0:
        hint = " (passwordless sudo works: `grader grade` runs itself again with sudo)" if sudo_works() else ""
        return False, "a uid and a mount namespace per kernel need the grader to run as root" + hint
    from grader.sandbox import bwrap     # as in bwrap_status
    with tempfile.TemporaryDirectory(prefix="grader-uid-probe-") as tmp:
        own, hidden = Path(tmp, "own"), Path(tmp, "hidden")
        (own / "work").mkdir(parents=True)
        hidden.mkdir()
        (hidden / "secret").write_text("course")
        sandbox = {"workdir": str(own / "work"), "uid": {
            "hide": [str(hidden)], "keep": [str(p) for p in bwrap.python_roots()], "own": str(own), "tmp_mb": 16}}
        try:
            out = subprocess.run([sys.executable, str(LAUNCHER), "--probe-uid"], capture_output=True, text=True,
                                 timeout=30, check=False, cwd=own / "work",
                                 env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                      "GRADER_SANDBOX": json.dumps(sandbox)})
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"the uid probe did not run: {exc}"
        if out.returncode == 0 and (own / "work" / "ok").exists():
            return True, ""
        why = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return False, "a kernel as a uid of its own failed: " + why.replace(tmp, "<probe folder>")


def sudo_works() -> bool:
    try:
        return subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def available(level: str, *, warm: bool = False) -> tuple[bool, str]:
    if level == "bwrap":
        return warm_bwrap_status() if warm else bwrap_status()
    if level == "uid":
        return uid_status()
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
    return decide(requested, warm=warm)[0]


def decide(requested: str, *, warm: bool = False) -> tuple[Level, str]:
    """(level, why) for `execution.sandbox` = `requested`: the level a kernel gets and the
    reason, in words that are the same on every run on this machine (results record them)."""
    if requested != "auto":
        ok, why = available(requested)
        if not ok:
            raise LevelUnavailable(f"sandbox level '{requested}' does not run here: {why}")
        return t.cast(Level, requested), f"named in the configuration or with --sandbox ({requested})"
    missing: list[str] = []
    for level in LEVELS:
        ok, why = available(level, warm=warm)
        if ok:
            if level == "bwrap":
                return level, "the strongest level; it runs here"
            return level, _BEST + "; ".join(missing)
        missing.append(f"{level}: {why}")
    return "limits", "; ".join(missing)


_BEST = "best level that runs here; "


def weak_refusal(requested: str, level: str, why: str) -> str | None:
    """For `grader grade` (`SandboxPlan.refusal`): why it refuses where only a weak level runs
    here and the instructor did not name it (untrusted notebooks could read the course)."""
    if level not in WEAK or requested != "auto":
        return None
    missing = why.removeprefix(_BEST)
    return (f"no sandbox level that hides the course from the notebooks runs here ({missing}); to grade "
            f"untrusted notebooks at a weak level anyway, name it: --sandbox {level} or execution.sandbox: "
            f"{level} ({level} runs here); or run the grader as root, or make bubblewrap work")


def notice(level: str, why: str, *, warm: bool = False) -> str | None:
    """The one line a run prints at its start when its kernels get less than bubblewrap."""
    if level == "bwrap":
        return None
    kernels = "warm kernels" if warm else "kernels"
    weak = " (weak: a notebook can read files the grader can read)" if level in WEAK else ""
    return f"sandbox: {kernels} run at level '{level}'{weak}: {why}"


def check_config(requested: str, path: Path | str) -> None:
    """A level named in the config must run here: else one line naming the file and key."""
    if requested in ("auto", "limits"):
        return
    ok, why = available(requested)
    if not ok:
        raise InputError(path, f"sandbox level '{requested}' does not run on this machine ({why}); "
                         "use 'auto' to take the best level available", key="execution.sandbox")
