"""`grader grade --profile`: where a batch's time went, per submission and per phase.

A batch's wall time, times its workers, shared out over its submissions:

* batch start: from this process's start (imports, the rubric's check, the warm
  kernels' parent starting beside them) to the first grading;
* each submission's phases, from the batch log (`log.PHASES`: kernel start, the
  notebook's run, probe calls, judging, report writing), without waiting for a
  worker;
* workers idle: what is left of the workers' time (a worker waiting for the
  warm parent, or for the last submissions at the end);
* batch end: after the last result (every kernel's close, the batch reports).

Beside them, not part of the sum: each kernel's close (in the background, while
the next kernel starts), and the CPU seconds of this process and of the warm
kernels' parent with its kernels, against the wall time of the cores. And the
batch's serial part: until the warm kernels' parent is ready, and this process
has imported torch, no kernel runs, and after the last result there is only the
batch's end, however many workers there are. With N workers a batch takes at
least serial + rest / N, so from 1 to 2 workers the parallel efficiency
(wall 1 / (2 x wall 2)) is at most wall 1 / (wall 1 + serial 1).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import typing as t
from dataclasses import dataclass, field

from rich.table import Table

from grader.batch import log


def process_age() -> float:
    """Seconds since this process started (its start time in /proc), or since this module
    was imported where /proc cannot say."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime", encoding="ascii") as f:
            return max(0.0, float(f.read().split()[0]) - started)
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


_IMPORTED = time.perf_counter()


def cpu_seconds(pid: int) -> float:
    """CPU seconds of process `pid` and of the children it has reaped (0 where unknown)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _zygotes() -> list:
    from grader.sandbox import warm_shared      # only once a batch has run (not for `grader --help`)
    return list(warm_shared._shared.values())


def parent_ready() -> tuple[float, float] | None:
    """(seconds from this process's start to its first warm kernels' parent being ready, that
    parent's imports in seconds, as it timed them); None: no warm parent (fresh kernels)."""
    ready = [z for z in _zygotes() if z.ready_at is not None]
    if not ready:
        return None
    first = min(ready, key=lambda z: z.ready_at)
    return process_age() - (time.perf_counter() - first.ready_at), float(first.info.get("import_s", 0.0))


def kernels_cpu_seconds() -> float:
    """CPU seconds of this process's warm kernels' parents and every kernel they reaped
    (a parent in bubblewrap is bwrap's child)."""
    from grader.sandbox import launcher
    total = 0.0
    for zygote in _zygotes():
        pid = zygote.pid
        if pid is not None:
            total += cpu_seconds(pid) + sum(cpu_seconds(c) for c in launcher.children_of(pid))
    return total


@dataclass
class BatchProfile:
    """Filled by `grade_batch` (and the executor's kernel closes); `table` renders it."""

    marks: dict[str, float] = field(default_factory=dict)     # name -> seconds since the process started
    closes: list[float] = field(default_factory=list)         # each kernel's close, seconds

    def mark(self, name: str) -> None:
        self.marks[name] = process_age()

    def table(self, entries: t.Sequence[log.Entry], workers: int) -> Table:
        graded = [e for e in entries if e.event == "graded"]
        n = max(1, len(graded))
        now = process_age()
        wall = now - 0.0
        began = self.marks.get("batch", now)
        ended = self.marks.get("results", now)
        share = workers / n                     # a second of wall time, per submission
        rows: list[tuple[str, float, str]] = [("batch start", began * share,
                                               "imports, the rubric's check, the kernels' parent starting")]
        phases = {p: [e.phases.get(p, 0.0) for e in graded] for p in log.PHASES}
        what = {"start": "waiting for its kernel (a worker starts the next one early)", "run": "the notebook's cells", "probe": "probe install and calls",
                "judge": "references, judging, static scan", "write": "result and feedback files"}
        busy = 0.0
        for phase, values in phases.items():
            total = sum(values)
            busy += total
            median = statistics.median(values) if values else 0.0
            rows.append((phase, total / n, f"{what[phase]} (median {median:.3f} s)"))
        idle = max(0.0, (ended - began) * workers - busy)
        rows.append(("workers idle", idle / n, "waiting for the kernels' parent or for the last submissions"))
        rows.append(("batch end", (wall - ended) * share, "last kernels closed, batch reports written"))
        total = sum(r[1] for r in rows) or 1.0
        table = Table("per submission", "seconds", "share", "what", title=(
            f"{len(graded)} graded, {workers} worker{'s' if workers != 1 else ''}: wall {wall:.2f} s, "
            f"{wall * share:.3f} s per submission (wall x workers / submissions)"))
        for name, seconds, note in rows:
            table.add_row(name, f"{seconds:.3f}", f"{100 * seconds / total:.0f}%", note)
        if self.closes:
            table.add_row("kernel close", f"{statistics.median(self.closes):.3f}", "",
                          "median, in the background while the next kernel starts (not in the sum)")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        mine = usage.ru_utime + usage.ru_stime
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        helpers = reaped.ru_utime + reaped.ru_stime
        kernels = kernels_cpu_seconds()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        table.caption = (f"CPU: grader process {mine:.2f} s ({100 * mine / max(wall * cores, 1e-9):.0f}% of "
                         f"{cores} cores x wall), its helpers (the summary's drawing, probes) {helpers:.2f} s, "
                         f"warm kernels' parent and kernels {kernels:.2f} s")
        if (parent := parent_ready()) is not None:
            ready, imports = parent
            start = max(ready, began)       # the first kernel needs both
            table.caption += (f"\nserial: {start + wall - ended:.2f} s, no worker shortens it (the first kernel "
                              f"could start {start:.2f} s after the command started: the kernels' parent was ready "
                              f"at {ready:.2f} s, after its imports of {imports:.2f} s, and this process at "
                              f"{began:.2f} s; the batch's end {wall - ended:.2f} s)")
        return table
