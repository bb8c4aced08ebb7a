"""Run notebooks as a student's IPython session would, then `grader.check_all()` in it.

    python tests/selfcheck_driver.py [--jobs N] NOTEBOOK...

prints one JSON object: notebook path -> the report's verdicts (or {"error": ...}). The
assignment is the notebook's folder name (samples/NAME/). One process imports torch
and loads each course rubric once (single-threaded, so forking after torch math is
safe); each notebook then runs in a forked child of its own (N at a time): an IPython
shell, `grader.init(NAME)`, every code cell in order (failing cells do not stop it, as
in a kernel), and a last cell `grader.check_all()`. Used by tests/test_selfcheck.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"     # before torch: a child forked after torch math must not hang

import nbformat  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def run_one(path: str) -> dict:
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_cell(f"import grader\ngrader.init({Path(path).parent.name!r})", store_history=True)
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            shell.run_cell(cell.source, store_history=True)
    shell.run_cell("_report = grader.check_all()", store_history=True)
    report = shell.user_ns["_report"]
    return {"verdicts": report.verdicts(), "error": report.error, "text": report.text()}


def start_child(path: str) -> tuple[int, int]:
    """(pid, the read end of the pipe its JSON result comes through)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)          # the notebook's prints and the displayed report
        try:
            result = run_one(path)
        except BaseException as exc:   # noqa: BLE001 - reported to the test
            result = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as out:
            json.dump(result, out)
        os._exit(0)
    os.close(write)
    return pid, read


def finish_child(pid: int, read: int) -> dict:
    with os.fdopen(read) as got:
        text = got.read()
    os.waitpid(pid, 0)
    return json.loads(text) if text else {"error": "the child died"}


def warm_caches(cfg, rubric) -> None:
    """What every child would compute again, computed once here and inherited: the config and
    rubric, the modules a check imports, each question's cases and references (judging calls
    that found no function computes the references all the same)."""
    import IPython.core.interactiveshell  # noqa: F401 - imported once, not per child
    from grader.checks.context import GradeContext
    from grader.checks.static import NotebookCode
    from grader.pipeline import prepare
    from grader.probe.session import CallOutcome
    from grader.selfcheck.local import LocalSession
    ctx = GradeContext(rubric, cfg, LocalSession({}), NotebookCode(nbformat.v4.new_notebook()), public_only=True)
    for q in rubric.questions:
        p = prepare(q, ctx)
        p.finish([CallOutcome("missing") for _ in p.request.calls])


def main() -> None:
    import gc

    import grader
    from grader.checks import reference
    from grader.selfcheck import runner
    args = sys.argv[1:]
    jobs = 1
    if args[:1] == ["--jobs"]:
        jobs, args = int(args[1]), args[2:]
    for name in sorted({Path(p).parent.name for p in args}):
        grader.init(name)
        warm_caches(*runner.course(None))
    reference.warm_up()
    gc.freeze()      # as the grader's warm-kernel parent does: children's collections skip this heap
    results, running = {}, []
    for path in args:
        running.append((path, *start_child(path)))
        if len(running) >= jobs:
            done, pid, read = running.pop(0)
            results[done] = finish_child(pid, read)
    for done, pid, read in running:
        results[done] = finish_child(pid, read)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
