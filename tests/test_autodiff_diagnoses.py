"""Dual / Value classes with one bug each: the right questions lose points, by PUBLIC cases,
and the feedback names the bug where it is (issue: right score, right reason, early).

Each variant is the solution notebook with one exact text replacement in its class cell
(or a cell appended), graded in one batch per assignment.
"""

from __future__ import annotations

import asyncio

import nbformat
import pytest

from grader.batch import grade_batch
from grader.checks.semantics import load_rubric
from grader.submissions import discover
from helpers import ROOT, config


def _variant(assignment: str, edits: list[tuple[str, str]], extra: str = "") -> nbformat.NotebookNode:
    nb = nbformat.read(ROOT / "solutions" / f"{assignment}.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if "finite differences" not in c.source]   # the self-check: slow
    cell = next(c for c in nb.cells if c.source.startswith(("class Value", "class Dual")))
    for old, new in edits:
        assert cell.source.count(old) == 1, old
        cell.source = cell.source.replace(old, new)
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    return nb


EXP_BACKWARD = "            self.grad += out.data * out.grad\n"
MUL_BACKWARD = ("            self.grad += other.data * out.grad\n"
                "            other.grad += self.data * out.grad\n")
NEG_BODY = """        out = Value(-self.data, (self,), 'neg')

        def _backward():
            self.grad += -out.grad
        out._backward = _backward
        return out
"""

VALUE_VARIANTS = {
    # exp's backward overwrites: only visible when x is used again (`x.exp() + x`)
    "overwrite_exp": _variant("backward_engine", [(EXP_BACKWARD, EXP_BACKWARD.replace("+=", "="))]),
    # mul's two local derivatives swapped; neg built on mul (micrograd's `self * -1`)
    "neg_on_broken_mul": _variant("backward_engine", [
        (MUL_BACKWARD, "            self.grad += self.data * out.grad\n"
                       "            other.grad += other.data * out.grad\n"),
        (NEG_BODY, "        return self * -1\n")]),
    "neg_takes_other": _variant("backward_engine", [("def __neg__(self):", "def __neg__(self, other):")]),
    "radd_not_for_numbers": _variant("backward_engine", [
        ("        return self + other\n", "        return Value(other.data + self.data, (self, other), '+')\n")]),
    "pow_ints_only": _variant("backward_engine", [
        ('        assert isinstance(k, (int, float)), "only int/float exponents"\n',
         "        if not isinstance(k, int):\n            return NotImplemented\n")]),
    "pow_asserts_int": _variant("backward_engine", [
        ('        assert isinstance(k, (int, float)), "only int/float exponents"\n',
         '        assert isinstance(k, int), "only int exponents"\n')]),
    "rsub_swapped": _variant("backward_engine", [("        return Value(other) - self\n",
                                                  "        return self - Value(other)\n")]),
    "float32_engine": _variant("backward_engine", [], extra=(
        "import numpy as np\n_Value64 = Value\n\n"
        "class Value(_Value64):\n"
        "    def __init__(self, data, _children=(), _op=''):\n"
        "        super().__init__(np.float32(data), _children, _op)\n")),
    "vjp_forward_product": _variant("backward_engine", [], extra=(
        "def vjp(f, xs, v):\n"
        "    out = []\n"
        "    for i in range(len(f([Value(x) for x in xs]))):\n"
        "        leaves = [Value(x) for x in xs]\n"
        "        f(leaves)[i].backward()\n"
        "        out.append(sum(leaf.grad * w for leaf, w in zip(leaves, v)))   # J v: a row times v\n"
        "    return out\n")),
    "no_neg": _variant("backward_engine", [("def __neg__(self):", "def _negate(self):")]),
}

DUAL_VARIANTS = {
    # the reflected add falls back on itself: a RecursionError on `2.0 + x`
    "radd_recursion": _variant("dual_numbers", [("        return Dual(other + self.real, self.dual)\n",
                                                 "        return other + self\n")]),
    "no_neg": _variant("dual_numbers", [("def __neg__(self):", "def _negate(self):")]),
    "rsub_swapped": _variant("dual_numbers", [("        return Dual(other - self.real, -self.dual)\n",
                                               "        return Dual(self.real - other, self.dual)\n")]),
    "jvp_tangent_doubled": _variant("dual_numbers", [], extra=(
        "_jvp = jvp\n\ndef jvp(f, x, v):\n    y, t = _jvp(f, x, v)\n    return y, [2 * a for a in t]\n")),
}


def _grade(assignment: str, variants: dict, folder) -> dict:
    for name, nb in variants.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    rubric = load_rubric(ROOT / "rubrics" / f"{assignment}.yaml")
    results = asyncio.run(grade_batch(discover([folder]), rubric, config(), folder / "out", workers=2))
    return {r.submission: {q.id: q for q in r.questions} for r in results}


@pytest.fixture(scope="module")
def value(tmp_path_factory):
    return _grade("backward_engine", VALUE_VARIANTS, tmp_path_factory.mktemp("value"))


@pytest.fixture(scope="module")
def dual(tmp_path_factory):
    return _grade("dual_numbers", DUAL_VARIANTS, tmp_path_factory.mktemp("dual"))


def lost(questions: dict) -> set[str]:
    return {q.id for q in questions.values() if q.score < q.max_score}


def words(q) -> str:
    return " ".join([q.feedback, *q.hints, *(f.message for f in q.public_failures)])


def test_an_overwriting_backward_fails_its_own_operation_by_a_public_case(value):
    q = value["overwrite_exp"]["value_exp"]
    assert q.score == 0 and q.public_failures, q.feedback
    failure = q.public_failures[0]
    assert failure.inputs["f"] == "x.exp() + x"
    assert ".grad overwritten" in failure.message
    assert "backward step of `Value.exp` overwrites `.grad`" in " ".join(q.hints)
    # the other single operations are untouched
    assert not {"value_add", "value_mul", "value_tanh", "value_log"} & lost(value["overwrite_exp"])


def test_an_operation_built_on_a_broken_one_names_the_root(value):
    qs = value["neg_on_broken_mul"]
    assert {"value_mul", "value_neg"} <= lost(qs)
    assert "fails because `mul` fails" in " ".join(qs["value_neg"].hints), qs["value_neg"].hints
    assert not any("derivative rule of `neg`" in h for h in qs["value_neg"].hints)
    assert "fails because" not in " ".join(qs["value_mul"].hints)   # mul is the root itself


def test_a_dunder_with_a_wrong_signature_exists_and_raised(value):
    q = value["neg_takes_other"]["value_neg"]
    assert q.score == 0
    assert "`Value.__neg__` exists but `-x` failed" in q.feedback, q.feedback
    assert "missing 1 required positional argument" in q.feedback
    assert "check the signature of `__neg__`: Python calls it as `x.__neg__()`" in q.hints
    assert not any("implement" in h for h in q.hints)


def test_a_reflected_operator_that_raises_on_a_number(value):
    q = value["radd_not_for_numbers"]["value_number_left"]
    assert q.score == 0 and q.public_failures
    text = words(q)
    assert "`Value.__radd__` exists but raised on `" in text and "on the left" in text, text
    assert "AttributeError: 'float' object has no attribute 'data'" in text
    assert "in __radd__, line" in text                     # the exception's line
    assert not any(h.startswith("implement") for h in q.hints)


def test_pow_with_int_exponents_only(value):
    qs = value["pow_ints_only"]
    assert lost(qs) >= {"value_pow"} and qs["value_pow"].public_failures
    text = words(qs["value_pow"])
    assert "`Value.__pow__` exists but `x ** 0.5" in text and "the float exponent 0.5" in text, text
    assert "`__pow__` must accept an int and a float exponent" in " ".join(qs["value_pow"].hints)


def test_pow_that_asserts_an_int_exponent(value):
    q = value["pow_asserts_int"]["value_pow"]
    assert q.score == 0 and q.public_failures
    text = words(q)
    assert "`Value.__pow__` exists but raised on `x ** 0.5" in text, text
    assert "AssertionError: only int exponents" in text and "assert isinstance(k, int)" in text
    assert any("must accept both" in h for h in q.hints), q.hints


def test_primal_right_tangent_or_grad_wrong(value, dual):
    assert "the forward value (.data) is right, the leaf gradients are wrong" in \
        value["neg_on_broken_mul"]["value_composite"].feedback
    q = dual["jvp_tangent_doubled"]["jvp"]
    assert q.score == 0 and "f(x) is right, J v is wrong" in q.feedback, q.feedback
    assert lost(dual["jvp_tangent_doubled"]) == {"jvp"}


def test_reflected_operands_swapped(value, dual):
    for qs, name in ((value["rsub_swapped"], "value_number_left"), (dual["rsub_swapped"], "dual_number_left")):
        q = qs[name]
        assert q.score == 0 and q.public_failures
        assert "operands swapped" in words(q), words(q)
        assert any("`other` the number on the left" in h for h in q.hints), q.hints


def test_a_float32_engine_is_judged_by_one_rule(value):
    qs = value["float32_engine"]
    single = {q for q in qs if q not in ("value_composite_arithmetic", "value_composite", "value_reuse",
                                         "value_accumulate", "value_deep", "vjp")}
    assert not single & lost(qs), {q: qs[q].feedback for q in single & lost(qs)}
    for q in qs.values():
        text = words(q)
        assert not ("value is wrong" in text and "value is right" in text), text


def test_a_vjp_that_returns_j_v(value):
    q = value["vjp_forward_product"]["vjp"]
    assert q.score == 0 and q.public_failures
    # the square case (public-1): recognised by value; the 3 -> 2 case by its shape
    assert any(h.startswith("that is a forward-mode product: you returned `J v`") for h in q.hints), q.hints
    assert any(h.startswith("one value per output is `J v`'s shape") for h in q.hints), q.hints


def test_one_missing_operator_costs_only_its_question_and_the_graphs_that_use_it(value, dual):
    # vjp, derivative, jvp and jacobian are built from + and * only: no cascade
    assert lost(value["no_neg"]) == {"value_neg", "value_composite_arithmetic", "value_composite", "value_deep"}
    assert lost(dual["no_neg"]) == {"dual_neg", "dual_composite_arithmetic", "dual_composite", "dual_deep"}
    q = dual["no_neg"]["dual_neg"]
    assert q.hints == ["implement `__neg__` in your `Dual` class: `-x` calls it, with no argument"], q.hints
    # a composite failure prints the node that raised, which contains the operation
    for qs in (value["no_neg"], dual["no_neg"]):
        for f in qs["value_composite" if "value_neg" in qs else "dual_composite"].public_failures:
            node = f.inputs.get("failed at", f.inputs["f"])
            assert node.split("; ")[-1].startswith("-"), f.inputs     # `-(...)`: the neg node itself


def test_forward_mode_recursion_gets_the_operator_hint(dual):
    q = dual["radd_recursion"]["dual_number_left"]
    assert q.score == 0
    hints = " ".join(q.hints)
    assert "operators call each other" in hints and "explicit stack" not in hints, hints


def test_values_are_shown_as_the_student_wrote_them(value, dual):
    got = value["overwrite_exp"]["value_exp"].public_failures[0].got
    assert got[0].startswith("x = Value(data=") and ", grad=" in got[0], got
    assert got[-1].startswith("output = Value(data="), got
    got = dual["rsub_swapped"]["dual_number_left"].public_failures[0].got
    assert all(s.startswith("Dual(real=") for column in got.values() for s in column), got
