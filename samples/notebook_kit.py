"""Notebook plumbing for the sample builder (samples/build.py).

Cells are {id, kind, source} records, numbered `cell-NN` in the solutions, and saved
with nbformat exactly the same way every time, so rebuilding gives the same bytes.
A `Sample` is the solution without its BEGIN/END SOLUTION markers, edited as its
recipe says (samples/sample_table.py): exact text replacements (an edit that no
longer matches fails loudly) and cells rewritten in another style, read from a
rewrite file (`rewrites`).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"


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


def read_cells(path: Path) -> list[dict]:
    """The cells of a notebook as {id, kind, source} records."""
    nb = nbformat.read(path, as_version=4)
    return [{"id": c.id, "kind": c.cell_type, "source": c.source} for c in nb.cells]


# A rewrite file is Python in the "percent" cell format (as Jupytext and VS Code read it):
# each section starts with a header line and holds one code cell's new source.
#   # %% cell-05                      the cell's whole source
#   # %% cell-14 after cell-07        a new code cell after cell-07
#   # %% cell-05 from <line>          the cell from that exact line (once) to its end
HEADER = re.compile(r"^# %% (?P<id>cell-\d+)(?: after (?P<after>cell-\d+)| from (?P<from>.*))?$")


def rewrites(path: Path) -> list[tuple[re.Match, str]]:
    """[(header match, source)] of a rewrite file, in order."""
    sections: list[tuple[re.Match, list[str]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        header = HEADER.match(line)
        if header:
            sections.append((header, []))
        elif sections:
            sections[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"{path.name}:{number}: text before the first '# %% cell-NN' header")
    return [(h, "\n".join(lines).strip("\n")) for h, lines in sections]


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

    def rewrite(self, path: Path) -> "Sample":
        """Apply every section of the rewrite file `path`."""
        for header, source in rewrites(path):
            cell_id = header["id"]
            if header["after"]:
                i = self.cells.index(self._cell(header["after"]))
                self.cells.insert(i + 1, {"id": cell_id, "kind": "code", "source": source})
            elif header["from"] is not None:
                old = self._cell(cell_id)["source"]
                lines = old.split("\n")
                if lines.count(header["from"]) != 1:
                    raise ValueError(f"{path.name}: {cell_id} has not exactly one line {header['from']!r}")
                self.replace(cell_id, "\n".join(lines[lines.index(header["from"]):]), source)
            else:
                self._cell(cell_id)["source"] = source
        return self


def make_sample(solution: list[dict], recipe, rewrite_dir: Path) -> Sample:
    """The sample that `recipe` (sample_table.Recipe) describes."""
    sample = Sample(solution)
    if recipe.rewrite:
        sample.rewrite(rewrite_dir / f"{recipe.name}.py")
    for edit in recipe.replace:
        sample.replace(*edit)
    return sample


def build_assignment(root: Path, table) -> list[Path]:
    """Write, for one sample table (sample_table.Table): the student notebook (by `grader
    assign`, the one place that knows how) from the solution, each sample and the README.
    The solution is only read: it is the author's file (tags, outputs and all). A hand-made
    batch gets its README only. Return the paths written."""
    from grader.authoring.assign import assign

    name = table.assignment
    readme = root / f"samples/{name}/README.md"
    if table.handmade:
        write_text(readme, table.readme())
        return [readme]
    solution_path = root / f"solutions/{name}.ipynb"
    solution = read_cells(solution_path)
    samples = {r.name: make_sample(solution, r, root / "samples" / "recipes" / name)
               for r in table.samples.values()}       # all built before anything is written
    written = [assign(solution_path, root / "assignments")]
    for sample, s in samples.items():
        write_notebook(root / f"samples/{name}/{sample}.ipynb", s.cells, name)
        written.append(root / f"samples/{name}/{sample}.ipynb")
    write_text(readme, table.readme())
    return written + [readme]
