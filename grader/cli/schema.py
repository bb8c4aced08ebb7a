"""`grader schema [--out FILE]` — the rubric format as JSON Schema, for editors."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import typer

from grader.files import write_atomic
from grader.rubric.model import Rubric


def rubric_schema() -> dict:
    schema = Rubric.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "autograd-grader rubric"
    return schema


def schema(out_file: t.Annotated[t.Optional[Path], typer.Option("--out", "-o")] = None) -> int:
    """Write the JSON Schema of the rubric YAML format (stdout, or --out FILE)."""
    text = json.dumps(rubric_schema(), indent=2) + "\n"
    if out_file:
        write_atomic(out_file, text)
    else:
        sys.stdout.write(text)
    return 0


def register(app: typer.Typer) -> None:
    app.command()(schema)
