# This file is NOT imported by the grader: its text (grader.expr.KERNEL_INTERP_SOURCE)
# is sent to the student's kernel, where it defines one factory function that
# is called once and deleted, like grader/probe/kernel_side.py. It turns a
# graph specification (plain JSON, see grader/expr/spec.py) into a Python
# function `f(xs) -> list` that builds the graph out of whatever objects the
# student's code passes in (their `Dual` or `Value`), using ONLY Python
# operators (+ - * / ** unary -) and the methods .sin() .cos() .exp() .log()
# .tanh() .relu(). Constants are plain Python numbers, so f never needs to
# know the student's class: it is the function a course would write by hand.
# The trusted side validated the graph; this side only interprets it.
def _grader_expr_factory():
    import builtins
    import json
    import math
    import numbers
    import re
    import traceback

    # Bound here, so a notebook that reuses these names (`list = ...`) cannot
    # break the interpreter: closures see these, not the notebook's globals.
    len, list, getattr, type, enumerate, eval, repr = (
        builtins.len, builtins.list, builtins.getattr, builtins.type, builtins.enumerate,
        builtins.eval, builtins.repr)
    AttributeError_, TypeError_ = builtins.AttributeError, builtins.TypeError

    class OperationNotSupported(Exception):
        """The student's class lacks (or fails with a TypeError/AttributeError
        on) an operation the graph uses: not a wrong value, a missing feature.
        `missing` is True when Python itself refused the operation (no such
        method, no such operator for these operand types); False when the
        error came from inside the student's own method, whose line is named."""

        def __init__(self, op, text, operands, original):
            kinds = ", ".join(type(x).__name__ for x in operands)
            # frames: f -> the op's lambda -> (the student's code, if it got that far)
            inner = traceback.extract_tb(original.__traceback__)[2:]
            self.op, self.missing = op, not inner
            where = "" if not inner else f" in {inner[-1].name}, line {inner[-1].lineno}: {inner[-1].line}"
            super().__init__(f"operation not supported: {op} ({text} with {kinds}){where}: "
                             f"{type(original).__name__}: {original}")

    # On plain Python numbers (f: float -> float handed to a finite-difference
    # function) the elementary functions are math's; on anything else, the
    # object's own method (the student's Dual / Value, or a torch tensor).
    def plain(name):
        return (lambda v: v if v > 0 else 0.0) if name == "relu" else getattr(math, name)

    def numpy_module():
        return builtins.__import__("sys").modules.get("numpy")

    def is_plain_number(a):
        # the numeric tower: int, float, bool, numpy scalars (registered as numbers.Real),
        # numpy's bool and 0-d arrays; a Dual, a Value or a tensor keeps its own methods
        if isinstance(a, numbers.Real):
            return True
        np = numpy_module()
        return np is not None and (isinstance(a, np.bool_) or (isinstance(a, np.ndarray) and a.ndim == 0))

    def method(name):
        def call(a, c):
            # an object's own method first: a student's Dual may even subclass float
            if not hasattr(a, name):
                if is_plain_number(a):
                    return plain(name)(float(a))
                np = numpy_module()
                if np is not None and isinstance(a, np.ndarray):   # f on an array: elementwise
                    return np.maximum(a, 0.0) if name == "relu" else getattr(np, name)(a)
            return getattr(a, name)()   # a missing method raises AttributeError right here
        return call

    # op -> (function of (operands..., const), spelling): the grader's operator table
    # (grader/expr/ops.py), sent as data; each spelling is the rule, evaluated here on the
    # student's objects exactly as the trusted side evaluates it on tensors.
    def rule(name, arity, spelling):
        m = re.fullmatch(r"a\.(\w+)\(\)", spelling)
        if m:
            return method(m.group(1))
        params = ", ".join(("a", "b")[:arity] + ("c",))
        return eval(f"lambda {params}: {spelling}", {"__builtins__": {}})

    OPS = {name: (rule(name, arity, spelling), spelling)
           for name, (arity, spelling) in json.loads('__GRADER_OP_TABLE__').items()}

    def spelled(text, c):
        """The spelling with the constant written out (`2.0 - a`), as the grader writes it."""
        return re.sub(r"\bc\b", repr(c), text)

    def compile_plan(graph_json):
        g = json.loads(graph_json)
        if g.get("version") != 1:
            raise ValueError(f"graph spec version {g.get('version')!r} is not 1")
        n = len(g["inputs"])
        slot = {name: i for i, name in enumerate(g["inputs"])}   # inputs first, then nodes
        plan = []
        for i, node in enumerate(g["nodes"]):
            slots = [slot[a] if type(a) is str else n + a for a in node["args"]]
            plan.append((node["op"], slots, node.get("const")))
        return n, plan, [n + o for o in g["outputs"]]

    def function(graph_json):
        """f(xs): a list (or tuple) of n objects -> the list of m output objects."""
        n, plan, outputs = compile_plan(graph_json)

        def f(xs):
            try:
                values = list(xs)
            except TypeError_:
                values = None
            if values is None or len(values) != n:
                got = type(xs).__name__ if values is None else f"{len(values)}"
                raise TypeError_(f"f takes a list of {n} values, got {got}")
            for op, slots, c in plan:   # a loop, not recursion: graphs are thousands deep
                if op == "const":
                    values.append(c)
                    continue
                fn, text = OPS[op]
                operands = [values[s] for s in slots]
                try:
                    values.append(fn(*operands, c))
                except (AttributeError_, TypeError_) as exc:
                    raise OperationNotSupported(op, spelled(text, c), operands, exc) from exc
            return [values[o] for o in outputs]

        return f

    def scalar_function(graph_json):
        """f(x) -> y for a graph with one input and one output (`derivative(f, x)`)."""
        fn = function(graph_json)
        return lambda x: fn([x])[0]

    class Interp:
        pass

    interp = Interp()
    interp.function, interp.scalar_function = function, scalar_function
    interp.OperationNotSupported, interp.OPS = OperationNotSupported, OPS
    return interp
