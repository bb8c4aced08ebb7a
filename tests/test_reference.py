"""The trusted side without a kernel: references, cases, comparison, diagnosis, static checks."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch

from grader.checks import reference
from grader.checks.cases import cases_for, draw_dims
from grader.checks.compare import close, tolerance
from grader.checks.diagnose import LAYOUT, explain
from grader.checks.static import NotebookCode
from grader.checks.semantics import load_rubric
from helpers import RUBRIC


def t64(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


def test_gradient_of_vector_function_is_transposed_jacobian():
    A, x = t64(3, 5), t64(5, seed=1)
    g = reference.gradient("A @ x", "x", {"A": A, "x": x})
    assert g.shape == (5, 3)
    torch.testing.assert_close(g, A.T)


def test_gradient_of_scalar_has_shape_of_wrt():
    A, B = t64(3, 4), t64(4, 3, seed=1)
    torch.testing.assert_close(reference.gradient("torch.trace(A @ B)", "A", {"A": A, "B": B}), B.T)
    M, x = t64(4, 4), t64(4, seed=2)
    torch.testing.assert_close(reference.gradient("x @ A @ x", "x", {"A": M, "x": x}), (M + M.T) @ x)
    torch.testing.assert_close(reference.gradient("torch.linalg.slogdet(A).logabsdet", "A", {"A": M}),
                               torch.linalg.inv(M).T)


def test_cases_are_seeded_rectangular_and_well_conditioned():
    rubric = load_rubric(RUBRIC)
    q = {q.id: q for q in rubric.questions}
    first = cases_for(q["grad_trace_product"], ["float64"], ["cpu"])
    reloaded = {q.id: q for q in load_rubric(RUBRIC).questions}   # other objects: drawn anew, not cached
    again = cases_for(reloaded["grad_trace_product"], ["float64"], ["cpu"])
    assert again is not first and [c.id for c in first] == [c.id for c in again]
    assert all(torch.equal(a.args["A"], b.args["A"]) for a, b in zip(first, again))
    assert all(c.dims["m"] != c.dims["n"] for c in first)
    for c in cases_for(q["grad_log_abs_det"], ["float64"], ["cpu"]):
        s = torch.linalg.svdvals(c.args["A"])
        assert s.min() >= 1 - 1e-9 and s.max() <= 3 + 1e-9
    for c in cases_for(q["grad_quadratic_form"], ["float64"], ["cpu"]):
        assert not torch.allclose(c.args["A"], c.args["A"].T)
    for c in cases_for(q["grad_weighted_residual_s"], ["float32"], ["cpu"]):
        assert c.args["W"].dtype == torch.float32 and torch.equal(c.args["W"], c.args["W"].T)


def test_public_and_hidden_cases_use_different_seeds():
    q = load_rubric(RUBRIC).questions[0]
    cases = cases_for(q, ["float64"], ["cpu"])
    public = [c.args["x"] for c in cases if c.visibility == "public"]
    hidden = [c.args["x"] for c in cases if c.visibility == "hidden"]
    assert len(public) == 2 and len(hidden) == 4
    assert not any(p.shape == h.shape and torch.equal(p, h) for p in public for h in hidden)


def test_distinct_symbols_get_distinct_sizes():
    rng = np.random.default_rng(0)
    for _ in range(50):
        d = draw_dims({"m": (2, 4), "n": (2, 4), "k": (2, 4)}, rng)
        assert len(set(d.values())) == 3


def test_tolerance_table_follows_torch_testing():
    q = load_rubric(RUBRIC).questions[0]
    assert tolerance(q, "float64") == (1e-7, 1e-7)
    assert tolerance(q, "float32") == (1.3e-6, 1e-5)
    ref = torch.tensor([1.0, 100.0], dtype=torch.float64)
    assert close(ref * (1 + 5e-8), ref, 1e-7, 1e-7).ok
    bad = close(ref + torch.tensor([0.0, 1e-3], dtype=torch.float64), ref, 1e-7, 1e-7)
    assert not bad.ok and bad.worst_index == (1,) and bad.worst_ratio > 1


def test_nan_never_passes():
    ref = torch.zeros(3, dtype=torch.float64)
    assert not close(torch.tensor([0.0, float("nan"), 0.0], dtype=torch.float64), ref, 1e-7, 1e-7).ok


@pytest.mark.parametrize("make,words", [
    (lambda r: r.T.clone(), "denominator layout"),
    (lambda r: 2 * r, "twice"),
    (lambda r: r / 2, "half"),
    (lambda r: -r, "sign flipped"),
])
def test_generic_mistakes_are_named(make, words):
    ref = t64(4, 4)
    assert words in explain(make(ref), ref, [], 1e-7, 1e-7)


def test_correct_or_random_answers_have_no_false_diagnosis():
    ref = t64(4, 4)
    assert explain(t64(4, 4, seed=9), ref, [], 1e-7, 1e-7) is None
    assert LAYOUT.startswith("returned the Jacobian")


def _nb(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_static_check_finds_autograd_through_aliases_and_helpers():
    nb = _nb("import torch\nfrom torch.func import grad as G\n",
             "def helper(A, x):\n    return G(lambda v: v @ A @ v)(x)\n",
             "def grad_quadratic_form(A, x):\n    return helper(A, x)\n",
             "def grad_inner(x, a):\n    return a.clone()\n",
             "%timeit 1\ndef grad_chain_rule(x, A):\n    y = x.clone().requires_grad_()\n    return y\n")
    code = NotebookCode(nb)
    found = code.autograd_uses("grad_quadratic_form")
    assert found and found[0].function == "helper" and "G" in found[0].what
    assert code.autograd_uses("grad_inner") == []
    assert code.autograd_uses("grad_chain_rule")[0].what.endswith("requires_grad_")


def test_static_check_uses_the_last_definition():
    nb = _nb("def f(x):\n    return torch.autograd.grad(x, x)\n", "def f(x):\n    return x\n")
    assert NotebookCode(nb).autograd_uses("f") == []


#: what the first use of some torch APIs imports: over two seconds of a student's `grader check`,
#: and torch._dynamo leaves a torchinductor folder in the temporary directory
HEAVY = ("torch._dynamo", "sympy", "torch.fx.experimental.symbolic_shapes")

REFERENCES_IN_A_FRESH_PROCESS = """
import sys, torch
from grader.checks import reference
from grader.checks.compare import close
from grader.expr import generate
from grader.expr.torch_eval import forward_reference, jacobian, reverse_reference
x = torch.randn(3, 4, dtype=torch.float64)
reference.gradient("(x * x).sum()", "x", {"x": x})
reference.gradient("x @ x.T", "x", {"x": x})
for op, const in (("rmul", 2.0), ("radd", -1.5), ("rdiv", 3.0), ("mul", 2.0), ("pow", 3)):
    g = generate.single_op(op, const=const)
    forward_reference(g.graph, g.points, torch.ones(g.graph.n_inputs, dtype=torch.float64))
    reverse_reference(g.graph, g.points, torch.ones(g.graph.n_outputs, dtype=torch.float64))
    jacobian(g.graph, g.points[0])
