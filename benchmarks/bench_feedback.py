"""What the `notebook` format (the executed notebook as feedback) adds per submission. Goal: < 0.05 s.

    python benchmarks/bench_feedback.py [--n 48] [--workers W]

Grades the same N bundled-style submissions (the twelve matrix_calculus
samples, copied N/12 times under their own names, each copy's function cells
made its own with a comment, as every student writes their own functions
while the assignment's cells are the same in all) twice in this one run,
with warm kernels: with formats json + html, then json + html + notebook. Prints
- what the format costs the grader process per submission: the CPU time of
  the notebook writer (it renders the page right after the result, on the
  batch's event loop), plus nbconvert's import and exporter (made once per
  process, in the background while the first kernels start) spread over the
  batch; this is the figure held against the goal;
- the wall time in the writer, longer where the kernels hold the cores;
- every page rendered again after the batch with the highlighting and
  Markdown caches empty (as if no other notebook shared a cell with it);
- the batch's wall time with and without the format, and the difference per
  submission (noisy: the kernels' time varies more than a page costs);
- `verdicts: N/N as the sample tables expect`: every copy of both batches got its
  sample's verdicts (benchmarks/sample_copies.py); else the exit is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import formats as format_table  # noqa: E402
from grader.batch import grade_batch  # noqa: E402
from grader.cli.common import prestart_kernels  # noqa: E402
from grader.config import load_config  # noqa: E402
from grader.reports import formats as report_formats  # noqa: E402
from grader.reports import notebook, notebook_cells  # noqa: E402
from grader.checks.semantics import load_rubric  # noqa: E402
from grader.submissions import discover  # noqa: E402
from benchmarks.sample_copies import copy_samples, say_verdicts, verdict_problems  # noqa: E402

GOAL_S = 0.05


def build_batch(folder: Path, n: int) -> dict[str, str]:
    """The samples' copies (copy name -> sample name), each one's function cells its own."""
    copies = copy_samples("matrix_calculus", folder, n)
    for i, copy in enumerate(copies):
        nb = nbformat.read(folder / f"{copy}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and "def grad_" in cell.source:
                cell.source += f"\n# submission {i}"
        nbformat.write(nb, folder / f"{copy}.ipynb")
    return copies


def run_batch(folder: Path, out: Path, formats: list[str], workers: int) -> tuple[float, list]:
    cfg = load_config(ROOT / "config.yaml").with_kernel(batch=True, warm=True)
    cfg = cfg.model_copy(update={"formats": formats})
    rubric = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    start = time.perf_counter()
    results = asyncio.run(grade_batch(discover([folder]), rubric, cfg, out, workers=workers))
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    writer = report_formats.FORMATS["notebook"].per_submission
    wall: list[float] = []
    cpu: list[float] = []
    kept = []     # (result, its executed notebook): rendered again below with empty caches

    def timed(out, result, rubric, opts):
        kept.append((result.model_copy(), result.executed))
        start, start_cpu = time.perf_counter(), time.thread_time()
        writer(out, result, rubric, opts)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)

    build_cpu: list[float] = []
    build = notebook_cells._build_exporter

    def timed_build():       # nbconvert's import and exporter: once per process, in the background
        start = time.thread_time()
        try:
            return build()
        finally:
            build_cpu.append(time.thread_time() - start)

    notebook_cells._build_exporter = timed_build
    # the format's table line pointed at a timed copy of its record (a line names its record)
    global TIMED_NOTEBOOK
    TIMED_NOTEBOOK = dataclasses.replace(report_formats.FORMATS["notebook"], per_submission=timed)
    format_table.TABLE["notebook"] = format_table.Entry("__main__:TIMED_NOTEBOOK",
                                                        format_table.TABLE["notebook"].on_by_default)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "subs"
        copies = build_batch(folder, args.n)
        prestart_kernels(load_config(ROOT / "config.yaml").with_kernel(batch=True, warm=True))
        without, plain = run_batch(folder, Path(tmp) / "without", ["json", "html"], args.workers)
        with_nb, paged = run_batch(folder, Path(tmp) / "with", ["json", "html", "notebook"], args.workers)
        pages = sorted((Path(tmp) / "with" / "feedback").glob("*.notebook.html"))
        size = statistics.mean(p.stat().st_size for p in pages) if pages else 0
    cold = []
    for result, executed in kept:
        notebook_cells.highlighted.cache_clear()
        notebook_cells._markdown.cache_clear()
        result.executed = executed
        start = time.perf_counter()
        notebook.page(result)
        cold.append(time.perf_counter() - start)
    n = len(cpu)
    once = build_cpu[0] if build_cpu else 0.0
    per = sum(cpu) / n + once / n
    print(f"{args.n} submissions, {args.workers} workers, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} "
          "at the end")
    print(f"notebook feedback per submission: {per:.4f} s of the grader's CPU ({sum(cpu) / n:.4f} s a page, "
          f"median {statistics.median(cpu):.4f}, worst {max(cpu):.4f}, + {once:.2f} s once for nbconvert's import "
          f"and exporter / {n}) against the {GOAL_S} s goal: {'met' if per < GOAL_S else 'NOT met'}")
    print(f"  wall time in the writer (with waits for a core the kernels hold): {statistics.mean(wall):.4f} s a "
          f"page, median {statistics.median(wall):.4f}; pages of {size / 1024:.0f} KiB on average")
    print(f"  each page alone after the batch, caches empty: median {statistics.median(cold):.4f} s, "
          f"worst {max(cold):.4f} s")
    print(f"batch wall: json+html {without:.1f} s, json+html+notebook {with_nb:.1f} s: "
          f"{(with_nb - without) / args.n:+.3f} s per submission (noisy: kernels vary more than a page costs)")
    say_verdicts(2 * len(copies), {**verdict_problems("matrix_calculus", copies, plain, "json+html:"),
                                   **verdict_problems("matrix_calculus", copies, paged, "with notebook:")})


if __name__ == "__main__":
    main()
