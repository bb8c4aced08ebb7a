"""Per-submission cost of grading, next to `python -c "import torch"` measured in the same run.

    python benchmarks/bench_grade.py [--copies N] [--workers W]

Grades N copies of the solution notebook (the grader's full path: sandboxed
kernel, notebook run, probe, references, reports) with fresh kernels and with
warm ones (the warm parent started beforehand, as the CLI does), once with one
worker (latency per submission) and once with W workers (throughput), and
prints each next to the bare floor of starting Python and importing torch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.batch import grade_batch  # noqa: E402
from grader.cli.common import prestart_kernels  # noqa: E402
from grader.config import load_config  # noqa: E402
from grader.checks.semantics import load_rubric  # noqa: E402
from grader.submissions import discover  # noqa: E402


def import_torch_times(repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    return times


def import_torch_seconds(repeats: int = 5) -> float:
    return statistics.median(import_torch_times(repeats))


def grade_copies(n: int, workers: int, kernel: str | None = None) -> tuple[float, float]:
    """(batch wall, wall per submission); `kernel`: "warm" or "fresh" (None: as configured)."""
    cfg = load_config(ROOT / "config.yaml")
    if kernel is not None:
        cfg = cfg.with_kernel(batch=True, warm=kernel == "warm")
    rubric = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "subs"
        folder.mkdir()
        for i in range(n):
            shutil.copy(ROOT / "solutions" / "matrix_calculus.ipynb", folder / f"copy{i:03d}.ipynb")
        subs = discover([folder])
        start = time.perf_counter()
        results = asyncio.run(grade_batch(subs, rubric, cfg, Path(tmp) / "out", workers=workers))
        wall = time.perf_counter() - start
    assert all(r.score == r.max_score for r in results), "the solution must get full marks"
    return wall, wall / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    floor = import_torch_seconds()
    prestart_kernels(load_config(ROOT / "config.yaml").with_kernel(batch=True, warm=True))
    print(f"python -c 'import torch' (median of 5):              {floor:6.2f} s")
    for kernel in ("fresh", "warm"):
        _, serial = grade_copies(args.copies, 1, kernel)
        wall, parallel = grade_copies(args.copies, args.workers, kernel)
        print(f"{kernel:5s} per submission, 1 worker  ({args.copies} copies): {serial:6.2f} s   "
              f"ratio {serial / floor:5.2f}x")
        print(f"{kernel:5s} per submission, {args.workers} workers ({args.copies} copies): {parallel:6.2f} s   "
              f"ratio {parallel / floor:5.2f}x   (batch wall {wall:.1f} s)")


if __name__ == "__main__":
    main()
