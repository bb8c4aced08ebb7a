"""Run a command as an unprivileged user (test harness, run as root): `python -m
tests.attacks.as_user USER FOLDER CMD...`.

The user must reach this Python and the repository, which may lie under a
folder it cannot pass (/root is 0700): the command runs in a mount namespace
of its own where such folders are covered and what it needs is bound back
(`launcher.isolate_filesystem`, as the uid level does for kernels), and a
checkout that others cannot pass gets o+x while the command runs. FOLDER
becomes the user's and is its HOME. Nothing here limits what `sudo` may do.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

from grader.sandbox import bwrap, launcher

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    name, folder, *cmd = sys.argv[1:]
    user = pwd.getpwnam(name)
    for top, dirs, files in os.walk(folder):
        for entry in [top, *(os.path.join(top, n) for n in dirs + files)]:
            os.chown(entry, user.pw_uid, user.pw_gid, follow_symlinks=False)
    keep = [*(str(p) for p in bwrap.python_roots()), str(ROOT), folder]

    def become_user() -> None:
        launcher.isolate_filesystem({"keep": keep, "own": folder, "hide": [], "tmp_mb": 64})
        os.setgroups([])
        os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
        os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)

    env = dict(os.environ, HOME=folder, USER=name, LOGNAME=name)
    # a checkout made 0700 (`mktemp -d`): binding it back does not open it; let others pass
    # through it (not list it) while the command runs
    mode = ROOT.stat().st_mode & 0o7777
    if not mode & 0o001:
        os.chmod(ROOT, mode | 0o001)
    try:
        return subprocess.run(cmd, preexec_fn=become_user, env=env).returncode
    finally:
        os.chmod(ROOT, mode)


if __name__ == "__main__":
    sys.exit(main())
