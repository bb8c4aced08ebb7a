"""Authoring: `grader assign`, the rubric schema wiring, `new-question` snippets, `show`."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
import yaml

from grader.authoring.assign import assign, strip_solutions, student_notebook
from grader.authoring.snippets import SNIPPETS, snippet
from grader.cli.schema import rubric_schema
from grader.errors import InputError
from grader.rubric.model import Rubric
from helpers import ROOT

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_assign_reproduces_the_committed_student_notebook(solution, tmp_path):
    written = assign(solution, tmp_path)
    committed = ROOT / "assignments" / solution.name
    assert written.read_bytes() == committed.read_bytes(), (
        f"{committed} is out of date: run `grader assign {solution.relative_to(ROOT)}`")


def test_regions_become_stubs_and_hidden_cells_go():
    source = ("def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n\n"
              "def g(x):\n    # BEGIN SOLUTION (ellipsis)\n    return x\n    # END SOLUTION\n")
    assert strip_solutions(source, "t") == "def f(x):\n    raise NotImplementedError\n\ndef g(x):\n    ...\n"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output("stream", text="hi")],
                                  execution_count=3),
        nbformat.v4.new_code_cell("SECRET = 1", metadata={"tags": ["hidden"]}),
        nbformat.v4.new_markdown_cell("# text")])
    student = student_notebook(nb, "demo", "demo.ipynb")
    assert [c.cell_type for c in student.cells] == ["code", "markdown"]
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert "2 * x" not in student.cells[0].source
    assert student.metadata["grader"]["assignment"] == "demo"
    assert student.metadata["grader"]["generated_by"].startswith("grader assign ")


@pytest.mark.parametrize("bad", ["    # BEGIN SOLUTION\nx = 1\n",
                                 "x = 1\n    # END SOLUTION\n",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n"])
def test_unbalanced_markers_are_one_line_errors(bad):
    with pytest.raises(InputError) as err:
        strip_solutions(bad, "sol.ipynb: cell 2")
    assert str(err.value).startswith("sol.ipynb: cell 2") and "\n" not in str(err.value)


def test_schema_file_is_up_to_date_and_every_rubric_points_at_it():
    on_disk = json.loads((ROOT / "rubrics" / "rubric.schema.json").read_text())
    assert on_disk == rubric_schema(), "run `grader schema --out rubrics/rubric.schema.json`"
    for rubric in (ROOT / "rubrics").glob("*.yaml"):
        assert rubric.read_text().splitlines()[0] == "# yaml-language-server: $schema=rubric.schema.json"


@pytest.mark.parametrize("kind", sorted(SNIPPETS))
def test_every_snippet_is_a_valid_question(kind):
    questions = yaml.safe_load(snippet(kind, "q1"))
    Rubric.model_validate({"assignment": "demo", "questions": questions})


def test_show_and_new_question_commands():
    run = lambda *a: subprocess.run([sys.executable, "-m", "grader.cli.main", *a], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, timeout=120)
    shown = run("show", "matrix_calculus")
    assert shown.returncode == 0 and "grad_quadratic_form" in shown.stdout
    snippet_text = run("new-question", "lagrange", "--id", "solver")
    assert snippet_text.returncode == 0 and snippet_text.stdout == snippet("lagrange", "solver")
    bad = run("new-question", "gradiant")
    assert bad.returncode == 2 and "did you mean 'gradient'" in bad.stderr
