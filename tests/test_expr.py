"""grader.expr: one expression specification, two interpreters that agree.

The kernel-side interpreter is exec'd here from its source text (as the
kernel would) and run on reference Dual / Value classes; its outputs, J v and
v^T J must match the torch references in float64.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.expr import KERNEL_INTERP_SOURCE, Builder, Graph, Node, SpecError, kernel_install_code
from grader.expr.ops import DIVISOR_MIN, LOG_MIN, RELU_MARGIN
from grader.expr.generate import (ALL_OPS, MICROGRAD_OPS, deep_chain,
                                  point_mask, random_dag, reuse_graph, sample_inputs, single_op, violations)
from grader.expr.spec import OPS
from grader.expr.torch_eval import TORCH_OPS, evaluate, forward_reference, jacobian, reverse_reference
from ref_autodiff import Dual, Value, without

RTOL = 1e-9


@pytest.fixture(scope="module")
def interp():
    """The interpreter as the kernel gets it: source text, exec'd, one name left."""
    ns: dict = {}
    exec(compile(kernel_install_code("_grader_expr_test"), "<kernel_interp>", "exec"), ns)
    return ns["_grader_expr_test"]


def close(got, ref) -> None:
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=RTOL * scale)


def dual_jvp(interp, graph: Graph, x, v):
    outs = interp.function(graph.to_json())([Dual(float(a), float(b)) for a, b in zip(x, v)])
    return [o.real for o in outs], [o.dual for o in outs]


def value_vjp(interp, graph: Graph, x, v, cls=Value):
    leaves = [cls(float(a)) for a in x]
    outs = interp.function(graph.to_json())(leaves)
    loss = outs[0] * float(v[0])            # the scalar v^T y, then one backward
    for o, w in zip(outs[1:], v[1:]):
        loss = loss + o * float(w)
    loss.backward()
    return [o.data for o in outs], [leaf.grad for leaf in leaves]


def check_agree(interp, graph: Graph, points: np.ndarray, seed: int) -> None:
    """Dual's (y, J v) and Value's (y, v^T J) equal the torch references at every point."""
    rng = np.random.default_rng(seed)
    vs_in = rng.normal(size=(len(points), graph.n_inputs))
    vs_out = rng.normal(size=(len(points), graph.n_outputs))
    y_f, jv = forward_reference(graph, points, vs_in)        # batched over points
    y_r, vj = reverse_reference(graph, points, vs_out)
    for k, x in enumerate(points):
        y, got = dual_jvp(interp, graph, x, vs_in[k])
        close(y, y_f[k])
        close(got, jv[k])
        y, got = value_vjp(interp, graph, x, vs_out[k])
        close(y, y_r[k])
        close(got, vj[k])


# -- the specification ---------------------------------------------------------------

def test_json_round_trip_keeps_structure_and_number_types():
    graphs = [random_dag(s).graph for s in range(5)] + [single_op("pow", const=2).graph,
                                                         single_op("pow", const=2.0).graph]
    for g in graphs:
        text = g.to_json()
        assert json.loads(text) == g.to_dict()            # plain JSON, nothing else
        back = Graph.from_json(text)
        assert back == g and back.to_json() == text
    assert type(Graph.from_json(graphs[-2].to_json()).nodes[0].const) is int
    assert type(Graph.from_json(graphs[-1].to_json()).nodes[0].const) is float


def node(i, op, *args, const=None):
    return {"id": i, "op": op, "args": list(args), "const": const}


@pytest.mark.parametrize("nodes, outputs, message", [
    ([node(0, "sqrt", "x")], [0], "unknown op 'sqrt'"),
    ([node(0, "add", "x", 1), node(1, "sin", "x")], [0], "not an earlier node"),
    ([node(0, "sin", 0)], [0], "not an earlier node"),
    ([node(0, "mul", "x")], [0], "takes 2 argument"),
    ([node(0, "tanh", "x", "x")], [0], "takes 1 argument"),
    ([node(0, "pow", "x")], [0], "needs a constant exponent"),
    ([node(0, "pow", "x", const=True)], [0], "needs a constant exponent"),
    ([node(0, "rsub", "x")], [0], "left operand"),
    ([node(0, "sin", "x", const=2.0)], [0], "takes no constant"),
    ([node(0, "const", const=2.0), node(1, "sub", 0, "x")], [1], "right operand"),
    ([node(0, "const", const=2.0), node(1, "sin", 0)], [1], "right operand"),
    ([node(0, "const", const=2.0)], [0], "is a constant"),
    ([node(0, "sin", "z")], [0], "unknown input 'z'"),
    ([node(1, "sin", "x")], [0], "must equal its position"),
    ([node(0, "sin", "x")], [3], "not a node index"),
    ([node(0, "sin", "x")], [], "at least one output"),
    ([node(0, "sin", 1.5)], [0], "neither an input name nor a node index"),
])
def test_validation_names_the_problem(nodes, outputs, message):
    with pytest.raises(SpecError, match=message):
        Graph.from_dict({"version": 1, "inputs": ["x"], "nodes": nodes, "outputs": outputs})


