"""Notebooks from the style data: style k of an assignment takes implementation k of
every graded name, the k-th settings cell and the assignment's extra cells. Beside them,
whole notebooks written independently from the exercise contract alone (`whole/ASSIGNMENT/`:
two testers who never saw the solutions; six of them once got false fails from the autograd
scan: a layer's own `backward`, a namedtuple field called `backward`, a `%time` in a loop, a
name rebound to another function, `torch.autograd.no_grad`, defs in the branches of an `if`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from .styles import EXTRAS, IMPLEMENTATIONS, SETTINGS


WHOLE = Path(__file__).parent / "whole"


def whole_notebooks(assignment: str) -> list[Path]:
    return sorted((WHOLE / assignment).glob("*.ipynb"))


def styles_of(assignment: str) -> int:
    return max(len(impls) for impls in IMPLEMENTATIONS[assignment].values())


def cells_for(assignment: str, k: int) -> list[str]:
    impls = IMPLEMENTATIONS[assignment]
    cells = [SETTINGS[k % len(SETTINGS)]]
    cells += [versions[k % len(versions)] for versions in impls.values()]
    cells += [extra for extra in EXTRAS.get(assignment, {}).get(k, [])]
    return cells


def notebooks(folder: Path) -> dict[str, list[Path]]:
    """Write every style notebook under folder/ASSIGNMENT/; the paths by assignment."""
    written: dict[str, list[Path]] = {}
    for assignment in IMPLEMENTATIONS:
        sub = folder / assignment
        sub.mkdir(parents=True, exist_ok=True)
        for k in range(styles_of(assignment)):
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src.strip("\n"))
                                                 for src in cells_for(assignment, k)])
            nb.metadata["grader"] = {"assignment": assignment}
            path = sub / f"{assignment}_style{k + 1}.ipynb"
            nbformat.write(nb, path)
            written.setdefault(assignment, []).append(path)
        for notebook in whole_notebooks(assignment):
            written[assignment].append(Path(shutil.copy(notebook, sub / notebook.name)))
    return written
