"""What a student's `Dual` / `Value` class does per graph operation, from its source.

Each graph operation calls one method of the class (`2.0 - x` calls
`__rsub__`). Read statically from the notebook (never run): which methods
the class defines, and which operations each method performs on the class's
own objects (`-x` written as `self * -1` performs `mul`), so a failure can be
traced to the operation it is built on. Arithmetic on plain numbers
(`self.data * other.data`) and inside nested functions (a `_backward`
closure works on floats) is not an operation on the class.
"""

from __future__ import annotations

import ast

from grader.checks.static import NotebookCode
from grader.expr.ops import METHOD_OF_OP, METHOD_OPS, OPS

_BINOP = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_REFLECTED = {name: op.reflected for name, op in OPS.items() if op.reflected}
_METHOD_OPS = METHOD_OPS


def _class(code: NotebookCode, cls: str) -> ast.ClassDef | None:
    found = code.functions.get(cls)
    node = found[0] if found else None
    return node if isinstance(node, ast.ClassDef) else None


def defined_methods(code: NotebookCode, cls: str) -> set[str]:
    """Methods the class body defines (`def m` or `m = ...`), without base classes."""
    node = _class(code, cls)
    if node is None:
        return set()
    names: set[str] = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
        elif isinstance(item, ast.Assign):
            names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return names


class _OpsOnObjects(ast.NodeVisitor):
    """Operations a method performs on the class's objects: its parameters and new instances."""

    def __init__(self, cls: str, params: set[str], numbers: set[str]) -> None:
        self.cls, self.params, self.numbers, self.ops = cls, params, numbers, set()

    def is_number(self, node: ast.AST) -> bool:
        """A literal number, or a parameter that holds one (a reflected method's `other`)."""
        if isinstance(node, ast.UnaryOp):
            node = node.operand
        return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))) or (
            isinstance(node, ast.Name) and node.id in self.numbers)

    def is_object(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.params
        if isinstance(node, ast.Call):
            f = node.func
            return (isinstance(f, ast.Name) and f.id in (self.cls, "type")) or (
                isinstance(f, ast.Attribute) and f.attr in _METHOD_OPS and self.is_object(f.value))
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, ast.USub) and self.is_object(node.operand)
        if isinstance(node, ast.BinOp):
            return self.is_object(node.left) or self.is_object(node.right)
        return False

    def visit_BinOp(self, node: ast.BinOp) -> None:
        op = _BINOP.get(type(node.op))
        if op and self.is_object(node.left):
            self.ops.add(op)
        elif op in _REFLECTED and self.is_object(node.right) and self.is_number(node.left):
            self.ops.add(_REFLECTED[op])
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.USub) and self.is_object(node.operand):
            self.ops.add("neg")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in _METHOD_OPS and self.is_object(f.value):
            self.ops.add(f.attr)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None   # a nested function (a `_backward` closure) works on floats

    visit_Lambda = visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


def built_on(code: NotebookCode, cls: str) -> dict[str, set[str]]:
    """op -> the other operations its method performs on the class's objects."""
    node = _class(code, cls)
    if node is None:
        return {}
    methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
    out: dict[str, set[str]] = {}
    for op, name in METHOD_OF_OP.items():
        method = methods.get(name)
        if method is None:
            continue
        params = [a.arg for a in method.args.args]
        # `self` is an object of the class; so is the other operand of x + y, x * y, ...;
        # a reflected method's `other` and pow's exponent are plain numbers
        objects = set(params[:2] if op in ("add", "sub", "mul", "div") else params[:1])
        visitor = _OpsOnObjects(cls, objects, set(params) - objects)
        for statement in method.body:
            visitor.visit(statement)
        out[op] = visitor.ops - {op}
    return out


def operand_words(op: str, const: int | float | None, generic: bool = False) -> str:
    """What the operation hands its method, in words (`generic`: any number of that kind)."""
    if generic and op in ("radd", "rsub", "rmul", "rdiv"):
        return "a plain number (int or float) on the left"
    if generic and op == "pow":
        return "an int or a float exponent"
    if generic and const is not None:
        return "a plain number (int or float) on the right"
    if op in ("radd", "rsub", "rmul", "rdiv"):
        return f"the {type(const).__name__} {const!r} on the left"
    if op == "pow":
        return f"the {type(const).__name__} exponent {const!r}"
    if const is not None:
        return f"the {type(const).__name__} {const!r} on the right"
    if op in ("add", "sub", "mul", "div"):
        return "an object of the class on each side"
    return "no argument"
