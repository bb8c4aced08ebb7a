"""A grader that is not root, as on a CI runner: with bubblewrap its kernels are sandboxed
(fresh, since warm kernels need root for a uid each), and where the uid level is needed it
runs itself again under passwordless sudo; either way the attacks read and damage nothing,
and the user who started the grader owns what it wrote.

Needs root (to act as the user), sudo, and the user `.ci/run` makes (USER, with
passwordless sudo); each test skips saying which is missing."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys

import pytest

from grader.sandbox import levels
from attacks.corpus import BY_NAME, expected_score
from attacks.run import grade_level_cli
from test_attacks import assert_course_unread, assert_output_holds

USER = "grader-ci"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "acting as another user needs root"
    if not shutil.which("sudo"):
        return "sudo is not installed (.ci/run installs it)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no user {USER!r} with passwordless sudo (.ci/run makes it)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _owned_by_user(folder) -> list[str]:
    uid = pwd.getpwnam(USER).pw_uid
    return [str(p) for p in folder.rglob("*") if p.lstat().st_uid != uid]


def test_without_root_the_uid_level_runs_through_sudo(tmp_path):
    run, stderr = grade_level_cli(tmp_path, sys.executable, "--sandbox", "uid", user=USER)
    assert any("running the grader again with sudo" in line for line in stderr), stderr
    for result in run.first.values():
        assert result.sandbox["level"] == "uid", result.sandbox
    assert_course_unread(run)
    assert_output_holds("uid", run)
    assert _owned_by_user(run.out) == []          # the files are the user's, not root's


def test_without_root_bubblewrap_gives_fresh_sandboxed_kernels(tmp_path):
    if not levels.available("bwrap")[0]:
        pytest.skip(f"bubblewrap does not run here: {levels.available('bwrap')[1]}")
    run, stderr = grade_level_cli(tmp_path, sys.executable, user=USER)
    assert any("kernels start fresh" in line for line in stderr), stderr
    assert not any("sudo" in line for line in stderr), stderr          # nothing elevated
    for result in run.first.values():
        assert (result.sandbox["level"], result.sandbox["kernel"]) == ("bwrap", "fresh"), result.sandbox
    assert run.first["read_solutions"].score == expected_score(BY_NAME["read_solutions"], run.rubric)
    assert_output_holds("bwrap", run)
    assert _owned_by_user(run.out) == []
