"""A disguised copy of a notebook: what a student does to hide that they copied.

All at once: every name the student chose is changed (the graded function
names stay: the grader calls them), the graded functions are reordered,
comments are dropped and new ones written, the spacing inside lines and the
blank lines between them change, and a helper that nothing calls is added.
The copy still runs and still scores what the original scores.
"""

from __future__ import annotations

import ast
import builtins
import io
import random
import re
import tokenize

import nbformat

from .variants import GRADED, Habits, function_cell

KEEP = {*GRADED, *dir(builtins), "torch", "np", "numpy", "math",
        # keyword arguments of library calls share their token with a name of the student's
        "dtype", "device", "dim", "requires_grad", "keepdim", "out", "atol", "rtol", "generator"}
WORDS = ("tmp", "val", "res", "mat", "vec", "acc", "buf", "arg", "item", "part", "data", "elem", "term")
NEW_COMMENTS = ("# my own derivation", "# works for any shape", "# double-checked", "# gradient here",
                "# careful with the transpose", "# returns a new tensor", "# from lecture 3")
DEAD_HELPERS = (
    "def {name}(v):\n    total = 0.0\n    for t in v.flatten():\n        total += float(t) ** 2\n"
    "    return total ** 0.5",
    "def {name}(M, k=2.0):\n    out = M.clone()\n    out *= k\n    return out",
    "def {name}(a, b):\n    if a.shape != b.shape:\n        raise ValueError('shapes differ')\n"
    "    return (a - b).abs().max().item()",
    "def {name}(n, seed=11):\n    gen = torch.Generator().manual_seed(seed)\n"
    "    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen))\n    return q",
)


def _chosen_names(sources: list[str]) -> set[str]:
    """Names the student chose: parameters, assigned names, their own functions and classes."""
    names: set[str] = set()
    methods: set[str] = set()   # called as attributes (obj.grad), which stay as they are
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                methods.update(f.name for f in node.body if isinstance(f, ast.FunctionDef))
            if isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
    return {n for n in names if not n.startswith("__")} - methods - KEEP - _in_fstrings(sources)


def _in_fstrings(sources: list[str]) -> set[str]:
    """Names used inside f-strings: one STRING token before Python 3.12, so never renamed."""
    found: set[str] = set()
    for src in sources:
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
        except (tokenize.TokenError, SyntaxError):
            continue
        for tok in tokens:
            if tok.type == tokenize.STRING and re.match(r"(?i)^[rb]*f", tok.string):
                for field in re.findall(r"\{([^{}]*)\}", tok.string):
                    found.update(re.findall(r"[A-Za-z_]\w*", field))
    return found


def _rewrite(source: str, mapping: dict[str, str], rng: random.Random) -> str:
    """`source` with names mapped, comments replaced and its spacing changed."""
    out: list[tuple[int, str]] = []
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        kind, text = tok.type, tok.string
        if kind == tokenize.COMMENT:
            continue
        if kind == tokenize.NAME and text in mapping and not (prev and prev.string == "."):
            text = mapping[text]
        if kind == tokenize.NEWLINE and rng.random() < 0.15:
            out.append((tokenize.COMMENT, rng.choice(NEW_COMMENTS)))
        out.append((kind, text))
        if kind == tokenize.NEWLINE and rng.random() < 0.2:
            out.append((tokenize.NL, "\n"))
        prev = tok
    return tokenize.untokenize(out).rstrip() + "\n"   # two-tuples: tokenize's own spacing


def disguise(nb: nbformat.NotebookNode, rng: random.Random, rewrite: int = 0) -> nbformat.NotebookNode:
    """`rewrite`: also write that many graded functions again in another way (beyond the benchmark's
    disguises: how far the flags reach, not a goal)."""
    nb = nbformat.from_dict(nb)   # a copy
    functions = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def grad_")]
    habits = Habits(rng) if rewrite else None
    for cell in rng.sample(functions, min(rewrite, len(functions))) if rewrite else ():
        name = cell.source[4:cell.source.index("(")]
        doc = cell.source.split("\n")[1].strip() if '"""' in cell.source else ""
        while (new := function_cell(name, habits, doc, rng)) == cell.source:
            pass
        cell.source = new
    code = [c for c in nb.cells if c.cell_type == "code"]
    names = sorted(_chosen_names([c.source for c in code]))
    fresh = [f"{rng.choice(WORDS)}_{i}{rng.randint(0, 9)}" for i in range(len(names))]
    mapping = dict(zip(names, fresh))
    slots = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith("def grad_")]
    order = [nb.cells[i] for i in slots]
    rng.shuffle(order)
    for i, cell in zip(slots, order):
        nb.cells[i] = cell
    for cell in code:
        cell.source = _rewrite(cell.source, mapping, rng)
    helper = rng.choice(DEAD_HELPERS).format(name=f"{rng.choice(WORDS)}_helper")
    nb.cells.insert(rng.choice(slots) + 1, nbformat.v4.new_code_cell(helper))
    return nb
