"""Why a Dual / Value case failed, in words that name the bug and where it is.

Results arrive as plain floats (grader.checks.autodiff): per input direction
[[real, dual], ...] for a Dual, [outputs' data, leaves' grad] for a Value,
and a list (of lists) for the functions built on the class. Each explanation
here compares them with a reference of a *wrong* computation (operands
swapped, `.grad` overwritten, `J v` for `v^T J`) or reads the exception a
call raised, and says what it found: the operation, its method, the argument
that broke it, and the line.
"""

from __future__ import annotations

import math
import re
import typing as t

import torch

from grader.checks import class_ops, compare, engines
from grader.checks.graph_text import spell
from grader.expr.spec import OPS, Builder, Graph
from grader.expr.torch_eval import forward_reference, jacobian, reverse_reference

OVERWRITTEN = ".grad overwritten"
DEEP = 500   # a graph this deep can exhaust Python's recursion limit in a recursive walk


# -- numbers ------------------------------------------------------------------------

def flat(a) -> list[float] | None:
    if isinstance(a, (int, float)):
        return [float(a)]
    if isinstance(a, list):
        out: list[float] = []
        for item in a:
            f = flat(item)
            if f is None:
                return None
            out.extend(f)
        return out
    return None


def shape(a) -> tuple:
    return (len(a), *(shape(a[0]) if a else ())) if isinstance(a, list) else ()


def ratio(got: list[float], ref: list[float], rtol: float, atol: float) -> float:
    """The worst element's error over its allowance (compare.py's rule; <= 1 passes)."""
    return compare.close(got, ref, rtol, atol).worst_ratio


def close(got, ref, rtol, atol) -> tuple[bool, float]:
    """compare.py's rule on nested lists (a Dual's pairs, a Jacobian's rows); what is not a
    list of numbers of the reference's shape never passes."""
    g, r = flat(got), flat(ref)
    if g is None or r is None or len(g) != len(r) or shape(got) != shape(ref):
        return False, math.inf
    c = compare.close(g, r, rtol, atol)
    return c.ok, c.worst_ratio


def fmt(v) -> str:
    values = flat(v) or []
    return ", ".join(f"{x:.6g}" for x in values[:6]) + (" ..." if len(values) > 6 else "")


def sign_flipped(got: list[float], ref: list[float], rtol: float, atol: float) -> bool:
    return any(r != 0 for r in ref) and ratio([-v for v in got], ref, rtol, atol) <= 1.0


# -- what a class result holds ----------------------------------------------------------

def values(result, mode: str):
    """Forward values: a Dual's real parts (direction 0); a Value graph's outputs' data."""
    return [pair[0] for pair in result[0]] if mode == "forward" else result[0]


def partials(result, mode: str) -> list:
    """Per input, its derivative(s): a Dual's dual parts per direction; a Value's leaf grad."""
    if mode == "forward":
        return [[pair[1] for pair in column] for column in result]
    return [[g] for g in result[1]]


def class_result(graph: Graph, x: list[float], mode: str):
    """The reference result of a class case for one graph, in the shape the kernel sends."""
    xt = torch.tensor(x, dtype=torch.float64)
    if mode == "forward":
        n = len(x)
        ys, tangents = forward_reference(graph, xt.expand(n, -1), torch.eye(n, dtype=torch.float64))
        return [[[float(y), float(d)] for y, d in zip(ys[j], tangents[j])] for j in range(n)]
    y, grad = reverse_reference(graph, xt, torch.ones(1, dtype=torch.float64))
    return [[float(y[0])], grad.tolist()]


# -- one operation, wrong --------------------------------------------------------------

_SWAP = {"sub": "rsub", "div": "rdiv", "rsub": "sub", "rdiv": "div"}


