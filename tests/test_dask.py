"""`--executor dask`: the same per-submission work on a Dask cluster (a LocalCluster on
loopback here), fed from a Canvas-style zip export, gives the same results as local
grading, with the students' LMS ids in the gradebook."""

from __future__ import annotations

import csv
import zipfile

import pytest

from helpers import ROOT, grader_cli

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
