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


KernelOption = t.Annotated[t.Optional[bool], typer.Option(
    "--warm/--fresh", help="warm: fork kernels from a process that already imported torch (fast for "
    "batches); fresh: a new Python per submission (default: execution.kernel in the config)")]


def setup(config: Path | None, warm: bool | None = None) -> Config:
    cfg = load_config(config)
    if warm is not None:
        cfg = cfg.model_copy(update={"execution": cfg.execution.model_copy(
            update={"kernel": "warm" if warm else "fresh"})})
    if cfg.execution.kernel == "warm":
        from grader.sandbox import warm as warm_kernels
        warm_kernels.prestart(cfg.execution.torch_threads)   # imports torch in the background
    return cfg


def rubric_for(cfg: Config, assignment: str) -> Rubric:
    return load_rubric(find_rubric(cfg, assignment))


def run(coro):
    return asyncio.run(coro)