def swapped_graph(graph: Graph, op: str) -> Graph | None:
    """The graph with the operands of its (first) `op` node swapped: `x - y` -> `y - x`,
    `x - 2.0` -> `2.0 - x`, `2.0 / x` -> `x / 2.0`; None if `op` has no order."""
    if op not in _SWAP or not any(n.op == op for n in graph.nodes):
        return None
    b = Builder(graph.inputs)
    index: dict[int, int] = {}   # old node -> new node

    def ref(a):
        return a if type(a) is str else index[a]

    done = False
    for i, node in enumerate(graph.nodes):
        args = [ref(a) for a in node.args]
        if node.op == "const":
            index[i] = b.const(node.const)
        elif node.op != op or done:
            index[i] = b.op(node.op, *args, const=node.const)
        elif op in ("rsub", "rdiv"):                        # c - a  ->  a - c
            index[i] = b.op(_SWAP[op], args[0], b.const(node.const))
        elif type(node.args[1]) is int and graph.nodes[node.args[1]].op == "const":   # a - c  ->  c - a
            index[i] = b.op(_SWAP[op], args[0], const=graph.nodes[node.args[1]].const)
        else:                                               # a - b  ->  b - a
            index[i] = b.op(op, args[1], args[0])
        done = done or node.op == op
    used = {a for n in b.nodes for a in n.args if type(a) is int}
    if any(n.op == "const" and i not in used for i, n in enumerate(b.nodes)):
        return _without_unused_consts(b, [index[o] for o in graph.outputs])
    return b.build([index[o] for o in graph.outputs])


def _without_unused_consts(b: Builder, outputs: list[int]) -> Graph:
    """A const node left without a user is harmless to torch but not spelled; drop it."""
    used = {a for n in b.nodes for a in n.args if type(a) is int}
    keep = [i for i, n in enumerate(b.nodes) if n.op != "const" or i in used]
    new = {old: k for k, old in enumerate(keep)}
    nb = Builder(b.inputs)
    for old in keep:
        n = b.nodes[old]
        nb.op(n.op, *[a if type(a) is str else new[a] for a in n.args], const=n.const)
    return nb.build([new[o] for o in outputs])


def single_op_problem(case, got, ref, rtol: float, atol: float, mode: str,
                      cls: str) -> tuple[str, str | None]:
    """Which part of one operation is wrong: operand order, its value, an overwritten
    .grad, or its derivative with respect to which input."""
    text = spell(case.graph)
    method = f"`{cls}.{class_ops.METHOD_OF_OP[case.op]}`"
    swapped = swapped_graph(case.graph, case.op)
    if swapped is not None and close(got, class_result(swapped, list(case.x), mode), rtol, atol)[0]:
        return (f"operands swapped: `{text}` gave the result of `{spell(swapped)}`",
                f"operands swapped in {method}: " + (
                    "for a number on the left, Python calls the method of the object on the right, "
                    "so `self` is the right operand and `other` the number on the left"
                    if case.op.startswith("r") else "`self` is the left operand, `other` the right one"))
    values_got, values_ref = values(got, mode), values(ref, mode)
    if not close(values_got, values_ref, rtol, atol)[0]:
        return (f"the forward value of `{text}` is wrong: got {fmt(values_got)}, expected {fmt(values_ref)}",
                f"the value {method} computes is wrong")
    if mode == "reverse" and len(case.graph.nodes) > 1:
        overwrite = engines.leaf_grads(case.graph, list(case.x), overwrite=True, revisit=False,
                                       reverse_operands=False)
        if close(got[1], overwrite, rtol, atol)[0] and not close(overwrite, ref[1], rtol, atol)[0]:
            return (f"{OVERWRITTEN}: in `{text}`, x is used twice and its .grad kept only one of its two "
                    f"contributions: got .grad = [{fmt(got[1])}], expected [{fmt(ref[1])}]",
                    f"the backward step of {method} overwrites `.grad` (`=`); add to it (`+=`), "
                    "so a node used more than once gets every contribution")
    partial_got, partial_ref = partials(got, mode), partials(ref, mode)
    for j, name in enumerate(case.graph.inputs):
        g, r = partial_got[j], partial_ref[j]
        if close(g, r, rtol, atol)[0]:
            continue
        rule = {"mul": " (product rule)", "div": " (quotient rule)", "rdiv": " (quotient rule)"}.get(case.op, "")
        if sign_flipped(flat(g) or [], flat(r) or [], rtol, atol):
            return (f"sign error in the derivative of `{text}` with respect to {name}{rule}",
                    f"check the sign in the derivative rule of `{case.op}`{rule} in {method}")
        return (f"wrong derivative of `{text}` with respect to {name}: got {fmt(g)}, expected {fmt(r)} "
                f"(its value is right)",
                f"the derivative rule of `{case.op}` in {method} is wrong (its value is right)")
    return f"wrong result for `{text}`", None


