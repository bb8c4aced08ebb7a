"""The Quick-start job through the real CLI: the bundled sample batch and `validate`."""

from __future__ import annotations

import csv
import json

import pytest

from helpers import grader_cli as grader
from sample_verdicts import lost, mismatches, table

# sample -> its recipe and expected verdict (samples/recipes/matrix_calculus.py, whence its README)
TABLE = table("matrix_calculus")
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
    assert set(rows) == set(TABLE.samples)
    for sub, recipe in TABLE.samples.items():
        row = rows[sub]
        result = json.loads((out / "results" / f"{sub}.json").read_text())
        problems = mismatches(recipe, result["questions"])
        assert not problems, "\n".join(problems)
        gone = lost(recipe, result["questions"])
        assert {q for q in POINTS if float(row[q]) < POINTS[q]} == gone, sub
        assert float(row["total"]) == 12 - sum(POINTS[q] for q in gone), sub
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
