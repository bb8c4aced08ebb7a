"""What the check kinds' rubric models are made of: the base every kind's model derives from, the
expressions' rules, known mistakes, graph settings. The models themselves are each kind's own
(grader/checks/kinds/); grader/rubric/model.py gathers them into the rubric's union. Kept apart
from model.py because a kind's module imports these while model.py loads that module.
"""

from __future__ import annotations

import ast
import typing as t

from pydantic import Field, model_validator

from grader.yamlmodel import StrictModel

#: names an expression may use besides the question's arguments (reference.evaluate provides them)
EXPRESSION_BUILTINS = ("abs", "float", "int", "max", "min", "sum")
EXPRESSION_GLOBALS = ("torch", "math", *EXPRESSION_BUILTINS)


def check_expression(expr: str, names: t.Iterable[str]) -> str:
    """`expr` itself, when it is a Python expression of `names` and the globals; else ValueError."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a Python expression: {exc.msg}") from None
    allowed = set(names) | set(EXPRESSION_GLOBALS)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    unknown = sorted(used - allowed)
    if unknown:
        raise ValueError(f"expression uses unknown name(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(allowed))}")
    return expr


class CheckModel(StrictModel):
    """A question's `check:`; each kind's model derives from it and adds `kind: Literal[NAME]`."""

    def check_with_args(self, args: t.Mapping[str, t.Any]) -> None:
        """Raise ValueError for what only the question's `args` show (the question's validator
        calls it); most kinds take no args."""


class Mistake(StrictModel):
    """A known wrong answer (a torch expression of the arguments) and the hint it earns."""

    when: str = Field(description="torch expression giving the wrong answer, e.g. '2 * A @ x'")
    hint: str


GraphGenerator = t.Literal["single_op", "random_dag", "deep_chain", "reuse", "accumulate"]


class GraphSpec(StrictModel):
    """Which expression graphs a forward/reverse-mode question hands to the student's code.

    single_op: one operation per case, cycling through `ops` (a number on the
    right, e.g. `x + 2.0`, where an op is listed with `number_right`);
    random_dag: random graphs over `ops` with node reuse; deep_chain: a chain
    `depth` nodes long built from `ops` templates; reuse: the course's
    d = a * (a + b) and interior reuse (s = a + b; s * s); accumulate: two
    graphs on the same leaves, backward on each.
    """

    generator: GraphGenerator
    ops: list[str] = Field(default_factory=list, description="operations (single_op, random_dag) "
                           "or templates (deep_chain)")
    number_right: bool = Field(False, description="single_op: binary ops take a plain number on the right")
    inputs: int = Field(3, ge=1, le=8)
    nodes: int = Field(16, ge=1, le=200)
    outputs: int = Field(1, ge=1, le=6)
    depth: int = Field(5000, ge=10, le=20000)


class AutodiffCheck(CheckModel):
    """What the forward_mode and reverse_mode kinds share: the graphs, and torch forbidden."""

    graphs: GraphSpec
    forbid: list[t.Literal["torch"]] = Field(
        default_factory=list, description="'torch': flag torch (autograd or tensors) inside the student's class")

    @model_validator(mode="after")
    def _known_ops(self):
        # grader.expr (no torch): only for a rubric with graph questions, not in every command's start
        from grader.expr.ops import DEEP_CHAIN_TEMPLATES, GRAPH_OPS
        known = DEEP_CHAIN_TEMPLATES if self.graphs.generator == "deep_chain" else GRAPH_OPS
        unknown = sorted(set(self.graphs.ops) - set(known))
        if unknown:
            raise ValueError(f"graphs.ops: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
        if self.graphs.generator in ("single_op", "random_dag", "deep_chain") and not self.graphs.ops:
            raise ValueError(f"graphs.ops: the {self.graphs.generator} generator needs a list of ops")
        return self