def root_cause(case, failed: dict[str, str], built_on: dict[str, set[str]], cls: str,
               own: bool = False) -> str | None:
    """A hint naming the operation this one is built on that failed its own question first:
    one its method uses, or one the case's graph uses besides it (`x.exp() + x` uses `add`),
    unless the failure is `own` (an overwritten .grad in `x.exp() + x` is exp's own: add's
    backward step runs first, so its overwrite does no harm there)."""
    if not case.op:
        return None
    method = class_ops.METHOD_OF_OP[case.op]
    for root in sorted(built_on.get(case.op, set())):
        if root in failed:
            return (f"`{case.op}` fails because `{root}` fails: your `{cls}.{method}` uses `{root}`; "
                    f"fix `{root}` first ({failed[root]})")
    used = {n.op for n in case.graph.nodes} - {"const", case.op}
    for root in sorted(used & set(failed)) if not own else ():
        return (f"`{case.op}` fails because `{root}` fails: `{spell(case.graph)}` also uses `{root}`; "
                f"fix `{root}` first ({failed[root]})")
    return None


# -- calls that raised -------------------------------------------------------------------

_UNSUPPORTED = re.compile(r"operation not supported: (\w+) \((.*) with ([\w., ]*)\)(.*)$", re.S)


def failing_node(graphs: t.Sequence[Graph], op: str, text: str, kinds: list[str]) -> tuple[Graph, int] | None:
    """The first node that performs `op` as the kernel reported it (`a ** 0.5` with `Dual`):
    the interpreter runs nodes in order and stops at the first that raises."""
    for graph in graphs:
        for i, node in enumerate(graph.nodes):
            if node.op != op or _kernel_text(op, node.const) != text:
                continue
            operand_kinds = [type(graph.nodes[a].const).__name__ if type(a) is int and graph.nodes[a].op == "const"
                             else None for a in node.args]
            if all(k is None and kind not in ("int", "float") or k == kind
                   for k, kind in zip(operand_kinds, kinds)):
                return graph, i
    return None


def _kernel_text(op: str, const) -> str:
    """How kernel_interp.py names the operation in its error (`2.0 - a`, `a ** 3`)."""
    return OPS[op].spelled(const)


def unsupported(error: str, graphs: t.Sequence[Graph], defined: set[str],
                cls: str) -> tuple[str, str | None, str | None]:
    """(message, hint, the failing node spelled) for an operation the class could not do."""
    m = _UNSUPPORTED.match(error or "")
    if m is None:
        return error, None, None
    op, text, kinds, rest = m.group(1), m.group(2), [k.strip() for k in m.group(3).split(",")], m.group(4)
    found = failing_node(graphs, op, text, kinds)
    node = spell(found[0], target=found[1]) if found else None
    const = found[0].nodes[found[1]].const if found else None
    if found and op in ("add", "sub", "mul", "div"):
        second = found[0].nodes[found[1]].args[1]
        if type(second) is int and found[0].nodes[second].op == "const":
            const = found[0].nodes[second].const
    method = class_ops.METHOD_OF_OP[op]
    words = class_ops.operand_words(op, const)
    shown = f"`{node}`" if node else f"`{text}`"
    if method not in defined and f"{method}(" not in rest:
        return (error, f"implement `{method}` in your `{cls}` class: `{_generic_spelling(op, const)}` calls "
                       f"it, with {class_ops.operand_words(op, const, generic=True)}", node)
    inside = re.match(r" in (\w+), line (\d+): (.*?): (\w+: .*)$", rest, re.S)
    if inside:
        where, line, source, exc = inside.groups()
        message = (f"`{cls}.{method}` exists but raised on {shown} ({words}): {exc} "
                   f"(in {where}, line {line}: {source})")
    else:
        message = f"`{cls}.{method}` exists but {shown} failed ({words}): {rest.lstrip(': ')}"
    return message, _repair(op, method, cls, const, rest), node