generate.random_dag(3)
close(torch.ones(2, 3), torch.zeros(2, 3), 1e-6, 1e-6)
print(",".join(m for m in HEAVY if m in sys.modules))
"""


def test_references_leave_torchs_compiler_stack_unimported():
    """The references are the same numbers without torch.func, a dual times a plain number
    (a torch._refs decomposition), a cotangent handed to autograd.grad or torch.unravel_index:
    each of those imports torch._dynamo or sympy the first time."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + REFERENCES_IN_A_FRESH_PROCESS],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"imported: {done.stdout.strip()}"


def test_forward_mode_constants_as_duals_give_the_plain_numbers_results():
    """A constant operand made a dual with zero tangent (to keep torch._refs out) gives the
    tangents of plain-number arithmetic, up to the sign of a zero."""
    import torch.autograd.forward_ad as fwad
    from grader.expr import generate
    from grader.expr.torch_eval import forward_reference, node_values
    for op in ("radd", "rsub", "rmul", "rdiv", "add", "sub", "mul", "div"):
        for const in (2.0, -3.5, 0.5):
            g = generate.single_op(op, seed=1, const=const)
            x = torch.as_tensor(g.points)
            v = torch.full_like(x, 0.7)
            with fwad.dual_level():
                plain = node_values(g.graph, fwad.make_dual(x, v))     # constants as Python numbers
                y, tangent = fwad.unpack_dual(torch.stack([plain[o] for o in g.graph.outputs], dim=-1))
            got = forward_reference(g.graph, x, v)
            assert torch.equal(got[0], y) and torch.equal(got[1], tangent), (op, const)
