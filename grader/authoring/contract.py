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
from dataclasses import dataclass
from pathlib import Path

from grader.config import Config
from grader.errors import InputError
from grader.rubric.kinds import KINDS
from grader.rubric.model import Question, Rubric
from grader.submissions import read_notebook

#: what holds for every question of a check kind (the course's conventions, docs/exercises.md):
#: each kind's own text, from its record (grader/rubric/kinds.py)
CONVENTIONS = {name: kind.convention for name, kind in KINDS.items()}
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
    return list(q.dtypes or r.defaults.dtypes or cfg.dtypes) if KINDS[q.check.kind].tensors else ["float64"]


def _devices(q: Question, r: Rubric, cfg: Config) -> list[str]:
    return list(q.devices or r.defaults.devices or cfg.devices) if KINDS[q.check.kind].tensors else ["cpu"]


def tolerance_text(q: Question, dtypes: list[str]) -> str:
    """The tolerance the question's check applies (its kind's record asks the check modules: torch)."""
    return KINDS[q.check.kind].tolerance(q, dtypes)


def check_text(q: Question) -> str:
    return KINDS[q.check.kind].describe(q.check)


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
    if any(KINDS[k].tensors for k in kinds):
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