def test_validation_of_the_envelope():
    with pytest.raises(SpecError, match="version"):
        Graph.from_dict({"version": 2, "inputs": ["x"], "nodes": [], "outputs": []})
    with pytest.raises(SpecError, match="unknown graph keys"):
        Graph.from_dict({"version": 1, "inputs": ["x"], "nodes": [], "outputs": [], "extra": 1})
    with pytest.raises(SpecError, match="duplicate"):
        Graph(inputs=["x", "x"], nodes=[Node(0, "sin", ("x",))], outputs=[0])
    with pytest.raises(SpecError, match="finite"):
        Graph(inputs=["x"], nodes=[Node(0, "radd", ("x",), math.nan)], outputs=[0])
    with pytest.raises(SpecError, match="args must be a list"):
        Graph.from_dict({"version": 1, "inputs": ["x"], "nodes": [node(0, "sin") | {"args": "x"}],
                         "outputs": [0]})
    with pytest.raises(SpecError, match="not JSON"):
        Graph.from_json("{")


def test_op_tables_agree(interp):
    assert TORCH_OPS.keys() == OPS.keys()
    assert set(interp.OPS) | {"const"} == set(OPS)
    for op, (_, text) in interp.OPS.items():   # the kernel spells each op as the spec says
        assert text == OPS[op].python


# -- the two interpreters agree ----------------------------------------------------------

@pytest.mark.parametrize("op, const", [(op, None) for op in ALL_OPS]
                         + [(op, c) for op in ("add", "sub", "mul", "div") for c in (2, -1.5)]
                         + [("pow", c) for c in (2, 2.0, -1, 0.5, -0.5)]
                         + [("rdiv", 3)])
def test_single_ops_agree(interp, op, const):
    g = single_op(op, seed=1, const=const)
    check_agree(interp, g.graph, g.points, seed=2)


def test_reuse_graph_accumulates_both_paths(interp):
    g = reuse_graph()
    for a, b in g.points:
        _, grads = value_vjp(interp, g.graph, [a, b], [1.0])
        close(grads, [2 * a + b, a])                      # d = a (a + b): a is used twice
    check_agree(interp, g.graph, g.points, seed=0)


def test_random_dags_agree_for_hundreds_of_seeds(interp):
    for seed in range(250):
        rng = np.random.default_rng(10_000 + seed)
        n_nodes = int(rng.integers(1, 40))
        g = random_dag(seed, n_inputs=int(rng.integers(1, 5)), n_nodes=n_nodes,
                       n_outputs=int(rng.integers(1, min(n_nodes, 4) + 1)), n_points=3)
        check_agree(interp, g.graph, g.points, seed)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_inputs=st.integers(1, 4), n_nodes=st.integers(1, 60),
       ops=st.lists(st.sampled_from(ALL_OPS), min_size=1, max_size=6, unique=True))
def test_random_dags_agree_any_op_mix(interp, seed, n_inputs, n_nodes, ops):
    ops = ops + ["add"]           # some op that can always grow the graph
    g = random_dag(seed, n_inputs=n_inputs, n_nodes=n_nodes, n_outputs=1, ops=ops, n_points=2)
    assert {n.op for n in g.graph.nodes} <= set(ops) | {"const"}
    check_agree(interp, g.graph, g.points, seed % 1000)


def test_deep_chain_no_recursion_both_modes(interp):
    g = deep_chain(seed=3, depth=5000)
    assert g.graph.depth() >= 5000
    check_agree(interp, g.graph, g.points[:1], seed=3)
    assert np.abs(jacobian(g.graph, g.points[0]).numpy()).max() > 1e-3   # not a vanished gradient


def test_jacobian_matches_forward_passes(interp):
    g = random_dag(7, n_inputs=3, n_nodes=20, n_outputs=3)
    x = g.points[0]
    J = jacobian(g.graph, x).numpy()
    cols = [dual_jvp(interp, g.graph, x, e)[1] for e in np.eye(3)]   # n forward passes
    close(np.array(cols).T, J)
    close(J, torch.func.jacrev(lambda p: evaluate(g.graph, p))(torch.tensor(x)).numpy())


# -- unsupported operations are reported as such ----------------------------------------

