"""Mutation testing: every bundled rubric catches every applicable mutant of its solution,
and a deliberately weak rubric is reported as weak, naming the mutant it misses."""

from __future__ import annotations

import asyncio

import pytest

from grader.authoring.mutants import mutation_test, source_mutant
from grader.checks.static import NotebookCode
from grader.checks.semantics import load_rubric
from grader.rubric.model import Rubric
from grader.submissions import read_notebook
from helpers import ROOT, config

ASSIGNMENTS = sorted(p.stem for p in (ROOT / "rubrics").glob("*.yaml"))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_bundled_rubric_catches_every_applicable_mutant(name):
    rubric = load_rubric(ROOT / "rubrics" / f"{name}.yaml")
    report = asyncio.run(mutation_test(config(), rubric, ROOT / "solutions" / f"{name}.ipynb"))
    applicable = [o for o in report.outcomes if o.applicable]
    assert applicable, "no mutant applied at all"
    assert report.missed() == [], [(o.question, o.mutant) for o in report.missed()]
    # and the public cases alone show it (grader check), unless the rubric says why not
    hidden_only = report.caught_by_hidden_only()
    assert hidden_only == [], [(o.question, o.mutant) for o in hidden_only]
    # every question is tested by at least one mutant (a deep chain only by the class-wide ones)
    untested = {q.id for q in rubric.questions} - {o.question for o in applicable}
    assert untested <= {"dual_deep"}, untested


def test_weak_rubric_is_reported_with_the_mutant_it_misses():
    # inverses of symmetric matrices are symmetric: with only SPD inputs, returning
    # inv(A) instead of inv(A)^T (a transposed result) cannot be told apart
    rubric = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    q = next(q for q in rubric.questions if q.id == "grad_log_abs_det")
    weak_q = q.model_copy(update={"args": {"A": q.args["A"].model_copy(update={"kind": "spd"})}})
    weak = Rubric(assignment="matrix_calculus", questions=[weak_q])
    report = asyncio.run(mutation_test(config(), weak, ROOT / "solutions" / "matrix_calculus.ipynb"))
    assert [o.mutant for o in report.missed()] == ["transpose"]
    assert report.missed()[0].description == "transpose the result"


def test_source_mutants_rewrite_the_solution():
    code = NotebookCode(read_notebook(ROOT / "solutions" / "backward_engine.ipynb"))
    mutated = source_mutant(code, "Value", "accumulate_eq")
    assert mutated and ".grad +=" not in mutated and ".grad =" in mutated
    code = NotebookCode(read_notebook(ROOT / "solutions" / "matrix_calculus.ipynb"))
    assert "A.T" not in source_mutant(code, "grad_quadratic_form", "drop_term")
    assert source_mutant(code, "grad_inner", "drop_term") is None   # `return a.clone()` has no term


def _only_hidden_cases(q):
    return q.model_copy(update={"cases": q.cases.model_copy(update={
        "public": q.cases.public.model_copy(update={"count": 0})})})


def test_a_mutant_caught_by_hidden_cases_alone_fails_unless_marked_hidden_only():
    rubric = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    q = _only_hidden_cases(next(q for q in rubric.questions if q.id == "grad_trace_product"))
    report = asyncio.run(mutation_test(config(), Rubric(assignment="matrix_calculus", questions=[q]),
                                       ROOT / "solutions" / "matrix_calculus.ipynb"))
    assert report.missed() == []
    assert {o.mutant for o in report.caught_by_hidden_only()} == {o.mutant for o in report.outcomes if o.applicable}
    assert all(o.caught and o.caught_public is False for o in report.caught_by_hidden_only())

    marked = q.model_copy(update={"hidden_only": {"transpose": "B is square in every public case"}})
    report = asyncio.run(mutation_test(config(), Rubric(assignment="matrix_calculus", questions=[marked]),
                                       ROOT / "solutions" / "matrix_calculus.ipynb"))
    assert "transpose" not in {o.mutant for o in report.caught_by_hidden_only()}
    assert next(o for o in report.outcomes if o.mutant == "transpose").hidden_only == "B is square in every public case"
    assert report.caught_by_hidden_only()        # the unmarked ones still fail


def test_unknown_hidden_only_names_are_reported():
    from grader.cli.validate import unknown_hidden_only
    rubric = load_rubric(ROOT / "rubrics" / "lagrange.yaml")
    q = rubric.questions[2].model_copy(update={"hidden_only": {"no_stpe": "typo"}})
    lines = unknown_hidden_only(Rubric(assignment="lagrange", questions=[q]))
    assert len(lines) == 1 and "solve_constrained.hidden_only: unknown mutant 'no_stpe'" in lines[0]
    assert unknown_hidden_only(rubric) == []


def test_hidden_only_needs_a_reason():
    from pydantic import ValidationError
    q = load_rubric(ROOT / "rubrics" / "lagrange.yaml").questions[0]
    with pytest.raises(ValidationError):
        type(q).model_validate({**q.model_dump(), "hidden_only": {"scale2": ""}})


def test_overwrite_grad_resets_the_gradient_before_each_backward():
    code = NotebookCode(read_notebook(ROOT / "solutions" / "torch_autograd.ipynb"))
    mutated = source_mutant(code, "accumulated_grad", "overwrite_grad")
    loop = mutated.split("for _ in range(k):")[1]
    assert loop.index("xc.grad = None") < loop.index(".backward()")
    assert source_mutant(code, "detached_copy", "overwrite_grad") is None     # no backward() at all


def test_validate_mutants_fails_a_mutant_only_hidden_cases_catch(tmp_path):
    """The CLI: a course whose grad_trace_product has no public case fails validation with one
    line per such mutant; marking them `hidden_only` (with a reason) lets it pass."""
    import shutil
    import yaml
    from helpers import grader_cli
    for folder in ("solutions", "assignments"):
        (tmp_path / folder).mkdir()
        shutil.copy(ROOT / folder / "matrix_calculus.ipynb", tmp_path / folder)
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    data = yaml.safe_load((ROOT / "rubrics" / "matrix_calculus.yaml").read_text())
    q = next(q for q in data["questions"] if q["id"] == "grad_trace_product")
    q["cases"]["public"]["count"] = 0
    data["questions"] = [q]
    rubric = tmp_path / "rubrics" / "matrix_calculus.yaml"
    rubric.write_text(yaml.safe_dump(data))
    proc = grader_cli("validate", "--mutants", "--config", tmp_path / "config.yaml", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert ("matrix_calculus.grad_trace_product: transpose (transpose the result): caught by hidden cases only"
            in out), out
    assert "matrix_calculus: 7 mutants, 0 caught by public cases, 0 hidden_only, 0 not caught, 7 caught by " \
           "hidden cases only without a reason" in out

    q["hidden_only"] = {m: "no public case on purpose" for m in
                        ("transpose", "scale2", "negate", "float32", "zeros", "return_input", "swap_args")}
    rubric.write_text(yaml.safe_dump(data))
    proc = grader_cli("validate", "--mutants", "--config", tmp_path / "config.yaml", cwd=tmp_path)
    out = " ".join(proc.stdout.split())
    assert "7 mutants, 0 caught by public cases, 7 hidden_only, 0 not caught, 0 caught" in out, out
    assert proc.returncode == 0, out
