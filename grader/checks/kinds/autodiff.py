"""The `forward_mode` and `reverse_mode` check kinds: the student's `Dual` / `Value` classes on
expression graphs the grader builds. Their work is done by grader/checks/autodiff.py, their
cases by grader/checks/graph_cases.py."""

from __future__ import annotations

import typing as t

from grader.rubric.kinds import Kind
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
    from grader.checks.autodiff import GRAPH_TOLERANCE
    from grader.checks.compare import tolerance
    rtol, atol = tolerance(q, "float64", GRAPH_TOLERANCE)
    return f"rtol {rtol:g}, atol {atol:g}"


def _problem(q):
    from grader.checks import graph_cases, semantics

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


FORWARD_MODE = Kind(
    "forward_mode", ForwardModeCheck, _prepare, autograd=True, tensors=False,
    convention="The grader builds expression graphs out of the student's `Dual`s with Python "
               "operators and methods only, on plain Python floats; values and derivatives are "
               "compared with torch forward-mode AD of the same graph in float64.",
    snippet="""\
- id: {id}
  title: the student's Dual on one operation
  points: 1
  calls: [Dual]                  # via: class | derivative | jvp | jacobian
  check:
    kind: forward_mode
    via: class
    forbid: [torch]
    graphs: {{generator: single_op, ops: [mul]}}   # single_op | random_dag | deep_chain | reuse
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 3, seed: 1001}}}}
""",
    describe=_describe, tolerance=_tolerance, problem=_problem)

REVERSE_MODE = Kind(
    "reverse_mode", ReverseModeCheck, _prepare, autograd=True, tensors=False,
    convention="The grader builds expression graphs out of the student's `Value`s with Python "
               "operators and methods only, on plain Python floats, calls `backward()` and reads the "
               "leaves' `.grad`; compared with torch reverse-mode autograd of the same graph in float64.",
    snippet="""\
- id: {id}
  title: the student's Value on random graphs
  points: 1
  calls: [Value]                 # via: class | vjp
  check:
    kind: reverse_mode
    via: class
    forbid: [torch]
    graphs: {{generator: random_dag, inputs: 3, nodes: 12, ops: [add, mul, tanh]}}
  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: 3, seed: 1001}}}}
""",
    describe=_describe, tolerance=_tolerance, problem=_problem)
