"""Similarity flags (format `similarity`): disguised copies flagged, independent notebooks not,
the starter code never counted, and no score ever changed.

No kernels: the batch step runs on results as a batch leaves them (the notebooks
graded, with their hashes); tests/test_layouts.py has the same step in a real
grading run. The accuracy on a corpus of hundreds is benchmarks/bench_similarity.py.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import __version__
from grader.batch.writers import ReportOptions, write_batch
from grader.reports import similarity
from grader.results import SubmissionResult
from grader.checks.semantics import load_rubric
from helpers import BLANK, RUBRIC, ROOT
from similarity_corpus.build import corpus

STARTER = similarity.starter_cells(ROOT / "assignments", ROOT / "solutions", "matrix_calculus")
SCRIPT = "<script>alert('copied')</script>"


def result_for(sid: str, path: Path, score: float = 7.0) -> SubmissionResult:
    return SubmissionResult(submission=sid, source=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                            assignment="matrix_calculus", rubric_version=1, grader_version=__version__,
                            status="graded", score=score, max_score=12.0)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """24 notebooks, 4 of them disguised copies; one copied pair also shares a string with HTML in it."""
    tmp = tmp_path_factory.mktemp("similarity")
    c = corpus(tmp / "corpus", 24, 4, seed=3)
    copy, source = sorted(c.copies.items())[0]
    for sid in (copy, source):   # the same cell added to both: student code that is HTML must stay text
        nb = nbformat.read(c.paths[sid], as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(f'banner = "{SCRIPT}"\nprint(banner * 3, len(banner) + 17)'))
        nbformat.write(nb, c.paths[sid])
    results = [result_for(sid, p, score=i) for i, (sid, p) in enumerate(sorted(c.paths.items()))]
    before = [r.to_json() for r in results]
    out = tmp / "out"
    write_batch(out, results, ["csv", "summary", "similarity"], load_rubric(RUBRIC), ReportOptions(starter=STARTER))
    return c, results, before, out


def test_every_disguised_copy_is_flagged_with_its_source_and_nothing_else(batch):
    c, _, _, out = batch
    rows = read_csv(out / "similarity.csv")
    assert list(rows[0]) == list(similarity.CSV_COLUMNS)
    flagged = {(r["submission_a"], r["submission_b"]) for r in rows if r["flagged"] == "yes"}
    assert flagged == {tuple(sorted(pair)) for pair in c.copies.items()}
    for r in rows:   # the pairs listed below the flag are ranked and say why they are not flagged
        assert float(r["similarity"]) >= similarity.REPORTED
        if r["flagged"] == "no":
            assert float(r["similarity"]) < similarity.THRESHOLD or int(r["shared_tokens"]) < similarity.MIN_SHARED
    assert [float(r["similarity"]) for r in rows] == sorted((float(r["similarity"]) for r in rows), reverse=True)


def test_the_summary_shows_each_flagged_pair_side_by_side_and_escapes_student_code(batch):
    c, _, _, out = batch
    page = (out / "summary.html").read_text()
    section = page[page.index('<h2 id="similarity">'):page.index("<h2>Submissions</h2>")]
    assert "Similarity never changes a score" in section
    for copy, source in c.copies.items():
        a, b = sorted((copy, source))
        assert f"<code>{a}</code> and <code>{b}</code>" in section
    assert section.count("<details") == len(c.copies) and "<mark>" in section
    assert SCRIPT not in page and "&lt;script&gt;alert(" in section     # shown as code, never run


def test_similarity_changes_no_score_and_no_result(batch, tmp_path):
    _, results, before, out = batch
    assert [r.to_json() for r in results] == before
    write_batch(tmp_path, results, ["csv"], load_rubric(RUBRIC), ReportOptions(starter=STARTER))
    assert (tmp_path / "gradebook.csv").read_bytes() == (out / "gradebook.csv").read_bytes()
    assert not (tmp_path / "similarity.csv").exists()              # only when the format is asked for


def test_the_starter_code_is_not_similarity(tmp_path):
    """Two students who kept the starter's long checking cell (each changed a number in it) and
    wrote nothing else: the starter is excluded, so nothing is shared; without it, they would be."""
    codes = {}
    for sid, tol in (("kim", "1e-5"), ("lee", "1e-4")):
        nb = nbformat.read(BLANK, as_version=4)
        for cell in nb.cells:
            cell.source = cell.source.replace("tol=1e-6", f"tol={tol}")
        codes[sid] = similarity.student_code(similarity.notebook_cells(nb), STARTER)
    assert similarity.compare(codes, STARTER).pairs == []
    naive = {sid: similarity.student_code(similarity.notebook_cells(nbformat.read(BLANK, as_version=4))
                                          + [code], ()) for sid, code in codes.items()}
    assert [(p.a, p.b, p.flagged) for p in similarity.compare(naive).pairs] == [("kim", "lee", True)]


def test_a_notebook_changed_since_grading_is_left_out_and_said_so(tmp_path):
    paths = [tmp_path / f"{sid}.ipynb" for sid in ("a", "b")]
    for path in paths:
        nbformat.write(nbformat.read(BLANK, as_version=4), path)
    results = [result_for(p.stem, p) for p in paths]
    paths[1].write_text(paths[1].read_text() + " ")
    report = similarity.compare_results(results, STARTER)
    assert report.compared == 1
    assert report.skipped == [f"b: not compared: {paths[1]}: changed since it was graded"]


def test_the_same_results_give_the_same_report_whatever_the_string_hash_seed(batch, tmp_path):
    """Winnowing would pick fingerprints by Python's per-process hash; every fingerprint is kept."""
    c, _, _, out = batch
    script = ("import sys; from pathlib import Path; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
              "from grader.reports import similarity as s\n"
              "from similarity_corpus.build import corpus\n"
              "c = corpus(Path(sys.argv[3]), 24, 4, seed=3)\n"
              "codes = {i: s.student_code(s.notebook_cells(__import__('nbformat').read(p, as_version=4)))"
              " for i, p in c.paths.items()}\n"
              "print(s.render_csv(s.compare(codes)), end='')\n")
    runs = [subprocess.run([sys.executable, "-c", script, str(ROOT), str(ROOT / "tests"), str(tmp_path / seed)],
                           env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
                           check=True).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1] and runs[0].count("\n") > 1
