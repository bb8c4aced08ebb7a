"""The registries: every report format of the table (grader/formats.py) is accepted by the config
and the CLI and written by a grade run; every check kind of the table (grader/rubric/kinds.py) has
its rubric model in the rubric's union, a prepare and its texts for authors. And the property
itself: a new format, and a new check kind, is one new module and one line of its table (a copy
of the package gets both, tests/registry_examples/, and the config, the CLI, the schema, the
writers and grading see it)."""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import nbformat
import pydantic
import pytest
import typer

from grader import formats as names
from grader.batch.writers import ReportOptions, output_of, write_batch
from grader.checks.semantics import load_rubric
from grader.cli.options import FormatOption, _check_formats, github_report, resolve_formats
from grader.config import Config
from grader.reports.formats import FORMATS
from grader.rubric import kinds
from grader.rubric.kinds import KINDS
from grader.rubric.model import CHECK_MODELS, Check, Question
from helpers import ROOT, RUBRIC, cli_env, config, grade

EXAMPLES = Path(__file__).parent / "registry_examples"
EVERY = list(FORMATS)


# -- formats ---------------------------------------------------------------------------------------

def test_the_config_floor_names_the_tables_formats_in_its_order():
    assert tuple(FORMATS) == names.NAMES == tuple(names.TABLE)
    assert all(FORMATS[n].name == n for n in FORMATS)
    assert Config().formats == list(names.DEFAULT) == ["json", "markdown", "csv", "summary"]
    for fmt in FORMATS.values():
        assert set(fmt.implies) <= set(FORMATS), fmt.name


@pytest.mark.parametrize("name", EVERY)
def test_every_format_is_accepted_by_the_config_and_the_cli(name):
    assert Config.model_validate({"formats": [name]}).formats == [name]
    assert _check_formats([name]) == [name]
    assert name in resolve_formats([name], [])
    help_text = t.get_args(FormatOption)[1].help
    assert f" {name}," in help_text or f" {name} (" in help_text


