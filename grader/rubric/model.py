"""The rubric format, as pydantic models (`grader schema` prints it as JSON Schema).

A rubric is trusted course material: its expressions are torch code that the
grader evaluates in its own process to build references. Nothing here is ever
sent to the student's kernel except the arguments of each call.
"""

from __future__ import annotations

import hashlib
import typing as t

from pydantic import Field, field_validator, model_validator

from grader.config import Device, DType
from grader.rubric.kinds import KINDS
from grader.yamlmodel import StrictModel

MatrixKind = t.Literal["general", "symmetric", "spd", "well_conditioned", "positive_det"]


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


#: the model of each check kind's `check:`, from its record (grader/rubric/kinds.py, the one
#: table of kinds), in the table's order
CHECK_MODELS = tuple(kind.model for kind in KINDS.values())
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
        self.check.check_with_args(self.args)    # what the kind's check needs of the args
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
