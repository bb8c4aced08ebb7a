"""`grader.check(q)` in the student's kernel: per question, after the first call, against 0.3 s.

    python benchmarks/bench_selfcheck.py [--repeat 3] [ASSIGNMENT...]

For each assignment, a fresh Python process plays the student's session: an
IPython shell runs every code cell of the solution notebook, then
a cell `import grader; grader.init(NAME); grader.check(first question)` (the
first-call time: the course's config and rubric, torch autograd's first call, the
probe), then a cell `grader.check(q)` `--repeat` times for every question (the
per-question time is the median of the repeats, against the goal; that question's
own first check, which computes its references, and the worst repeat are shown too). Each question must answer in 0.3 s.
The machine's load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 0.3


def one_session(name: str, repeat: int) -> dict:
    """In this process: the solution's cells in an IPython shell, then the timed checks."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    from grader.checks.semantics import load_rubric
    shell = InteractiveShell.instance()
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        for cell in nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4).cells:
            if cell.cell_type == "code":
                shell.run_cell(cell.source, store_history=True)
    questions = [q.id for q in load_rubric(ROOT / "rubrics" / f"{name}.yaml").questions]
    timings: dict[str, list[float]] = {}
    statuses: dict[str, str] = {}
    with contextlib.redirect_stdout(quiet):     # each check runs in a cell of its own, as a student's
        start = time.perf_counter()
        shell.run_cell(f"import grader\ngrader.init({name!r})\n_report = grader.check({questions[0]!r})")
        first = time.perf_counter() - start
        for q in questions:
            for _ in range(repeat + 1):         # this question's own first check, then the repeats
                start = time.perf_counter()
                shell.run_cell(f"_report = grader.check({q!r})")
                timings.setdefault(q, []).append(time.perf_counter() - start)
            report = shell.user_ns["_report"]
            statuses[q] = report.results[0].status if report.results else str(report.error)
    return {"first": first, "timings": timings, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)     # the child: one session, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_session(args.one, args.repeat)))
        return
    names = args.assignments or sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_COURSE", "GRADER_ASSIGNMENT")}
    print(f"load average before: {os.getloadavg()[0]:.2f}; goal per question: {GOAL_S} s")
    print(f"{'assignment':<16} {'question':<28} {'first s':>7} {'median s':>9} {'worst s':>8}  status")
    over, worst_seen, firsts = [], 0.0, {}
    for name in names:
        proc = subprocess.run([sys.executable, __file__, "--one", name, "--repeat", str(args.repeat)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode:
            print(f"{name}: the session failed\n{proc.stderr[-2000:]}")
            continue
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        firsts[name] = got["first"]
        for q, (own_first, *times) in got["timings"].items():
            median, worst = statistics.median(times), max(times)
            worst_seen = max(worst_seen, median)
            flag = "" if median <= GOAL_S else "  OVER THE GOAL"
            if median > GOAL_S:
                over.append(f"{name}/{q}")
            print(f"{name:<16} {q:<28} {own_first:7.3f} {median:9.3f} {worst:8.3f}  {got['statuses'][q]}{flag}")
    print()
    for name, first in firsts.items():
        print(f"first call ({name}): {first:.2f} s")
    print(f"slowest question (median): {worst_seen:.3f} s against the {GOAL_S} s goal; "
          f"{len(over)} over it{': ' + ', '.join(over) if over else ''}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
