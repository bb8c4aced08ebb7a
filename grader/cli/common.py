"""Pieces shared by the verbs: config loading, rubric lookup, the event loop."""

from __future__ import annotations

import asyncio
import typing as t
from pathlib import Path

import typer
from rich.console import Console

from grader.config import Config, load_config
from grader.rubric import find_rubric, load_rubric
from grader.rubric.model import Rubric

ConfigOption = t.Annotated[t.Optional[Path], typer.Option(
    "--config", help="course config (default: ./config.yaml, else the bundled one)")]

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def setup(config: Path | None) -> Config:
    return load_config(config)


def rubric_for(cfg: Config, assignment: str) -> Rubric:
    return load_rubric(find_rubric(cfg, assignment))


def run(coro):
    return asyncio.run(coro)
