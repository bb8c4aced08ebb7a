"""An assignment's exercise contract as Markdown (`grader show NAME --markdown`).

Generated, never written by hand, so it cannot drift from what is graded:
the names, points, checks, case counts, dtypes, devices and call limits come
from the rubric; the signatures and one-line descriptions from the student
notebook (the `def` / `class` the student fills in); the tolerances from the
check modules that apply them. `docs/assignments/NAME.md` holds the output
for each bundled assignment (tests/test_docs.py keeps it in sync).
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path

from grader.config import Config
from grader.errors import InputError
from grader.rubric.model import (FiniteDifferenceCheck, ForwardModeCheck, GradientCheck, LagrangeCheck, Question,
                                 ReverseModeCheck, Rubric, ValueCheck)
from grader.submissions import read_notebook

#: what holds for every question of a check kind (the course's conventions, docs/exercises.md)
CONVENTIONS = {
    "gradient": "The result is the gradient in the **denominator layout**: it has the shape of the "
                "argument it is taken with respect to, and for a vector-valued expression it is the "
                "transpose of the Jacobian (`grad_x (A x) = A^T`). The reference is torch autograd's "
                "derivative of the expression (one backward pass per output element), in float64, in the "
                "grader's process.",
    "value": "The result is compared with the value of a torch expression of the arguments. Where the "
             "question asks for a plain result, it must not require grad nor have a `grad_fn`, and the "
             "caller's arguments (and their `.grad`) must come back untouched.",
    "forward_mode": "The grader builds expression graphs out of the student's `Dual`s with Python "
                    "operators and methods only, on plain Python floats; values and derivatives are "
                    "compared with torch forward-mode AD of the same graph in float64.",
    "reverse_mode": "The grader builds expression graphs out of the student's `Value`s with Python "
                    "operators and methods only, on plain Python floats, calls `backward()` and reads the "
                    "leaves' `.grad`; compared with torch reverse-mode autograd of the same graph in float64.",
    "finite_difference": "The function `f` is the grader's; the estimate is compared with the same scheme "
                         "computed in float64 at the question's `h`, the error's order of convergence is "
                         "the slope of log error against log h, and calls of `f` are counted.",
    "lagrange": "Sign convention `L(x, lam) = f(x) - lam^T g(x)`; `f` and `g` are written with torch. "
                "Problems have known optima; a solver's answer is also checked by the KKT residual.",
}
TENSOR_KINDS = ("gradient", "value")
TENSOR_RULE = ("Tensor arguments come in each listed dtype and on each listed device; the result must "
               "have the **same dtype and device**, and the arguments must not be modified. CUDA cases "
               "run where CUDA is available to both the grader and the kernel, else they are skipped and "
               "do not count.")


@dataclass(frozen=True)
class Definition:
    name: str
    signature: str       # `f(x, h=1e-5)`, `class Dual(real, dual=0.0)`
    summary: str         # the docstring's first line
    methods: tuple[str, ...] = ()


def _arguments(fn: ast.FunctionDef, drop_self: bool) -> str:
    args = fn.args
    if drop_self and args.args:
        args = ast.arguments(posonlyargs=args.posonlyargs, args=args.args[1:], vararg=args.vararg,
                             kwonlyargs=args.kwonlyargs, kw_defaults=args.kw_defaults, kwarg=args.kwarg,
                             defaults=args.defaults[max(0, len(args.defaults) - len(args.args) + 1):])
    return ast.unparse(args)


def _definition(node: ast.AST) -> Definition | None:
    if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return None
    summary = (ast.get_docstring(node) or "").strip().splitlines()[:1]
    if isinstance(node, ast.FunctionDef):
        return Definition(node.name, f"{node.name}({_arguments(node, False)})", "".join(summary))
    if isinstance(node, ast.ClassDef):
        body = [n for n in node.body if isinstance(n, ast.FunctionDef)]
        init = next((n for n in body if n.name == "__init__"), None)
        signature = f"class {node.name}({_arguments(init, True) if init else ''})"
        methods = tuple(n.name for n in body if n.name not in ("__init__", "__repr__")
                        and not (n.name.startswith("_") and not n.name.endswith("__")))
        return Definition(node.name, signature, "".join(summary), methods)
    return None


def notebook_definitions(notebook: Path) -> dict[str, Definition]:
    """Top-level functions and classes of a notebook's code cells (the last one of a name wins,
    as in the kernel); cells that are not plain Python (magics) are skipped."""
    found: dict[str, Definition] = {}
    for cell in read_notebook(notebook).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            d = _definition(node)
            if d is not None:
                found[d.name] = d
    return found


def _cell(text: object) -> str:
    """Text for a Markdown table cell: pipes escaped, one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _g(x: float) -> str:
    return f"{x:g}"


