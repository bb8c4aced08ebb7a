"""Find torch autograd inside functions that must be written in closed form.

Static, on the trusted side, from the notebook file itself (the kernel is
never asked): parse every code cell, take the last definition of the graded
function (cells run in order, so the last one wins), follow the calls it
makes to other notebook functions, and report every use of autograd: the
`torch.autograd` / `torch.func` / `functorch` namespaces, names imported
from them, `.backward()`, `requires_grad`. The probe adds a dynamic check
(autograd calls counted during the call); either one flags the question.
"""

from __future__ import annotations

import ast
import functools
import threading
from dataclasses import dataclass

import nbformat

AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch", "torch._functorch")
AUTOGRAD_ATTRS = {"autograd", "functorch", "backward", "requires_grad_", "jacrev", "jacfwd",
                  "hessian", "_execution_engine", "make_dual", "vjp", "jvp"}
# What the probe's report passes through inside the kernel: the JSON and base64
# encoders, IPython's display of the reply, the autograd entry points it counts.
# A notebook that rebinds these can scrub the report (e.g. the autograd count);
# the grader cannot tell what it hid, so it does not trust that report.
PROBE_MODULES = ("json", "base64", "binascii", "marshal", "zlib", "torch.autograd", "IPython", "ipykernel")
PROBE_ATTRS = {"displayhook", "display_formatter", "display_pub", "formatters",
               "_engine_run_backward", "_execution_engine"}


@dataclass(frozen=True)
class Finding:
    function: str
    cell: int
    line: int
    what: str

    def __str__(self) -> str:
        return f"`{self.what}` in {self.function} (cell {self.cell + 1}, line {self.line})"


# CPython 3.11's parser keeps its recursion depth in per-interpreter state: two threads
# parsing at once (a Dask worker grading two notebooks) fail with "SystemError: AST
# constructor recursion depth mismatch". One parse at a time.
_PARSE_LOCK = threading.Lock()


def _parse(source: str) -> ast.Module | None:
    # IPython magics and shell escapes are not Python; blank them, keeping line numbers.
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    try:
        with _PARSE_LOCK:
            return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class NotebookCode:
    def __init__(self, nb: nbformat.NotebookNode):
        self.functions: dict[str, tuple[ast.AST, int]] = {}   # functions and classes, by name
        self.aliases: set[str] = set()    # names bound to autograd modules or functions
        self.torch_names: set[str] = {"torch"}   # names bound to torch or anything imported from it
        self.modules: dict[str, str] = {}         # local name -> the module it is bound to
        self.trees: list[tuple[int, ast.Module]] = []    # (cell index, its syntax tree), parsed once
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            tree = _parse(cell.source)
            if tree is None:
                continue
            self.trees.append((index, tree))
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.functions[node.name] = (node, index)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(AUTOGRAD_MODULES):
                    self.aliases.update(a.asname or a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module == "torch":
                    self.aliases.update(a.asname or a.name for a in node.names
                                        if a.name in ("autograd", "func"))
                elif isinstance(node, ast.Import):
                    self.aliases.update(a.asname for a in node.names
                                        if a.asname and a.name.startswith(AUTOGRAD_MODULES))
                if isinstance(node, ast.Import):
                    self.modules.update((a.asname, a.name) if a.asname else (a.name.split(".")[0],) * 2
                                        for a in node.names)
                    self.torch_names.update(a.asname or a.name.split(".")[0] for a in node.names
                                            if a.name.split(".")[0] in ("torch", "functorch"))
                elif isinstance(node, ast.ImportFrom) and node.module:
                    self.modules.update((a.asname or a.name, f"{node.module}.{a.name}") for a in node.names)
                    if node.module.split(".")[0] == "torch":
                        self.torch_names.update(a.asname or a.name for a in node.names)

    @functools.cached_property
    def probe_tampering(self) -> list[Finding]:
        """Anywhere in the notebook: rebinding what the probe's report passes through
        (`json.dumps = ...`, `setattr(base64, ...)`, `sys.displayhook = ...`). A property
        computed once: every question that forbids autograd asks for it."""
        found = []
        for index, tree in self.trees:
            for node in ast.walk(tree):
                targets = (node.targets if isinstance(node, ast.Assign) else
                           [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
                shown = "{} = ..."
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id in ("setattr", "delattr") and node.args:
                    targets = [ast.Attribute(value=node.args[0], attr="", lineno=node.lineno)]
                    shown = node.func.id + "({}, ...)"
                for target in targets:
                    what = self._probe_part(target)
                    if what:
                        found.append(Finding("the notebook", index, node.lineno, shown.format(what)))
        return found

    def _probe_part(self, target: ast.AST) -> str | None:
        if not isinstance(target, ast.Attribute):
            return None
        dotted = _dotted(target).rstrip(".")
        root, _, rest = dotted.partition(".")
        resolved = ".".join(filter(None, (self.modules.get(root, root), rest)))
        if PROBE_ATTRS & set(dotted.split(".")) or resolved.startswith(PROBE_MODULES):
            return dotted
        return None

    def autograd_uses(self, name: str) -> list[Finding]:
        return self._uses(name, self._autograd_use)

    def torch_uses(self, name: str) -> list[Finding]:
        """Any use of torch inside `name` (a class such as `Value`, or a function)."""
        def use(node: ast.AST) -> str | None:
            if isinstance(node, ast.Attribute) and _dotted(node).split(".")[0] in self.torch_names:
                return _dotted(node)
            if isinstance(node, ast.Name) and node.id in self.torch_names and isinstance(node.ctx, ast.Load):
                return node.id
            return None
        return self._uses(name, use)

    def _uses(self, name: str, detect) -> list[Finding]:
        found: list[Finding] = []
        todo, seen = [name], set()
        while todo:
            fn = todo.pop()
            if fn in seen or fn not in self.functions:
                continue
            seen.add(fn)
            node, cell = self.functions[fn]
            lines: set[int] = set()
            for sub in ast.walk(node):   # breadth first: `torch.autograd.grad` before `torch.autograd`
                what = detect(sub)
                if what and sub.lineno not in lines:
                    lines.add(sub.lineno)
                    found.append(Finding(fn, cell, sub.lineno, what))
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                    todo.append(sub.func.id)
        return found

    def _autograd_use(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            parts = dotted.split(".")
            if AUTOGRAD_ATTRS & set(parts) or dotted.startswith(("torch.func", "torch._functorch")):
                return dotted
            if node.attr == "requires_grad" and isinstance(getattr(node, "ctx", None), ast.Store):
                return dotted + " = ..."
        if isinstance(node, ast.Name) and node.id in self.aliases and isinstance(node.ctx, ast.Load):
            return node.id
        if isinstance(node, ast.keyword) and node.arg == "requires_grad":
            if isinstance(node.value, ast.Constant) and node.value.value is True:
                return "requires_grad=True"
        return None
