"""Find torch autograd inside functions that must be written in closed form.

Static, on the trusted side, from the notebook file itself (the kernel is
never asked): parse every code cell, take the last definition of the graded
function (cells run in order, so the last one wins), follow the notebook
functions and classes it refers to, and report every use of autograd.

Names are resolved per scope, as Python does: a name inside a function is
that function's own when the function binds it (a parameter, an assignment,
a loop variable, an import), else the enclosing function's, else the
notebook's last module-level binding. So `grad` counts as autograd only where
it resolves to `torch.func.grad` (through imports, aliases such as `import
torch.autograd as ag` or `g = torch.func.grad`, and attribute chains), never
because a checking cell imported it elsewhere. The probe adds a dynamic check
(autograd calls counted during the call); either one flags the question.
"""

from __future__ import annotations

import ast
import functools
import gc
import threading
from dataclasses import dataclass

import nbformat

from grader.checks.scopes import AUTOGRAD_METHODS, Resolver, is_autograd, walk_scoped


@dataclass(frozen=True)
class Finding:
    function: str
    cell: int
    line: int
    what: str
    # False: evidence that proves nothing alone (a method found by its name on an object the
    # scan cannot type, a definition in a branch that may not have run); it only says where,
    # when the probe counted autograd during the call (`proven`)
    sure: bool = True

    def __str__(self) -> str:
        return f"`{self.what}` in {self.function} (cell {self.cell + 1}, line {self.line})"


def _one_parse_at_a_time() -> threading.RLock:
    """CPython 3.11 keeps the depth counter of `ast.parse` (its Python AST objects) in
    per-interpreter state (CPython gh-106905): two threads inside it at once fail with
    "SystemError: AST constructor recursion depth mismatch". A garbage collection in one
    parse runs Python code, which lets another thread in. The grader parses each notebook on
    the event loop while its report writer imports matplotlib (whose settings are read with
    `ast.parse`), and `inspect.signature` and tracebacks parse too: a submission was once lost
    to an "internal grader error" that way. So every `ast.parse` of this process takes one
    lock, with the garbage collector held off meanwhile. Installed once, at import."""
    parse = ast.parse
    lock = getattr(parse, "grader_lock", None)
    if lock is not None:
        return lock
    lock = threading.RLock()

    @functools.wraps(parse)
    def locked_parse(*args, **kwargs):
        with lock:
            collecting = gc.isenabled()
            gc.disable()        # no collection inside: its finalizers could wait on other locks
            try:
                return parse(*args, **kwargs)
            finally:
                if collecting:
                    gc.enable()

    locked_parse.grader_lock = lock
    ast.parse = locked_parse
    return lock


_PARSE_LOCK = _one_parse_at_a_time()


# Cell magics whose body is Python run in the notebook's namespace (what they define is defined)
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")


def _parse(source: str) -> ast.Module | None:
    """A code cell's syntax tree as the kernel runs it, or None for a cell that cannot run.
    A cell that fails to parse is not scanned, so an earlier definition would be judged
    in place of the one that runs: IPython's syntax must parse. Plain Python first; then
    each magic or shell line made `pass` at its indentation (a `%time f(x)` alone in a
    loop's body keeps the loop valid, and line numbers stay); then IPython's own
    transformation (imported only for a cell it may change: a third of a second)."""
    tree = _try_parse(source)
    first = source.lstrip()
    if tree is None and (not first.startswith("%%") or first.startswith(_PYTHON_CELL_MAGICS)):
        tree = _try_parse("\n".join(
            ln[:len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("%", "!")) else ln
            for ln in source.splitlines()))
    if tree is None and _ipython_may_change(source):
        try:
            from IPython.core.inputtransformer2 import TransformerManager
            tree = _try_parse(TransformerManager().transform_cell(source))
        except Exception:  # noqa: BLE001 - a cell IPython cannot transform does not run either
            return None
    return tree


#: a prompt IPython strips from a pasted session (`>>>`, `...`, `In [1]:`, vi mode's `[nav]`)
_PROMPTS = (">>>", "...", "In [", "[nav]", "[ins]")


def _ipython_may_change(source: str) -> bool:
    """Whether IPython's input transformation (IPython.core.inputtransformer2) may change this
    cell: it acts only on its escapes (`%` `!` `?` anywhere: magics, shell, help, `x = !cmd`;
    `,` `;` `/` at a line's start: autocall), a pasted session's prompts and an indented first
    line. A cell with none of them that Python cannot parse does not run either; finding that
    out cost importing IPython (about 0.3 s, on the event loop that serves every worker)."""
    if any(escape in source for escape in "%!?"):
        return True
    lines = [line for line in source.splitlines() if line.strip()]
    return bool(lines) and (lines[0][:1].isspace() or
                            any(line.lstrip().startswith((",", ";", "/", *_PROMPTS)) for line in lines))


