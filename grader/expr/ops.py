"""One record per operator: everything the grader knows about it, in one place.

As micrograd keeps each operator's derivative rule beside its forward, each
record here holds the operator's arity, what its constant means, its one
Python spelling, where the generator may use it and where it is defined.

The spelling is the rule: both interpreters evaluate it. `torch_eval` turns
it into a function of float64 tensors (the trusted reference, its derivatives
from torch autograd); `kernel_interp.py` receives the table as data and turns
the same text into a function of the student's `Dual`/`Value` objects (a
method spelled `a.sin()` also takes plain numbers there, through `math`). So a
new operator is one record, and a fix to how one treats numbers is one edit.

No torch import: the kernel side, the spec and `grader show` read this table.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

# Python's binding strength of a spelling, and what an operand needs to go bare (9: an atom)
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 9
OPERANDS = ("a", "b")     # the spelling's operands, in order; `c` is the node's constant
_NAME = re.compile(r"\b[abc]\b")


@dataclass(frozen=True)
class Op:
    name: str
    arity: int            # operands taken from nodes / inputs
    const: str            # "none", or what the constant means: "value", "exponent", "left operand"
    python: str           # the one spelling, in a, b (operands) and c (the constant)
    calls: str = ""       # the method of the student's class it calls (`__rsub__`, `exp`)
    reflected: str = ""   # the op a number on the left turns it into (`2.0 - x`: add -> radd)
    # how its spelling binds (result, left/only operand, right operand), for writing a graph out
    binds: tuple[int, int, int] = (9, 9, 0)
    classes: frozenset[str] = frozenset({"Dual", "Value"})   # course classes that must support it
    micrograd: bool = True    # the public micrograd engine has it (it must grade as correct)
    # which points the generator may use: a predicate on float64 tensors (operands, const);
    # None: every finite point
    domain: t.Callable[..., t.Any] | None = None
    # the trusted side's spelling, only where a tensor's operator rounds differently from
    # Python's (torch's `c / tensor` is reciprocal-then-multiply: one rounding more)
    torch: str = ""

    @property
    def method(self) -> str | None:
        """The method name for `a.sin()`-style ops (plain numbers go through math there)."""
        m = re.fullmatch(r"a\.(\w+)\(\)", self.python)
        return m.group(1) if m else None

    def params(self) -> str:
        """The lambda parameters the spelling is evaluated with: operands, then `c`."""
        return ", ".join((*OPERANDS[:self.arity], "c"))

    def spelled(self, const: t.Any) -> str:
        """The spelling with the constant written out (`2.0 - a`, `a ** 3`): the text the
        kernel side puts in its errors and the hints quote."""
        return _NAME.sub(lambda m: repr(const) if m.group(0) == "c" else m.group(0), self.python)

    def compile(self, torch: t.Any = None) -> t.Callable[..., t.Any]:
        """The spelling as a function of (operands..., c), on whatever objects it is given;
        with the `torch` module, the trusted side's (its own spelling where it has one)."""
        text = self.torch if torch is not None and self.torch else self.python
        return eval(f"lambda {self.params()}: {text}", {"__builtins__": {}, "torch": torch})  # noqa: S307 - our own table


# Where the generator may put an operand: margins away from poles, kinks and branch cuts, so
# that a float32 answer or a finite difference near the point still means what it should.
LOG_MIN = 0.1         # log(a): a >= LOG_MIN
DIVISOR_MIN = 0.5     # a / b, c / a: |divisor| >= DIVISOR_MIN
RELU_MARGIN = 0.1     # relu(a): |a| >= RELU_MARGIN, away from the kink
POW_BASE_MIN = 0.1    # a ** c with non-integer c: a >= POW_BASE_MIN
NEG_POW_MIN = 0.5     # a ** c with c < 0: |a| >= NEG_POW_MIN


def _pow_ok(a: t.Any, c: float) -> t.Any:
    ok = a >= POW_BASE_MIN if not float(c).is_integer() else a.abs() >= 0
    return ok & (a.abs() >= NEG_POW_MIN) if c < 0 else ok


_TABLE = (
    Op("const", 0, "value", "c"),
    Op("add",   2, "none", "a + b", "__add__", "radd", (SUM, SUM, PRODUCT)),
    Op("sub",   2, "none", "a - b", "__sub__", "rsub", (SUM, SUM, PRODUCT)),
    Op("mul",   2, "none", "a * b", "__mul__", "rmul", (PRODUCT, PRODUCT, UNARY)),
    Op("div",   2, "none", "a / b", "__truediv__", "rdiv", (PRODUCT, PRODUCT, UNARY),
       domain=lambda a, b, c: b.abs() >= DIVISOR_MIN),
    Op("radd",  1, "left operand", "c + a", "__radd__", binds=(SUM, PRODUCT, 0)),
    Op("rsub",  1, "left operand", "c - a", "__rsub__", binds=(SUM, PRODUCT, 0)),
    Op("rmul",  1, "left operand", "c * a", "__rmul__", binds=(PRODUCT, UNARY, 0)),
    Op("rdiv",  1, "left operand", "c / a", "__rtruediv__", binds=(PRODUCT, UNARY, 0),
       domain=lambda a, c: a.abs() >= DIVISOR_MIN, torch="torch.div(c, a)"),
    Op("neg",   1, "none", "-a", "__neg__", binds=(UNARY, UNARY, 0)),
    Op("pow",   1, "exponent", "a ** c", "__pow__", binds=(POWER, ATOM, 0), domain=_pow_ok),
    Op("sin",   1, "none", "a.sin()", "sin", classes=frozenset({"Dual"}), micrograd=False),
    Op("cos",   1, "none", "a.cos()", "cos", classes=frozenset({"Dual"}), micrograd=False),
    Op("exp",   1, "none", "a.exp()", "exp", micrograd=False),
    Op("log",   1, "none", "a.log()", "log", micrograd=False, domain=lambda a, c: a >= LOG_MIN),
    Op("tanh",  1, "none", "a.tanh()", "tanh", micrograd=False),
    Op("relu",  1, "none", "a.relu()", "relu", classes=frozenset({"Value"}),
       domain=lambda a, c: a.abs() >= RELU_MARGIN),
)
OPS: dict[str, Op] = {op.name: op for op in _TABLE}
BINARY = tuple(op.name for op in _TABLE if op.arity == 2)   # the only ops whose 2nd operand may be a const node
#: the method of a student's Dual / Value that each graph operation calls
METHOD_OF_OP = {op.name: op.calls for op in _TABLE if op.calls}
#: the ops spelled as a method call (`a.exp()`): plain numbers go through math for them
METHOD_OPS = frozenset(op.method for op in _TABLE if op.method)
#: every op a generated graph may use (a rubric's `graphs.ops`), and the deep chain's templates
#: (`generate.TEMPLATES`, which holds them): here so that a rubric loads without torch
GRAPH_OPS = tuple(name for name in OPS if name != "const")
DEEP_CHAIN_TEMPLATES = ("tanh", "sin", "log", "exp", "div", "rdiv", "relu", "pow", "sqrt", "cos", "mix")


def kernel_table() -> dict[str, list]:
    """What the kernel-side interpreter is sent: op -> [arity, spelling] (plain JSON)."""
    return {op.name: [op.arity, op.python] for op in _TABLE if op.name != "const"}
