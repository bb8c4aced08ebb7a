"""Resume, shards and faults of a batch, through the real CLI.

Compared throughout with one uninterrupted warm run of the bundled samples
(`warm_sample_batch` in conftest.py): whatever happened in between, the
gradebook and every result must come out byte-identical, and no submission
may be graded twice.
"""

from __future__ import annotations

import collections
import json
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from helpers import ROOT, grader_cli, grader_popen

SAMPLES = ROOT / "samples" / "matrix_calculus"
AS_TYPED = "samples/matrix_calculus"   # as the reference run spelled it: results name their source
N_SAMPLES = len(list(SAMPLES.glob("*.ipynb")))


def grade(out: Path, *extra) -> subprocess.CompletedProcess:
    return grader_cli("grade", AS_TYPED, "-a", "matrix_calculus", "--out", out, "--warm", *extra)


def log_events(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "batch-log.jsonl").read_text().splitlines()]


def assert_same_batch(out: Path, reference: Path) -> None:
    assert (out / "gradebook.csv").read_bytes() == (reference / "gradebook.csv").read_bytes()
    for ref in sorted((reference / "results").glob("*.json")):
        assert (out / "results" / ref.name).read_bytes() == ref.read_bytes(), ref.name
    assert not list((out / "results").glob(".*.tmp")), "a temporary file was left behind"


def test_rerun_reuses_every_result(warm_sample_batch, tmp_path):
    shutil.copytree(warm_sample_batch, tmp_path / "out")
    proc = grade(tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert f"0 graded, {N_SAMPLES} reused" in proc.stdout
    events = log_events(tmp_path / "out")[-N_SAMPLES:]
    assert {e["event"] for e in events} == {"reused"}
    assert_same_batch(tmp_path / "out", warm_sample_batch)


def test_kill_9_mid_batch_then_resume(warm_sample_batch, tmp_path):
    """kill -9 the grader at a random point; the rerun grades only what had no result."""
    out = tmp_path / "out"
    stop_after = random.randint(1, N_SAMPLES - 2)
    proc = grader_popen("grade", AS_TYPED, "-a", "matrix_calculus", "--out", out, "--warm", "--workers", "1",
                        quiet=True)
    family: set[psutil.Process] = set()
    deadline = time.monotonic() + 300
    while len(list((out / "results").glob("*.json")) if out.exists() else []) < stop_after:
        family |= set(psutil.Process(proc.pid).children(recursive=True))
        assert proc.poll() is None and time.monotonic() < deadline, "the batch ended before the kill"
        time.sleep(0.05)
    family |= set(psutil.Process(proc.pid).children(recursive=True))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in (out / "results").glob("*.json")}
    assert stop_after <= len(finished) < N_SAMPLES, f"killed after {stop_after}: {sorted(finished)}"
    # kernels and the warm parent die with the grader (PDEATHSIG), none is left running
    gone, alive = psutil.wait_procs(list(family), timeout=10)
    assert not alive, f"left running after kill -9: {[p.pid for p in alive]}"

    # a result counts once its batch-log line is written: the kill may land between the two,
    # and a result file without its line is graded again (not trusted, as a forged one)
    before = log_events(out)
    logged = {e["submission"] for e in before if e["event"] == "graded"}
    assert len(finished - logged) <= 1, f"results without their log line: {sorted(finished - logged)}"
    again = grade(out)
    assert again.returncode == 0, again.stderr
    graded = collections.Counter(e["submission"] for e in log_events(out) if e["event"] == "graded")
    assert max(graded.values()) == 1, f"graded twice: {graded}"
    rerun = {e["submission"] for e in log_events(out)[len(before):] if e["event"] == "graded"}
    assert rerun | logged == {p.stem for p in SAMPLES.glob("*.ipynb")}
    assert not logged & rerun, f"graded again though its result was logged: {sorted(logged & rerun)}"
    assert_same_batch(out, warm_sample_batch)


def test_changed_notebook_corrupted_result_and_force(warm_sample_batch, tmp_path):
    out, subs = tmp_path / "out", tmp_path / "subs"
    shutil.copytree(warm_sample_batch, out)
    shutil.copytree(SAMPLES, subs)
    (out / "results" / "student03_carla.json").write_text('{"submission": "student03_ca')   # torn by a crash
    changed = subs / "student05_elena.ipynb"
    changed.write_text(changed.read_text().replace('"cells": [', '"cells": [\n  {"cell_type": "markdown", '
                                                   '"metadata": {}, "source": "edited"},', 1))
    proc = grader_cli("grade", subs, "-a", "matrix_calculus", "--out", out, "--warm")
    assert proc.returncode == 0, proc.stderr
    regraded = {e["submission"]: e["why"] for e in log_events(out)[N_SAMPLES:] if e["event"] == "graded"}
    assert regraded == {"student03_carla": "student03_carla.json was corrupted (not a result)",
                        "student05_elena": "the notebook changed"}
    assert "note: student03_carla: graded again (student03_carla.json was corrupted" in proc.stdout
    carla = json.loads((out / "results" / "student03_carla.json").read_text())
    assert carla["score"] == 11 and carla["status"] == "graded"
    forced = grader_cli("grade", subs, "-a", "matrix_calculus", "--out", out, "--warm", "--force")
    assert forced.returncode == 0 and f"{N_SAMPLES} graded" in forced.stdout


def test_shards_merge_into_the_unsharded_gradebook(warm_sample_batch, tmp_path):
    shards = [tmp_path / f"shard{i}" for i in (1, 2, 3)]
    seen: list[str] = []
    for i, shard in enumerate(shards, start=1):
        proc = grade(shard, "--shard", f"{i}/3")
        assert proc.returncode == 0, proc.stderr
        seen += [p.stem for p in (shard / "results").glob("*.json")]
    assert sorted(seen) == sorted(p.stem for p in SAMPLES.glob("*.ipynb")), "slices overlap or miss"
    merged = grader_cli("merge", *shards, "-a", "matrix_calculus", "--out", tmp_path / "merged")
    assert merged.returncode == 0, merged.stderr
    assert_same_batch(tmp_path / "merged", warm_sample_batch)
    assert (tmp_path / "merged" / "summary.html").is_file()


def test_merge_refuses_conflicting_shards(warm_sample_batch, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(warm_sample_batch, other)
    path = other / "results" / "student01_alice.json"
    path.write_text(path.read_text().replace('"score": 12.0', '"score": 2.0', 1))
    proc = grader_cli("merge", warm_sample_batch, other, "-a", "matrix_calculus", "--out", tmp_path / "m")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}: 'student01_alice' is also in "
        f"{warm_sample_batch / 'results' / 'student01_alice.json'} with another result"]


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1", "a/b"])
def test_bad_shard_is_a_one_line_error(shard, tmp_path):
    proc = grade(tmp_path / "out", "--shard", shard)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"error: --shard: expected I/N with 1 <= I <= N (e.g. 2/4), got '{shard}'")
