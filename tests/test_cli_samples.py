"""The Quick-start job through the real CLI: the bundled sample batch and `validate`."""

from __future__ import annotations

import csv
import json

import pytest

from helpers import grader_cli as grader

# sample -> questions that must lose their points (samples/matrix_calculus/README.md)
EXPECTED_LOSSES = {
    "student01_alice": set(), "student02_bob": set(),
    "student03_carla": {"grad_linear_map"}, "student04_dmitri": {"grad_quadratic_form"},
    "student05_elena": {"grad_weighted_residual_s"}, "student06_farid": {"grad_weighted_residual_x"},
    "student07_grace": {"grad_chain_rule"}, "student08_hiroshi": {"grad_log_abs_det"},
    "student09_ines": {"grad_trace_product", "grad_inner"}, "student10_jonas": {"grad_inner"},
    "student11_kwame": {"grad_quadratic_form"}, "student12_lena": {"grad_log_abs_det"},
}
POINTS = {"grad_inner": 1, "grad_linear_map": 1, "grad_quadratic_form": 2, "grad_weighted_residual_s": 2,
          "grad_weighted_residual_x": 1, "grad_log_abs_det": 2, "grad_trace_product": 1, "grad_chain_rule": 2}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    # fresh kernels here; warm ones (the default for grade) in conftest's warm_sample_batch
    proc = grader("grade", "samples/matrix_calculus", "--assignment", "matrix_calculus", "--out", str(out),
                  "--fresh")
    return proc, out


def test_grade_exits_zero_and_says_where_the_reports_are(batch):
    proc, out = batch
    assert proc.returncode == 0, proc.stderr
    assert f"gradebook: {out / 'gradebook.csv'}" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_every_sample_scores_as_documented(batch):
    _, out = batch
    rows = {r["submission"]: r for r in csv.DictReader(open(out / "gradebook.csv"))}
    assert set(rows) == set(EXPECTED_LOSSES)
    for sub, lost in EXPECTED_LOSSES.items():
        row = rows[sub]
        assert {q for q in POINTS if float(row[q]) < POINTS[q]} == lost, sub
        assert float(row["total"]) == 12 - sum(POINTS[q] for q in lost), sub
        result = json.loads((out / "results" / f"{sub}.json").read_text())
        assert result["score"] == float(row["total"]) and len(result["sha256"]) == 64
        assert (out / "feedback" / f"{sub}.md").read_text().startswith("# Feedback")


def test_broken_sample_reports_its_failing_cells(batch):
    _, out = batch
    result = json.loads((out / "results" / "student12_lena.json").read_text())
    issues = " ".join(result["notebook_issues"])
    assert "NameError" in issues and "SyntaxError" in issues
    q = {q["id"]: q for q in result["questions"]}["grad_log_abs_det"]
    assert q["status"] == "missing" and "not defined" in q["feedback"]


def test_autograd_sample_is_flagged(batch):
    _, out = batch
    result = json.loads((out / "results" / "student11_kwame.json").read_text())
    q = {q["id"]: q for q in result["questions"]}["grad_quadratic_form"]
    assert q["status"] == "forbidden" and "autograd" in q["feedback"]


def test_validate_passes_on_the_bundled_course():
    proc = grader("validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "solution = full marks" in proc.stdout and "❌" not in proc.stdout


def test_warm_kernels_give_the_same_gradebook(batch, warm_sample_batch):
    """--warm forks kernels from a process that already imported torch; the grades must not change."""
    _, fresh_out = batch
    assert (warm_sample_batch / "gradebook.csv").read_text() == (fresh_out / "gradebook.csv").read_text()
    result = json.loads((warm_sample_batch / "results" / "student01_alice.json").read_text())
    assert result["sandbox"]["kernel"] == "warm"
    assert json.loads((fresh_out / "results" / "student01_alice.json").read_text())["sandbox"]["kernel"] == "fresh"
