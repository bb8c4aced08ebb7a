"""`grader check` on each assignment's solution, against `python -c "import torch"` in the same run.

    python benchmarks/bench_check.py [--assignment NAME ...] [--repeats 3] [--kernel fresh|warm]

What a student waits for: the real command (`python -m grader.cli.main check
solutions/NAME.ipynb`: a fresh run of the whole notebook, what the grader will
see), from its start to its exit. Each repeat times every assignment's check
and one `import torch`, interleaved, so that both see the same load; the table
gives the medians and their ratio. Target (issue 17): every ratio <= 2.5.

The grader's modules are compiled to bytecode first, as `pip install` of the wheel does (torch's
were, when it was installed): where PYTHONDONTWRITEBYTECODE is set, a checkout would otherwise
compile 18,000 lines of the grader from source in every run, which no installed copy does.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_grade import import_torch_times  # noqa: E402

TARGET = 2.5


def check_seconds(name: str, kernel: str | None) -> float:
    cmd = [sys.executable, "-m", "grader.cli.main", "check", f"solutions/{name}.ipynb"]
    cmd += [f"--{kernel}"] if kernel else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {done.returncode} (a solution passes every public check)\n"
                         f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", action="append", help="repeatable (default: every solution)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kernel", choices=("fresh", "warm"), help="default: the config's (auto: fresh for check)")
    args = parser.parse_args()
    names = args.assignment or sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb")
                                      if (ROOT / "rubrics" / f"{p.stem}.yaml").is_file())
    compileall.compile_dir(str(ROOT / "grader"), quiet=1)      # what the wheel's install does
    check_seconds(names[0], args.kernel)            # page cache: not what a student waits for twice
    times: dict[str, list[float]] = {n: [] for n in names}
    floor: list[float] = []
    for _ in range(args.repeats):
        for name in names:
            times[name].append(check_seconds(name, args.kernel))
        floor += import_torch_times(1)
    torch_s = statistics.median(floor)
    load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    print(f"{os.cpu_count()} cores, load {load}; python -c 'import torch': median {torch_s:.2f} s "
          f"(min {min(floor):.2f}, max {max(floor):.2f}, {len(floor)} runs)")
    print(f"{'assignment':18s} {'check (median)':>15s} {'min':>7s} {'max':>7s} {'x torch':>8s}")
    worst = 0.0
    for name in names:
        median = statistics.median(times[name])
        worst = max(worst, median / torch_s)
        print(f"{name:18s} {median:14.2f}s {min(times[name]):6.2f}s {max(times[name]):6.2f}s {median / torch_s:7.2f}x")
    print(f"worst ratio {worst:.2f}x import torch (target <= {TARGET}): {'met' if worst <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
