"""Faults around a batch: a kernel that never becomes ready, a full output disk,
a kernel killed from outside. Each: nothing half-written, a clear message, and
a rerun of the same command finishes the batch. (kill -9 of the grader itself
and a corrupted result file are in test_resume.py.)"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from grader.batch import grade_batch
from grader.checks.semantics import load_rubric
from grader.sandbox import notebook_client
from grader.sandbox import kernel as kernel_mod
from grader.submissions import discover
from helpers import RUBRIC, ROOT, config, grader_cli, grader_popen, notebook_with, SOLUTION, write

SAMPLES = ROOT / "samples" / "matrix_calculus"


def test_kernel_that_never_becomes_ready(tmp_path, monkeypatch):
    subs_dir = tmp_path / "subs"
    subs_dir.mkdir()
    shutil.copy(SAMPLES / "student01_alice.ipynb", subs_dir)
    subs = discover([subs_dir])
    rubric, out = load_rubric(RUBRIC), tmp_path / "out"
    cfg = config(startup_timeout=3, kernel="fresh")
    real_spec = notebook_client.SandboxSpecs.get_kernel_spec
    sleeper = f"import time, pathlib; pathlib.Path({str(tmp_path / 'pid')!r}).write_text(str(__import__('os').getpid())); time.sleep(600)"

    def never_ready(self, name):
        spec = real_spec(self, name)
        spec.argv = [sys.executable, "-c", sleeper]   # a process that never opens the kernel's sockets
        return spec

    monkeypatch.setattr(notebook_client.SandboxSpecs, "get_kernel_spec", never_ready)
    [stuck] = asyncio.run(grade_batch(subs, rubric, cfg, out, workers=1))
    assert stuck.status == "error" and stuck.score == 0
    assert stuck.message.startswith("the kernel did not start"), stuck.message
    assert {q.status for q in stuck.questions} == {"not_run"}
    pid = int((tmp_path / "pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    monkeypatch.setattr(notebook_client.SandboxSpecs, "get_kernel_spec", real_spec)
    [done] = asyncio.run(grade_batch(subs, rubric, config(), out, workers=1))
    assert done.status == "graded" and done.score == done.max_score
    saved = json.loads((out / "results" / "student01_alice.json").read_text())
    assert saved["score"] == 12 and saved["status"] == "graded"


@pytest.fixture
def small_disk(tmp_path):
    """A 96 KiB tmpfs as the output folder (root only): room for a few results, not twelve."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip() or 'not root'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_output_disk_then_rerun(small_disk, warm_sample_batch):
    out = small_disk / "out"
    full = grader_cli("grade", "samples/matrix_calculus", "-a", "matrix_calculus", "--out", out, "--warm")
    assert full.returncode == 4, full.stderr
    [line] = full.stderr.strip().splitlines()
    assert line.startswith("error: ") and "cannot write results: No space left on device" in line
    assert "rerun the same command" in line
    kept = sorted((out / "results").glob("*.json"))
    assert 0 < len(kept) < 12
    for path in kept:   # what was written is whole: every result file is the uninterrupted run's
        assert path.read_bytes() == (warm_sample_batch / "results" / path.name).read_bytes()
    assert not list(out.rglob(".*.tmp")), "a temporary file was left behind"

    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    again = grader_cli("grade", "samples/matrix_calculus", "-a", "matrix_calculus", "--out", out, "--warm")
    assert again.returncode == 0, again.stderr
    assert (out / "gradebook.csv").read_bytes() == (warm_sample_batch / "gradebook.csv").read_bytes()


