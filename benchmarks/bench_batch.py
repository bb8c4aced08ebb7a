"""Batches of record: per-submission wall time, against `import torch`, with the grader's CPU share.

    python benchmarks/bench_batch.py [--assignment NAME ...] [--copies 40 200] [--workers 1 2]
    python benchmarks/bench_batch.py --fresh-vs-warm [--n 200] [--workers W] [--skip-fresh]

The record (default): for each assignment (default: every one with a solution
and a sample table), each number of copies of its solution and each worker
count, the real command (`python -m grader.cli.main grade FOLDER -a NAME -w W
--profile`, the config's formats) grades the copies, and the table gives,
measured in this same run:

- per submission: the batch's wall time x workers / copies (what a submission
  costs the machine; command start and exit included), and its ratio to
  `python -c "import torch"` (median of runs interleaved with the batches);
- parallel efficiency 1 -> 2 workers: per submission with 1 worker / with 2;
- the grader process's CPU per submission and its share of the CPU the batch
  had (wall x cores), and the CPU of the warm kernels' parent and its kernels
  (from `--profile`'s CPU line);
- cores busy: all that CPU over the wall time. What one worker keeps busy bounds
  the efficiency two cores can give: with the same CPU, 2 workers take at least
  CPU / 2 of wall, so efficiency <= (CPU / busy) / CPU = 1 / busy (1 worker);
- the serial part (`--profile`'s "serial" line: until the kernels' parent is
  ready and the grader has imported torch, and after the last result) bounds it
  too: 2 workers take at least serial + (wall 1 - serial) / 2, so efficiency
  <= wall 1 / (wall 1 + serial);
- the targets (issue 19): 40 copies of matrix_calculus, 2 workers: <= 0.30 s
  per submission and <= 0.25 x import torch; 200 copies: <= 0.25 s; efficiency
  >= 0.8.

--repeat N grades each batch N times (1 worker, 2 workers, 1, 2, ...: this VM's speed drifts
by 15-30 % within an hour, and alternating gives both the same drift) and reports each
measure's median.

--one-core adds, for each assignment and number of copies, a batch of 1 worker
with the command (and so the kernels' parent, its kernels and the helpers) held
to one core (sched_setaffinity), the row `1 (1 core)`, and the line "cores 1 ->
2": per submission with 1 worker on 1 core / with 2 workers on 2 cores. That is
the textbook parallel efficiency (the time on one processor over p times the time
on p), which says whether the grader uses a second core fully; the efficiency
above (1 worker / 2 workers, both on every core) says how much one worker already
overlaps, and is what the target is about.

--fresh-vs-warm is the earlier benchmark: N bundled-style submissions (the
twelve matrix_calculus samples, each copied N/12 times under its own name)
through `grade_batch`, once with warm kernels and once with fresh ones:
- `python -c "import torch"` (the cost a fresh kernel pays before the first line);
- each batch's wall time and the warm/fresh speed-up (target >= 5x);
- the theoretical floor: the students' own compute (their cells and calls, as
  the kernels timed them, from OUT/batch-log.jsonl) divided by the workers;
- the grader's own share per submission (wall x workers / N minus the
  students' compute per submission);
- peak RSS of the grader process and of each kernel (sampled every 0.25 s;
  for warm kernels also USS, their private memory: the rest is shared with the
  warm parent). Target: <= 400 MB per worker.

Both check every graded copy against the sample table (samples/recipes/NAME.py,
compared by samples/sample_table.py as the tests do): a sample's copy against its
sample's verdicts, a solution's copy against the table's first full-marks sample's:
the last line says `verdicts: N/N as the sample tables expect`, and a copy that
got another verdict is named, with the question, and the exit is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_grade import import_torch_seconds, import_torch_times  # noqa: E402
from grader.batch import grade_batch, log  # noqa: E402
from grader.config import load_config  # noqa: E402
from grader.checks.semantics import load_rubric  # noqa: E402
from grader.cli.common import prestart_kernels  # noqa: E402
from grader.submissions import discover  # noqa: E402
from benchmarks.sample_copies import copy_samples, sample_table, say_verdicts, verdict_problems  # noqa: E402

MB = 1024 * 1024


class MemorySampler(threading.Thread):
    """Peak RSS of this process, of any one kernel below it (a fresh kernel's
    `ipykernel_launcher`, or a child of the warm parent) with its USS, and of the warm
    parent (the zygote, shared by all warm kernels)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.grader_rss = self.kernel_rss = self.kernel_uss = self.zygote_rss = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.grader_rss = max(self.grader_rss, self.me.memory_info().rss)
            for proc in self.me.children(recursive=True):
                try:
                    cmd, parent = " ".join(proc.cmdline()), proc.parent()
                    # a forked kernel keeps the zygote's command line; its parent is the zygote
                    forked = parent is not None and parent.name().startswith("python") \
                        and "zygote.py" in " ".join(parent.cmdline())
                    if "zygote.py" in cmd and not forked and proc.name().startswith("python"):
                        self.zygote_rss = max(self.zygote_rss, proc.memory_info().rss)
                        continue
                    if "ipykernel_launcher" not in cmd and not forked:
                        continue
                    mem = proc.memory_full_info()
                except psutil.Error:
                    continue
                self.kernel_rss = max(self.kernel_rss, mem.rss)
                self.kernel_uss = max(self.kernel_uss, mem.uss)


