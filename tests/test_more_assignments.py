"""numerical_diff, torch_autograd, lagrange end to end: solutions, blanks, planted bugs.

Each sample has one planted mistake; it must get, question by question, the
verdict its table (samples/recipes/<assignment>.py) gives beside its recipe.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from grader.batch import grade_batch
from grader.checks.semantics import load_rubric
from grader.submissions import discover
from helpers import ROOT, by_question, config
from sample_verdicts import batch_mismatches, table

TABLES = {name: table(name) for name in ("numerical_diff", "torch_autograd", "lagrange")}


@pytest.fixture(scope="module", params=sorted(TABLES))
def graded(request, tmp_path_factory):
    name = request.param
    rubric = load_rubric(ROOT / "rubrics" / f"{name}.yaml")
    out = tmp_path_factory.mktemp(name)
    subs = discover([ROOT / "samples" / name, ROOT / "solutions" / f"{name}.ipynb",
                     ROOT / "assignments" / f"{name}.ipynb"])
    results = asyncio.run(grade_batch(subs, rubric, config(), out, workers=2))
    return name, {r.submission: r for r in results}, out


def test_solution_full_marks_and_blank_zero(graded):
    name, results, _ = graded
    solution = results[name]
    assert solution.score == solution.max_score, [(q.id, q.feedback) for q in solution.questions
                                                  if q.status != "passed"]
    blank = results[f"{name}-2"]
    assert blank.score == 0 and all(q.status == "not_implemented" for q in blank.questions)


def test_each_sample_gets_the_verdict_in_its_table(graded):
    """Every question of every sample: status, points (all or none) and the words its feedback
    must contain, as samples/recipes/<name>.py says beside the sample's recipe."""
    name, results, _ = graded
    problems = batch_mismatches(TABLES[name], results, {name, f"{name}-2"})
    assert not problems, "\n".join(problems)


def test_course_example_is_the_first_public_case():
    from grader.checks.numdiff import COURSE_X, analytic, course_example, fd_cases
    rubric = load_rubric(ROOT / "rubrics" / "numerical_diff.yaml")
    first = fd_cases(rubric.questions[0], public_only=True)[0]
    assert first.x == (COURSE_X,) and first.graph == course_example()
    assert analytic(first.graph, first.x) == pytest.approx([5.25], abs=1e-12)   # f'(1.5) = 5.25


def test_feedback_has_the_error_plot(graded):
    name, results, out = graded
    if name != "numerical_diff":
        pytest.skip("plots belong to the finite-difference questions")
    md = (out / "feedback" / "student05_central_is_forward.md").read_text()
    assert "![central_difference: error against h" in md
    png = out / "feedback" / "student05_central_is_forward.central_difference.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((out / "results" / "student05_central_is_forward.json").read_text())
    plot = {q["id"]: q for q in result["questions"]}["central_difference"]["plot"]
    assert round(plot["reference_slope"]) == 2 and round(plot["student_slope"]) == 1


def test_torch_autograd_cuda_cases_are_skipped_with_reason_here(graded):
    import torch
    name, results, _ = graded
    if name != "torch_autograd" or torch.cuda.is_available():
        pytest.skip("only meaningful without CUDA")
    q = results[name].questions[0]
    assert q.cases["cuda"].skipped > 0 and "CUDA" in q.cases["cuda"].skip_reason


def test_usual_autograd_confusions_get_their_hint(tmp_path):
    """A graph reused for a second backward() and backward() on a non-scalar without v."""
    from helpers import grade, notebook_with, write
    nb = notebook_with(ROOT / "solutions" / "torch_autograd.ipynb", [
        "def accumulated_grad(x, k):\n    xc = x.detach().clone().requires_grad_(True)\n"
        "    out = (xc ** 2).sum()\n    for _ in range(k):\n        out.backward()\n    return xc.grad\n",
        "def doubling_vjp(x, v):\n    xc = x.detach().clone().requires_grad_(True)\n    y = 2 * xc\n"
        "    while y.norm() < 1000:\n        y = y * 2\n    y.backward()\n    return xc.grad\n"],
        drop_check_cell=False)
    path = write(nb, tmp_path, "confused")
    result = grade([path], tmp_path / "out", public_only=True,
                   rubric=ROOT / "rubrics" / "torch_autograd.yaml")["confused"]
    q = by_question(result)
    assert q["accumulated_grad"].score == 0 and "retain_graph" in " ".join(q["accumulated_grad"].hints)
    assert q["doubling_vjp"].score == 0 and "y.backward(v)" in " ".join(q["doubling_vjp"].hints)
    assert q["mean_square_grad"].score == q["mean_square_grad"].max_score


def test_a_solver_that_takes_no_step_is_named(tmp_path):
    """Newton's loop computes its step but never applies it: the start point comes back."""
    from helpers import grade, notebook_with, write
    nb = notebook_with(ROOT / "solutions" / "lagrange.ipynb", [
        "def solve_constrained(f, g, x0, lam0, max_iter=5):\n"
        "    x, lam = x0.detach().clone(), lam0.detach().clone()\n"
        "    for _ in range(max_iter):\n"
        "        step = lagrangian_gradient(f, g, x, lam)\n"
        "        x_new = x - 0 * step[:x.shape[0]]   # the update is computed, never kept\n"
        "    return x, lam\n"], drop_check_cell=False)
    result = grade([write(nb, tmp_path, "no_step")], tmp_path / "out", public_only=True,
                   rubric=ROOT / "rubrics" / "lagrange.yaml")["no_step"]
    q = by_question(result)
    assert q["solve_constrained"].score == 0
    assert any(h.startswith("no step was taken") for h in q["solve_constrained"].hints), q["solve_constrained"].hints
    assert q["lagrangian"].score == q["lagrangian"].max_score
