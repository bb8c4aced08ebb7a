"""Bad input on the command line: one line on stderr that names the file (and key), exit 2.

Every case runs the real CLI in a subprocess (`python -m grader.cli.main`), with
TMPDIR pointing into the test's folder so that an "internal error" crash file,
if one is written, is seen by the test and never litters /tmp.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import BLANK, ROOT, RUBRIC, SOLUTION

EXIT_INPUT = 2


def cli(*args: str | Path, tmp: Path, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    crash_dir = tmp / "crash-tmp"
    crash_dir.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(crash_dir), COLUMNS="200", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "grader.cli.main", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess, tmp: Path) -> str:
    """Assert the bad-input contract and return the one stderr line."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == EXIT_INPUT, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert list((tmp / "crash-tmp").glob("grader-crash-*")) == [], "an internal-error file was written"
    return lines[0]


def run_grade(tmp: Path, path: Path | str, assignment: str = "matrix_calculus", *extra: str):
    return cli("grade", path, "--assignment", assignment, "--out", tmp / "out", *extra, tmp=tmp)


# -- notebooks and paths ------------------------------------------------------------

def test_notebook_that_is_not_json(tmp_path):
    nb = tmp_path / "broken.ipynb"
    nb.write_text('{"cells": [ this is not json', encoding="utf-8")
    line = one_line_error(run_grade(tmp_path, nb), tmp_path)
    assert str(nb) in line and "JSON" in line
    assert not (tmp_path / "out").exists()


def test_empty_notebook(tmp_path):
    nb = tmp_path / "empty.ipynb"
    nb.write_bytes(b"")
    line = one_line_error(run_grade(tmp_path, nb), tmp_path)
    assert str(nb) in line and "empty" in line


def test_python_file_instead_of_notebook(tmp_path):
    py = tmp_path / "solution.py"
    py.write_text("def grad_inner(x, a):\n    return a\n", encoding="utf-8")
    line = one_line_error(run_grade(tmp_path, py), tmp_path)
    assert str(py) in line and "not a notebook" in line and ".py" in line


def test_missing_path(tmp_path):
    missing = tmp_path / "no" / "such.ipynb"
    line = one_line_error(run_grade(tmp_path, missing), tmp_path)
    assert str(missing) in line and "no such file" in line


def test_folder_without_notebooks(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing to grade", encoding="utf-8")
    (folder / "solution.py").write_text("x = 1\n", encoding="utf-8")
    line = one_line_error(run_grade(tmp_path, folder), tmp_path)
    assert str(folder) in line and "no .ipynb notebooks" in line


# -- rubric and config YAML ----------------------------------------------------------

def rubric_copy(tmp: Path, old: str, new: str) -> tuple[Path, int]:
    """The bundled rubric with the first `old` replaced by `new`; returns (path, 1-based line)."""
    text = RUBRIC.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp / "my_rubric.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if new in row)
    return path, line


def test_rubric_with_typo_key(tmp_path):
    rubric, lineno = rubric_copy(tmp_path, "points:", "pionts:")
    line = one_line_error(run_grade(tmp_path, SOLUTION, str(rubric)), tmp_path)
    assert f"{rubric}:{lineno}:" in line, line
    assert "questions[0].pionts" in line
    assert "did you mean 'points'" in line


def test_rubric_with_wrong_type(tmp_path):
    rubric, lineno = rubric_copy(tmp_path, "points: 1", 'points: "many"')
    line = one_line_error(run_grade(tmp_path, SOLUTION, str(rubric)), tmp_path)
    assert f"{rubric}:{lineno}:" in line, line
    assert "questions[0].points" in line
    assert "number" in line   # "Input should be a valid number ..."


def test_unknown_assignment_name(tmp_path):
    line = one_line_error(run_grade(tmp_path, SOLUTION, "matrix_calculs"), tmp_path)
    assert "'matrix_calculs'" in line
    assert "did you mean 'matrix_calculus'" in line
    assert str(ROOT / "rubrics") in line     # the folder it looked in


def test_config_with_unknown_key(tmp_path):
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert "  cell_timeout:" in text
    text = text.replace("  cell_timeout:", "  cell_timout:", 1)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text, encoding="utf-8")
    lineno = next(i for i, row in enumerate(text.splitlines(), 1) if "cell_timout" in row)
    line = one_line_error(run_grade(tmp_path, SOLUTION, "matrix_calculus", "--config", str(cfg)), tmp_path)
    assert f"{cfg}:{lineno}:" in line, line
    assert "execution.cell_timout" in line
    assert "did you mean 'cell_timeout'" in line


# -- grader check / grader schema -------------------------------------------------------

def test_check_on_a_bad_notebook(tmp_path):
    nb = tmp_path / "matrix_calculus.ipynb"      # a name from which the assignment could be inferred
    nb.write_text("not json at all", encoding="utf-8")
    line = one_line_error(cli("check", nb, tmp=tmp_path), tmp_path)
    assert str(nb) in line and "JSON" in line


def test_check_on_the_solution_passes(tmp_path):
    proc = cli("check", SOLUTION.relative_to(ROOT), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "public score: 12 / 12" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_check_on_the_blank_notebook_fails(tmp_path):
    proc = cli("check", BLANK.relative_to(ROOT), tmp=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not implemented" in proc.stdout
    assert "public score: 0 / 12" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_schema_is_json(tmp_path):
    proc = cli("schema", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert "questions" in schema["properties"]
    assert schema["title"] == "autograd-grader rubric"


# -- command-line usage errors are bad input too ---------------------------------------


@pytest.mark.parametrize("args", [
    pytest.param(["grade", str(SOLUTION)], id="missing-assignment"),
    pytest.param(["grade", str(SOLUTION), "-a", "matrix_calculus", "--bogus"], id="unknown-option"),
    pytest.param(["grade", str(SOLUTION), "-a", "matrix_calculus", "--workers", "0"], id="workers-0"),
])
def test_usage_errors_are_bad_input(tmp_path, args):
    line = one_line_error(cli(*args, tmp=tmp_path), tmp_path)
    assert "internal error" not in line


def test_a_named_sandbox_level_this_machine_cannot_run_is_one_line_naming_the_key(tmp_path, monkeypatch):
    """The configuration only loads; the command refuses to grade with a level that cannot
    run here (rather than quietly taking a weaker one)."""
    import grader.cli.common as common
    from grader.config import load_config
    from grader.errors import InputError
    from grader.sandbox import levels
    config = tmp_path / "config.yaml"
    config.write_text("execution:\n  sandbox: bwrap\n")
    monkeypatch.setattr(levels, "available", lambda level, **_: (False, "bwrap is not installed"))
    assert load_config(config).execution.sandbox == "bwrap"      # loading is not deciding
    with pytest.raises(InputError) as raised:
        common.setup(config)
    message = str(raised.value)
    assert "config.yaml" in message and "execution.sandbox" in message, message
    assert "sandbox level 'bwrap' does not run on this machine (bwrap is not installed)" in message
