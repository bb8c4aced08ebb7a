"""`grader check NOTEBOOK [--assignment NAME]` — a student's public self-check."""

from __future__ import annotations

import difflib
import typing as t
from pathlib import Path

import typer
from rich.table import Table

from grader.cli.common import ConfigOption, out, rubric_for, run, setup
from grader.config import Config
from grader.errors import EXIT_FAILED, EXIT_OK, InputError
from grader.pipeline import grade_notebook
from grader.reports.markdown import STATUS_MARK
from grader.rubric.load import available_assignments
from grader.submissions import discover, read_notebook


def infer_assignment(cfg: Config, notebook: Path) -> str:
    """From the notebook's metadata (`grader.assignment`), else from its file name."""
    meta = read_notebook(notebook).metadata.get("grader", {})
    if isinstance(meta, dict) and isinstance(meta.get("assignment"), str):
        return meta["assignment"]
    names = available_assignments(cfg)
    stem = notebook.stem.lower()
    hits = [n for n in names if n in stem] or difflib.get_close_matches(stem, names, n=1)
    if not hits:
        raise InputError(notebook, "cannot tell which assignment this is: pass --assignment "
                                   f"({', '.join(names)})")
    return max(hits, key=len)


def check(
    notebook: t.Annotated[Path, typer.Argument(help="your notebook")],
    assignment: t.Annotated[t.Optional[str], typer.Option("--assignment", "-a",
                                                          help="default: from the notebook")] = None,
    config: ConfigOption = None,
) -> int:
    """Run the public checks on one notebook and print what passed; exit 1 if anything failed."""
    cfg = setup(config)
    subs = discover([notebook])
    rubric = rubric_for(cfg, assignment or infer_assignment(cfg, notebook))
    result = run(grade_notebook(subs[0], rubric, cfg, public_only=True))
    table = Table("", "question", "score", "what we found", title=f"{rubric.assignment}: public checks",
                  show_lines=True)
    for q in result.questions:
        text = q.feedback + "".join(f"\nhint: {h}" for h in q.hints)
        table.add_row(STATUS_MARK.get(q.status, ""), q.id, f"{q.score:g}/{q.max_score:g}", text)
    out.print(table)
    for issue in result.notebook_issues:
        out.print(f"[yellow]notebook:[/] {issue}")
    out.print(f"public score: {result.score:g} / {result.max_score:g} "
              "(hidden cases run only when your work is graded)")
    return EXIT_OK if result.score == result.max_score else EXIT_FAILED


def register(app: typer.Typer) -> None:
    app.command()(check)