def test_missing_method_is_operation_not_supported(interp):
    NoTanh = without(Value, "tanh")
    b = Builder(["x", "y"])
    t = b.op("tanh", b.op("mul", "x", b.op("add", "x", "y")))
    graph = b.build([t])
    with pytest.raises(interp.OperationNotSupported, match=r"operation not supported: tanh") as info:
        interp.function(graph.to_json())([NoTanh(0.5), NoTanh(0.2)])
    assert info.value.op == "tanh" and info.value.missing and "Value" in str(info.value)
    g = random_dag(0, n_nodes=30, ops=("add", "mul", "sin"))             # without tanh it works
    value_vjp(interp, g.graph, g.points[0], [1.0, 1.0], cls=NoTanh)


def test_missing_reflected_operator_names_the_op(interp):
    NoRsub = without(Dual, "__rsub__")
    with pytest.raises(interp.OperationNotSupported, match="operation not supported: rsub .*2.0 - a"):
        interp.function(single_op("rsub").graph.to_json())([NoRsub(1.0, 1.0)])
    out = interp.function(single_op("sub", const=2.0).graph.to_json())([NoRsub(1.0, 1.0)])
    assert (out[0].real, out[0].dual) == (-1.0, 1.0)                  # x - 2.0 still works


def test_errors_inside_student_methods(interp):
    class Typo(Dual):
        def sin(self):
            return self.rael                      # AttributeError inside the student's method
    with pytest.raises(interp.OperationNotSupported, match="in sin, line") as info:
        interp.function(single_op("sin").graph.to_json())([Typo(1.0, 1.0)])
    assert not info.value.missing                 # it exists but fails: feedback names the line

    class Broken(Dual):
        def sin(self):
            raise ZeroDivisionError("student bug")
    with pytest.raises(ZeroDivisionError):        # other errors reach the probe unchanged
        interp.function(single_op("sin").graph.to_json())([Broken(1.0, 1.0)])
    with pytest.raises(TypeError, match="list of 2 values"):
        interp.function(single_op("add").graph.to_json())([Dual(1.0)])


def test_exponent_type_reaches_the_student_unchanged(interp):
    seen = []

    class Spy(Dual):
        def __pow__(self, c):
            seen.append(type(c))
            return super().__pow__(c)
    for c in (2, 2.0):
        interp.function(single_op("pow", const=c).graph.to_json())([Spy(1.5, 1.0)])
    assert seen == [int, float]


def test_scalar_function_for_derivative(interp):
    f = interp.scalar_function(single_op("tanh").graph.to_json())
    assert f(Dual(0.3, 1.0)).dual == pytest.approx(1 - math.tanh(0.3) ** 2, rel=1e-12)


def test_kernel_install_leaves_one_name_and_survives_shadowed_builtins():
    ns = {"list": None, "len": None, "getattr": None, "type": None}   # a notebook that reused them
    exec(kernel_install_code("_grader_expr_x"), ns)
    assert set(ns) - {"list", "len", "getattr", "type", "__builtins__"} == {"_grader_expr_x"}
    f = ns["_grader_expr_x"].function(reuse_graph().graph.to_json())
    assert f([Dual(2.0, 1.0), Dual(3.0)])[0].dual == 7.0
    assert "import grader" not in KERNEL_INTERP_SOURCE


# -- the generator ------------------------------------------------------------------------

def test_generators_are_deterministic():
    for make in (lambda: random_dag(11), lambda: deep_chain(1, depth=300), lambda: single_op("log", seed=4)):
        a, b = make(), make()
        assert a.graph.to_json() == b.graph.to_json()
        assert a.points.tobytes() == b.points.tobytes()


def test_generated_points_respect_domains():
    for seed in range(40):
        g = random_dag(seed, n_nodes=30)
        assert point_mask(g.graph, g.points).all() and not violations(g.graph, g.points)
    assert (single_op("log").points >= LOG_MIN).all()
    assert (np.abs(single_op("div").points[:, 1]) >= DIVISOR_MIN).all()
    assert (np.abs(single_op("relu").points) >= RELU_MARGIN).all()
    assert (single_op("pow", const=0.5).points > 0).all()


def test_impossible_domain_is_a_clear_error():
    b = Builder(["x"])
    graph = b.build([b.op("log", b.op("rsub", b.op("pow", "x", const=2), const=-1.0))])   # log(-1 - x^2)
    assert violations(graph, [[0.5]]) == ["node 2 (log) outside its domain at 1 point(s)"]
    with pytest.raises(SpecError, match="inside every op's domain"):
        sample_inputs(graph, seed=0, k=2, max_draws=500)


def test_generator_honours_op_subsets():
    g = random_dag(5, n_nodes=50, ops=MICROGRAD_OPS)
    assert {n.op for n in g.graph.nodes} <= set(MICROGRAD_OPS) | {"const"}
    chain = deep_chain(2, depth=200, templates=("tanh", "div", "mix"))
    assert {n.op for n in chain.graph.nodes} <= {"tanh", "rmul", "mul", "add", "const", "div", "radd"}
    assert chain.graph.depth() >= 200
