"""Per-notebook overhead of warm (zygote-forked) kernels vs fresh ones vs `python -c "import torch"`.

    python benchmarks/bench_warm.py [--warm N] [--fresh N] [--floor N] [--parallel W] [--grade N]

All in one run, so that the ratios compare like with like on a loaded machine:

* floor: `python -c "import torch"` as a subprocess (median of --floor runs);
* per notebook, through the real `SandboxedKernel` (limits, network namespace,
  private workdir, kill of the whole tree at the end), serially: a fresh
  kernel (`launcher.py`, as today) and a warm one (`WarmKernelManager`, the
  kernel forked by the zygote). The notebook is 3 cells: `import torch`, a
  backward pass, a print. Its own compute (the backward, timed inside the
  kernel) is subtracted; everything else is overhead: kernel start, imports,
  cell round trips, shutdown;
* warm kernels W at a time (throughput, per notebook);
* with --grade N: N copies of the solution notebook graded end to end
  (`grade_batch`, 1 worker) warm and fresh, per submission.

The zygote's own start (once per grader process) is printed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

import grader.sandbox.kernel as kernel_mod  # noqa: E402
from benchmarks.bench_grade import grade_copies, import_torch_times  # noqa: E402
from grader.config import Execution, load_config  # noqa: E402
from grader.sandbox import warm, zygote_handle  # noqa: E402
from grader.sandbox.kernel import SandboxedKernel  # noqa: E402
from grader.sandbox.plan import decide_plan  # noqa: E402

CELLS = [
    "import torch",
    "import time\n_t0 = time.perf_counter()\n"
    "x = torch.randn(10, dtype=torch.float64, requires_grad=True)\n"
    "A = torch.randn(10, 10, dtype=torch.float64)\n"
    "(x @ A @ x).backward()\n"
    "_compute = time.perf_counter() - _t0",
    "print(f'compute {_compute:.6f}')",
]
REAL_KM = kernel_mod.AsyncKernelManager
TARGET_S = 0.13     # per-notebook overhead of a warm kernel, serially (and at most a tenth of the floor)


async def one_notebook(limits: Execution) -> dict[str, float]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    t0 = time.perf_counter()
    kernel = SandboxedKernel(nb, limits)
    try:
        await kernel.start()
        t1 = time.perf_counter()
        assert await kernel._run_cells(), "the notebook did not run"
        t2 = time.perf_counter()
    finally:
        await kernel.close()
    t3 = time.perf_counter()
    text = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert text.startswith("compute "), nb.cells
    compute = float(text.split()[1])
    return {"total": t3 - t0, "start": t1 - t0, "cells": t2 - t1, "close": t3 - t2,
            "compute": compute, "overhead": t3 - t0 - compute}


def use(mode: str, zygote: zygote_handle.ZygoteHandle | None) -> None:
    """mode: "fresh" (launcher.py), "warm" (the forked child is the kernel) or
    "warm-init" (a subreaper init above the kernel, as launcher.py)."""
    if mode == "fresh":
        kernel_mod.AsyncKernelManager = REAL_KM
        return
    assert zygote is not None
    zygote.layout = "init" if mode == "warm-init" else "direct"
    kernel_mod.AsyncKernelManager = functools.partial(warm.WarmKernelManager, zygote=zygote, fallback=False)


async def serial(n: int, limits: Execution) -> list[dict[str, float]]:
    return [await one_notebook(limits) for _ in range(n)]


async def parallel(n: int, workers: int, limits: Execution) -> tuple[float, list[dict[str, float]]]:
    gate = asyncio.Semaphore(workers)

    async def run() -> dict[str, float]:
        async with gate:
            return await one_notebook(limits)
    start = time.perf_counter()
    rows = await asyncio.gather(*(run() for _ in range(n)))
    return time.perf_counter() - start, list(rows)


def med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=20, help="warm notebooks, serially (each layout)")
    parser.add_argument("--fresh", type=int, default=6, help="fresh notebooks, serially")
    parser.add_argument("--floor", type=int, default=6, help="runs of python -c 'import torch'")
    parser.add_argument("--parallel", type=int, default=2, help="warm kernels at once (0: skip)")
    parser.add_argument("--grade", type=int, default=0, help="solution copies graded end to end per mode")
    args = parser.parse_args()
    limits = load_config(ROOT / "config.yaml").execution

    t = time.perf_counter()
    zygote = zygote_handle.ZygoteHandle(threads=limits.torch_threads, sandbox=decide_plan(limits, warm=True).zygote_sandbox()).start()
    zygote_s = time.perf_counter() - t
    try:
        # Interleave the measurements so that a change of machine load hits all of them.
        floor_times: list[float] = []
        fresh: list[dict[str, float]] = []
        warm_rows: list[dict[str, float]] = []
        init_rows: list[dict[str, float]] = []
        for mode in ("warm", "warm-init"):
            use(mode, zygote)
            asyncio.run(serial(2, limits))          # first kernels: page cache, lazy set-ups
        rounds = max(args.floor, args.fresh, 1)
        for i in range(rounds):
            if i < args.floor:
                floor_times += import_torch_times(1)
            if i < args.fresh:
                use("fresh", None)
                fresh += asyncio.run(serial(1, limits))
            share = args.warm // rounds + (1 if i < args.warm % rounds else 0)
            use("warm", zygote)
            warm_rows += asyncio.run(serial(share, limits))
            use("warm-init", zygote)
            init_rows += asyncio.run(serial(share, limits))
        use("warm", zygote)
        par_wall, par_rows = 0.0, []
        if args.parallel:
            par_wall, par_rows = asyncio.run(parallel(max(args.warm, 2 * args.parallel), args.parallel, limits))
        grade_warm = grade_fresh = None
        if args.grade:
            use("warm", zygote)
            grade_warm = grade_copies(args.grade, workers=1, kernel="warm")[1]
            use("fresh", None)
            grade_fresh = grade_copies(args.grade, workers=1, kernel="fresh")[1]
        left = zygote.ping()["kernels"]
    finally:
        use("fresh", None)
        zygote.stop()

    floor = statistics.median(floor_times)
    print(f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
          f"load {open('/proc/loadavg').read().split()[0]}; zygote start (once) {zygote_s:.2f} s, "
          f"its imports {zygote.info.get('import_s', 0):.2f} s; kernels left in the zygote: {left}")
    print(f"python -c 'import torch'   median of {len(floor_times)}: {floor:7.3f} s   "
          f"(min {min(floor_times):.3f}, max {max(floor_times):.3f})")
    print()
    print(f"{'per notebook (3 cells), medians':34s} {'overhead':>9s} {'ratio':>7s} {'start':>7s} "
          f"{'cells':>7s} {'close':>7s} {'compute':>9s}")
    for name, rows in ((f"fresh kernel  (n={len(fresh)})", fresh), (f"warm kernel   (n={len(warm_rows)})", warm_rows),
                       (f"warm, init layout (n={len(init_rows)})", init_rows)):
        if rows:
            o = med(rows, "overhead")
            print(f"{name:34s} {o:8.3f}s {o / floor:6.3f}x {med(rows, 'start'):6.3f}s {med(rows, 'cells'):6.3f}s "
                  f"{med(rows, 'close'):6.3f}s {med(rows, 'compute') * 1e3:7.3f}ms")
    if warm_rows:
        q = sorted(r["overhead"] for r in warm_rows)
        print(f"{'  warm: min / p90 / max':34s} {q[0]:.3f} / {q[int(0.9 * (len(q) - 1))]:.3f} / {q[-1]:.3f} s")
    if par_rows:
        per = par_wall / len(par_rows)
        print(f"{f'warm, {args.parallel} at once (n={len(par_rows)})':34s} {per:8.3f}s {per / floor:6.3f}x   "
              f"(wall per notebook; latency each {med(par_rows, 'overhead'):.3f} s)")
    if fresh and warm_rows:
        o = med(warm_rows, 'overhead')
        print(f"\nwarm overhead / fresh overhead: {o / med(fresh, 'overhead'):.3f}; target warm <= "
              f"{TARGET_S} s and <= 0.1 x floor: {'met' if o <= TARGET_S and o <= 0.1 * floor else 'NOT met'}")
    if grade_warm is not None and grade_fresh is not None:
        print(f"\ngraded end to end (solution, {args.grade} copies, 1 worker), per submission: "
              f"warm {grade_warm:.3f} s ({grade_warm / floor:.2f}x floor), "
              f"fresh {grade_fresh:.3f} s ({grade_fresh / floor:.2f}x floor)")


if __name__ == "__main__":
    main()
