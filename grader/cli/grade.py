"""`grader grade PATH... --assignment NAME --out DIR [--workers N]` — the instructor's batch."""

from __future__ import annotations

import typing as t
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from grader.batch import ReportOptions, grade_batch
from grader.cli.common import ConfigOption, KernelOption, console, out, rubric_for, run, setup
from grader.cli.options import (FailUnderOption, FormatOption, HiddenVisibilityOption, github_report, policy_exit,
                                resolve_formats)
from grader.errors import EXIT_OK, InputError
from grader.submissions import discover



def grade(
    paths: t.Annotated[list[Path], typer.Argument(help="notebooks and/or folders of notebooks")],
    assignment: t.Annotated[str, typer.Option("--assignment", "-a", help="rubric name or path")],
    out_dir: t.Annotated[t.Optional[Path], typer.Option("--out", "-o", help="where results go")] = None,
    workers: t.Annotated[t.Optional[int], typer.Option("--workers", "-w", min=1,
                                                       help="kernels at once (default: cores)")] = None,
    config: ConfigOption = None,
    warm: KernelOption = None,
    formats: FormatOption = None,
    fail_under: FailUnderOption = None,
    hidden_visibility: HiddenVisibilityOption = "after_published",
) -> int:
    """Grade submissions: one JSON result per notebook, plus the reports of each --format
    (default: the config's formats: Markdown feedback and a gradebook CSV).

    Notebooks named on the command line must be readable (else exit 2); a
    broken notebook found inside a folder gets a result that says why.
    Exit 0 when every submission has a result; with --fail-under, exit 1 when
    any submission scores under it. In GitHub Actions (GITHUB_ACTIONS=true, or
    --format github) also a job summary, annotations and JUnit XML.
    """
    cfg = setup(config, warm)
    chosen = resolve_formats(formats, cfg.formats)
    cfg = cfg.model_copy(update={"formats": chosen})
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
                                  on_done=lambda r: bar.update(task, advance=1, description=r.submission),
                                  report=ReportOptions(hidden_visibility=hidden_visibility)))
    table = Table("submission", "score", "status", title=f"{rubric.assignment}: {len(results)} graded")
    for r in results:
        table.add_row(r.submission, f"{r.score:g} / {r.max_score:g}",
                      r.status + (f": {r.message}" if r.message else ""))
    out.print(table)
    out.print(f"results: {dest / 'results'}", markup=False)
    if {"markdown", "html"} & set(chosen):
        out.print(f"feedback: {dest / 'feedback'}", markup=False)
    if "csv" in chosen:
        out.print(f"gradebook: {dest / 'gradebook.csv'}", markup=False)
    if "junit" in chosen:
        out.print(f"junit: {dest / 'junit.xml'}", markup=False)
    if "gradescope" in chosen:
        out.print(f"gradescope: {dest / ('results.json' if len(results) == 1 else 'gradescope')}", markup=False)
    code, policy_line = policy_exit(results, fail_under, default=EXIT_OK)
    if policy_line:
        out.print(Text(policy_line, style="red" if code else "green"))
    github_report(results, chosen, dest, policy_line=policy_line, passed=code == EXIT_OK)
    return code


def register(app: typer.Typer) -> None:
    app.command()(grade)
