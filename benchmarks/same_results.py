"""Grade every sample folder with two checkouts of the grader and diff what they wrote.

    python benchmarks/same_results.py --baseline DIR [--out DIR] [--keep-baseline]

DIR is another checkout of this repository (e.g. `git worktree add ../base HEAD`
before a change). Each checkout grades `samples/NAME` with `-a NAME` for every
assignment that has samples, through its own CLI (`python -m grader.cli.main`,
run from the checkout so its package, config and rubrics are the ones used),
into OUT/baseline/NAME and OUT/current/NAME. Then every file both wrote is
compared byte for byte, apart from the timing fields: the batch log (every
line holds wall seconds; its other fields are compared) and the summary's
"slowest submissions" table. Exit 0 when nothing else differs; else each
differing file is named (with the first differing line) and the exit is 1.

A change that must not change any score, feedback or report (a speed-up) runs
this before it is committed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMING_KEYS = {"seconds", "student_seconds", "phases"}    # batch-log fields that hold timings
#: every format whose files depend on nothing but the results and that the baseline knows (not github, classroom: CI only)
FORMATS = ("json", "markdown", "html", "csv", "summary", "junit", "gradescope")
SLOWEST = re.compile(r"<h2[^>]*>\s*Slowest.*?</table>", re.S | re.I)


def assignments(checkout: Path) -> list[str]:
    return sorted(p.name for p in (checkout / "samples").iterdir()
                  if p.is_dir() and (checkout / "rubrics" / f"{p.name}.yaml").is_file())


def grade_all(checkout: Path, out: Path, names: list[str], extra: list[str]) -> float:
    """Grade each sample folder with `checkout`'s CLI; the total wall time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(PYTHONPATH=str(checkout), COLUMNS="200", NO_COLOR="1")
    started = time.perf_counter()
    for name in names:
        # a fresh folder: a batch log left by an earlier run would be appended to (a rerun resumes)
        shutil.rmtree(out / name, ignore_errors=True)
        cmd = [sys.executable, "-m", "grader.cli.main", "grade", f"samples/{name}", "-a", name,
               "-o", str(out / name), "--force", *extra]
        done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{checkout}: grading {name} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def comparable(path: Path) -> bytes:
    """The file's bytes without its timing fields."""
    data = path.read_bytes()
    if path.name == "batch-log.jsonl":
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        for line in lines:
            for key in TIMING_KEYS:
                line.pop(key, None)
        return "\n".join(sorted(json.dumps(line, sort_keys=True) for line in lines)).encode()
    if path.name == "summary.html":
        return SLOWEST.sub("<!-- slowest: timings -->", data.decode()).encode()
    return data


def differences(base: Path, current: Path) -> list[str]:
    found = []
    files = {p.relative_to(base) for p in base.rglob("*") if p.is_file()}
    files |= {p.relative_to(current) for p in current.rglob("*") if p.is_file()}
    for rel in sorted(files):
        a, b = base / rel, current / rel
        if not a.is_file() or not b.is_file():
            found.append(f"{rel}: only in {'current' if b.is_file() else 'baseline'}")
            continue
        x, y = comparable(a), comparable(b)
        if x != y:
            first = ""
            try:
                diff = list(difflib.unified_diff(x.decode().splitlines(), y.decode().splitlines(), lineterm="", n=0))
                first = next((d for d in diff[2:] if d[:1] in "+-"), "")
            except UnicodeDecodeError:
                first = f"binary, {len(x)} vs {len(y)} bytes"
            found.append(f"{rel}: differs ({first[:200]})")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of this repository")
    parser.add_argument("--out", type=Path, default=Path("same-results"), help="where both write (kept)")
    parser.add_argument("--keep-baseline", action="store_true",
                        help="reuse OUT/baseline from an earlier run (the baseline checkout is unchanged)")
    parser.add_argument("--workers", default="2")
    args, extra = parser.parse_known_args()
    out = args.out.resolve()
    names = assignments(ROOT)
    flags = ["--workers", args.workers, *(x for f in FORMATS for x in ("--format", f)), *extra]
    if not (args.keep_baseline and (out / "baseline").is_dir()):
        print(f"baseline ({args.baseline}): {grade_all(args.baseline.resolve(), out / 'baseline', names, flags):.1f} s")
    print(f"current  ({ROOT}): {grade_all(ROOT, out / 'current', names, flags):.1f} s")
    found = differences(out / "baseline", out / "current")
    for line in found:
        print(line)
    n = sum(1 for _ in (out / "current").rglob("*") if _.is_file())
    print(f"{len(names)} assignments, {n} files: " + ("identical apart from timings" if not found
                                                     else f"{len(found)} differ"))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