def _generic_spelling(op: str, const) -> str:
    """`x + y`, `x + c`, `c - x`, `x ** c`, `x.exp()`: the operation, not one case of it."""
    names = {"a": "x", "b": "c" if const is not None else "y", "c": "c"}
    return re.sub(r"\b[abc]\b", lambda m: names[m.group(0)], OPS[op].python)


def _repair(op: str, method: str, cls: str, const, error: str) -> str | None:
    """What to change, in words that do not depend on the case (one hint per mistake)."""
    if "positional argument" in error:
        call = {"neg": "x.__neg__()", "pow": "x.__pow__(c)"}.get(op, f"x.{method}()" if op in
                                                             class_ops._METHOD_OPS else f"x.{method}(other)")
        return f"check the signature of `{method}`: Python calls it as `{call}`"
    if op == "pow":
        return f"`__pow__` must accept an int and a float exponent; it failed on a {type(const).__name__} one"
    if const is None:
        return None
    refused = " (it returned NotImplemented)" if "unsupported operand" in error else ""
    return (f"`{method}` must also accept {class_ops.operand_words(op, const, generic=True)}{refused}: "
            f"turn a plain number into a `{cls}` first (or handle it) instead of treating it as a `{cls}`")


def raised(op: str, const, error: str, line: str | None, cls: str, text: str) -> tuple[str, str | None]:
    """A one-operation case whose method exists and raised something other than a type error."""
    method = class_ops.METHOD_OF_OP[op]
    words = class_ops.operand_words(op, const)
    where = f" at {line}" if line else ""
    message = f"`{cls}.{method}` exists but raised on `{text}` ({words}): {error}{where}"
    hint = None
    if op == "pow":
        hint = f"`**` takes an int or a float exponent: `{method}` must accept both (here a {type(const).__name__})"
    return message, hint


def recursion_hint(mode: str, graph: Graph, line: str | None, cls: str) -> str:
    """A RecursionError: a recursive graph walk only where one exists (a backward pass over a
    deep graph); otherwise the class's own operators calling each other without end."""
    where = f" (the recursion runs through {line})" if line else ""
    if mode == "reverse" and graph.depth() >= DEEP:
        return ("a recursive graph walk fails on graphs thousands of nodes deep: build the "
                "topological order with an explicit stack (a loop), not recursion" + where)
    why = ("forward mode walks no graph" if mode == "forward"
           else "this graph is only a few operations deep, so it is not a graph walk")
    return (f"{why}: your class's operators call each other without end{where}; e.g. `__radd__` "
            f"returning `other + self` calls `__radd__` again when `other` is a number: turn the "
            f"number into a `{cls}` first (`{cls}(other) + self`)")


# -- the functions built on the class --------------------------------------------------------

def forward_product(graph: Graph, x: list[float], v: list[float], got, rtol: float, atol: float) -> bool:
    """Did a vjp return J v (a forward-mode product) instead of v^T J? Only a square J lets both fit."""
    J = jacobian(graph, torch.tensor(x, dtype=torch.float64))
    if J.shape[0] != J.shape[1]:
        return False
    jv = (J @ torch.tensor(v, dtype=torch.float64)).tolist()
    vj = (torch.tensor(v, dtype=torch.float64) @ J).tolist()
    return close(got, jv, rtol, atol)[0] and not close(jv, vj, rtol, atol)[0]


