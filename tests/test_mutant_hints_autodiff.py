"""Hints name the bug for the dual-number and backward-engine mutants too.

The mutation test plants every applicable mutant of the solution in turn, in
rubric order, carrying from one question to the next what a grading of the
whole notebook carries (which single operations failed), so what is checked
here is what a student whose class has that bug is told:

- a method mutant (`flip_sign@__mul__`) on the operation's own question: the
  hint names that operation's method; on a composite question (graphs of
  several operations): the hint names the single operation that failed;
- a result mutant of a function built on the class (`derivative`, `jvp`,
  `jacobian`, `vjp`): the hint (or, for a transposed Jacobian, the message)
  names the slip (twice, minus, zeros, `f` returned, arguments in another
  order, the transpose).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from grader.authoring.mutants import mutation_test
from grader.checks.class_ops import METHOD_OF_OP
from grader.checks.semantics import load_rubric
from helpers import ROOT, config

OP_OF_METHOD = {method: op for op, method in METHOD_OF_OP.items()}

#: result mutants of the functions built on the class -> words the hint or message must hold
BY_MUTANT = {
    "scale2": r"twice",
    "negate": r"sign flipped",
    "zeros": r"all zeros",
    "return_input": r"returned the function `f` itself",
    "swap_args": r"wrong role|grader calls",
    "transpose": r"transpose",
    "drop_term": r"all zeros|missing",
    # the planted rewrite itself raises (a name it leaves undefined): the message shows that line
    "overwrite_grad": r"raised NameError",
}


@pytest.fixture(scope="module", params=["dual_numbers", "backward_engine"])
def mutated(request):
    rubric = load_rubric(ROOT / "rubrics" / f"{request.param}.yaml")
    report = asyncio.run(mutation_test(config(), rubric, ROOT / "solutions" / f"{request.param}.ipynb"))
    return rubric, report


def _expected_words(question, mutant: str) -> str:
    kind, _, method = mutant.partition("@")
    if not method:
        return BY_MUTANT[kind] if kind in BY_MUTANT else r"overwrit|\+="
    op = re.escape(OP_OF_METHOD.get(method, method))
    if question.check.via == "class" and question.check.graphs.generator == "single_op":
        return rf"`{op}`|{re.escape(method)}"         # its own operation: the method or the op
    return rf"`{op}`"                                  # a composite: the operation that failed


def test_every_mutants_hint_names_its_bug(mutated):
    rubric, report = mutated
    questions = {q.id: q for q in rubric.questions}
    functions = {q.calls[0] for q in rubric.questions if q.check.via != "class"}
    wrong = []
    for o in (o for o in report.outcomes if o.applicable):
        q = questions[o.question]
        said = " ".join(o.hints) + " || " + o.feedback
        words = _expected_words(q, o.mutant)
        if not re.search(words, said, re.S):
            wrong.append((o.question, o.mutant, f"missing /{words}/", said[:300]))
        for name in functions - {q.calls[0]}:
            if re.search(rf"\b{name}\(", " ".join(o.hints)):
                wrong.append((o.question, o.mutant, f"names {name}", said[:300]))
    assert not wrong, "\n".join(map(str, wrong))


def test_a_composites_hint_names_the_operation_the_mutant_broke(mutated):
    """Without what the earlier questions found, a composite question gave no hint at all."""
    rubric, report = mutated
    composite = {q.id for q in rubric.questions if q.id.endswith(("_composite", "_composite_arithmetic"))}
    rows = [o for o in report.outcomes if o.applicable and o.question in composite and "@" in o.mutant]
    assert rows
    for o in rows:
        op = OP_OF_METHOD.get(o.mutant.partition("@")[2], o.mutant.partition("@")[2])
        assert any(f"a single `{op}`" in h for h in o.hints), (o.question, o.mutant, o.hints)