def run_batch(folder: Path, out: Path, kernel: str, workers: int) -> dict:
    cfg = load_config(ROOT / "config.yaml")
    cfg = cfg.with_kernel(batch=True, warm=kernel == "warm").model_copy(update={"formats": ["json", "csv"]})
    rubric = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    subs = discover([folder])
    sampler = MemorySampler()
    sampler.start()
    start = time.perf_counter()
    results = asyncio.run(grade_batch(subs, rubric, cfg, out, workers=workers))
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    student = sum(e.student_seconds for e in log.read(out) if e.event == "graded")
    return {"wall": wall, "n": len(results), "student": student, "sampler": sampler, "results": results,
            "gradebook": (out / "gradebook.csv").read_text().replace(str(folder), "")}


def fresh_vs_warm(args: argparse.Namespace) -> None:
    floor = import_torch_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "subs"
        copies = copy_samples("matrix_calculus", folder, args.n)
        prestart_kernels(load_config(ROOT / "config.yaml").with_kernel(batch=True, warm=True))
        runs = {"warm": run_batch(folder, Path(tmp) / "warm", "warm", args.workers)}
        if not args.skip_fresh:
            runs["fresh"] = run_batch(folder, Path(tmp) / "fresh", "fresh", args.workers)
    print(f"{args.n} submissions, {args.workers} workers, {os.cpu_count()} cores")
    print(f"python -c 'import torch' (median of 5): {floor:7.2f} s")
    for mode, r in runs.items():
        s = r["sampler"]
        share = r["wall"] * args.workers / r["n"] - r["student"] / r["n"]
        print(f"{mode:5s} batch wall {r['wall']:7.1f} s   {r['n'] / r['wall']:5.2f} submissions/s   "
              f"grader's share per submission {share:5.3f} s ({share / floor:4.2f}x import torch)")
        print(f"      grader RSS peak {s.grader_rss / MB:6.0f} MB   per-worker kernel RSS peak "
              f"{s.kernel_rss / MB:6.0f} MB (USS {s.kernel_uss / MB:.0f} MB)"
              + (f"   warm parent RSS {s.zygote_rss / MB:.0f} MB (shared)" if s.zygote_rss else ""))
    w = runs["warm"]
    floor_wall = w["student"] / args.workers
    print(f"floor (students' own compute / workers): {floor_wall:7.1f} s   warm is {w['wall'] / floor_wall:5.1f}x "
          "the floor")
    if "fresh" in runs:
        f = runs["fresh"]
        print(f"warm vs fresh: {f['wall'] / w['wall']:5.2f}x faster (target >= 5x); same gradebook: "
              f"{f['gradebook'] == w['gradebook']}")
    say_verdicts(len(copies) * len(runs), {copy: lines for mode, r in runs.items() for copy, lines in
                                           verdict_problems("matrix_calculus", copies, r["results"], mode).items()})


# -- the record: the real command on copies of each sample batch ---------------------------------

KERNELS_CPU = re.compile(r"CPU: grader process ([0-9.]+) s.*?kernels ([0-9.]+) s", re.S)
SERIAL = re.compile(r"serial: ([0-9.]+) s")


def solutions() -> list[str]:
    """The assignments with a solution, a rubric and a sample table."""
    return [name for name in sample_table.assignments() if (ROOT / "rubrics" / f"{name}.yaml").is_file()
            and (ROOT / "solutions" / f"{name}.ipynb").is_file()]


