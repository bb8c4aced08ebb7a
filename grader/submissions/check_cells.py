"""Check cells: what `grader assign` puts after each graded section, and what grading skips.

A check cell calls `grader.check(...)` in the student's own kernel. When the
notebook is graded, such a cell must neither cost time nor fail (the grader
package may be absent from the grading kernel), so the grader's kernel does not
run it. A cell is a check cell when

- it carries the cell tag `grader-check` (every cell `grader assign` writes), or
- its whole code is check calls: `import grader`, `grader.check(...)`,
  `grader.check_all(...)`, `grader.init(...)` with literal arguments only, and
  the magics `%load_ext grader` / `%check ...` (a student may retype such a cell
  and lose the tag). Such a cell defines nothing a question could call, so
  skipping it cannot change a grade.

Light on purpose (the sandbox imports it): `ast` only, no torch.
"""

from __future__ import annotations

import ast
import json
import typing as t

import nbformat

CHECK_TAG = "grader-check"
CHECK_CALLS = {"check", "check_all", "init"}


def is_check_cell(cell: t.Mapping) -> bool:
    if cell.get("cell_type") != "code":
        return False
    metadata = cell.get("metadata") or {}
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    if isinstance(tags, list) and CHECK_TAG in tags:
        return True
    return only_check_calls(str(cell.get("source") or ""))


def _magic(line: str) -> bool:
    words = line.split()
    return words[:2] == ["%load_ext", "grader"] or words[:1] == ["%check"]


def _literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in node.elts))


def _check_call(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Import):
        return all(alias.name == "grader" and alias.asname is None for alias in stmt.names)
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    func = call.func
    return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "grader"
            and func.attr in CHECK_CALLS and all(_literal(a) for a in call.args)
            and all(k.arg is not None and _literal(k.value) for k in call.keywords))


def only_check_calls(source: str) -> bool:
    """Every line is a check call, `import grader`, a grader magic, a comment or blank (and
    there is at least one call or magic)."""
    if "grader" not in source and "%check" not in source:
        return False       # most cells: no parsing (the grader asks this of every cell it runs)
    lines = source.splitlines()
    magics = [ln for ln in lines if ln.lstrip().startswith("%")]
    if not all(_magic(ln.strip()) for ln in magics):
        return False
    code = "\n".join("" if ln.lstrip().startswith("%") else ln for ln in lines)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if not tree.body and not magics:
        return False
    return all(_check_call(stmt) for stmt in tree.body)


def check_cell(assignment: str, call: str, cell_id: str | None) -> nbformat.NotebookNode:
    """A tagged cell: `call` (`check("grad_inner")`, `check_all()`) for `assignment`. The id
    is given, not random, so a student notebook made twice is the same, byte for byte."""
    source = ("# Your public checks, run in this kernel (skipped when the notebook is graded)\n"
              f"import grader\ngrader.init({json.dumps(assignment)})\ngrader.{call}")
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [CHECK_TAG]})
    if cell_id is None:
        del cell["id"]          # nbformat < 4.5 has no cell ids
    else:
        cell["id"] = cell_id
    return cell


def defined_names(source: str) -> list[str]:
    """Functions and classes a cell defines at its top level, in order."""
    code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines())
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def with_check_cells(nb: nbformat.NotebookNode, assignment: str, graded: t.Collection[str]) -> None:
    """Put a check cell after each code cell of `nb` that defines a graded name (a function or
    class a question calls first), and one `check_all()` at the end."""
    ids = nb.get("nbformat", 4) > 4 or nb.get("nbformat_minor", 0) >= 5
    cells: list = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code" or is_check_cell(cell):
            continue
        names = [n for n in defined_names(cell.source) if n in graded]
        if names:
            call = "check(" + ", ".join(json.dumps(n) for n in names) + ")"
            cells.append(check_cell(assignment, call, f"check-{len(cells)}" if ids else None))
    cells.append(check_cell(assignment, "check_all()", "check-all" if ids else None))
    nb.cells = cells
