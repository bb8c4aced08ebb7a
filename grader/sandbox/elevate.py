"""The ``uid`` level for a grader that is not root but may use sudo without a password.

The uid level needs root (a mount namespace and a uid of its own per kernel).
GitHub-hosted runners, for one, run jobs as a user with passwordless sudo. Where
no level that hides the course runs for that user (bubblewrap does not), `grade`
runs itself again under `sudo -n`: the same interpreter, arguments, folder and
environment, with `GRADER_ELEVATED=UID:GID` marking the second run, which hands
the files it wrote back to the user who started it. Nothing is elevated where
bubblewrap runs, where sudo would ask for a password, or where the instructor
named a level that needs no root.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

ENV = "GRADER_ELEVATED"


def wanted(requested: str, strong_without_root: bool, sudo_works: t.Callable[[], bool]) -> bool:
    """Whether to run again under sudo: not root yet, the level asked for is `auto` or
    `uid`, nothing strong runs without root, and sudo needs no password."""
    if os.geteuid() == 0 or os.environ.get(ENV) or requested not in ("auto", "uid"):
        return False
    if requested == "auto" and strong_without_root:
        return False
    return sudo_works()


def rerun_with_sudo() -> t.NoReturn:
    os.environ[ENV] = f"{os.getuid()}:{os.getgid()}"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("sudo", ["sudo", "-n", "--preserve-env", sys.executable, "-m", "grader.cli.main", *sys.argv[1:]])


def give_back(folder: Path) -> None:
    """In the run under sudo: the user who started the grader owns what it wrote."""
    owner = os.environ.get(ENV)
    if not owner or os.geteuid() != 0 or not folder.exists():
        return
    uid, gid = (int(n) for n in owner.split(":"))
    os.chown(folder, uid, gid, follow_symlinks=False)
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.chown(os.path.join(top, name), uid, gid, follow_symlinks=False)
