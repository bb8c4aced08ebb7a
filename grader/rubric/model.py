"""The rubric format, as pydantic models (`grader schema` prints it as JSON Schema).

A rubric is trusted course material: its expressions are torch code that the
grader evaluates in its own process to build references. Nothing here is ever
sent to the student's kernel except the arguments of each call.
"""

from __future__ import annotations

import ast
import hashlib
import typing as t

from pydantic import Field, field_validator, model_validator

from grader.config import Device, DType
from grader.yamlmodel import StrictModel

MatrixKind = t.Literal["general", "symmetric", "spd", "well_conditioned", "positive_det"]

#: names an expression may use besides the question's arguments (reference.evaluate provides them)
EXPRESSION_BUILTINS = ("abs", "float", "int", "max", "min", "sum")
EXPRESSION_GLOBALS = ("torch", "math", *EXPRESSION_BUILTINS)


def _check_expression(expr: str, names: t.Iterable[str]) -> str:
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


class Tolerance(StrictModel):
    rtol: float = Field(ge=0)
    atol: float = Field(ge=0)


class ArgSpec(StrictModel):
    """One argument: a tensor (shape in dimension symbols or numbers, and a kind) or an int."""

    shape: list[t.Union[int, str]] = Field(default_factory=list,
                                           description="e.g. [m, n]; symbols get sizes from `dims`")
    kind: MatrixKind = Field("general", description="how the values are drawn (square kinds need n x n)")
    integer: t.Optional[tuple[int, int]] = Field(None, description="a Python int from this range, "
                                                 "instead of a tensor")
    requires_grad: bool = Field(False, description="send the tensor with requires_grad=True")

    @model_validator(mode="after")
    def _square_kinds(self) -> "ArgSpec":
        if self.kind != "general" and (len(self.shape) != 2 or self.shape[0] != self.shape[1]):
            raise ValueError(f"kind '{self.kind}' needs a square shape [n, n]")
        return self


class CaseSet(StrictModel):
    count: int = Field(ge=0, le=1000)
    seed: int = Field(ge=0)


class Cases(StrictModel):
    public: CaseSet
    hidden: CaseSet = CaseSet(count=0, seed=0)


class Mistake(StrictModel):
    """A known wrong answer (a torch expression of the arguments) and the hint it earns."""

    when: str = Field(description="torch expression giving the wrong answer, e.g. '2 * A @ x'")
    hint: str


class GradientCheck(StrictModel):
    """Compare the student's result with the denominator-layout gradient of `of` w.r.t. `wrt`."""

    kind: t.Literal["gradient"]
    of: str = Field(description="torch expression of the arguments (scalar- or vector-valued)")
    wrt: str = Field(description="the argument to differentiate with respect to")
    forbid: list[t.Literal["autograd"]] = Field(
        default_factory=list, description="'autograd': flag torch autograd inside the student's code")
    mistakes: list[Mistake] = Field(default_factory=list)


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