def _dtypes(q: Question, r: Rubric, cfg: Config) -> list[str]:
    return list(q.dtypes or r.defaults.dtypes or cfg.dtypes) if q.check.kind in TENSOR_KINDS else ["float64"]


def _devices(q: Question, r: Rubric, cfg: Config) -> list[str]:
    return list(q.devices or r.defaults.devices or cfg.devices) if q.check.kind in TENSOR_KINDS else ["cpu"]


def tolerance_text(q: Question, dtypes: list[str]) -> str:
    """The tolerance the question's check applies (imported from the check modules: torch)."""
    check = q.check
    if isinstance(check, (GradientCheck, ValueCheck)):
        from grader.checks.compare import tolerance
        return "; ".join(f"{d}: rtol {_g(tolerance(q, d)[0])}, atol {_g(tolerance(q, d)[1])}" for d in dtypes)
    if isinstance(check, (ForwardModeCheck, ReverseModeCheck)):
        from grader.checks.autodiff import GRAPH_TOLERANCE
        from grader.checks.compare import tolerance
        rtol, atol = tolerance(q, "float64", GRAPH_TOLERANCE)
        return f"rtol {_g(rtol)}, atol {_g(atol)}"
    if isinstance(check, FiniteDifferenceCheck):
        from grader.checks import numdiff
        rtol = inspect.signature(numdiff._close).parameters["rtol"].default   # the value check's only rtol
        order = f"; order: slope within {_g(check.order.tolerance)}" if check.order else ""
        return f"value: rtol {_g(rtol)}{order}"
    if isinstance(check, LagrangeCheck):
        from grader.checks.lagrange import TOL
        return f"{_g(TOL)} x max(1, \\|reference\\|) per entry"
    raise AssertionError(check.kind)


def check_text(q: Question) -> str:
    c = q.check
    if isinstance(c, GradientCheck):
        text = f"gradient of `{c.of}` with respect to `{c.wrt}`"
        return text + ("; torch autograd inside the function scores 0" if "autograd" in c.forbid else "")
    if isinstance(c, ValueCheck):
        return f"value of `{c.expect}`" + ("; a plain result, arguments untouched" if c.plain_result else "")
    if isinstance(c, (ForwardModeCheck, ReverseModeCheck)):
        g = c.graphs
        ops = f" over {', '.join(f'`{o}`' for o in g.ops)}" if g.ops else ""
        shape = {"single_op": "one operation per case" + (" with a number on the right" if g.number_right else ""),
                 "random_dag": f"random graphs of {g.nodes} nodes on {g.inputs} inputs, {g.outputs} output(s)",
                 "deep_chain": f"a chain {g.depth:,} operations deep",
                 "reuse": "graphs that reuse a node", "accumulate": "two graphs on the same leaves"}[g.generator]
        torch_rule = "; torch inside the class scores 0" if "torch" in c.forbid else ""
        return f"{c.kind.replace('_', ' ')} via `{c.via}`: {shape}{ops}{torch_rule}"
    if isinstance(c, FiniteDifferenceCheck):
        parts = [f"{c.scheme} difference ({c.form} form), value at h = {_g(c.h)}"]
        if c.order:
            parts.append(f"order from {c.order.steps} steps of h in [{_g(c.order.h_min)}, {_g(c.order.h_max)}]")
        if c.exact_calls:
            parts.append(f"exactly {c.exact_calls} calls of f")
        if c.form == "gradient":
            parts.append(f"n in [{c.inputs[0]}, {c.inputs[1]}]")
        return "; ".join(parts)
    if isinstance(c, LagrangeCheck):
        return f"via `{c.via}` on the problems {', '.join(c.problems)}"
    raise AssertionError(c.kind)


def _arguments_text(q: Question) -> list[str]:
    lines = []
    for name, arg in q.args.items():
        if arg.integer:
            what = f"an int in [{arg.integer[0]}, {arg.integer[1]}]"
        else:
            what = f"tensor of shape {tuple(arg.shape)!r}".replace("'", "")
            what += f", {arg.kind.replace('_', ' ')}" if arg.kind != "general" else ""
            what += ", requires_grad" if arg.requires_grad else ""
        lines.append(f"`{name}`: {what}")
    dims = ", ".join(f"{s} in [{lo}, {hi}]" for s, (lo, hi) in q.dims.items())
    return lines + ([f"sizes: {dims} (distinct symbols get distinct sizes)"] if dims else [])


