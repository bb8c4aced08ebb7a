"""Shared helpers: build notebook variants of the solution and grade them in-process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from grader.batch import grade_batch
from grader.config import Config, load_config
from grader.results import SubmissionResult
from grader.checks.semantics import load_rubric
from grader.submissions import discover

ROOT = Path(__file__).resolve().parent.parent     # the repository: its bundled course
SOLUTION = ROOT / "solutions" / "matrix_calculus.ipynb"
BLANK = ROOT / "assignments" / "matrix_calculus.ipynb"
RUBRIC = ROOT / "rubrics" / "matrix_calculus.yaml"


def config(**execution) -> Config:
    cfg = load_config(ROOT / "config.yaml")
    if execution:
        cfg = cfg.model_copy(update={"execution": cfg.execution.model_copy(update=execution)})
    return cfg


def notebook_with(base: Path, cells: list[str], *, drop_check_cell: bool = True) -> nbformat.NotebookNode:
    """`base` with extra code cells appended (a later `def` replaces an earlier one,
    as when a student re-runs a cell)."""
    nb = nbformat.read(base, as_version=4)
    if drop_check_cell:   # the solution's own self-check cell prints a lot and costs time
        nb.cells = [c for c in nb.cells if "_numerical_grad" not in c.source]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    return nb


def write(nb: nbformat.NotebookNode, folder: Path, name: str) -> Path:
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def grade(paths: list[Path], out: Path, *, cfg: Config | None = None, workers: int = 2,
          public_only: bool = False, rubric: Path | None = None) -> dict[str, SubmissionResult]:
    cfg = cfg or config()
    rubric = load_rubric(rubric or RUBRIC)
    subs = discover(paths)
    results = asyncio.run(grade_batch(subs, rubric, cfg, out, workers=workers, public_only=public_only))
    return {r.submission: r for r in results}


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without GitHub CI mode (GITHUB_*: a CLI run inside the tests must not
    write to the real job summary when the suite runs in Actions), wide and colourless."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(COLUMNS="200", NO_COLOR="1")
    env.update(extra)
    return env


def grader_cli(*args, cwd: Path = ROOT, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, as an instructor runs it."""
    return subprocess.run([sys.executable, "-m", "grader.cli.main", *map(str, args)], cwd=cwd,
                          env=cli_env(**(env or {})), capture_output=True, text=True, timeout=timeout)


def grader_popen(*args, cwd: Path = ROOT, quiet: bool = False) -> subprocess.Popen:
    """The same CLI started in the background (for tests that kill something mid-batch);
    `quiet`: its output discarded (nobody reads it), else piped."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "grader.cli.main", *map(str, args)], cwd=cwd, env=cli_env(),
                            stdout=output, stderr=output, text=True)


def short_call_rubric(folder: Path, seconds: float) -> Path:
    """The bundled rubric with another call_timeout, written into `folder`."""
    text = RUBRIC.read_text(encoding="utf-8")
    assert "  call_timeout: 10\n" in text, "the bundled rubric's call_timeout moved"
    path = folder / "matrix_calculus.yaml"
    path.write_text(text.replace("  call_timeout: 10\n", f"  call_timeout: {seconds:g}\n"), encoding="utf-8")
    return path


def by_question(result: SubmissionResult) -> dict:
    return {q.id: q for q in result.questions}


def tagged_pids(tag: str, where: str = "cmdline") -> list[int]:
    """Live processes (not zombies) whose /proc/PID/`where` (cmdline or environ) holds `tag`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / where).read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if tag.encode() in text and state != "Z":
                found.append(int(entry.name))
    return found


def wait_until(predicate, timeout: float = 5.0, every: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout` s pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()
