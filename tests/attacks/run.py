"""Build the corpus's notebooks and grade them all in one batch."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import nbformat

import helpers
from grader.checks.semantics import load_rubric

from .corpus import ATTACKS, LEVEL_ATTACKS, Attack

CELL_TIMEOUT = 5
CALL_TIMEOUT = 2          # the bundled rubric says 10 s; one hidden-only hang costs one timeout
# The per-level notebooks never hang, so they get generous limits: with 5 s per cell a fresh
# kernel's `import torch` on a loaded CI machine timed out, and a correct question scored 0
# ("name 'torch' is not defined").
LEVEL_CELL_TIMEOUT, LEVEL_CALL_TIMEOUT = 60, 10
SUBMISSION_TIMEOUT = 90

VICTIM, LATE = "a_victim", "z_late"     # graded before the attacks; graded by the next run only

# what the network attack would fetch if it could reach the grader's loopback
SERVED_CODE = b"def grad_trace_product(A, B):\n    return B.T.clone()\n"


@dataclass
class CorpusRun:
    results: dict                # submission id -> SubmissionResult
    out: Path
    rubric: object               # the Rubric the batch used
    seconds: float
    names: list[str]             # one notebook per attack, in corpus order
    mark: str                    # environment tag of the processes the notebooks spawn
    leftovers: list[int] = field(default_factory=list)   # tagged processes alive after the batch


@contextlib.contextmanager
def solution_server():
    """A TCP server on the grader's loopback that hands out a working function."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(SERVED_CODE)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def build(attack: Attack, values: dict) -> nbformat.NotebookNode:
    nb = helpers.notebook_with(helpers.SOLUTION, [Template(src).substitute(values) for src in attack.cells])
    if attack.pad_mb:   # a stored output, as a notebook saved with large plots would have
        blob = "x" * (attack.pad_mb << 20)
        cell = nbformat.v4.new_code_cell("print('stored output')")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=blob)]
        nb.cells.append(cell)
    return nb


def kill_tagged(mark: str) -> None:
    for pid in helpers.tagged_pids(f"{mark}=1", where="environ"):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def late_notebook(folder: Path) -> Path:
    """A plain solution graded only by a later run (`tamper_output` forges its result)."""
    (folder / "late").mkdir(parents=True, exist_ok=True)
    return helpers.write(helpers.notebook_with(helpers.SOLUTION, []), folder / "late", LATE)


def grade_corpus(folder: Path, *, attacks: tuple[Attack, ...] = ATTACKS, workers: int = 2,
                 kernel: str = "warm", sandbox: str = "auto") -> CorpusRun:
    """Grade every attack's notebook in one batch under `folder` (subs/, out/)."""
    subs, out = folder / "subs", folder / "out"
    subs.mkdir(parents=True, exist_ok=True)
    rubric_path = helpers.short_call_rubric(folder, CALL_TIMEOUT)
    mark = f"GRADER_ATTACK_{secrets.token_hex(6)}"
    names = [a.name for a in attacks]
    cfg = helpers.config(cell_timeout=CELL_TIMEOUT, call_timeout=CALL_TIMEOUT,
                         submission_timeout=SUBMISSION_TIMEOUT, kernel=kernel,
                         sandbox=sandbox)
    with solution_server() as port:
        values = {"port": port, "out": str(out), "mark": mark, "names": repr(names),
                  "victim": names[0], "late": str(late_notebook(folder)), "late_id": LATE}
        paths = [helpers.write(build(a, values), subs, a.name) for a in attacks]
        start = time.monotonic()
        try:
            results = helpers.grade(paths, out, cfg=cfg, workers=workers, rubric=rubric_path)
        finally:
            seconds = time.monotonic() - start
            leftovers = helpers.tagged_pids(f"{mark}=1", where="environ")
            kill_tagged(mark)            # never leave a notebook's children behind, even on failure
    return CorpusRun(results, out, load_rubric(rubric_path), seconds, names, mark, leftovers)


@dataclass
class LevelRun:
    """`LEVEL_ATTACKS` graded after a plain solution (`VICTIM`), then a second run over the same
    output folder: the victim again (reused) and `LATE`, whose result the attack forged."""

    first: dict                   # submission id -> SubmissionResult of the batch with the attacks
    first_notes: list[str]        # what that batch said about its output folder
    second: dict                  # the rerun
    second_notes: list[str]
    out: Path
    rubric: object


def level_notebooks(folder: Path) -> tuple[list[Path], Path]:
    subs = folder / "subs"
    subs.mkdir(parents=True, exist_ok=True)
    values = {"out": str(folder / "out"), "victim": VICTIM, "late": str(late_notebook(folder)), "late_id": LATE}
    victim = helpers.write(helpers.notebook_with(helpers.SOLUTION, []), subs, VICTIM)
    return [victim, *(helpers.write(build(a, values), subs, a.name) for a in LEVEL_ATTACKS)], folder / "late" / f"{LATE}.ipynb"


def grade_level(folder: Path, *, sandbox: str, kernel: str) -> LevelRun:
    """In this process, at the level `sandbox` names (a named level: what an instructor
    chooses explicitly), one kernel at a time so the victim's result is there first."""
    import asyncio

    from grader.batch import grade_batch
    from grader.submissions import discover

    paths, late = level_notebooks(folder)
    rubric_path = helpers.short_call_rubric(folder, LEVEL_CALL_TIMEOUT)
    rubric = load_rubric(rubric_path)
    cfg = helpers.config(cell_timeout=LEVEL_CELL_TIMEOUT, call_timeout=LEVEL_CALL_TIMEOUT,
                         submission_timeout=SUBMISSION_TIMEOUT, kernel=kernel, sandbox=sandbox)
    runs = []
    for batch in (paths, [paths[0], late]):
        notes: list[str] = []
        results = asyncio.run(grade_batch(discover(batch), rubric, cfg, folder / "out", workers=1, notes=notes))
        runs.append(({r.submission: r for r in results}, notes))
    return LevelRun(*runs[0], *runs[1], folder / "out", rubric)


def grade_level_cli(folder: Path, python: str, *extra: str, user: str | None = None) -> tuple[LevelRun, list[str]]:
    """The same through `grader grade` run by `python` (e.g. a venv's); also its stderr lines.
    `user`: run it as that unprivileged user (`as_user`)."""
    import subprocess

    from grader.results import SubmissionResult

    paths, late = level_notebooks(folder)
    rubric_path = helpers.short_call_rubric(folder, LEVEL_CALL_TIMEOUT)
    out, runs, stderr = folder / "out", [], []
    as_user = [python, "-m", "tests.attacks.as_user", user, str(folder)] if user else []
    for batch in (paths, [paths[0], late]):
        proc = subprocess.run([*as_user, python, "-m", "grader.cli.main", "grade", *map(str, batch), "-a", str(rubric_path),
                               "--out", str(out), "--config", str(helpers.ROOT / "config.yaml"), "--workers", "1",
                               *extra], cwd=helpers.ROOT, env=helpers.cli_env(), capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        stderr += proc.stderr.splitlines()
        results = {p.stem: SubmissionResult.model_validate_json((out / "results" / f"{p.stem}.json").read_bytes())
                   for p in batch}
        notes = [line[len("note: "):] for line in proc.stdout.splitlines() if line.startswith("note: ")]
        runs.append((results, notes))
    return LevelRun(*runs[0], *runs[1], out, load_rubric(rubric_path)), stderr
