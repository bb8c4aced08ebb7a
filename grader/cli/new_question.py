"""`grader new-question KIND [--id ID]` — a YAML question to paste into a rubric."""

from __future__ import annotations

import difflib
import sys
import typing as t

import typer

from grader.authoring.snippets import SNIPPETS, snippet
from grader.errors import InputError


def new_question(kind: t.Annotated[str, typer.Argument(help=f"one of: {', '.join(SNIPPETS)}")],
                 question_id: t.Annotated[str, typer.Option("--id")] = "my_question") -> int:
    """Print a valid, commented question of the given check kind."""
    if kind not in SNIPPETS:
        close = difflib.get_close_matches(kind, list(SNIPPETS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose from {', '.join(SNIPPETS)}"
        raise InputError("new-question", f"unknown check kind '{kind}' ({hint})", key="KIND")
    sys.stdout.write(snippet(kind, question_id))   # raw text: no wrapping, ready to paste
    return 0


def register(app: typer.Typer) -> None:
    app.command("new-question")(new_question)
