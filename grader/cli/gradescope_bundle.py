"""`grader gradescope-bundle -a NAME [--out FILE]` — the Gradescope autograder zip for an assignment."""

from __future__ import annotations

import typing as t
from pathlib import Path

import typer

from grader import gradescope_bundle
from grader.cli.common import ConfigOption, out, setup
from grader.cli.options import HiddenVisibilityOption
from grader.files import write_atomic_bytes
from grader.rubric import find_rubric
from grader.checks.semantics import load_rubric
from grader.rubric.load import require_hidden_cases



def gradescope_bundle_cmd(
    assignment: t.Annotated[str, typer.Option("--assignment", "-a", help="rubric name or path")],
    out_file: t.Annotated[t.Optional[Path], typer.Option(
        "--out", "-o", help="the zip to write (default: gradescope-ASSIGNMENT.zip)")] = None,
    torch_version: t.Annotated[t.Optional[str], typer.Option(
        "--torch-version", help="torch version to install (default: the one installed here; '' = newest)")] = None,
    torch_index_url: t.Annotated[str, typer.Option(
        "--torch-index-url", help="wheel index for torch ('' = the image's default index, whose torch "
        "may be the large CUDA build)")] = gradescope_bundle.TORCH_CPU_INDEX,
    hidden_visibility: HiddenVisibilityOption = "after_published",
    config: ConfigOption = None,
) -> int:
    """Write the Gradescope autograder zip (setup.sh, run_autograder, the grader, the rubric, the config)."""
    cfg = setup(config)
    path = find_rubric(cfg, assignment)
    rubric = require_hidden_cases(load_rubric(path), path)
    data = gradescope_bundle.build(rubric, path, cfg, torch_version=torch_version,
                                   hidden_visibility=hidden_visibility, torch_index_url=torch_index_url)
    dest = out_file or Path(f"gradescope-{rubric.assignment}.zip")
    write_atomic_bytes(dest, data)
    out.print(f"gradescope autograder: {dest} ({len(data) // 1024} KiB); upload it as the assignment's "
              "autograder (configure the autograder: zip file)", markup=False)
    return 0


def register(app: typer.Typer) -> None:
    app.command("gradescope-bundle")(gradescope_bundle_cmd)
