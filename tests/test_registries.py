"""The registries: every report format of grader/reports/formats.py is accepted by the config and
the CLI and written by a grade run; every check kind of grader/checks/kinds.py has a rubric model
and a prepare, and the rubric's union of check models is exactly the table's kinds."""

from __future__ import annotations

import shutil
import typing as t

import pydantic
import pytest
import typer

from grader import formats as names
from grader.batch.writers import ReportOptions, output_of, write_batch
from grader.checks.kinds import KINDS
from grader.cli.options import FormatOption, _check_formats, github_report, resolve_formats
from grader.config import Config
from grader.reports.formats import FORMATS
from grader.rubric.model import CHECK_MODELS, Check, Question
from helpers import ROOT, RUBRIC, config, grade
from grader.checks.semantics import load_rubric

EVERY = list(FORMATS)


# -- formats ---------------------------------------------------------------------------------------

def test_the_config_floor_names_the_tables_formats_in_its_order():
    assert tuple(FORMATS) == names.NAMES
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
    assert callable(kind.prepare)


def test_every_kind_has_its_authoring_texts():
    from grader.authoring.contract import CONVENTIONS
    from grader.authoring.snippets import SNIPPETS
    assert set(CONVENTIONS) == set(KINDS)
    assert set(SNIPPETS) == set(KINDS)