def _try_parse(source: str) -> ast.Module | None:
    for _ in range(3):     # a parse this process started without `ast.parse` may still overlap
        try:
            return ast.parse(source)
        except SystemError:
            continue
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
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
        self.trees: list[tuple[int, ast.Module]] = []    # (cell index, its syntax tree), parsed once
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                tree = _parse(cell.source)
                if tree is not None:
                    self.trees.append((index, tree))
        self.resolver = Resolver(self.trees)
        # methods the notebook's own classes define: `layer.backward(g)` may be one of them
        self.own_methods = {item.name for _, tree in self.trees for node in ast.walk(tree)
                            if isinstance(node, ast.ClassDef) for item in node.body
                            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        # functions and classes bound at module level, by name: the last binding wins
        self.functions: dict[str, tuple[ast.AST, int]] = self.resolver.definitions
        # (scan, name) -> its findings: every question of a class asks about the same class
        # (16 of dual_numbers' 20 about `Dual`, 15 ms of walking each)
        self._scanned: dict[tuple[str, str], list[Finding]] = {}

    def assignments_to(self, qualified: str) -> list[Finding]:
        """Where the notebook rebinds the object `qualified` (e.g. "json.dumps"), through
        any alias: `json.dumps = ...`, `setattr(json, "dumps", ...)`. Used to say where a
        replacement the probe found in the kernel was made."""
        found = []
        module, _, attr = qualified.rpartition(".")
        for index, tree in self.trees:
            for node, scope in walk_scoped(tree, self.resolver):
                targets = (node.targets if isinstance(node, ast.Assign) else
                           [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
                for target in targets:
                    if isinstance(target, ast.Attribute) and self.resolver.qualify(target, scope) == qualified:
                        found.append(Finding("the notebook", index, node.lineno, f"{_dotted(target)} = ..."))
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id in ("setattr", "delattr") and len(node.args) >= 2 \
                        and isinstance(node.args[1], ast.Constant) and node.args[1].value == attr \
                        and self.resolver.qualify(node.args[0], scope) == module:
                    found.append(Finding("the notebook", index, node.lineno,
                                         f"{node.func.id}({_dotted(node.args[0])}, {attr!r}, ...)"))
        return found

    def autograd_uses(self, name: str) -> list[Finding]:
        """Where `name` reaches torch autograd: sure by a resolved name (`torch.autograd.grad`,
        `torch.func.jacrev`, an alias of one); not sure by a method's name on an object the
        scan cannot type (`obj.backward(...)` is a tensor's, or a layer's, a namedtuple's,
        an imported class's) or a `requires_grad` keyword or attribute (a tensor's, or a
        class's own)."""
        def use(node: ast.AST, qualified: str | None) -> tuple[str, bool] | None:
            if qualified and is_autograd(qualified):
                return _dotted(node) or qualified, True
            if isinstance(node, ast.Attribute) and qualified is None:
                # a notebook class's own `backward` is not even a place to name
                if node.attr in AUTOGRAD_METHODS and node.attr not in self.own_methods:
                    return _dotted(node), False
                if node.attr == "requires_grad" and isinstance(node.ctx, ast.Store):
                    return _dotted(node) + " = ...", False
            if isinstance(node, ast.keyword) and node.arg == "requires_grad":
                if isinstance(node.value, ast.Constant) and node.value.value is True:
                    return "requires_grad=True", False
            return None
        return self._uses("autograd", name, use)

    def torch_uses(self, name: str) -> list[Finding]:
        """Any use of torch inside `name` (a class such as `Value`, or a function)."""
        def use(node: ast.AST, qualified: str | None) -> tuple[str, bool] | None:
            if qualified and qualified.split(".")[0] in ("torch", "functorch"):
                return _dotted(node) or qualified, True
            return None
        return self._uses("torch", name, use)

    def _uses(self, scan: str, name: str, detect) -> list[Finding]:
        """`detect(node, qualified)` on every name, attribute chain and keyword of `name`'s
        definition and of the notebook definitions it refers to; one finding per line."""
        key = (scan, name)
        if key not in self._scanned:
            self._scanned[key] = self._scan(name, detect)
        return list(self._scanned[key])

    def _scan(self, name: str, detect) -> list[Finding]:
        found: list[Finding] = []
        todo, seen = [name], set()
        while todo:
            fn = todo.pop()
            if fn in seen:
                continue
            seen.add(fn)
            lines: set[tuple[int, int]] = set()
            for node, cell in self.resolver.bound.get(fn, []):   # its last binding, as it runs
                for sub, scope in walk_scoped(node, self.resolver, inside=True):
                    qualified = (self.resolver.qualify(sub, scope)
                                 if isinstance(sub, (ast.Name, ast.Attribute)) else None)
                    if qualified and qualified.startswith(Resolver.DEFINED):
                        todo.append(qualified[len(Resolver.DEFINED):])
                        continue
                    hit = detect(sub, qualified)
                    if hit and (cell, sub.lineno) not in lines:
                        lines.add((cell, sub.lineno))
                        what, sure = hit
                        found.append(Finding(fn, cell, sub.lineno, what,
                                             sure and fn not in self.resolver.conditional))
        return found


@dataclass(frozen=True)
class Replaced:
    """Something the probe relies on that it found replaced, where the scan cannot say where."""

    what: str

    def __str__(self) -> str:
        return f"`{self.what}` replaced in the kernel"


def probe_tampering(code: NotebookCode, outcomes) -> list[Finding | Replaced]:
    """What the probe found replaced among what its report passes through, decided in
    the kernel at probe time (kernel_integrity.Integrity), never from the notebook's text:
    settings (display options, printoptions, seeds, warnings, magics) are no finding.
    Each is located in the notebook where the scan can (`json.dumps = ...`, cell, line).
    An answered call without the integrity report had its reply rewritten on the way."""
    names: list[str] = []
    for out in outcomes:
        reported = out.tampered if out.tampered is not None else (
            ["the probe's integrity report (missing from its reply)"] if out.status == "ok" else [])
        names += [n for n in reported if n not in names]
    found: list[Finding | Replaced] = []
    for name in names:
        found += code.assignments_to(name.split(" (")[0]) or [Replaced(name)]
    return found



def evidence(findings: list[Finding], counted: bool, count: str) -> str | None:
    """Where a forbidden use is shown, for the feedback, or None where nothing proves one: a
    sure finding; else, when the probe counted the use during the call (`counted`, said as
    `count`), the first place the scan suspects, with the count."""
    sure = [f for f in findings if f.sure]
    if sure:
        return str(sure[0])
    if counted:
        return f"{findings[0]}; {count}" if findings else count
    return None
