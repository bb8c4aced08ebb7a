"""Make the student notebook from a solution notebook.

- In code cells, every region between a line `# BEGIN SOLUTION` and a line
  `# END SOLUTION` (markers included) becomes one stub line at the marker's
  indentation: `raise NotImplementedError`, or `...` when the marker reads
  `# BEGIN SOLUTION (ellipsis)`.
- Cells tagged `hidden` (or with metadata `grader.hidden: true`) disappear.
- Outputs and execution counts are cleared.
- Notebook metadata `grader` says which assignment and which grader made it.

Normalisation: the file is written by nbformat (`nbformat.writes` + newline),
so a student notebook regenerated from an unchanged solution is the same,
byte for byte.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from grader import __version__
from grader.errors import InputError
from grader.submissions import read_notebook

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?P<mode>\s*\(ellipsis\))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")


def strip_solutions(source: str, where: str) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise InputError(where, f"line {number}: BEGIN SOLUTION inside another solution region")
            inside = True
            stub = "..." if begin.group("mode") else "raise NotImplementedError"
            out.append(begin.group("indent") + stub)
        elif END.match(line):
            if not inside:
                raise InputError(where, f"line {number}: END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise InputError(where, "BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _hidden(cell) -> bool:
    return "hidden" in cell.metadata.get("tags", []) or bool(cell.metadata.get("grader", {}).get("hidden"))


def student_notebook(solution: nbformat.NotebookNode, assignment: str, source_name: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(solution)
    cells = []
    for index, cell in enumerate(nb.cells):
        if _hidden(cell):
            continue
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{source_name}: cell {index + 1}")
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    meta = dict(nb.metadata.get("grader", {}))
    meta.update({"assignment": assignment, "generated_by": f"grader assign {__version__}"})
    nb.metadata["grader"] = meta
    return nb


def assign(solution_path: Path, out_dir: Path) -> Path:
    solution = read_notebook(solution_path)
    name = solution.metadata.get("grader", {}).get("assignment") or solution_path.stem
    student = student_notebook(solution, name, str(solution_path))
    out = out_dir / f"{solution_path.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nbformat.writes(student) + "\n", encoding="utf-8")
    return out
