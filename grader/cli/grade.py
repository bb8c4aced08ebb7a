"""`grader grade PATH... --assignment NAME --out DIR [--workers N]` — the instructor's batch."""

from __future__ import annotations

import typing as t
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from grader.batch import grade_batch
from grader.cli.common import ConfigOption, console, out, rubric_for, run, setup
from grader.errors import InputError
from grader.submissions import discover


def grade(
    paths: t.Annotated[list[Path], typer.Argument(help="notebooks and/or folders of notebooks")],
    assignment: t.Annotated[str, typer.Option("--assignment", "-a", help="rubric name or path")],
    out_dir: t.Annotated[t.Optional[Path], typer.Option("--out", "-o", help="where results go")] = None,
    workers: t.Annotated[t.Optional[int], typer.Option("--workers", "-w", min=1,
                                                       help="kernels at once (default: cores)")] = None,
    config: ConfigOption = None,
) -> int:
    """Grade submissions: one JSON result and one Markdown feedback per notebook, a gradebook CSV.

    Notebooks named on the command line must be readable (else exit 2); a
    broken notebook found inside a folder gets a result that says why.
    """
    cfg = setup(config)
    rubric = rubric_for(cfg, assignment)
    subs = discover(paths)
    if not subs:
        raise InputError(paths[0], "no .ipynb notebooks found")
    dest = out_dir or cfg.path("out") / rubric.assignment
    n_workers = workers or cfg.worker_count()
    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task("", total=len(subs))
        results = run(grade_batch(subs, rubric, cfg, dest, workers=n_workers,
                                  on_done=lambda r: bar.update(task, advance=1, description=r.submission)))
    table = Table("submission", "score", "status", title=f"{rubric.assignment}: {len(results)} graded")
    for r in results:
        table.add_row(r.submission, f"{r.score:g} / {r.max_score:g}",
                      r.status + (f": {r.message}" if r.message else ""))
    out.print(table)
    out.print(f"results: {dest / 'results'}\nfeedback: {dest / 'feedback'}\n"
              f"gradebook: {dest / 'gradebook.csv'}")
    return 0


def register(app: typer.Typer) -> None:
    app.command()(grade)
