"""The kernel-side interpreter on the *course's reference solutions* agrees with torch.

The solution notebooks' `Dual` and `Value` (their code cells exec'd here, as
a kernel would run them) build hundreds of generated graphs through the
interpreter's source text; values, J v and v^T J match the torch references
in float64. This is what makes a full-marks solution mean something.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from grader.expr import kernel_install_code
from grader.expr.generate import DUAL_OPS, VALUE_OPS, deep_chain, random_dag
from grader.expr.torch_eval import forward_reference, reverse_reference
from helpers import ROOT


def solution_namespace(name: str) -> dict:
    nb = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    ns: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and "Check your work" not in cell.source and "_check" not in cell.source:
            exec(compile(cell.source, f"<{name}>", "exec"), ns)  # noqa: S102 - the course's own solution
    return ns


@pytest.fixture(scope="module")
def interp():
    ns: dict = {}
    exec(compile(kernel_install_code("_interp"), "<kernel_interp>", "exec"), ns)  # noqa: S102
    return ns["_interp"]


def close(got, ref):
    ref = np.asarray(ref, dtype=np.float64)
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), ref, rtol=1e-9,
                               atol=1e-9 * max(1.0, float(np.abs(ref).max(initial=0.0))))


def test_solution_dual_agrees_with_forward_mode(interp):
    Dual = solution_namespace("dual_numbers")["Dual"]
    for seed in range(200):
        g = random_dag(seed, n_inputs=3, n_nodes=int(5 + seed % 30), n_outputs=2, ops=DUAL_OPS, n_points=2)
        v = np.random.default_rng(seed).normal(size=(2, 3))
        y_ref, jv_ref = forward_reference(g.graph, g.points, v)
        for k, x in enumerate(g.points):
            outs = interp.function(g.graph.to_json())([Dual(float(a), float(b)) for a, b in zip(x, v[k])])
            close([o.real for o in outs], y_ref[k])
            close([o.dual for o in outs], jv_ref[k])


def test_solution_value_agrees_with_reverse_mode(interp):
    Value = solution_namespace("backward_engine")["Value"]
    for seed in range(200):
        g = random_dag(seed, n_inputs=3, n_nodes=int(5 + seed % 30), n_outputs=1, ops=VALUE_OPS, n_points=2)
        y_ref, grad_ref = reverse_reference(g.graph, g.points, np.ones((2, 1)))
        for k, x in enumerate(g.points):
            leaves = [Value(float(a)) for a in x]
            out = interp.function(g.graph.to_json())(leaves)[0]
            out.backward()
            close([out.data], y_ref[k])
            close([leaf.grad for leaf in leaves], grad_ref[k])


def test_solution_value_handles_a_5000_deep_chain(interp):
    Value = solution_namespace("backward_engine")["Value"]
    g = deep_chain(3, depth=5000, n_outputs=1, templates=("div", "rdiv", "relu", "pow", "mix"), n_points=1)
    leaves = [Value(float(a)) for a in g.points[0]]
    out = interp.function(g.graph.to_json())(leaves)[0]
    out.backward()
    _, grad_ref = reverse_reference(g.graph, g.points, np.ones((1, 1)))
    close([leaf.grad for leaf in leaves], grad_ref[0])
