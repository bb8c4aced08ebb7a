"""The `forward_mode` and `reverse_mode` check kinds: the student's `Dual` / `Value` classes on
expression graphs the grader builds. Their work is done by grader/checks/autodiff.py, their
cases by grader/checks/graph_cases.py."""

from __future__ import annotations

import typing as t

from grader.rubric.kinds import Kind, question_snippet
from grader.rubric.parts import AutodiffCheck


class ForwardModeCheck(AutodiffCheck):
    """Forward mode with the student's `Dual`: through the class itself (values and
    derivatives along each input direction) or through `derivative`, `jvp`, `jacobian`."""

    kind: t.Literal["forward_mode"]
    via: t.Literal["class", "derivative", "jvp", "jacobian"]


class ReverseModeCheck(AutodiffCheck):
    """Reverse mode with the student's `Value`: build the graph, `backward()`, read the
    leaves' `.grad` (class), or through `vjp`."""

    kind: t.Literal["reverse_mode"]
    via: t.Literal["class", "vjp"]


def _prepare(question, ctx):
    from grader.checks import autodiff     # torch: when a question is prepared, never when a rubric loads
    return autodiff.prepare(question, ctx)


def _tolerance(q, dtypes: list[str]) -> str:
    from grader.checks.autodiff import GRAPH_TOLERANCE     # the checks' floor: not at a record's top
    from grader.checks.compare import tolerance
    rtol, atol = tolerance(q, "float64", GRAPH_TOLERANCE)
    return f"rtol {rtol:g}, atol {atol:g}"


def _problem(q):
    from grader.checks import graph_cases, semantics     # the checks' floor: not at a record's top

    def generate(small) -> None:
        cases = graph_cases.graph_cases(small, public_only=False)
        # one reference (a deep chain's takes seconds, and its templates are fixed)
        if cases and q.check.graphs.generator != "deep_chain":
            graph_cases.expected(q.check, cases[0])
    return semantics.generation_problem(q, generate)


def _describe(c: AutodiffCheck) -> str:
    g = c.graphs
    ops = f" over {', '.join(f'`{o}`' for o in g.ops)}" if g.ops else ""
    shape = {"single_op": "one operation per case" + (" with a number on the right" if g.number_right else ""),
             "random_dag": f"random graphs of {g.nodes} nodes on {g.inputs} inputs, {g.outputs} output(s)",
             "deep_chain": f"a chain {g.depth:,} operations deep",
             "reuse": "graphs that reuse a node", "accumulate": "two graphs on the same leaves"}[g.generator]
    torch_rule = "; torch inside the class scores 0" if "torch" in c.forbid else ""
    return f"{c.kind.replace('_', ' ')} via `{c.via}`: {shape}{ops}{torch_rule}"


def _graph_kind(name: str, model: type[AutodiffCheck], student_class: str, how: str,
                title: str, vias: str, graphs: str) -> Kind:
    """The two kinds differ in their model and texts; their code, and the form of their snippet
    (via the class, torch forbidden, the graphs' settings), are the same."""
    convention = (f"The grader builds expression graphs out of the student's `{student_class}`s with Python "
                  f"operators and methods only, on plain Python floats{how}")
    check = f"  check:\n    kind: {name}\n    via: class\n    forbid: [torch]\n    graphs: {graphs}\n"
    snippet = question_snippet(title, student_class, check, hidden=3, note=f"via: {vias}")
    return Kind(name, model, _prepare, autograd=True, tensors=False, convention=convention, snippet=snippet,
                describe=_describe, tolerance=_tolerance, problem=_problem)


FORWARD_MODE = _graph_kind(
    "forward_mode", ForwardModeCheck, "Dual",
    "; values and derivatives are compared with torch forward-mode AD of the same graph in float64.",
    "the student's Dual on one operation", "class | derivative | jvp | jacobian",
    "{{generator: single_op, ops: [mul]}}   # single_op | random_dag | deep_chain | reuse")

REVERSE_MODE = _graph_kind(
    "reverse_mode", ReverseModeCheck, "Value",
    ", calls `backward()` and reads the leaves' `.grad`; compared with torch reverse-mode autograd of the "
    "same graph in float64.",
    "the student's Value on random graphs", "class | vjp",
    "{{generator: random_dag, inputs: 3, nodes: 12, ops: [add, mul, tanh]}}")
