"""Forward and reverse mode end to end: solutions, blanks, and the bundled planted bugs.

Each sample in samples/dual_numbers and samples/backward_engine has one
planted mistake (see their README.md); it must lose exactly the questions
listed here, and the feedback must name the mistake (the operation, the
rule, or the engine bug).
"""

from __future__ import annotations

import asyncio

import pytest

from grader.batch import grade_batch
from grader.checks.semantics import load_rubric
from grader.submissions import discover
from helpers import ROOT, config

ALL_VALUE = {"value_add", "value_sub", "value_mul", "value_div", "value_neg", "value_number_right",
             "value_number_left", "value_pow", "value_relu", "value_tanh", "value_exp", "value_log",
             "value_composite_arithmetic", "value_composite", "value_reuse", "value_accumulate",
             "value_deep", "vjp"}

# sample -> (questions that must lose their points, words the feedback of the first one must contain)
EXPECTED = {
    "dual_numbers": {
        "student01_correct": (set(), None),
        # derivative, jvp and jacobian are tested on graphs of + and * only: a wrong `/` costs
        # the questions whose graphs divide, not the functions built on the class
        "student02_quotient_rule": ({"dual_div", "dual_composite_arithmetic", "dual_composite", "dual_deep"},
                                    ("dual_div", "quotient rule")),
        "student03_pow_ignores_dual": ({"dual_pow", "dual_composite"}, ("dual_pow", "`pow`")),
        "student04_minimal": ({"dual_pow", "dual_sin", "dual_cos", "dual_exp", "dual_log", "dual_tanh",
                               "dual_composite"}, ("dual_tanh", "operation not supported: tanh")),
        "student05_tanh_wrong": ({"dual_tanh", "dual_composite"}, ("dual_composite", "single `tanh`")),
        "student06_jacobian_transposed": ({"jacobian"}, ("jacobian", "transposed Jacobian")),
        "student07_blank_jvp": ({"jvp"}, ("jvp", "not implemented")),
    },
    "backward_engine": {
        "student01_correct": (set(), None),
        # every operation's public cases use its operand again (`x.exp() + x`): an overwritten
        # .grad fails each operation's own question, and its hint names that operation's method
        "student02_overwrite_grad": (ALL_VALUE, ("value_exp", "backward step of `Value.exp` overwrites `.grad`")),
        "student03_tanh_wrong": ({"value_tanh", "value_composite"}, ("value_tanh", "derivative rule of `tanh`")),
        "student04_recursive_topo": ({"value_deep"}, ("value_deep", "recursion")),
        # the public micrograd engine's API and operations: full marks wherever it has the
        # operation; the deep graph fails on its recursive topological sort, by design
        "student05_micrograd_api": ({"value_tanh", "value_exp", "value_log", "value_composite", "value_deep"},
                                    ("value_exp", "operation not supported: exp")),
        "student06_uses_torch": (ALL_VALUE, ("value_add", "uses torch")),
        "student07_visits_twice": ({"value_composite_arithmetic", "value_composite", "value_reuse", "vjp"},
                                   ("value_reuse", "runs more than once")),
        "student08_mul_sign": ({"value_mul", "value_composite_arithmetic", "value_composite", "value_reuse",
                                "value_accumulate", "value_deep", "vjp"}, ("value_mul", "product rule")),
    },
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
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


def test_each_planted_bug_loses_exactly_its_questions(graded):
    name, results = graded
    for sample, (lost, _) in EXPECTED[name].items():
        r = results[sample]
        got = {q.id for q in r.questions if q.score < q.max_score}
        assert got == lost, (sample, sorted(got ^ lost))
        assert r.score == r.max_score - sum(q.max_score for q in r.questions if q.id in lost)


def test_feedback_names_the_mistake(graded):
    name, results = graded
    for sample, (_, said) in EXPECTED[name].items():
        if said is None:
            continue
        question, words = said
        q = {q.id: q for q in results[sample].questions}[question]
        text = " ".join([q.feedback, *q.hints])
        assert words in text, (sample, question, text)


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