def copy_solution(assignment: str, folder: Path, copies: int) -> dict[str, str]:
    """`copies` copies of the solution in `folder`: copy name -> the sample whose verdicts a copy
    must get (the table's first with full marks on every question)."""
    full = next(name for name, recipe in sample_table.load(assignment).samples.items() if not recipe.expect)
    if not folder.is_dir():
        folder.mkdir()
        for i in range(copies):
            shutil.copy(ROOT / "solutions" / f"{assignment}.ipynb", folder / f"copy{i:04d}.ipynb")
    return {f"copy{i:04d}": full for i in range(copies)}


def grade_copies(assignment: str, copies: int, workers: int, tmp: Path, one_core: bool = False) -> dict:
    """Grade `copies` copies of the solution with the CLI (`one_core`: it and every process it
    starts held to one core); wall, the grader's CPU, the kernels' CPU, and which copies did
    not get full marks."""
    folder = tmp / f"{assignment}-{copies}"
    names = copy_solution(assignment, folder, copies)
    out = tmp / f"out-{assignment}-{copies}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "grader.cli.main", "grade", str(folder), "-a", assignment, "-o", str(out),
           "-w", str(workers), "--profile"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")} | {"COLUMNS": "240"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})) if one_core else None
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, preexec_fn=pin)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr[-3000:]}")
    said = " ".join(done.stderr.split())
    found = KERNELS_CPU.search(said)
    serial = SERIAL.search(said)
    # the grader process (and what it waited for); the zygote is not waited for: --profile says
    grader_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "results").glob("*.json")]
    return {"wall": wall, "grader_cpu": grader_cpu, "kernels_cpu": float(found[2]) if found else float("nan"),
            "serial": float(serial[1]) if serial else float("nan"), "one_core": one_core,
            "wrong": verdict_problems(assignment, names, results,
                                      f"{assignment} x{copies} {workers_label(workers, one_core)}:")}


def workers_label(workers: int, one_core: bool) -> str:
    return f"{workers} (1 core)" if one_core else str(workers)


def median_run(runs: list[dict]) -> dict:
    """Several batches of one kind as one: the median of each measure (wall, CPU, serial part),
    and every copy that got another verdict in any of them."""
    numbers = ("wall", "grader_cpu", "kernels_cpu", "serial")
    wrong = {}
    for i, r in enumerate(runs):
        batch = f" (batch {i + 1})" if len(runs) > 1 else ""
        wrong.update({copy + batch: lines for copy, lines in r["wrong"].items()})
    return {**{k: statistics.median(r[k] for r in runs) for k in numbers}, "one_core": runs[0]["one_core"],
            "batches": len(runs), "wrong": wrong}


def busy(r: dict) -> float:
    """Cores the batch kept busy on average: the grader's, its helpers' and the kernels' CPU
    over the wall time."""
    return (r["grader_cpu"] + r["kernels_cpu"]) / r["wall"]


