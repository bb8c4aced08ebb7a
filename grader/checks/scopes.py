"""Python's name scopes over a notebook's cells, for the static checks.

`Resolver` answers one question: at this place in the code, what does this
name (or attribute chain) stand for? The answer is a qualified name such as
"torch.func.grad" when the name is bound by an import or an alias of one
(`import torch.autograd as ag`, `g = torch.func.grad`), "<def>name" for a
function or class the notebook defines at module level, or None for anything
else (a parameter, a local variable, a loop variable, a computed value).

The rules are Python's: a function's own bindings (parameters, assignments,
loop and `with` targets, imports, nested defs) shadow the enclosing
function's, which shadow the notebook's module level; `global` sends a name
to the module; a class body's names are not visible to its methods. At module
level the cells run in order, so the last binding of a name wins (the probe
calls the student's functions after the whole notebook ran).
"""

from __future__ import annotations

import ast
import typing as t

# Reverse or forward mode autograd: anything under these modules ...
_AUTOGRAD_MODULES = ("torch.autograd.", "torch._functorch.", "functorch.")
# ... but these, which switch autograd off (or on) or wrap a tensor, and compute no derivative
# (`torch.autograd.no_grad` is `torch.no_grad`, which nobody reads as autograd)
_GRAD_MODES = {"no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "grad_mode",
               "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly",
               "Variable"}
# ... and these transforms of torch.func (its vmap or functional_call are not autograd)
_FUNC_TRANSFORMS = {"grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize"}
# Tensor methods that run or enable autograd, found by name on objects the scan cannot type
AUTOGRAD_METHODS = {"backward", "requires_grad_", "retain_grad", "_execution_engine"}

# statements whose parts may or may not run
_BRANCHES = (ast.If, ast.Try, ast.TryStar, ast.For, ast.AsyncFor, ast.While, ast.Match)

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def is_autograd(qualified: str) -> bool:
    if qualified.startswith(_AUTOGRAD_MODULES):
        if qualified.startswith("torch.autograd.") and qualified.split(".")[2] in _GRAD_MODES:
            return False
        return not qualified.endswith((".vmap", ".functional_call"))
    parts = qualified.split(".")
    if parts[:2] == ["torch", "func"] and len(parts) >= 3:
        return parts[2] in _FUNC_TRANSFORMS
    return parts[:2] == ["torch", "Tensor"] and len(parts) == 3 and parts[2] in AUTOGRAD_METHODS


class Scope:
    def __init__(self, node: ast.AST | None, parent: "Scope | None", kind: str):
        self.node, self.parent, self.kind = node, parent, kind
        # name -> what each binding binds: a qualified str, an expression to qualify, or None
        self.bindings: dict[str, list[t.Union[str, ast.AST, None]]] = {}
        self.globals: set[str] = set()

    def bind(self, name: str, value: t.Union[str, ast.AST, None]) -> None:
        if self.kind == "module":   # cells run in order: the last binding wins
            self.bindings[name] = [value]
        else:
            self.bindings.setdefault(name, []).append(value)


