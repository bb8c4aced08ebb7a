"""`grader.check(q)` / `grader.check_all()` inside the student's own kernel (grader/selfcheck/).

- Every sample notebook, run as an IPython session would run it, then `check_all()`
  there: the same public verdicts as the grader's public-only grading of the file
  (`grade_notebook(public_only=True)`, what `grader check` runs).
- A real Jupyter kernel in a student kit alone (outside the repository): the check
  cells `grader assign` wrote, `%check`, HTML tables, and `check_all()` agreeing
  with `grader check` run in the same kit.
- A plain `python` script: a question not implemented is one line; an exception
  names the student's line; bad names are one line.
- The check cells: where `assign` puts them, and that grading skips them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.authoring.assign import graded_names, student_notebook
from grader.checks.semantics import load_rubric
from grader.submissions.check_cells import CHECK_TAG, is_check_cell, with_check_cells
from helpers import ROOT, SOLUTION, by_question, cli_env, config, grade, grader_cli, write

# every sample batch: a folder of samples/ named after a rubric (not samples/recipes, the tables)
ASSIGNMENTS = sorted(p.name for p in (ROOT / "samples").iterdir()
                     if p.is_dir() and (ROOT / "rubrics" / f"{p.name}.yaml").is_file())
SAMPLES = {name: sorted((ROOT / "samples" / name).glob("*.ipynb")) for name in ASSIGNMENTS}


def _env() -> dict[str, str]:
    """No course or assignment named by the environment: each test says where it runs."""
    return {k: v for k, v in cli_env().items() if k not in ("GRADER_COURSE", "GRADER_ASSIGNMENT")}


# -- every sample: check_all() in the notebook's session == the grader's public verdicts ---------

@pytest.fixture(scope="module")
def in_session():
    """Per sample notebook, the verdicts of `grader.check_all()` at its end: one process, a
    forked child per notebook, two at a time (tests/selfcheck_driver.py), started before the
    grading and running beside it."""
    driver = Path(__file__).with_name("selfcheck_driver.py")
    notebooks = [str(p) for name in ASSIGNMENTS for p in SAMPLES[name]]
    proc = subprocess.Popen([sys.executable, str(driver), "--jobs", "2", *notebooks], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc
    proc.kill()
    proc.communicate()


@pytest.fixture(scope="module")
def session_verdicts(in_session, graded_public):
    out, err = in_session.communicate(timeout=600)
    assert in_session.returncode == 0, err[-3000:]
    return {Path(k).resolve(): v for k, v in json.loads(out).items()}


@pytest.fixture(scope="module")
def graded_public(tmp_path_factory):
    """The samples graded on their public cases in sandboxed kernels (warm), per notebook."""
    cfg = config().with_kernel(batch=True)
    results = {}
    for name in ASSIGNMENTS:
        out = tmp_path_factory.mktemp(f"public-{name}")
        by_id = grade(SAMPLES[name], out, cfg=cfg, public_only=True, rubric=ROOT / "rubrics" / f"{name}.yaml")
        results.update({Path(r.source).resolve(): r for r in by_id.values()})
    return results


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_check_all_in_the_notebook_gives_the_graders_public_verdicts(session_verdicts, graded_public):
    assert set(session_verdicts) == set(graded_public) and len(graded_public) == sum(map(len, SAMPLES.values()))
    disagree, failing = [], 0
    for path, result in graded_public.items():
        mine = session_verdicts[path]
        assert mine.get("error") is None, (path, mine)
        theirs = {q.id: {"status": q.status, "score": q.score,
                         "passed": sum(c.passed for c in q.cases.values()),
                         "total": sum(c.total for c in q.cases.values())} for q in result.questions}
        failing += sum(v["status"] != "passed" for v in theirs.values())
        disagree += [(path.name, q, mine["verdicts"].get(q), v) for q, v in theirs.items()
                     if mine["verdicts"].get(q) != v]
    assert not disagree, disagree
    assert failing >= 30        # the samples' documented mistakes are there to be found


# -- a student kit alone, in a real Jupyter kernel ----------------------------------------------

KIT_CELLS = {   # the stubs a student filled in: one right, one that raises, the rest left alone
    "def grad_inner": ("raise NotImplementedError", "return a.clone()"),
    "def grad_linear_map": ("raise NotImplementedError", "scale = 2.0\n    return A.T @ missing_name"),
}


@pytest.fixture(scope="module")
def kit_run(tmp_path_factory):
    """`grader kit` into a folder outside the clone; the student notebook, two functions filled
    in, run in a Jupyter kernel there with `%check` and `check_all()` added at the end; and
    `grader check` of the same file in the same folder."""
    from nbclient import NotebookClient
    kit = tmp_path_factory.mktemp("kit")
    assert not kit.resolve().is_relative_to(ROOT)
    made = grader_cli("kit", "-a", "matrix_calculus", "--out", kit)
    assert made.returncode == 0, made.stderr
    nb = nbformat.read(kit / "matrix_calculus.ipynb", as_version=4)
    for cell in nb.cells:
        for head, (stub, code) in KIT_CELLS.items():
            if cell.source.startswith(head):
                cell.source = cell.source.replace(stub, code)
    nb.cells += [nbformat.v4.new_code_cell(s) for s in (
        "%load_ext grader\n%check grad_inner",
        "import json\n_report = grader.check_all()",
        "print(json.dumps(_report.verdicts()))")]
    nbformat.write(nb, kit / "mine.ipynb")
    env_before = dict(os.environ)
    os.environ.pop("GRADER_COURSE", None)
    os.environ.pop("GRADER_ASSIGNMENT", None)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(kit)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    check = grader_cli("check", "mine.ipynb", "--format", "json", "--out", kit / "out", cwd=kit, env=_env())
    return kit, nb, check


def _outputs(cell) -> list[dict]:
    return [o.get("data", {}) for o in cell.outputs if o.output_type == "display_data"]


def test_kit_notebook_check_all_matches_grader_check_in_the_kit(kit_run):
    kit, nb, check = kit_run
    assert check.returncode == 1, check.stderr
    result = json.loads((kit / "out" / "results" / "mine.json").read_text())
    theirs = {q["id"]: {"status": q["status"], "score": q["score"],
                        "passed": sum(c["passed"] for c in q["cases"].values()),
                        "total": sum(c["total"] for c in q["cases"].values())} for q in result["questions"]}
    printed = nb.cells[-1].outputs[0]["text"]
    assert json.loads(printed) == theirs
    assert theirs["grad_inner"]["status"] == "passed" and theirs["grad_linear_map"]["status"] == "error"
    assert theirs["grad_chain_rule"]["status"] == "not_implemented"


def test_kit_notebook_shows_html_tables_once_per_check_cell(kit_run):
    _, nb, _ = kit_run
    checks = [c for c in nb.cells if CHECK_TAG in c.metadata.get("tags", [])]
    assert len(checks) == 9          # one after each of the 8 functions, and check_all at the end
    for cell in checks:
        shown = _outputs(cell)
        assert len(shown) == 1 and "<table>" in shown[0]["text/html"], cell.source   # displayed once
        assert not [o for o in cell.outputs if o.output_type == "error"]
    first = _outputs(checks[0])[0]["text/plain"]
    assert first.startswith("✅ grad_inner") and "cpu 4/4" in first
    second = _outputs(checks[1])[0]
    assert "missing_name" in second["text/plain"] and "<code>line 4: return A.T @ missing_name</code>" \
        in second["text/html"]
    stubbed = _outputs(checks[2])[0]["text/plain"]
    assert stubbed.splitlines() == [stubbed] and "not implemented yet" in stubbed     # one line
    magic = _outputs(nb.cells[-3])[0]["text/plain"]
    assert magic.startswith("✅ grad_inner")
    everything = _outputs(nb.cells[-2])[0]["text/plain"]
    assert everything.startswith("matrix_calculus: public checks in this kernel: 1 of 8 questions passed")


# -- a plain python script ----------------------------------------------------------------------

SCRIPT = '''\
import torch
import grader


def grad_inner(x, a):
    raise NotImplementedError


def grad_linear_map(A, x):
    m = A.shape[0]
    return A @ x[:m] + undefined_thing


grader.init("matrix_calculus")
grader.check("grad_inner")
print("---")
grader.check("grad_linear_map")
print("---")
grader.check("grad_linera_map")
print("---")
grader.init("matrix_calculu")
grader.check("grad_inner")
'''


@pytest.fixture(scope="module")
def script_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("script") / "mywork.py"
    path.write_text(SCRIPT, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("---\n"), proc.stderr


def test_not_implemented_is_one_line_without_traceback(script_run):
    parts, stderr = script_run
    assert parts[0].splitlines() == ["⬜ grad_inner  0/1     `grad_inner` is not implemented yet (raises "
                                     "NotImplementedError)"]
    assert "Traceback" not in "".join(parts) + stderr


def test_an_exception_names_the_students_line(script_run):
    lines = script_run[0][1].splitlines()
    assert lines[0].startswith("💥 grad_linear_map  0/1") and "cpu 0/4" in lines[0]
    assert "raised NameError: name 'undefined_thing' is not defined at line 11: " \
           "return A @ x[:m] + undefined_thing" in lines[1]


def test_bad_names_are_one_line(script_run):
    parts = script_run[0]
    assert parts[2] == "grader: no question 'grad_linera_map' in matrix_calculus (did you mean 'grad_linear_map'?)\n"
    assert parts[3].startswith("grader: ") and "no rubric for assignment 'matrix_calculu'" in parts[3] \
        and "did you mean 'matrix_calculus'" in parts[3] and len(parts[3].splitlines()) == 1


def test_import_grader_does_not_import_torch():
    code = "import sys, grader; print(callable(grader.check), 'torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["True", "False"], proc.stderr


# -- check cells: where assign puts them, and grading skips them -------------------------------

def test_assign_puts_a_tagged_check_cell_after_each_graded_section():
    rubric = load_rubric(ROOT / "rubrics" / "dual_numbers.yaml")
    solution = nbformat.read(ROOT / "solutions" / "dual_numbers.ipynb", as_version=4)
    student = student_notebook(solution, "dual_numbers", "dual_numbers.ipynb", graded_names(rubric))
    checks = [(i, c) for i, c in enumerate(student.cells) if is_check_cell(c)]
    calls = [c.source.splitlines()[-1] for _, c in checks]
    assert calls == ['grader.check("Dual")', 'grader.check("derivative")', 'grader.check("jvp")',
                     'grader.check("jacobian")', "grader.check_all()"]
    for i, cell in checks[:-1]:
        assert student.cells[i - 1].source.lstrip().startswith(("class ", "def ")), "right after the definition"
    assert all(CHECK_TAG in c.metadata["tags"] and 'grader.init("dual_numbers")' in c.source for _, c in checks)
    committed = nbformat.read(ROOT / "assignments" / "dual_numbers.ipynb", as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in student.cells]


@pytest.mark.parametrize("source, skipped", [
    ('import grader\ngrader.check("grad_inner")', True),
    ("# my check\n%load_ext grader\n%check grad_inner\ngrader.check_all()", True),
    ('grader.init("matrix_calculus", course="../kit")\ngrader.check("a", "b")', True),
    ("import grader\nx = 1", False),                              # defines something: it runs
    ("grader.check(grad_inner())", False),                        # a call of the student's code
    ("def grad_inner(x, a):\n    return a\ngrader.check('grad_inner')", False),
    ("import grader as g\ng.check('q')", False),
    ("%time grader.check('q')", False),
    ("# nothing but a comment", False),
])
def test_which_cells_are_check_cells(source, skipped):
    assert is_check_cell(nbformat.v4.new_code_cell(source)) is skipped


@pytest.mark.slow
def test_grading_skips_check_cells_even_without_the_grader_in_the_kernel(tmp_path):
    """The solution with check cells (tagged, as assign writes them, and one retyped without
    its tag) whose code would fail or stall if it ran: full marks, no notebook issue."""
    nb = nbformat.read(SOLUTION, as_version=4)
    nb.cells = [c for c in nb.cells if "_numerical_grad" not in c.source]
    with_check_cells(nb, "matrix_calculus", graded_names(load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")))
    tagged = [c for c in nb.cells if CHECK_TAG in c.metadata.get("tags", [])]
    assert len(tagged) == 9
    for cell in tagged:     # as if the grader were missing from the kernel, and slow besides
        cell.source = "import grader_package_that_is_absent\nimport time\ntime.sleep(60)"
    nb.cells.append(nbformat.v4.new_code_cell('import grader\ngrader.check("grad_inner")'))    # tag lost
    nb.cells.append(nbformat.v4.new_code_cell("import grader_package_that_is_absent"))         # a real cell
    path = write(nb, tmp_path, "with_checks")
    result = grade([path], tmp_path / "out", workers=1)["with_checks"]
    assert result.score == result.max_score == 12, by_question(result)
    assert len(result.notebook_issues) == 1 and "ModuleNotFoundError" in result.notebook_issues[0]
    assert result.notebook_issues[0].startswith(f"cell {len(nb.cells)}:")   # only the untagged real one ran



# -- which assignment, without grader.init ------------------------------------------------------

def test_the_assignment_comes_from_the_environment_the_notebook_or_the_folder(tmp_path, monkeypatch):
    from grader.selfcheck import where
    cfg = config()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setenv("GRADER_ASSIGNMENT", "lagrange")
    assert where.assignment(cfg, None, None) == "lagrange"
    assert where.assignment(cfg, "dual_numbers", None) == "dual_numbers"      # grader.init wins
    monkeypatch.delenv("GRADER_ASSIGNMENT")
    mine = tmp_path / "my work.ipynb"       # the name says nothing; the metadata does
    mine.write_bytes((ROOT / "assignments" / "numerical_diff.ipynb").read_bytes())
    for found in ({"__session__": str(mine)}, {"__vsc_ipynb_file__": str(mine)}):
        assert where.notebook_path(found) == mine
    monkeypatch.setenv("JPY_SESSION_NAME", "some/server/root/my work.ipynb")   # relative to the server's root
    assert where.notebook_path({}) == tmp_path / "my work.ipynb"
    assert where.assignment(cfg, None, where.notebook_path({})) == "numerical_diff"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert where.assignment(cfg, None, None) == "numerical_diff"        # the only notebook here
    (tmp_path / "other.ipynb").write_bytes((ROOT / "assignments" / "lagrange.ipynb").read_bytes())
    with pytest.raises(where.NotFound) as err:
        where.assignment(cfg, None, None)
    assert 'grader.init("NAME")' in str(err.value) and "lagrange" in str(err.value)
    # the question checked may tell: `vjp` is backward_engine's alone, by id; `Dual`, by what it calls
    assert where.assignment(cfg, None, None, ("vjp",)) == "backward_engine"
    assert where.assignment(cfg, None, None, ("Dual",)) == "dual_numbers"
    with pytest.raises(where.NotFound):
        where.assignment(cfg, None, None, ("no_such_question",))
