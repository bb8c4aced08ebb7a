"""Notebook plumbing shared by the sample builders (build_*_notebooks.py).

Cells are written as (kind, source) pairs, numbered `cell-NN`, and saved with
nbformat exactly the same way every time, so rebuilding gives the same bytes.
A `Sample` is the solution without its BEGIN/END SOLUTION markers, edited by
exact text replacement (an edit that no longer matches fails loudly).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> tuple[str, str]:
    return ("markdown", _src(text))


def code(text: str) -> tuple[str, str]:
    return ("code", _src(text))


def number(cells: list[tuple[str, str]]) -> list[dict]:
    """[(kind, source)] -> [{id, kind, source}] with ids cell-01, cell-02, ..."""
    return [{"id": f"cell-{i:02d}", "kind": k, "source": s} for i, (k, s) in enumerate(cells, 1)]


def strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))


def notebook(cells: list[dict], assignment: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {
        "grader": {"assignment": assignment},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for c in cells:
        if c["kind"] == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(c["source"], id=c["id"]))
        else:
            cell = nbformat.v4.new_code_cell(c["source"], id=c["id"])
            cell.execution_count = None
            cell.outputs = []
            nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def write_notebook(path: Path, cells: list[dict], assignment: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook(cells, assignment)) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


class Sample:
    """A submission: the solution without markers, then edits by exact text."""

    def __init__(self, solution: list[dict]):
        self.cells = [dict(c, source=strip_markers(c["source"])) for c in solution]

    def _cell(self, cell_id: str) -> dict:
        for c in self.cells:
            if c["id"] == cell_id:
                return c
        raise KeyError(cell_id)

    def replace(self, cell_id: str, old: str, new: str, count: int = 1) -> "Sample":
        """Replace the exact text `old` (taken as given: indentation matters) by `new`."""
        c = self._cell(cell_id)
        found = c["source"].count(old)
        if found != count:
            raise ValueError(f"{cell_id}: expected {count} occurrence(s) of {old!r}, found {found}")
        c["source"] = c["source"].replace(old, new)
        return self

    def set(self, cell_id: str, source: str) -> "Sample":
        self._cell(cell_id)["source"] = _src(source)
        return self

    def insert_after(self, cell_id: str, new_id: str, kind: str, source: str) -> "Sample":
        i = self.cells.index(self._cell(cell_id))
        self.cells.insert(i + 1, {"id": new_id, "kind": kind, "source": _src(source)})
        return self


def build_assignments(root: Path, assignments) -> list[Path]:
    """Write, per (name, solution cells, {sample: Sample}, README text): the solution, the
    student notebook (by `grader assign`, the one place that knows how), the samples and
    their README; return the paths written."""
    from grader.authoring.assign import assign

    written = []
    for name, solution, samples, readme in assignments:
        write_notebook(root / f"solutions/{name}.ipynb", solution, name)
        written.append(root / f"solutions/{name}.ipynb")
        written.append(assign(root / f"solutions/{name}.ipynb", root / "assignments"))
        for sample, s in samples.items():
            write_notebook(root / f"samples/{name}/{sample}.ipynb", s.cells, name)
            written.append(root / f"samples/{name}/{sample}.ipynb")
        write_text(root / f"samples/{name}/README.md", readme)
        written.append(root / f"samples/{name}/README.md")
    return written


def main(build, root_default: Path) -> None:
    import sys
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else root_default):
        print(path.relative_to(root_default) if path.is_relative_to(root_default) else path)