class Resolver:
    DEFINED = "<def>"

    def __init__(self, trees: list[tuple[int, ast.Module]]):
        self.module = Scope(None, None, "module")
        self.definitions: dict[str, tuple[ast.AST, int]] = {}
        # name -> what its last module-level binding is made of, (node, cell) each: its def or
        # class; an assignment's value (with the binding before it when the value uses the name:
        # `f = torch.no_grad()(f)`); nothing the notebook shows (an import, a loop target)
        self.bound: dict[str, list[tuple[ast.AST, int]]] = {}
        # names whose last module-level binding sits in a branch (if, try, a loop, match):
        # which branch ran is not in the text, so what the scan finds there proves nothing alone
        self.conditional: set[str] = set()
        self._branch = 0        # how deep the statement being collected is in module-level branches
        self._scopes: dict[int, Scope] = {}
        self._busy: set[tuple[int, str]] = set()
        for index, tree in trees:
            for stmt in tree.body:
                self._collect(stmt, self.module, cell=index)

    # -- building scopes ---------------------------------------------------
    def scope_of(self, node: ast.AST, parent: Scope) -> Scope:
        """The scope a function, lambda, class or comprehension opens (built once)."""
        found = self._scopes.get(id(node))
        if found is not None:
            return found
        # a class body's names are invisible to the functions inside it
        outer = parent.parent if parent.kind == "class" and not isinstance(node, ast.ClassDef) else parent
        while outer is not None and outer.kind == "class":
            outer = outer.parent
        scope = Scope(node, outer or self.module, "class" if isinstance(node, ast.ClassDef) else "function")
        if isinstance(node, ast.ClassDef):
            scope.parent = parent
        self._scopes[id(node)] = scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
                if arg is not None:
                    scope.bind(arg.arg, None)
            body = node.body if isinstance(node.body, list) else [node.body]
        elif isinstance(node, ast.ClassDef):
            body = node.body
        else:   # a comprehension: its targets are its own
            for gen in node.generators:
                self._bind_target(gen.target, scope)
            body = []
        for stmt in body:
            self._collect(stmt, scope)
        return scope

    def _collect(self, node: ast.AST, scope: Scope, cell: int | None = None) -> None:
        """Record the bindings `node` makes in `scope`, not entering nested scopes."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if scope.kind == "module":
                scope.bind(node.name, self.DEFINED + node.name)
                self.definitions[node.name] = (node, cell if cell is not None else -1)
                self.bound[node.name] = [self.definitions[node.name]]
                self._mark_branch(node.name)
            else:
                scope.bind(node.name, None)
            return
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            if isinstance(node, ast.Global):
                scope.globals.update(node.names)
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                name = a.asname or a.name.split(".")[0]
                scope.bind(name, a.name if a.asname else name)
                self._rebound(name, scope)
            return
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name != "*":
                    where = f"{node.module}.{a.name}" if node.module and not node.level else None
                    scope.bind(a.asname or a.name, where)
                    self._rebound(a.asname or a.name, scope)
            return
        if isinstance(node, ast.Assign):
            for target in node.targets:
                alias = node.value if isinstance(target, ast.Name) and isinstance(
                    node.value, (ast.Name, ast.Attribute)) else None
                self._bind_target(target, scope, alias, made_of=(node.value, cell))
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            if not isinstance(node, ast.AnnAssign) or node.value is not None:
                # `f += g` uses f itself, as `f = f + g` would
                value = node.value if isinstance(node, ast.AnnAssign) else ast.BinOp(node.target, node.op, node.value)
                self._bind_target(node.target, scope, made_of=(value, cell))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._bind_target(node.target, scope)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self._bind_target(item.optional_vars, scope)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.bind(node.name, None)
        elif isinstance(node, ast.NamedExpr):
            self._bind_target(node.target, scope)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            scope.bind(node.name, None)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.bind(node.rest, None)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self._bind_target(target, scope)
        branch = scope is self.module and isinstance(node, _BRANCHES)
        self._branch += branch
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _SCOPES):
                self._collect(child, scope, cell)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self._collect(child, scope, cell)
        self._branch -= branch

    def _mark_branch(self, name: str) -> None:
        if self._branch:
            self.conditional.add(name)
        else:
            self.conditional.discard(name)

    def _bind_target(self, target: ast.AST, scope: Scope, alias: ast.AST | None = None,
                     made_of: tuple[ast.AST, int | None] | None = None) -> None:
        """`made_of`: (the value, its cell) of an assignment to `target` alone."""
        if isinstance(target, ast.Name):
            home = self.module if target.id in scope.globals else scope
            home.bind(target.id, alias if alias is not None else None)
            if alias is not None and home is self.module:   # module level: resolve now, in order
                home.bindings[target.id] = [self._qualify_in(alias, scope)]
            self._rebound(target.id, scope, made_of)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._bind_target(elt, scope)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, scope)

    def _rebound(self, name: str, scope: Scope, made_of: tuple[ast.AST, int | None] | None = None) -> None:
        """A module-level statement bound `name` to something other than a def: the static
        checks read what it is made of (`f = other_function`, `f = lambda x: ...`), not an
        earlier def it replaced; for an import or a loop target there is nothing to read."""
        if scope is not self.module:    # bindings made in a function (`global`) happen when it runs
            return
        self._mark_branch(name)
        if made_of is None:
            self.bound[name] = []
            return
        value, cell = made_of
        uses_itself = any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(value))
        self.bound[name] = [(value, cell if cell is not None else -1),
                            *(self.bound.get(name, []) if uses_itself else [])]

    # -- resolving ---------------------------------------------------------
    def resolve(self, name: str, scope: Scope) -> str | None:
        here: Scope | None = scope
        while here is not None:
            if name in here.globals:
                here = self.module
            if name in here.bindings:
                return self._value(name, here)
            here = here.parent
            while here is not None and here.kind == "class" and here is not scope:
                here = here.parent
        return None

    def _value(self, name: str, scope: Scope) -> str | None:
        """What `name` binds in `scope`: the first binding that is an import or alias
        (a function that binds `grad` both ways may use either)."""
        key = (id(scope), name)
        if key in self._busy:   # `g = g.grad` and the like: no further
            return None
        self._busy.add(key)
        try:
            for value in scope.bindings[name]:
                q = value if isinstance(value, str) or value is None else self._qualify_in(value, scope)
                if q is not None:
                    return q
            return None
        finally:
            self._busy.discard(key)

    def _qualify_in(self, node: ast.AST, scope: Scope) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        root = self.resolve(node.id, scope)
        if root is None or root.startswith(self.DEFINED):
            return root
        return ".".join([root, *reversed(parts)])

    def qualify(self, node: ast.AST, scope: Scope) -> str | None:
        """What a Name or an attribute chain on a name stands for at this place."""
        return self._qualify_in(node, scope)


def walk_scoped(node: ast.AST, resolver: Resolver, *, inside: bool = False,
                scope: Scope | None = None) -> t.Iterator[tuple[ast.AST, Scope]]:
    """Every node under `node` with the scope it is in. An attribute chain on a name
    (`torch.autograd.grad`) comes once, whole; its inner links are not repeated.
    `inside`: `node` is a module-level def or class and the walk starts in its scope."""
    scope = scope or resolver.module
    if inside and isinstance(node, _SCOPES):
        yield node, scope
        yield from _walk_scope_node(node, resolver, scope)
        return
    stack = [(node, scope)]
    while stack:
        current, where = stack.pop()
        yield current, where
        if isinstance(current, _SCOPES):
            children = list(_walk_scope_node(current, resolver, where))
            stack.extend(reversed(children))
            continue
        inner = current
        if isinstance(current, ast.Attribute):
            while isinstance(inner, ast.Attribute):
                inner = inner.value
            if not isinstance(inner, ast.Name):
                stack.append((inner, where))
            continue
        stack.extend((child, where) for child in reversed(list(ast.iter_child_nodes(current))))


def _walk_scope_node(node: ast.AST, resolver: Resolver, outer: Scope) -> t.Iterator[tuple[ast.AST, Scope]]:
    """The parts of a def, lambda, class or comprehension, each in its right scope:
    decorators, defaults and bases outside, the body inside."""
    inner = resolver.scope_of(node, outer)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        for default in (*a.defaults, *[d for d in a.kw_defaults if d is not None]):
            yield from walk_scoped(default, resolver, scope=outer)
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                yield from walk_scoped(deco, resolver, scope=outer)
        for stmt in (node.body if isinstance(node.body, list) else [node.body]):
            yield from walk_scoped(stmt, resolver, scope=inner)
    elif isinstance(node, ast.ClassDef):
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            yield from walk_scoped(part, resolver, scope=outer)
        for stmt in node.body:
            yield from walk_scoped(stmt, resolver, scope=inner)
    else:
        for child in ast.iter_child_nodes(node):
            yield from walk_scoped(child, resolver, scope=inner)
