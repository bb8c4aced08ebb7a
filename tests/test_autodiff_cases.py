"""The cases of the forward/reverse-mode questions, without a kernel: what the public cases
exercise, how graphs are printed, and the pieces the diagnoses are built from."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch

from grader.checks import autodiff, class_ops, engines, graph_cases
from grader.checks.autodiff_explain import swapped_graph
from grader.checks.graph_text import spell
from grader.checks.static import NotebookCode
from grader.expr import generate
from grader.expr.spec import Builder
from grader.expr.torch_eval import evaluate, reverse_reference
from grader.checks.semantics import load_rubric
from helpers import ROOT

RUBRICS = {name: load_rubric(ROOT / "rubrics" / f"{name}.yaml") for name in ("backward_engine", "dual_numbers")}


def questions(kind: str | None = None, via: str | None = None):
    for name, rubric in RUBRICS.items():
        for q in rubric.questions:
            if (kind is None or q.check.graphs.generator == kind) and (via is None or q.check.via == via):
                yield name, q


def _run_printed(text: str, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Execute a printed graph as a student would paste it, on 0-d tensors."""
    *statements, result = text.split("; ")
    scope = dict(inputs)
    for s in statements:
        exec(s, {}, scope)
    value = eval(result, {}, scope)
    return torch.stack(value) if isinstance(value, list) else value


def test_shared_nodes_are_printed_once_and_named():
    b = Builder(["a", "b"])
    s = b.op("add", "a", "b")
    graph = b.build([b.op("add", b.op("mul", s, s), "a")])
    assert spell(graph) == "s = a + b; s * s + a"


@pytest.mark.parametrize("seed", range(40))
def test_printed_graphs_rerun_to_the_same_values_and_gradients(seed):
    g = generate.random_dag(seed, n_inputs=3, n_nodes=12, n_outputs=1, n_points=1,
                            ops=generate.VALUE_OPS)
    x = torch.tensor(g.points[0], requires_grad=True)
    text = spell(g.graph, limit=10_000)
    y = _run_printed(text, {name: x[i] for i, name in enumerate(g.graph.inputs)})
    (grad,) = torch.autograd.grad(y, x)
    ref_y, ref_grad = reverse_reference(g.graph, torch.tensor(g.points[0]), torch.ones(1, dtype=torch.float64))
    torch.testing.assert_close(y.detach().reshape(1), ref_y, rtol=1e-12, atol=1e-12, msg=text)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10, msg=text)


def test_a_failing_node_is_printed_with_what_it_depends_on_only():
    b = Builder(["x", "y"])
    dead = b.op("exp", b.op("add", "x", "y"))          # feeds no output
    graph = b.build([b.op("mul", "x", "y")])
    assert spell(graph) == "x * y"
    assert spell(graph, target=dead) == "(x + y).exp()"


def _features(mode: str, case) -> set[str]:
    return graph_cases._features(mode, set(), generate.Generated(case.graph, np.array([case.x])))


@pytest.mark.parametrize("name,q", list(questions("random_dag", "class")), ids=lambda v: getattr(v, "id", v))
def test_public_random_graphs_exercise_every_operation(name, q):
    mode = "forward" if name == "dual_numbers" else "reverse"
    found = set().union(*(_features(mode, c) for c in graph_cases.graph_cases(q, public_only=True)))
    wanted = generate.features_wanted(q.check.graphs.ops, graph_cases._numbers(q.check.graphs))
    if mode == "reverse":
        wanted |= set(engines.MISTAKES)
    assert wanted <= found, sorted(wanted - found)


@pytest.mark.parametrize("name,q", [(n, q) for n, q in questions() if q.check.via != "class"],
                         ids=lambda v: getattr(v, "id", v))
def test_functions_on_the_class_use_only_plus_and_times_between_objects(name, q):
    for case in graph_cases.graph_cases(q, public_only=False):
        assert {n.op for n in case.graph.nodes} <= {"add", "mul"}, spell(case.graph)


def test_vjp_has_a_square_and_a_non_square_public_case():
    q = next(q for q in RUBRICS["backward_engine"].questions if q.id == "vjp")
    shapes = {(len(c.graph.outputs), len(c.x)) for c in graph_cases.graph_cases(q, public_only=True)}
    assert shapes == {(3, 3), (2, 3)}