class _AutodiffCheck(StrictModel):
    graphs: GraphSpec
    forbid: list[t.Literal["torch"]] = Field(
        default_factory=list, description="'torch': flag torch (autograd or tensors) inside the student's class")

    @model_validator(mode="after")
    def _known_ops(self):
        from grader.expr.ops import DEEP_CHAIN_TEMPLATES, GRAPH_OPS    # no torch: `grader check` loads it first
        known = DEEP_CHAIN_TEMPLATES if self.graphs.generator == "deep_chain" else GRAPH_OPS
        unknown = sorted(set(self.graphs.ops) - set(known))
        if unknown:
            raise ValueError(f"graphs.ops: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
        if self.graphs.generator in ("single_op", "random_dag", "deep_chain") and not self.graphs.ops:
            raise ValueError(f"graphs.ops: the {self.graphs.generator} generator needs a list of ops")
        return self


class ForwardModeCheck(_AutodiffCheck):
    """Forward mode with the student's `Dual`: through the class itself (values and
    derivatives along each input direction) or through `derivative`, `jvp`, `jacobian`."""

    kind: t.Literal["forward_mode"]
    via: t.Literal["class", "derivative", "jvp", "jacobian"]


class ReverseModeCheck(_AutodiffCheck):
    """Reverse mode with the student's `Value`: build the graph, `backward()`, read the
    leaves' `.grad` (class), or through `vjp`."""

    kind: t.Literal["reverse_mode"]
    via: t.Literal["class", "vjp"]


class ValueCheck(StrictModel):
    """Compare the student's tensor with the value of a torch expression of the arguments,
    and check autograd semantics: a plain result, arguments (and their .grad) untouched."""

    kind: t.Literal["value"]
    expect: str = Field(description="torch expression of the args (torch and math available)")
    plain_result: bool = Field(True, description="the result must not require grad nor have a grad_fn")
    mistakes: list[Mistake] = Field(default_factory=list)


class OrderCheck(StrictModel):
    h_min: float = Field(1e-4, gt=0)
    h_max: float = Field(1e-1, gt=0)
    steps: int = Field(7, ge=3, le=30)
    tolerance: float = Field(0.35, gt=0, description="allowed |student slope - reference slope|")


class FiniteDifferenceCheck(StrictModel):
    """A finite-difference scheme: its value at a fixed h (against the same scheme in float64),
    its order of convergence (slope of log error against log h), and how often it calls f."""

    kind: t.Literal["finite_difference"]
    scheme: t.Literal["forward", "central"]
    form: t.Literal["scalar", "gradient"] = Field(
        "scalar", description="scalar: f float -> float, called as fn(f, x, h); gradient: f Tensor (n,) -> "
        "scalar Tensor, called as fn(f, x, h)")
    h: float = Field(1e-3, gt=0, description="h of the value check")
    order: t.Optional[OrderCheck] = None
    exact_calls: t.Optional[str] = Field(None, pattern=r"^[0-9]*n?$",
                                         description="e.g. '2n': f must be called exactly that often")
    inputs: tuple[int, int] = Field((2, 5), description="gradient form: range of n")


class LagrangeCheck(StrictModel):
    """Equality-constrained problems with known answers, L = f - lam^T g."""

    kind: t.Literal["lagrange"]
    via: t.Literal["lagrangian", "gradient", "solve"]
    problems: list[t.Literal["quadratic", "circle"]] = Field(
        default_factory=lambda: ["quadratic", "circle"], description="cycled through the cases")


#: the model of each check kind's `check:`, one per kind; what the grader does with each is its
#: record in grader/checks/kinds.py (the checks' floor: tests/test_registries.py keeps both equal)
CHECK_MODELS = (GradientCheck, ValueCheck, ForwardModeCheck, ReverseModeCheck, FiniteDifferenceCheck, LagrangeCheck)
Check = t.Annotated[t.Union[CHECK_MODELS], Field(discriminator="kind")]     # type: ignore[valid-type]


class Question(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    title: t.Optional[str] = None
    points: float = Field(gt=0)
    calls: list[str] = Field(min_length=1, description="student names; the first is the function "
                             "(or class) called, the others are used through it")
    args: dict[str, ArgSpec] = Field(default_factory=dict, description="tensor call arguments, in call order "
                                     "(gradient checks)")
    dims: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="inclusive size range per dimension symbol; "
        "distinct symbols always get distinct sizes")
    check: Check
    cases: Cases
    dtypes: t.Optional[list[DType]] = None
    devices: t.Optional[list[Device]] = None
    tolerance: dict[DType, Tolerance] = Field(default_factory=dict)
    call_timeout: t.Optional[float] = Field(None, gt=0)
    partial_credit: bool = Field(False, description="score = points x passed/total instead of all or nothing")
    hidden_only: dict[str, t.Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="mutants (`grader validate --mutants`) that only hidden cases "
        "may catch, each with the reason; any other mutant must be caught by a public case")

    @field_validator("dims")
    @classmethod
    def _ranges(cls, dims: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for name, (lo, hi) in dims.items():
            if not 1 <= lo <= hi:
                raise ValueError(f"dims.{name}: need 1 <= low <= high, got [{lo}, {hi}]")
        return dims

    @model_validator(mode="after")
    def _consistent(self) -> "Question":
        symbols = {s for a in self.args.values() for s in a.shape if isinstance(s, str)}
        missing = sorted(symbols - set(self.dims))
        if missing:
            raise ValueError(f"dimension symbol(s) {', '.join(missing)} need a range in `dims`")
        for name in self.args:
            if not name.isidentifier():
                raise ValueError(f"argument name '{name}' is not an identifier")
        if isinstance(self.check, GradientCheck):
            if not self.args:
                raise ValueError("a gradient check needs `args`")
            if self.check.wrt not in self.args:
                raise ValueError(f"check.wrt '{self.check.wrt}' is not one of the args "
                                 f"({', '.join(self.args)})")
            _check_expression(self.check.of, self.args)
            for m in self.check.mistakes:
                _check_expression(m.when, self.args)
        if isinstance(self.check, ValueCheck):
            if not self.args:
                raise ValueError("a value check needs `args`")
            _check_expression(self.check.expect, self.args)
            for m in self.check.mistakes:
                _check_expression(m.when, self.args)
        return self


class Defaults(StrictModel):
    dtypes: t.Optional[list[DType]] = None
    devices: t.Optional[list[Device]] = None
    call_timeout: t.Optional[float] = Field(None, gt=0)


class Rubric(StrictModel):
    assignment: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    title: str = ""
    version: int = Field(1, ge=1, description="bump when a change should re-grade old results")
    public_only: bool = Field(False, description="a student kit's rubric (`grader kit`): public cases "
                              "only; no question may have hidden cases, and `grader grade` refuses it")
    defaults: Defaults = Defaults()
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Rubric":
        seen: set[str] = set()
        for q in self.questions:
            if q.id in seen:
                raise ValueError(f"question id '{q.id}' appears twice")
            seen.add(q.id)
        return self

    @model_validator(mode="after")
    def _public_only_has_no_hidden(self) -> "Rubric":
        if self.public_only:
            with_hidden = [q.id for q in self.questions if q.cases.hidden.count]
            if with_hidden:
                raise ValueError(f"public_only: question(s) {', '.join(with_hidden)} have hidden cases")
        return self

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def fingerprint(self) -> str:
        """sha256 of the rubric as parsed (not the file's bytes: comments and layout
        do not matter); a resumed batch re-grades results made under another one."""
        # public_only left out when false: course rubrics keep the fingerprint they had before
        # the flag existed, so their finished results still resume
        skip: dict = {} if self.public_only else {"public_only": True}
        # hidden_only only excuses mutants in `grader validate --mutants`: it changes no score
        skip["questions"] = {"__all__": {"hidden_only"}}
        return hashlib.sha256(self.model_dump_json(exclude=skip).encode()).hexdigest()
