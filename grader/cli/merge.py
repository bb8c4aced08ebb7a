"""`grader merge SHARD_OUT... --assignment NAME --out DIR` — join `grade --shard i/n` outputs."""

from __future__ import annotations

import typing as t
from pathlib import Path

import typer

from grader.batch import ReportOptions, write_batch
from grader.batch.merge import copy_outputs, merge_results
from grader.cli.common import ConfigOption, out, rubric_for, setup
from grader.cli.options import FormatOption, HiddenVisibilityOption, resolve_formats
from grader.errors import EXIT_OK, InputError
from grader.reports.similarity import starter_for


def merge(
    shards: t.Annotated[list[Path], typer.Argument(help="output folders of `grader grade --shard I/N`")],
    assignment: t.Annotated[str, typer.Option("--assignment", "-a", help="rubric name or path")],
    out_dir: t.Annotated[Path, typer.Option("--out", "-o", help="where the joined output goes")],
    config: ConfigOption = None,
    formats: FormatOption = None,
    hidden_visibility: HiddenVisibilityOption = "after_published",
) -> int:
    """Join shard outputs: copy every result and feedback file into --out and write the
    batch reports (gradebook, JUnit, summary) from all of them, as one unsharded run would."""
    cfg = setup(config)
    chosen = resolve_formats(formats, cfg.formats)
    rubric = rubric_for(cfg, assignment)
    for folder in shards:
        if folder.resolve() == out_dir.resolve():
            raise InputError(folder, "--out must be a new folder, not one of the shards")
    notes: list[str] = []
    results = merge_results(shards, rubric, notes)
    copy_outputs(shards, out_dir)
    write_batch(out_dir, results, chosen, rubric, ReportOptions(
        hidden_visibility=hidden_visibility, starter=starter_for(cfg, rubric.assignment, chosen)))
    for note in notes:
        out.print(f"note: {note}", markup=False)
    out.print(f"merged {len(results)} results from {len(shards)} shards into {out_dir}", markup=False)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command()(merge)
