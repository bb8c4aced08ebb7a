"""The sample tables (samples/recipes/*.py) are what the bundled samples are built from:
rebuilt, they give the committed notebooks and READMEs byte for byte, and a table that no
longer fits the solution fails the build loudly, naming the sample. (Whether each sample gets
its table's verdict is checked by the tests that grade them: test_autodiff.py,
test_more_assignments.py, test_cli_samples.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import ROOT
from sample_verdicts import sample_table, table

BUILD = ROOT / "samples" / "build.py"


def _course_copy(tmp_path):
    """What the builder reads (solutions, rubrics, config, the tables); it writes beside them."""
    for part in ("config.yaml", "rubrics", "solutions", "samples"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / part)
    return tmp_path


def _build(root, *names):
    return subprocess.run([sys.executable, str(root / "samples" / "build.py"), *names], cwd=root,
                          capture_output=True, text=True, timeout=240)


def test_every_sample_batch_has_a_table():
    batches = sorted(p.name for p in (ROOT / "samples").iterdir() if (p / "README.md").is_file())
    assert sample_table.assignments() == batches
    for name in batches:
        on_disk = {p.stem for p in (ROOT / "samples" / name).glob("*.ipynb")}
        assert set(table(name).samples) == on_disk, name


def test_rebuilding_gives_the_committed_files(tmp_path):
    root = _course_copy(tmp_path)
    for path in [*root.glob("samples/*/*.ipynb"), *root.glob("samples/*/README.md"),
                 *root.glob("assignments/*.ipynb")]:
        path.unlink()                               # so that each file must be written again
    proc = _build(root)
    assert proc.returncode == 0, proc.stderr
    written = sorted(proc.stdout.split())
    assert "samples/matrix_calculus/README.md" in written and "samples/lagrange/student01_correct.ipynb" in written
    for rel in written:
        assert (root / rel).read_bytes() == (ROOT / rel).read_bytes(), f"{rel}: rebuild with samples/build.py"
    committed = {p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("samples/*/*.ipynb"), *ROOT.glob("samples/*/README.md")]
                 if not p.parent.name == "matrix_calculus" or p.name == "README.md"}
    assert committed <= set(written)


def test_a_planted_change_the_solution_no_longer_has_fails_the_build(tmp_path):
    root = _course_copy(tmp_path)
    recipes = root / "samples" / "recipes" / "dual_numbers.py"
    text = recipes.read_text()
    old = '"return Dual(t, (1 - t * t) * self.dual)"'
    assert text.count(old) == 1
    recipes.write_text(text.replace(old, '"return Dual(t, (1 - t ** 2) * self.dual)"'))
    before = (root / "samples" / "dual_numbers" / "student05_tanh_wrong.ipynb").read_bytes()
    proc = _build(root, "dual_numbers")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("samples/build.py: cell-05: expected 1 occurrence(s) of "
                                  "'return Dual(t, (1 - t ** 2) * self.dual)', found 0"), proc.stderr
    assert (root / "samples" / "dual_numbers" / "student05_tanh_wrong.ipynb").read_bytes() == before


@pytest.mark.parametrize("record, message", [
    ('"student99_typo": dict(wrong="w", breaks="b", expect={"jvp": "failed"}),',
     "student99_typo/jvp: expected 'status: words the feedback contains', got 'failed'"),
    ('"student99_typo": dict(wrong="w", breaks="b", expected={}),',
     "dual_numbers.py: sample student99_typo: "),
])
def test_a_malformed_table_fails_before_anything_is_written(tmp_path, record, message):
    root = _course_copy(tmp_path)
    recipes = root / "samples" / "recipes" / "dual_numbers.py"
    recipes.write_text(recipes.read_text().replace("SAMPLES = {\n", "SAMPLES = {\n    " + record + "\n", 1))
    proc = _build(root, "dual_numbers")
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_an_unknown_assignment_is_named(tmp_path):
    proc = _build(_course_copy(tmp_path), "dual_number")
    assert proc.returncode == 2 and "no table samples/recipes/dual_number.py" in proc.stderr
