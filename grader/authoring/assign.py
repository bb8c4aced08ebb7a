"""Make the student notebook from a solution notebook.

- In code cells, every region between a line `# BEGIN SOLUTION` and a line
  `# END SOLUTION` (markers included) becomes one stub line at the marker's
  indentation: `raise NotImplementedError`, or `...` when the marker reads
  `# BEGIN SOLUTION (ellipsis)`.
- Cells tagged `hidden` (or with metadata `grader.hidden: true`) disappear.
- Outputs and execution counts are cleared.
- Notebook metadata `grader` says which assignment and which grader made it.
- With the rubric known: a check cell (`grader.check(...)`, tagged `grader-check`)
  after each cell that defines a function or class a question calls, and a
  `grader.check_all()` cell at the end; grading skips them (grader/submissions/check_cells.py).

Normalisation: the file is written by nbformat (`nbformat.writes` + newline),
so a student notebook regenerated from an unchanged solution is the same,
byte for byte.
"""

from __future__ import annotations

import copy
import re
import typing as t
from pathlib import Path

import nbformat

from grader import __version__
from grader.config import load_config
from grader.course import find_config
from grader.errors import InputError
from grader.checks.semantics import load_rubric
from grader.submissions.check_cells import with_check_cells
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


def student_notebook(solution: nbformat.NotebookNode, assignment: str, source_name: str,
                     graded: t.Collection[str] | None = None) -> nbformat.NotebookNode:
    """`graded`: the names the rubric's questions call first (None: no check cells)."""
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
    if graded is not None:
        with_check_cells(nb, assignment, graded)
    meta = dict(nb.metadata.get("grader", {}))
    meta.update({"assignment": assignment, "generated_by": f"grader assign {__version__}"})
    nb.metadata["grader"] = meta
    return nb


def graded_names(rubric) -> list[str]:
    """What a check cell can name: the function or class each question calls first."""
    return list(dict.fromkeys(q.calls[0] for q in rubric.questions))


def _course_rubric(solution_path: Path, name: str):
    """The rubric of the course the solution belongs to (found as every command finds its
    course, from the solution's folder), or None."""
    try:
        cfg = load_config(find_config(cwd=solution_path.parent))
    except InputError:
        return None
    path = cfg.path("rubrics") / f"{name}.yaml"
    return load_rubric(path) if path.is_file() else None


def assign(solution_path: Path, out_dir: Path, rubric=None) -> Path:
    """`rubric`: where the check cells' names come from (default: the solution's course's)."""
    solution = read_notebook(solution_path)
    name = solution.metadata.get("grader", {}).get("assignment") or solution_path.stem
    rubric = rubric or _course_rubric(solution_path, name)
    student = student_notebook(solution, name, str(solution_path),
                               graded_names(rubric) if rubric is not None else None)
    out = out_dir / f"{solution_path.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nbformat.writes(student) + "\n", encoding="utf-8")
    return out
