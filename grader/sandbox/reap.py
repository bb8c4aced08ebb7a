"""Kill a kernel's whole process tree at the end of a submission.

The launcher (`launcher.py`) is a child subreaper above the kernel, so every
process the student started stays in its subtree however it detaches. Here
the grader stops that subtree (SIGSTOP first, so a fork bomb cannot outrun
the kill), then SIGKILLs it, repeating until nothing is left.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from grader.sandbox.launcher import stop_then_kill


def _parents() -> dict[int, int]:
    """pid -> ppid for every process we can see."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may contain spaces and parentheses
        out[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
    return out


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(root: int) -> int:
    """SIGKILL every descendant of `root`, then `root` itself; return how many were killed."""
    killed: set[int] = set()
    for _ in range(20):
        victims = [p for p in descendants(root) if p not in killed]
        if not victims:
            break
        stop_then_kill(victims)
        killed.update(victims)
    try:
        os.kill(root, signal.SIGKILL)
    except OSError:
        pass
    return len(killed) + 1
