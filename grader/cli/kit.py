"""`grader kit -a NAME... --out DIR [--install SPEC]` — the folder an instructor hands to students."""

from __future__ import annotations

import typing as t
from pathlib import Path

import typer

from grader.authoring.kit import INSTALL_PLACEHOLDER, write_kit
from grader.cli.common import ConfigOption, out, rubric_for, setup


def kit(
    assignment: t.Annotated[list[str], typer.Option("--assignment", "-a", metavar="NAME",
                                                    help="assignment name or rubric path (repeatable)")],
    out_dir: t.Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="the kit's folder (created)")],
    install: t.Annotated[str, typer.Option(
        "--install", metavar="SPEC", help="the arguments of the README's `python -m pip install` "
        "line, as the shell reads them: where the course publishes the grader, e.g. "
        "git+https://github.com/COURSE/autograd-grader@TAG (may add pins or an index for torch)")]
        = INSTALL_PLACEHOLDER,
    config: ConfigOption = None,
) -> int:
    """Write a student kit: the student notebook, the public part of the rubric (no hidden
    cases or seeds, no solution source), a config.yaml and a README. `grader check NAME.ipynb`
    then works in that folder alone."""
    cfg = setup(config)
    rubrics = [rubric_for(cfg, name) for name in assignment]
    written = write_kit(cfg, rubrics, out_dir, install=install)
    for path in written:
        out.print(f"wrote {path}", markup=False, soft_wrap=True)
    if install == INSTALL_PLACEHOLDER:
        out.print(f"edit the install line in {out_dir / 'README.md'} (or pass --install SPEC): "
                  "it names a placeholder", markup=False, soft_wrap=True)
    return 0


def register(app: typer.Typer) -> None:
    app.command()(kit)
