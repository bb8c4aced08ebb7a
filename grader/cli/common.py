"""Pieces shared by the verbs: config loading, rubric lookup, the event loop."""

from __future__ import annotations

import asyncio
import typing as t
from pathlib import Path

import typer
from rich.console import Console

from grader.config import Config, load_config
from grader.course import find_config
from grader.rubric import find_rubric, load_rubric
from grader.rubric.model import Rubric

ConfigOption = t.Annotated[t.Optional[Path], typer.Option(
    "--config", help="course config file (default: the course's config.yaml: see grader --course)")]

#: the global `grader --course DIR` of this invocation (set by the app's callback)
course_dir: Path | None = None

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


KernelOption = t.Annotated[t.Optional[bool], typer.Option(
    "--warm/--fresh", help="warm: fork kernels from a process that already imported torch (fast for "
    "batches); fresh: a new Python per submission (default: execution.kernel in the config; its "
    "default, auto, is warm for grade and validate, fresh for check)")]


def setup(config: Path | None, warm: bool | None = None, *, batch: bool = False) -> Config:
    """Load the config; `warm` (--warm/--fresh) overrides execution.kernel, whose `auto`
    means warm for a batch command and fresh for a single notebook."""
    return load_config(find_config(config, course_dir)).with_kernel(batch=batch, warm=warm)


def prestart_kernels(cfg: Config) -> None:
    """Start the warm parent in the background (it imports torch, in bubblewrap where the
    kernels will be) once the input has been checked: a typo should not wait for it."""
    if cfg.execution.kernel == "warm":
        from grader.sandbox import warm as warm_kernels
        warm_kernels.prestart(cfg.execution.torch_threads, warm_kernels.sandbox_for(cfg.execution))


def rubric_for(cfg: Config, assignment: str) -> Rubric:
    return load_rubric(find_rubric(cfg, assignment))


def run(coro):
    return asyncio.run(coro)