FORWARD_PRODUCT = ("that is a forward-mode product: you returned `J v` (v weighting the inputs); "
                   "vjp returns `v^T J` (v weighting the outputs): backward() from sum_i v_i y_i, "
                   "then read the inputs' .grad")


# -- the functions built on the class: derivative, jvp, jacobian, vjp ----------------------

#: how the grader calls each function, and what it must return
CALLS = {"derivative": ("derivative(f, x)", "f'(x)"), "jvp": ("jvp(f, x, v)", "(f(x), J v)"),
         "jacobian": ("jacobian(f, x)", "the Jacobian"), "vjp": ("vjp(f, xs, v)", "vᵀ J")}


def _scaled(got, ref, factor: float, rtol: float, atol: float) -> bool:
    g, r = flat(got), flat(ref)
    return (g is not None and r is not None and len(g) == len(r) and any(x != 0 for x in r)
            and ratio(g, [factor * x for x in r], rtol, atol) <= 1.0)


def function_mistake(via: str, got, ref, rtol: float, atol: float) -> str | None:
    """A known slip in a function built on the class, from its numbers: twice, minus, all
    zeros, or (jacobian) the transpose."""
    call, what = CALLS[via]
    if _scaled(got, ref, 0.0, rtol, atol):
        return f"returned all zeros: {call} must return {what}"
    if _scaled(got, ref, 2.0, rtol, atol):
        return f"off by a factor 2: your result is twice {what}"
    if _scaled(got, ref, 0.5, rtol, atol):
        return f"off by a factor 2: your result is half {what}"
    if _scaled(got, ref, -1.0, rtol, atol):
        return f"sign flipped: your result is minus {what}"
    if via == "jacobian" and len(shape(ref)) == 2:
        transposed = [list(col) for col in zip(*ref)]
        if close(got, transposed, rtol, atol)[0]:
            return ("returned the transpose of the Jacobian: row i holds the derivatives of output i, "
                    "one column per input (m rows for m outputs)")
    return None


def function_call_failed(via: str, error: str) -> str | None:
    """A function built on the class that returned `f` itself, or took its arguments in
    another order (the error names a function object where numbers were expected)."""
    call, what = CALLS[via]
    if "of type function" in error:
        return f"you returned the function `f` itself: {call} must call it and return {what} as numbers"
    if "TypeError" in error and ("function" in error or "not callable" in error):
        return f"an argument was used in the wrong role: the grader calls {call}, in this order"
    return None


def wrong_message(via: str, mode: str, got, ref, rtol: float, atol: float) -> str:
    """A composite or function case: which part of the result is wrong, the other part being right."""
    if via == "class" and mode == "reverse":
        if not close(got[0], ref[0], rtol, atol)[0]:
            return f"wrong forward value: got .data = {fmt(got[0])}, expected {fmt(ref[0])}"
        return (f"the forward value (.data) is right, the leaf gradients are wrong: "
                f"got .grad = [{fmt(got[1])}], expected [{fmt(ref[1])}]")
    if via == "class":
        vals = [[p[0] for p in col] for col in got]
        if not close(vals, [[p[0] for p in col] for col in ref], rtol, atol)[0]:
            return f"wrong forward values (.real): got {fmt(vals[0])}"
        duals = [[p[1] for p in col] for col in got]
        return (f"the values (.real) are right, the derivatives (.dual, one pass per input) are wrong: "
                f"got [{fmt(duals)}], expected [{fmt([[p[1] for p in col] for col in ref])}]")
    if via == "jvp" and close(got[0], ref[0], rtol, atol)[0]:
        return f"f(x) is right, J v is wrong: got {fmt(got[1])}, expected {fmt(ref[1])}"
    return f"wrong result: got {fmt(got)}, expected {fmt(ref)}"