def _names_section(r: Rubric, found: dict[str, Definition], notebook: str) -> list[str]:
    names = list(dict.fromkeys(n for q in r.questions for n in q.calls))
    lines = ["## Names to implement", "",
             f"The grader calls these by name in the executed notebook (`{notebook}`):", "",
             "| name | signature | what |", "| --- | --- | --- |"]
    for name in names:
        d = found.get(name)
        signature = f"`{d.signature}`" if d else "(not in the student notebook)"
        what = d.summary if d else ""
        if d and d.methods:
            what += (" " if what else "") + "Methods: " + ", ".join(f"`{m}`" for m in d.methods) + "."
        lines.append(f"| `{name}` | {_cell(signature)} | {_cell(what)} |")
    return lines + [""]


def _conventions_section(r: Rubric) -> list[str]:
    kinds = list(dict.fromkeys(q.check.kind for q in r.questions))
    lines = ["## Conventions", ""]
    lines += [f"- **{kind}**: {CONVENTIONS[kind]}" for kind in kinds]
    if any(k in TENSOR_KINDS for k in kinds):
        lines.append(f"- **tensors**: {TENSOR_RULE}")
    lines.append("- **scoring**: all or nothing per question (every public and hidden case must pass) "
                 "unless the question gives partial credit; a case fails when the call raises, times "
                 "out or returns something else than the reference within the tolerance.")
    return lines + [""]


def _questions_table(r: Rubric, cfg: Config) -> list[str]:
    lines = ["## Questions", "",
             "| question | points | calls | check | public cases | hidden cases | dtypes | devices |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for q in r.questions:
        lines.append(f"| [{q.id}](#{q.id.lower()}) | {_g(q.points)} | {', '.join(q.calls)} | {q.check.kind} | "
                     f"{q.cases.public.count} | {q.cases.hidden.count} | {', '.join(_dtypes(q, r, cfg))} | "
                     f"{', '.join(_devices(q, r, cfg))} |")
    return lines + [""]


def _question_section(q: Question, r: Rubric, cfg: Config) -> list[str]:
    timeout = q.call_timeout or r.defaults.call_timeout or cfg.execution.call_timeout
    lines = [f"### {q.id}", "", f"{q.title or q.id} ({_g(q.points)} point{'s' if q.points != 1 else ''}"
             + (", partial credit" if q.partial_credit else "") + ")", "",
             f"- calls: {', '.join(f'`{c}`' for c in q.calls)}, at most {_g(timeout)} s per call",
             f"- check: {check_text(q)}"]
    lines += [f"- argument {a}" if a.startswith("`") else f"- {a}" for a in _arguments_text(q)]
    lines += [f"- cases: {q.cases.public.count} public, {q.cases.hidden.count} hidden",
              f"- tolerance: {tolerance_text(q, _dtypes(q, r, cfg))}"]
    mistakes = getattr(q.check, "mistakes", [])
    if mistakes:
        lines.append("- recognised mistakes, and the hint each earns:")
        lines += [f"  - `{m.when}`: {' '.join(m.hint.split())}" for m in mistakes]
    return lines + [""]


def regenerate_command(assignment: str) -> str:
    return f"grader show {assignment} --markdown > docs/assignments/{assignment}.md"


def contract_markdown(r: Rubric, cfg: Config) -> str:
    """The Markdown contract of one assignment (the same bytes for the same rubric, notebook and config)."""
    notebook = cfg.path("assignments") / f"{r.assignment}.ipynb"
    try:
        shown = notebook.resolve().relative_to(cfg.base_dir.resolve()).as_posix()
    except ValueError:
        shown = notebook.name
    try:
        found = notebook_definitions(notebook) if notebook.is_file() else {}
    except InputError:
        found = {}
    n = len(r.questions)
    lines = [f"<!-- Generated from the rubric by `{regenerate_command(r.assignment)}`: edit the rubric "
             "or the student notebook, not this file. -->", "",
             f"# {r.assignment}: {r.title or r.assignment}", "",
             f"{n} question{'s' if n != 1 else ''}, {_g(r.max_score)} points (rubric version {r.version}).", ""]
    lines += _names_section(r, found, shown)
    lines += _conventions_section(r)
    lines += _questions_table(r, cfg)
    for q in r.questions:
        lines += _question_section(q, r, cfg)
    return "\n".join(lines).rstrip("\n") + "\n"
