"""`grader show RUBRIC` — the questions of a rubric at a glance."""

from __future__ import annotations

import sys
import typing as t

import typer
from rich.table import Table

from grader.authoring.contract import contract_markdown
from grader.cli.common import ConfigOption, out, rubric_for, setup


def show(rubric: t.Annotated[str, typer.Argument(help="assignment name or rubric path")],
         markdown: t.Annotated[bool, typer.Option(
             "--markdown", help="print the exercise contract as Markdown (docs/assignments/NAME.md): names, "
             "signatures, conventions, points, checks, case counts, tolerances")] = False,
         config: ConfigOption = None) -> int:
    """Print a table of the rubric's questions: points, check, public/hidden cases, devices."""
    cfg = setup(config)
    r = rubric_for(cfg, rubric)
    if markdown:   # plain stdout, not rich: no wrapping or markup, the same bytes in any terminal
        sys.stdout.write(contract_markdown(r, cfg))
        return 0
    table = Table(title=f"{r.assignment}: {r.title} (v{r.version}, {r.max_score:g} points)")
    table.add_column("question", no_wrap=True, min_width=max(len(q.id) for q in r.questions))
    for name in ("points", "calls", "check", "public", "hidden", "dtypes", "devices"):
        table.add_column(name)
    for q in r.questions:
        check = q.check.kind + (f" via {q.check.via}" if hasattr(q.check, "via") else "")
        tensor = q.check.kind in ("gradient", "value")
        dtypes = ", ".join(q.dtypes or r.defaults.dtypes or cfg.dtypes) if tensor else "float64"
        devices = ", ".join(q.devices or r.defaults.devices or cfg.devices) if tensor else "cpu"
        table.add_row(q.id, f"{q.points:g}", ", ".join(q.calls), check, str(q.cases.public.count),
                      str(q.cases.hidden.count), dtypes, devices)
    out.print(table)
    return 0


def register(app: typer.Typer) -> None:
    app.command()(show)