@pytest.mark.parametrize("name,q", list(questions("single_op", "class")), ids=lambda v: getattr(v, "id", v))
def test_each_operation_is_tested_with_its_operand_used_again_in_reverse_mode(name, q):
    cases = graph_cases.graph_cases(q, public_only=True)
    for op in q.check.graphs.ops:
        graphs = [c.graph for c in cases if c.op == op]
        reused = [g for g in graphs if g.nodes[-1].op == "add" and g.nodes[-1].args[1] == "x"]
        assert bool(reused) == (name == "backward_engine"), [spell(g) for g in graphs]


def test_pow_public_cases_have_int_float_and_negative_base():
    for name in RUBRICS:
        q = next(q for q in RUBRICS[name].questions if q.id.endswith("_pow"))
        cases = graph_cases.graph_cases(q, public_only=True)
        exponents = [next(n.const for n in c.graph.nodes if n.op == "pow") for c in cases]
        assert {type(e) for e in exponents} == {int, float} and any(e < 0 for e in exponents)
        assert any(c.x[0] < 0 and float(e).is_integer() for c, e in zip(cases, exponents))


def test_swapped_operands():
    for op, const, reuse, swapped in [("rsub", 2.0, False, "x - 2.0"), ("sub", 2.0, True, "2.0 - x + x"),
                                      ("sub", None, False, "y - x"), ("rdiv", 3.0, True, "x / 3.0 + x"),
                                      ("div", None, False, "y / x")]:
        graph = generate.single_op(op, const=const, reuse=reuse).graph
        assert spell(swapped_graph(graph, op)) == swapped
        x = torch.tensor([0.7, 1.3][:graph.n_inputs], dtype=torch.float64)
        assert not torch.allclose(evaluate(graph, x), evaluate(swapped_graph(graph, op), x))
    assert swapped_graph(generate.single_op("add").graph, "add") is None


def test_operations_built_on_others_are_read_from_the_class():
    code = NotebookCode(nbformat.read(ROOT / "samples" / "backward_engine" / "student05_micrograd_api.ipynb",
                                      as_version=4))
    built = class_ops.built_on(code, "Value")
    assert built["neg"] == {"mul"} and built["sub"] == {"add", "neg"} and built["div"] == {"mul", "pow"}
    assert built["mul"] == set() and "exp" not in built   # micrograd has no exp
    # float arithmetic on .data and inside _backward closures is not an operation on the class
    solution = NotebookCode(nbformat.read(ROOT / "solutions" / "dual_numbers.ipynb", as_version=4))
    assert not any(class_ops.built_on(solution, "Dual").values())


def test_a_float32_result_is_judged_with_the_float32_tolerance():
    q = next(q for q in RUBRICS["backward_engine"].questions if q.id == "value_tanh")
    as_float32 = [[float(np.float32(0.4303037643))], [float(np.float32(0.8148386704))]]
    assert autodiff._tolerance(q, as_float32) == (1.3e-6, 1e-5)
    assert autodiff._tolerance(q, [[0.4303037643], [0.8148386704]]) == autodiff.TOLERANCE


def test_unsupported_operations_are_explained_from_the_kernel_error():
    from grader.checks.autodiff_explain import unsupported
    tanh = generate.single_op("tanh").graph
    message, hint, node = unsupported("operation not supported: tanh (a.tanh() with Dual): AttributeError: "
                                      "'Dual' object has no attribute 'tanh'", [tanh], {"__add__"}, "Dual")
    assert message.startswith("operation not supported: tanh") and node == "x.tanh()"
    assert hint == "implement `tanh` in your `Dual` class: `x.tanh()` calls it, with no argument"
    radd = generate.single_op("radd", const=2.0).graph
    message, hint, _ = unsupported("operation not supported: radd (2.0 + a with Value) in __radd__, line 7: "
                                   "return other.data: AttributeError: 'float' object has no attribute 'data'",
                                   [radd], {"__radd__"}, "Value")
    assert message == ("`Value.__radd__` exists but raised on `2.0 + x` (the float 2.0 on the left): "
                       "AttributeError: 'float' object has no attribute 'data' (in __radd__, line 7: return other.data)")
    assert "must also accept a plain number (int or float) on the left" in hint
    # in a composite, the node that raised: the first `**` with a float exponent, not the int one
    b = Builder(["x"])
    graph = b.build([b.op("add", b.op("pow", "x", const=2), b.op("pow", b.op("exp", "x"), const=0.5))])
    _, hint, node = unsupported("operation not supported: pow (a ** 0.5 with Value): TypeError: unsupported "
                                "operand type(s) for ** or pow(): 'Value' and 'float'", [graph], {"__pow__"}, "Value")
    assert node == "x.exp() ** 0.5" and "it failed on a float one" in hint
