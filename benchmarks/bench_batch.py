"""A 200-submission batch: warm kernels against fresh ones, against the floor.

    python benchmarks/bench_batch.py [--n 200] [--workers W] [--skip-fresh]

Grades N bundled-style submissions (the twelve matrix_calculus samples, each
copied N/12 times under its own name) through `grade_batch`, once with warm
kernels and once with fresh ones, and prints, measured in this same run:
- `python -c "import torch"` (the cost a fresh kernel pays before the first line);
- each batch's wall time and the warm/fresh speed-up (target >= 5x);
- the theoretical floor: the students' own compute (their cells and calls, as
  the kernels timed them, from OUT/batch-log.jsonl) divided by the workers;
- the grader's own share per submission (wall x workers / N minus the
  students' compute per submission);
- peak RSS of the grader process and of each kernel (sampled every 0.25 s;
  for warm kernels also USS, their private memory: the rest is shared with the
  warm parent). Target: <= 400 MB per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_grade import import_torch_seconds  # noqa: E402
from grader.batch import grade_batch, log  # noqa: E402
from grader.config import load_config  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.cli.common import prestart_kernels  # noqa: E402
from grader.submissions import discover  # noqa: E402

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


def build_batch(folder: Path, n: int) -> None:
    samples = sorted((ROOT / "samples" / "matrix_calculus").glob("*.ipynb"))
    folder.mkdir(parents=True)
    for i in range(n):
        src = samples[i % len(samples)]
        shutil.copy(src, folder / f"{src.stem}_{i:04d}.ipynb")


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
    return {"wall": wall, "n": len(results), "student": student, "sampler": sampler,
            "gradebook": (out / "gradebook.csv").read_text().replace(str(folder), "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-fresh", action="store_true", help="warm batch only")
    args = parser.parse_args()
    floor = import_torch_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "subs"
        build_batch(folder, args.n)
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


if __name__ == "__main__":
    main()
