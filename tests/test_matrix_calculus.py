"""End to end on the bundled assignment: solution, blank, one planted bug per function.

Each buggy variant is the solution plus one cell that redefines one function
(as a student re-running a cell would); it must lose exactly that question's
points, with the hint for that mistake.
"""

from __future__ import annotations

import pytest

from helpers import BLANK, SOLUTION, by_question, grade, notebook_with, write

SYMMETRIC_HINT = "only when A is symmetric"

# name -> (redefinition, question that must lose its points, words the feedback/hint must contain)
VARIANTS = {
    "transposed_layout": (
        "def grad_linear_map(A, x):\n    return A.clone()\n", "grad_linear_map",
        "Jacobian of `A @ x` instead of its transpose"),
    "symmetric_assumption": (
        "def grad_quadratic_form(A, x):\n    return 2 * A @ x\n", "grad_quadratic_form", SYMMETRIC_HINT),
    "missing_factor_2": (
        "def grad_weighted_residual_s(x, A, s, W):\n    return -A.T @ (W @ (x - A @ s))\n",
        "grad_weighted_residual_s", "factor 2"),
    "sign_flipped": (
        "def grad_weighted_residual_x(x, A, s, W):\n    return -2 * W @ (x - A @ s)\n",
        "grad_weighted_residual_x", "sign flipped"),
    "float32_cast": (
        "def grad_chain_rule(x, A):\n    x, A = x.float(), A.float()\n    y = A @ x\n"
        "    return 2 * (A.T @ y) / (1 + y @ y)\n", "grad_chain_rule", "keep the dtype"),
    "in_place_argument": (
        "def grad_inner(x, a):\n    x.zero_()\n    return a.clone()\n", "grad_inner", "in place"),
    "numpy_return": (
        "def grad_inner(x, a):\n    return a.cpu().numpy()\n", "grad_inner", "numpy.ndarray"),
    "inverse_not_transposed": (
        "def grad_log_abs_det(A):\n    return torch.linalg.inv(A)\n", "grad_log_abs_det",
        "gradient with respect to `A` has the shape of `A`, [n, n]"),
    "trace_not_transposed": (
        "def grad_trace_product(A, B):\n    return B.clone()\n", "grad_trace_product",
        "transpose of the gradient of `torch.trace(A @ B)`"),
    "dropped_outer_derivative": (
        "def grad_chain_rule(x, A):\n    return 2 * A.T @ (A @ x)\n", "grad_chain_rule", "outer derivative"),
    "uses_autograd": (
        "from torch.autograd import grad as _g\n"
        "def grad_quadratic_form(A, x):\n    x = x.detach().clone().requires_grad_(True)\n"
        "    return _g(x @ A @ x, x)[0].detach()\n", "grad_quadratic_form", "uses torch autograd"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("variants")
    paths = [write(notebook_with(SOLUTION, []), folder, "solution"),
             write(notebook_with(BLANK, [], drop_check_cell=False), folder, "blank")]
    for name, (source, _, _) in VARIANTS.items():
        paths.append(write(notebook_with(SOLUTION, [source]), folder, name))
    return grade(paths, tmp_path_factory.mktemp("out"))


def test_solution_gets_full_marks(graded):
    result = graded["solution"]
    assert result.status == "graded"
    assert result.score == result.max_score == 12
    assert all(q.status == "passed" for q in result.questions)
    assert all(q.cases["cpu"].passed == q.cases["cpu"].total == 12 for q in result.questions)


def test_blank_notebook_gets_zero_with_not_implemented(graded):
    result = graded["blank"]
    assert result.status == "graded"
    assert result.score == 0
    for q in result.questions:
        assert q.status == "not_implemented", q
        assert "not implemented" in q.feedback


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_loses_only_its_question_with_the_right_hint(graded, variant):
    _, question, words = VARIANTS[variant]
    result = graded[variant]
    questions = by_question(result)
    lost = {qid for qid, q in questions.items() if q.score < q.max_score}
    assert lost == {question}
    assert result.score == result.max_score - questions[question].max_score
    target = questions[question]
    assert target.score == 0
    said = " ".join([target.feedback, *target.hints, *(c.message for c in target.public_failures)])
    assert words in said, said


def test_hidden_cases_show_only_as_counts(graded):
    q = by_question(graded["symmetric_assumption"])["grad_quadratic_form"]
    assert q.hidden_failed == 8   # 4 hidden cases x 2 dtypes
    assert all(c.case.startswith("public-") for c in q.public_failures)


def test_results_and_reports_are_written(graded, tmp_path_factory):
    # grade() wrote into a fresh folder: one JSON per submission plus the gradebook
    result = graded["solution"]
    assert result.sha256 and len(result.sha256) == 64
    assert result.source.endswith("solution.ipynb")