def test_an_unknown_format_is_refused_by_both():
    with pytest.raises(pydantic.ValidationError, match="json"):
        Config.model_validate({"formats": ["jsonn"]})
    with pytest.raises(typer.BadParameter, match="did you mean 'json'"):
        _check_formats(["jsonn"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One sample submission graded with every format on (github's files come from the CLI's
    step, run below as `grade` runs it)."""
    tmp = tmp_path_factory.mktemp("registries")
    subs = tmp / "subs"
    subs.mkdir()
    shutil.copy(ROOT / "samples" / "matrix_calculus" / "student01_alice.ipynb", subs)
    out = tmp / "out"
    results = grade([subs], out, cfg=config().model_copy(update={"formats": EVERY}), workers=1)
    return out, list(results.values())


@pytest.mark.parametrize("name", EVERY)
def test_every_format_is_written_by_a_grade_run(graded, name, tmp_path, monkeypatch):
    out, results = graded
    (result,) = results
    assert result.status == "graded" and result.score == result.max_score, result.message
    fmt = FORMATS[name]
    if fmt.output is not None:
        assert output_of(name, out, result.submission).is_file()
    if fmt.per_batch is not None:      # alone in a folder of its own: the files are its own
        write_batch(tmp_path, results, [name], load_rubric(RUBRIC), ReportOptions())
        assert any(p.is_file() for p in tmp_path.rglob("*")), f"{name} wrote no batch file"
    if name == "json":
        assert (out / "results" / f"{result.submission}.json").is_file()
    if name == "github":
        for var in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ACTIONS"):
            monkeypatch.delenv(var, raising=False)
        github_report(results, [name], tmp_path, policy_line="", passed=True)
        assert (tmp_path / "summary.md").is_file()
    assert fmt.output or fmt.per_submission or fmt.per_batch or name in ("json", "github"), (
        f"{name} has no writer in the table and none of its own")


# -- check kinds -----------------------------------------------------------------------------------

def _kind_of(model) -> str:
    (kind,) = t.get_args(model.model_fields["kind"].annotation)
    return kind


def test_the_rubrics_union_is_exactly_the_tables_kinds():
    union = t.get_args(t.get_args(Check)[0])
    assert union == CHECK_MODELS
    assert [_kind_of(m) for m in CHECK_MODELS] == list(KINDS)
    assert t.get_args(Question.model_fields["check"].annotation) == CHECK_MODELS


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_has_its_model_and_a_prepare(name):
    kind = KINDS[name]
    assert kind.name == name
    assert kind.model in CHECK_MODELS and _kind_of(kind.model) == name
    assert all(callable(f) for f in (kind.prepare, kind.describe, kind.tolerance, kind.problem))
    assert kind.convention and "{id}" in kind.snippet


def test_every_kind_has_its_authoring_texts():
    from grader.authoring.contract import CONVENTIONS
    from grader.authoring.snippets import SNIPPETS
    assert list(CONVENTIONS) == list(SNIPPETS) == list(KINDS)


def test_a_record_must_carry_the_name_its_line_gives(monkeypatch):
    monkeypatch.setitem(kinds.TABLE, "value_equals", "grader.checks.kinds.lagrange:LAGRANGE")
    with pytest.raises(TypeError, match="names itself 'lagrange'"):
        KINDS["value_equals"]
    monkeypatch.setitem(names.TABLE, "tsv", names.Entry("grader.reports.formats.batch:CSV", False))
    with pytest.raises(TypeError, match="names itself 'csv'"):
        FORMATS["tsv"]


def test_loading_a_rubric_imports_no_torch():
    """`grader check` loads the rubric (and the kinds' models with it) while the kernel starts
    and imports torch in a thread; `grader new-question` and `--format`'s help never need it."""
    code = ("import sys; from grader.rubric.model import Rubric; from grader.yamlmodel import load_yaml_model; "
            f"load_yaml_model({str(ROOT / 'rubrics' / 'backward_engine.yaml')!r}, Rubric); "
            "from grader.authoring.snippets import SNIPPETS; from grader.cli.options import FormatOption; "
            "print(sorted(m for m in ('torch', 'numpy', 'grader.checks.gradient') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_kind_module_imported_first_loads():
    """A kind's module imported before the rubric's model (a check module importing its model
    class) must not meet the model half made: the rubric package loads its names lazily."""
    for module in sorted({where.split(":")[0] for where in kinds.TABLE.values()}):
        proc = subprocess.run([sys.executable, "-c", f"import {module}; from grader.rubric.model import CHECK_MODELS"],
                              capture_output=True, text=True, env=cli_env(), timeout=120)
        assert proc.returncode == 0, f"{module}: {proc.stderr[-500:]}"


# -- the property: one module and one line --------------------------------------------------------

def _package_with(tmp: Path, example: str, module: str, table: str, before: str, line: str) -> Path:
    """A copy of the package with one new module (the example's text) and one more line in a
    table, and proof that nothing else differs."""
    root = tmp / "copy"
    shutil.copytree(ROOT / "grader", root / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(EXAMPLES / example, root / module)
    path = root / table
    old = path.read_text(encoding="utf-8")
    assert old.count(before) == 1, f"{table}: the table's end moved"
    path.write_text(old.replace(before, line + before), encoding="utf-8")
    changed = [d for d in difflib.unified_diff(old.splitlines(), path.read_text(encoding="utf-8").splitlines(), n=0)
               if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    assert changed == ["+" + line.rstrip("\n")]
    return root


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Python with the copy's package (its CLI with `-m grader.cli.main`)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=root,
                          env=cli_env(PYTHONPATH=str(root)), timeout=300)


def test_a_new_format_is_one_module_and_one_line(graded, tmp_path):
    out, (result,) = graded
    root = _package_with(tmp_path, "tsv.py", "grader/reports/formats/tsv.py", "grader/formats.py",
                         "}\nNAMES", '    "tsv": Entry("grader.reports.formats.tsv:FORMAT", False),\n')
    batch = tmp_path / "batch"
    code = f"""
import typing as t
from pathlib import Path
import grader
assert grader.__file__.startswith({str(root)!r}), grader.__file__
from grader.batch.writers import ReportOptions, write_batch
from grader.checks.semantics import load_rubric
from grader.cli.options import FormatOption, _check_formats, resolve_formats
from grader.config import Config
from grader.results import SubmissionResult
assert Config.model_validate({{"formats": ["tsv"]}}).formats == ["tsv"]
assert _check_formats(["tsv"]) == ["tsv"] and resolve_formats(["tsv"], []) == ["json", "tsv"]
result = SubmissionResult.model_validate_json(Path({str(out / "results" / f"{result.submission}.json")!r}).read_text())
write_batch(Path({str(batch)!r}), [result], ["json", "tsv"], load_rubric({str(RUBRIC)!r}), ReportOptions())
"""
    proc = _run(root, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert (batch / "scores.tsv").read_text() == f"{result.submission}\t{result.score:g}\n"
    help_text = _run(root, "-m", "grader.cli.main", "grade", "--help").stdout
    assert "similarity, tsv (json is always written)" in " ".join(help_text.replace("│", " ").split())


def test_a_new_check_kind_is_one_module_and_one_line(tmp_path):
    root = _package_with(tmp_path, "value_equals.py", "grader/checks/kinds/value_equals.py",
                         "grader/rubric/kinds.py", "}\n\n#: (key path",
                         '    "value_equals": "grader.checks.kinds.value_equals:KIND",\n')
    snippet = _run(root, "-m", "grader.cli.main", "new-question", "value_equals", "--id", "answer")
    assert snippet.returncode == 0, snippet.stderr
    rubric = tmp_path / "answers.yaml"
    rubric.write_text("assignment: answers\nquestions:\n" + snippet.stdout
                      + snippet.stdout.replace("answer", "wrong_answer"), encoding="utf-8")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def answer():\n    return 42.0\n\ndef wrong_answer():\n    return 41.0\n")])
    nbformat.write(nb, tmp_path / "answers.ipynb")
    schema = json.loads(_run(root, "-m", "grader.cli.main", "schema").stdout)
    assert "ValueEqualsCheck" in schema["$defs"]
    page = _run(root, "-m", "grader.cli.main", "show", str(rubric), "--markdown", "--config", str(ROOT / "config.yaml"))
    assert page.returncode == 0, page.stderr
    assert "- **value_equals**: The function takes no arguments and returns one number." in page.stdout
    assert "- check: returns 42" in page.stdout and "exact" in page.stdout
    check = _run(root, "-m", "grader.cli.main", "check", str(tmp_path / "answers.ipynb"), "-a", str(rubric),
                 "--config", str(ROOT / "config.yaml"), "--format", "json", "--out", str(tmp_path / "out"))
    assert check.returncode == 1, check.stdout + check.stderr       # one of the two failed
    (written,) = (tmp_path / "out" / "results").glob("*.json")
    questions = {q["id"]: q for q in json.loads(written.read_text())["questions"]}
    assert (questions["answer"]["status"], questions["answer"]["score"]) == ("passed", 1.0)
    wrong = questions["wrong_answer"]
    assert (wrong["status"], wrong["score"]) == ("failed", 0.0)
    assert wrong["feedback"] == "expected 42, got 41.0", wrong