def record(args: argparse.Namespace) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    names = args.assignment or solutions()
    torch_times: list[float] = import_torch_times(2)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        for name in names:
            for copies in args.copies:
                runs = [(w, False) for w in args.workers] + ([(1, True)] if args.one_core else [])
                seen: dict[tuple[int, bool], list[dict]] = {run: [] for run in runs}
                for _ in range(args.repeat):        # 1 worker, 2 workers, 1, 2, ...: the same drift for both
                    for workers, one_core in runs:
                        r = grade_copies(name, copies, workers, Path(tmp), one_core)
                        torch_times += import_torch_times(1)       # interleaved: the same load as the batches
                        seen[(workers, one_core)].append(r)
                        print(f"  {name} x{copies}, {workers_label(workers, one_core)} worker(s): {r['wall']:.1f} s",
                              file=sys.stderr, flush=True)
                rows += [(name, copies, workers, median_run(seen[(workers, one_core)])) for workers, one_core in runs]
    floor = statistics.median(torch_times)
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    print(f"{cores} cores, load {load}; python -c 'import torch': median {floor:.2f} s of {len(torch_times)} "
          f"(min {min(torch_times):.2f}, max {max(torch_times):.2f})")
    print(f"{'assignment':18s} {'copies':>6s} {'workers':>11s} {'wall':>7s} {'per sub':>8s} {'x torch':>8s} "
          f"{'eff 1->2':>8s} {'grader CPU/sub':>14s} {'share':>6s} {'kernels CPU/sub':>15s} {'cores busy':>10s}")
    per = {(n, c, w): r["wall"] * w / c for n, c, w, r in rows if not r["one_core"]}
    one_core = {(n, c): r["wall"] / c for n, c, w, r in rows if r["one_core"]}
    for name, copies, workers, r in rows:
        sub = r["wall"] * workers / copies
        one = per.get((name, copies, 1))
        eff = f"{one / sub:8.2f}" if workers == 2 and one else " " * 8
        print(f"{name:18s} {copies:6d} {workers_label(workers, r['one_core']):>11} {r['wall']:6.1f}s {sub:7.3f}s "
              f"{sub / floor:7.3f}x {eff} {r['grader_cpu'] / copies:13.3f}s "
              f"{100 * r['grader_cpu'] / (r['wall'] * (1 if r['one_core'] else cores)):5.0f}% "
              f"{r['kernels_cpu'] / copies:14.3f}s {busy(r):10.2f}")
    checks = []
    if ("matrix_calculus", 40, 2) in per:
        sub = per[("matrix_calculus", 40, 2)]
        checks.append(f"matrix_calculus x40, 2 workers: {sub:.3f} s per submission (target <= 0.30), "
                      f"{sub / floor:.3f}x import torch (target <= 0.25)")
    if ("matrix_calculus", 200, 2) in per:
        checks.append(f"matrix_calculus x200, 2 workers: {per[('matrix_calculus', 200, 2)]:.3f} s (target <= 0.25)")
    effs = [per[(n, c, 1)] / per[(n, c, 2)] for n, c, w in per if w == 2 and (n, c, 1) in per and c == 40]
    if effs:
        ones = [r for n, c, w, r in rows if w == 1 and c == 40 and not r["one_core"] and (n, c, 2) in per]
        busies, serials = [busy(r) for r in ones], [r["serial"] for r in ones]
        # with 2 workers the serial part stays and the rest at best halves: wall 2 >= serial + rest / 2
        serial_bound = [r["wall"] / (r["wall"] + r["serial"]) for r in ones]
        checks.append(f"parallel efficiency 1 -> 2 workers, 40 copies: {min(effs):.2f} to {max(effs):.2f} "
                      f"(target >= 0.8); 1 worker keeps {min(busies):.2f} to {max(busies):.2f} cores busy, "
                      f"which bounds it at {1 / max(busies):.2f} to {1 / min(busies):.2f}; its serial part "
                      f"({min(serials):.2f} to {max(serials):.2f} s: until the first kernel can start, the batch's "
                      f"end) bounds it at {min(serial_bound):.2f} to {max(serial_bound):.2f} "
                      "(wall 1 / (wall 1 + serial))")
    scaling = [one_core[(n, c)] / per[(n, c, 2)] for n, c in one_core if (n, c, 2) in per]
    if scaling:
        checks.append(f"cores 1 -> 2 (1 worker on 1 core / 2 workers on 2 cores): {min(scaling):.2f} to "
                      f"{max(scaling):.2f}: how fully a second core is used (not the target's measure)")
    for line in checks:
        print(line)
    say_verdicts(sum(copies * r["batches"] for _, copies, _, r in rows),
                 {copy: lines for *_, r in rows for copy, lines in r["wrong"].items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", action="append", help="repeatable (default: every one with samples)")
    parser.add_argument("--copies", type=int, nargs="+", default=[40, 200])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="grade each batch N times, 1 and 2 workers alternating, and report the medians")
    parser.add_argument("--one-core", action="store_true",
                        help="also 1 worker held to one core: the textbook efficiency, cores 1 -> 2")
    parser.add_argument("--fresh-vs-warm", action="store_true", help="the earlier warm-against-fresh benchmark")
    parser.add_argument("--n", type=int, default=200, help="--fresh-vs-warm: submissions")
    parser.add_argument("--skip-fresh", action="store_true", help="--fresh-vs-warm: warm batch only")
    args = parser.parse_args()
    if args.fresh_vs_warm:
        args.workers = args.workers[-1] if args.workers != [1, 2] else (os.cpu_count() or 1)
        fresh_vs_warm(args)
    else:
        record(args)


if __name__ == "__main__":
    main()
