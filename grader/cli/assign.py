"""`grader assign SOLUTION.ipynb... [--out DIR]` — student notebooks from solutions."""

from __future__ import annotations

import typing as t
from pathlib import Path

import typer

from grader.authoring.assign import assign as make_student_notebook
from grader.checks.semantics import load_rubric
from grader.cli.common import ConfigOption, out, setup
from grader.submissions import read_notebook


def assign(
    solutions: t.Annotated[list[Path], typer.Argument(help="solution notebooks")],
    out_dir: t.Annotated[t.Optional[Path], typer.Option("--out", "-o",
                                                        help="default: the assignments folder")] = None,
    config: ConfigOption = None,
) -> int:
    """Write the student notebook for each solution: solution regions become stubs,
    hidden cells disappear, outputs are cleared."""
    cfg = setup(config)
    dest = out_dir or cfg.path("assignments")
    for solution in solutions:
        written = make_student_notebook(solution, dest, _rubric_of(cfg, solution))
        out.print(f"{solution} -> {written}")
    return 0


def _rubric_of(cfg, solution: Path):
    """This course's rubric for the solution (its check cells' names), if it has one."""
    name = read_notebook(solution).metadata.get("grader", {}).get("assignment") or solution.stem
    path = cfg.path("rubrics") / f"{name}.yaml"
    return load_rubric(path) if path.is_file() else None


def register(app: typer.Typer) -> None:
    app.command()(assign)
