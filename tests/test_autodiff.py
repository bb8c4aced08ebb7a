"""Forward and reverse mode end to end: solutions, blanks, and the bundled planted bugs.

Each sample in samples/dual_numbers and samples/backward_engine has one
planted mistake; it must get, question by question, the verdict its table
(samples/recipes/<name>.py) gives beside its recipe: the questions it loses,
their status, and the words of the feedback that name the mistake (the
operation, the rule, or the engine bug).
"""

from __future__ import annotations

import asyncio

import pytest

from grader.batch import grade_batch
from grader.checks.semantics import load_rubric
from grader.submissions import discover
from helpers import ROOT, config
from sample_verdicts import batch_mismatches, table

TABLES = {name: table(name) for name in ("dual_numbers", "backward_engine")}


@pytest.fixture(scope="module", params=sorted(TABLES))
def graded(request, tmp_path_factory):
    name = request.param
    rubric = load_rubric(ROOT / "rubrics" / f"{name}.yaml")
    subs = discover([ROOT / "samples" / name, ROOT / "solutions" / f"{name}.ipynb",
                     ROOT / "assignments" / f"{name}.ipynb"])
    results = asyncio.run(grade_batch(subs, rubric, config(), tmp_path_factory.mktemp(name), workers=2))
    return name, {r.submission: r for r in results}


def test_solution_full_marks_and_blank_zero(graded):
    name, results = graded
    solution = results[name]
    assert solution.score == solution.max_score, [(q.id, q.feedback) for q in solution.questions
                                                  if q.status != "passed"]
    blank = results[f"{name}-2"]
    assert blank.score == 0
    assert all(q.status == "not_implemented" for q in blank.questions), \
        [(q.id, q.status) for q in blank.questions]


def test_each_sample_gets_the_verdict_in_its_table(graded):
    """Every question of every sample: status, points (all or none) and the words its feedback
    must contain, as samples/recipes/<name>.py says beside the sample's recipe."""
    name, results = graded
    problems = batch_mismatches(TABLES[name], results, {name, f"{name}-2"})
    assert not problems, "\n".join(problems)


def test_a_composite_with_right_values_and_wrong_derivatives_says_so(graded):
    name, results = graded
    sample, question, words = {
        "dual_numbers": ("student05_tanh_wrong", "dual_composite", "the values (.real) are right"),
        "backward_engine": ("student03_tanh_wrong", "value_composite", "the forward value (.data) is right"),
    }[name]
    q = {q.id: q for q in results[sample].questions}[question]
    assert q.public_failures and words in q.public_failures[0].message, q.public_failures


def test_public_failures_show_the_graph(graded):
    name, results = graded
    sample = "student05_tanh_wrong" if name == "dual_numbers" else "student03_tanh_wrong"
    q = {q.id: q for q in results[sample].questions}[f"{'dual' if name == 'dual_numbers' else 'value'}_tanh"]
    assert q.public_failures and q.public_failures[0].inputs["f"] == "x.tanh()"
    assert q.hidden_failed == 3


def test_every_question_counts_the_hidden_cases_it_ran(graded):
    """`hidden_total` is the hidden cases run, also where all passed (it read 0 there)."""
    name, results = graded
    passed = [q for r in results.values() for q in r.questions if q.status == "passed"]
    assert passed and all(q.hidden_total > 0 for q in passed), [(q.id, q.hidden_total) for q in passed]
    assert all(q.hidden_total <= sum(c.total for c in q.cases.values()) for q in passed)
