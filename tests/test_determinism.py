"""Same submissions, same rubric, same seeds: the same bytes (DESIGN.md, "Reliability").

One small batch (three sample notebooks and a hostile-ish one that prints
random numbers, reads the clock and sleeps a random while inside a graded
function) is graded three times into three folders: twice in this process,
once through the CLI in a subprocess with another PYTHONHASHSEED, so set or
dict orders that depend on string hashing, the order in which two workers
finish, and anything the student's randomness could leak into the reports
would all show up as differing bytes in results/*.json, gradebook.csv or
feedback/*.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, SOLUTION, config, grade, grader_cli, notebook_with, write

SAMPLES = ROOT / "samples" / "matrix_calculus"
PICKED = ["student04_dmitri", "student09_ines", "student12_lena"]   # a hint, two failures, broken cells
HOSTILE_CELLS = [
    "import os, random, time\nprint(random.random(), time.time(), os.getpid(), os.urandom(8).hex())",
    "import torch\ntorch.manual_seed(time.time_ns() % 2**31)\nprint(torch.randn(3))",
    # a correct answer after a random pause: timing and the order in which workers finish vary
    "_inner = grad_inner\n"
    "def grad_inner(x, a):\n"
    "    time.sleep(random.random() / 50)\n"
    "    return _inner(x, a)",
]
REPORTS = ["results/*.json", "gradebook.csv", "feedback/*.md"]


def _cli_grade(batch: Path, out: Path) -> None:
    """`grader grade` in a fresh interpreter with another hash seed."""
    proc = grader_cli("grade", batch, "-a", "matrix_calculus", "--out", out, "--workers", "2", "--warm",
                      "--config", ROOT / "config.yaml", env={"PYTHONHASHSEED": "12345"}, timeout=300)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("determinism")
    batch = tmp / "batch"
    batch.mkdir()
    for name in PICKED:
        shutil.copy(SAMPLES / f"{name}.ipynb", batch / f"{name}.ipynb")
    write(notebook_with(SOLUTION, HOSTILE_CELLS), batch, "student99_random")
    outs = [tmp / f"out{i}" for i in (1, 2, 3)]
    cfg = config(kernel="warm")
    for out in outs[:2]:
        grade([batch], out, cfg=cfg, workers=2)
    _cli_grade(batch, outs[2])
    return outs


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for pattern in REPORTS for p in sorted(out.glob(pattern))}


def test_the_batch_graded_as_expected(runs):
    """The reports compared below say something: each submission got its expected score and reason."""
    results = {p.stem: json.loads(p.read_text()) for p in sorted((runs[0] / "results").glob("*.json"))}
    assert sorted(results) == sorted([*PICKED, "student99_random"])
    score = {name: r["score"] for name, r in results.items()}
    assert score["student99_random"] == results["student99_random"]["max_score"] == 12
    q = {name: {x["id"]: x for x in r["questions"]} for name, r in results.items()}
    assert q["student04_dmitri"]["grad_quadratic_form"]["status"] == "failed"
    assert "symmetric" in " ".join(q["student04_dmitri"]["grad_quadratic_form"]["hints"])
    assert q["student09_ines"]["grad_trace_product"]["status"] == "failed"
    assert q["student12_lena"]["grad_log_abs_det"]["status"] == "missing"
    assert any("NameError" in issue for issue in results["student12_lena"]["notebook_issues"])
    assert score["student04_dmitri"] == score["student09_ines"] == score["student12_lena"] == 10


@pytest.mark.parametrize("pattern", REPORTS)
def test_three_gradings_give_the_same_bytes(runs, pattern):
    first, *others = ({name: data for name, data in _files(out).items() if Path(name).match(pattern)}
                      for out in runs)
    assert len(first) == (4 if "*" in pattern else 1), sorted(first)
    for other in others:
        assert sorted(other) == sorted(first)
        differing = [name for name in first if other[name] != first[name]]
        assert differing == [], differing
