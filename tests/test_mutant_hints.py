"""Hints name the bug, for the question that failed: a table over the mutant list.

For each assignment the mutation test (grader.authoring.mutants) plants every
applicable mutant of the solution in turn. For each (question, mutant) the
table below says which words the hint must contain (the mutant's bug), and
the hint must be the question's own: no other question's function, no other
question's rubric hint, and a transpose hint about this question's argument.
Public cases must show every mutant (what `grader check` shows a student).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from grader.authoring.mutants import mutants_for, mutation_test
from grader.checks.semantics import load_rubric
from helpers import ROOT, config

#: mutant -> words its hint must contain (a regular expression), for every question
BY_MUTANT = {
    "transpose": r"transpose",
    "scale2": r"twice",
    "negate": r"sign flipped",
    "float32": r"dtype",
    "zeros": r"zero",
    "return_input": r"returned (the argument|a function \(the argument) `\w+`.* itself",
    "swap_args": r"swapped|wrong role",
    "drop_term": r"missing",
    "no_step": r"no step was taken",
    "overwrite_grad": r"overwritten",
}

#: (question, mutant) -> words, where the mutant's numbers are those of another named bug
OVERRIDES = {
    # grad_inner(x, a) = a: swapped arguments give x, the argument returned as it came
    ("grad_inner", "swap_args"): r"argument `x` itself",
    # A^T for (x, A) is x^T = x: again an argument returned as it came
    ("grad_linear_map", "swap_args"): r"argument `x` itself",
    # (A + A^T) x with A and x exchanged is 2 A^T x, the rubric's named mistake
    ("grad_quadratic_form", "swap_args"): r"2 A\^T x",
    # transposing A^T returns A itself, which is also the Jacobian (the transpose)
    ("grad_linear_map", "transpose"): r"argument `A` itself.*Jacobian of `A @ x` instead of its transpose",
    ("grad_trace_product", "transpose"): r"argument `B` itself.*transpose of the gradient",
    ("grad_chain_rule", "drop_term"): r"dropped the outer derivative",
    # the first `+` of the gradient loop is x + h e_i: what is left is one-sided
    ("numerical_gradient", "drop_term"): r"one-sided",
    # dropping the Newton step `z - solve(H, grad)` leaves the start point
    ("solve_constrained", "drop_term"): r"no step was taken",
    # the argument itself returned: right values, but with its autograd history
    ("detached_copy", "return_input"): r"\.detach\(\)",
}

ASSIGNMENTS = ["matrix_calculus", "numerical_diff", "torch_autograd", "lagrange"]


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def mutated(request):
    rubric = load_rubric(ROOT / "rubrics" / f"{request.param}.yaml")
    report = asyncio.run(mutation_test(config(), rubric, ROOT / "solutions" / f"{request.param}.ipynb"))
    return rubric, report


def test_every_mutant_is_caught_by_the_public_cases(mutated):
    rubric, report = mutated
    applicable = [o for o in report.outcomes if o.applicable]
    assert applicable
    assert report.failures() == [], [(o.question, o.mutant) for o in report.failures()]
    assert all(o.caught_public for o in applicable)          # none of these four needs hidden_only
    assert {q.id for q in rubric.questions} == {o.question for o in applicable}


def test_the_hint_names_the_mutants_bug_for_its_own_question(mutated):
    rubric, report = mutated
    others = {q.id: q for q in rubric.questions}
    wrong = []
    for o in (o for o in report.outcomes if o.applicable):
        q = others[o.question]
        hint = " ".join(o.hints)
        words = OVERRIDES.get((o.question, o.mutant), BY_MUTANT[o.mutant])
        if not re.search(words, hint, re.S):
            wrong.append((o.question, o.mutant, f"missing /{words}/", hint))
        for other in rubric.questions:
            if other.id == q.id:
                continue
            if re.search(rf"\b{re.escape(other.calls[0])}\b", hint):
                wrong.append((o.question, o.mutant, f"names {other.calls[0]}", hint))
            own = {m.hint for m in getattr(q.check, "mistakes", [])}
            for m in getattr(other.check, "mistakes", []):
                if m.hint in hint and m.hint not in own:
                    wrong.append((o.question, o.mutant, f"{other.id}'s hint", hint))
        if "grad_x (A x)" in hint:     # the old transpose hint, written for grad_linear_map only
            wrong.append((o.question, o.mutant, "grad_linear_map's layout example", hint))
        if o.mutant == "transpose" and getattr(q.check, "wrt", None):
            if f"`{q.check.wrt}`" not in hint:
                wrong.append((o.question, o.mutant, f"does not name `{q.check.wrt}`", hint))
    assert not wrong, "\n".join(map(str, wrong))


def test_the_table_covers_every_mutant_kind():
    kinds = {m for name in ASSIGNMENTS for q in load_rubric(ROOT / "rubrics" / f"{name}.yaml").questions
             for m in mutants_for(q)}
    assert kinds - {"accumulate_eq"} <= set(BY_MUTANT), kinds - set(BY_MUTANT)
