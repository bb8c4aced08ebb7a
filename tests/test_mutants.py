"""Mutation testing: every bundled rubric catches every applicable mutant of its solution,
and a deliberately weak rubric is reported as weak, naming the mutant it misses."""

from __future__ import annotations

import asyncio

import pytest

from grader.authoring.mutants import mutation_test, source_mutant
from grader.checks.static import NotebookCode
from grader.rubric import load_rubric
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
