"""`--executor dask`: the same per-submission work on a Dask cluster (a LocalCluster on
loopback here), fed from a Canvas-style zip export, gives the same results as local
grading, with the students' LMS ids in the gradebook."""

from __future__ import annotations

import csv
import os
import signal
import time
import zipfile

import psutil
import pytest

from helpers import ROOT, grader_cli, grader_popen

distributed = pytest.importorskip("distributed", reason="the dask executor needs the 'distributed' package")

SAMPLES = ROOT / "samples" / "matrix_calculus"
# Canvas "Download submissions": lastnamefirstname_userid_submissionid_file
CANVAS = {"alice_101_9001_hw.ipynb": "student01_alice", "carla_103_9003_hw.ipynb": "student03_carla",
          "carla_103_9010_hw-1.ipynb": "student07_grace"}   # carla resubmitted: the later one counts


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    path = tmp_path_factory.mktemp("lms") / "canvas.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, sample in CANVAS.items():
            zf.write(SAMPLES / f"{sample}.ipynb", name)
    return path


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as c:
        yield c


def test_dask_and_local_grade_the_export_alike(export, cluster, tmp_path):
    local = grader_cli("grade", export, "-a", "matrix_calculus", "--out", tmp_path / "local", "--warm")
    assert local.returncode == 0, local.stderr
    remote = grader_cli("grade", export, "-a", "matrix_calculus", "--out", tmp_path / "dask",
                        "--executor", "dask", "--scheduler", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr
    local_rows = list(csv.DictReader(open(tmp_path / "local" / "gradebook.csv")))
    dask_rows = list(csv.DictReader(open(tmp_path / "dask" / "gradebook.csv")))
    for row in local_rows + dask_rows:
        row.pop("source")   # each run unpacked the zip into its own output folder
    assert dask_rows == local_rows
    # one row per student, ids from the Canvas names, the resubmission graded (grace's bugs: -2)
    assert [(r["submission"], r["student"], r["total"]) for r in dask_rows] == [
        ("alice-101", "101", "12"), ("carla-103", "103", "10")]
    assert "skipped" in remote.stdout and "carla_103_9003_hw.ipynb" in remote.stdout


def test_dask_without_scheduler_is_a_usage_error(export, tmp_path):
    proc = grader_cli("grade", export, "-a", "matrix_calculus", "--out", tmp_path, "--executor", "dask")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --scheduler: --executor dask and --scheduler ADDRESS go together"


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")   # the dashboard's default: not used here
def test_a_worker_killed_mid_submission_is_replaced_and_nothing_is_lost(export, tmp_path):
    """kill -9 of a Dask worker process while it grades: the nanny starts a new worker, the
    scheduler runs the task again there, the batch ends with every result; the dead worker's
    warm parent and kernels go with it (a forked kernel keeps its parent's command line)."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as c, distributed.Client(c) as client:
        [worker] = client.run(os.getpid).values()
        proc = grader_popen("grade", export, "-a", "matrix_calculus", "--out", tmp_path / "out",
                            "--executor", "dask", "--scheduler", c.scheduler_address)
        mine = f"--parent {worker}"

        def warm_processes() -> list:
            found = []
            for p in psutil.process_iter(["cmdline"]):
                if mine in " ".join(p.info["cmdline"] or []):
                    found.append(p)
            return found
        deadline = time.monotonic() + 120
        while len(warm_processes()) < 2:        # the warm parent and a kernel it forked
            assert proc.poll() is None and time.monotonic() < deadline, "no kernel ever ran on the worker"
            time.sleep(0.05)
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        rows = list(csv.DictReader(open(tmp_path / "out" / "gradebook.csv")))
        assert [(r["submission"], r["total"]) for r in rows] == [("alice-101", "12"), ("carla-103", "10")]
        assert list(client.run(os.getpid).values()) != [worker]     # a new worker process
        gone = time.monotonic() + 10
        while (left := warm_processes()) and time.monotonic() < gone:
            time.sleep(0.1)
        assert not left, [p.info["cmdline"][:3] for p in left]