def test_kernel_killed_from_outside_mid_batch(tmp_path):
    """kill -9 of a kernel (not the student's doing) costs only the cell it was running."""
    # the last cell leaves a mark in the kernel's working directory before it sleeps
    slow = write(notebook_with(SOLUTION, ["import time\nopen('asleep', 'w').close()\ntime.sleep(30)"]),
                 tmp_path, "slow")
    fine = write(notebook_with(SOLUTION, []), tmp_path, "fine")
    out = tmp_path / "out"
    proc = grader_popen("grade", slow, fine, "-a", "matrix_calculus", "--out", out, "--workers", "2", "--fresh")
    deadline = time.monotonic() + 120
    while not (out / "results" / "fine.json").exists():   # then only slow's kernel is left, asleep
        assert proc.poll() is None and time.monotonic() < deadline, "the batch ended early"
        time.sleep(0.1)
    kernels = [p for p in psutil.Process(proc.pid).children(recursive=True) if _is_kernel(p)]
    assert len(kernels) == 1, kernels
    while not Path(f"/proc/{kernels[0].pid}/cwd/asleep").exists():   # (seen through its own mounts)
        assert time.monotonic() < deadline, "the slow notebook never reached its last cell"
        time.sleep(0.1)
    kernels[0].kill()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    result = json.loads((out / "results" / "slow.json").read_text())
    assert result["score"] == 12, ("the graded functions come from the cells before the killed one",
                                   result["notebook_issues"])
    assert any(i.endswith("the kernel died while running this cell; skipped on a restart")
               for i in result["notebook_issues"]), result["notebook_issues"]
    assert json.loads((out / "results" / "fine.json").read_text())["score"] == 12


def _is_kernel(proc: psutil.Process) -> bool:
    try:    # a kernel that just shut down may linger a moment as a zombie
        return "ipykernel_launcher" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


# -- a grader error: logged, graded once more, and only a second one costs the submission --------

class _Flaky:
    """An executor whose first `fails` gradings raise, as a grader bug or a race would."""

    def __init__(self, fails: int, result):
        self.fails, self.result, self.calls = fails, result, 0

    async def grade(self, sub):
        self.calls += 1
        if self.calls <= self.fails:
            raise SystemError("AST constructor recursion depth mismatch (before=108, after=73)")
        return self.result


def test_a_grader_error_that_does_not_come_back_costs_nothing(tmp_path):
    from grader.batch.run import _grade_safely
    from grader.checks.semantics import load_rubric
    from grader.pipeline import submission_result
    from grader.submissions import Submission

    rubric = load_rubric(RUBRIC)
    sub = Submission("alice", tmp_path / "alice.ipynb", "0" * 64)
    graded = submission_result(sub, rubric, "graded")
    log = tmp_path / "errors.log"

    once = _Flaky(1, graded)
    assert asyncio.run(_grade_safely(once, sub, rubric, False, log)) is graded and once.calls == 2
    assert log.read_text().count("--- alice") == 1 and "recursion depth mismatch" in log.read_text()

    twice = _Flaky(2, graded)
    result = asyncio.run(_grade_safely(twice, sub, rubric, False, log))
    assert twice.calls == 2 and result.status == "error" and result.score == 0
    assert result.message == "internal grader error (details in errors.log)"
    assert all(q.status == "not_run" and q.feedback == "internal grader error" for q in result.questions)
    assert log.read_text().count("(graded again)") == 1


def test_a_probe_reply_lost_on_the_way_is_asked_once_more(tmp_path, monkeypatch):
    """The kernel dropped a call's reply (its output channel flooded by a notebook's thread
    on a loaded machine: the call ended, its execute_result never came). Here the grader's
    client loses the first reply of the request for all questions and the first reply of
    the question-by-question requests that follow: the question is asked once more and keeps
    its score, where it used to get 'no readable result'."""
    real_output = notebook_client.CappedClient.output
    lost: list[str] = []

    def output(self, outs, msg, display_id, cell_index):
        source = self.nb.cells[0].source if self.probe_mode else ""
        for kind in (".call_all(", ".call("):
            if msg["msg_type"] == "execute_result" and kind in source and kind not in lost:
                lost.append(kind)
                return None
        return real_output(self, outs, msg, display_id, cell_index)
    monkeypatch.setattr(notebook_client.CappedClient, "output", output)
    sent: list[str] = []
    real_execute = kernel_mod.SandboxedKernel.execute

    async def execute(self, code, timeout):
        sent.append(code.split("(", 1)[0].rsplit(".", 1)[-1])
        return await real_execute(self, code, timeout)
    monkeypatch.setattr(kernel_mod.SandboxedKernel, "execute", execute)
    subs = discover([SOLUTION])
    result = asyncio.run(grade_batch(subs, load_rubric(RUBRIC), config(), tmp_path / "out", workers=1))[0]
    assert lost == [".call_all(", ".call("]
    assert result.score == result.max_score, [(q.id, q.feedback) for q in result.questions if q.score < q.max_score]
    first = sent.index("call")
    assert sent[first:first + 2] == ["call", "call"] and sent.count("call") == len(result.questions) + 1, sent
