"""The similarity flags against their goals, on a generated corpus.

    python benchmarks/bench_similarity.py [--n 240] [--copies 40] [--timing-n 500] [--seed 0] [--rewrite 2 4]

Writes `--n` matrix_calculus notebooks (tests/similarity_corpus): independently
written students plus `--copies` disguised copies (names changed, functions
reordered, comments and spacing changed, a helper nobody calls), and runs the
`similarity` batch step on them as `grader grade` does (the notebooks read
again from their graded results, the starter code left out). Prints, against
the goals set for them:
- recall: copies flagged together with the notebook they copy (goal: all);
- false flags: flagged pairs of independently written notebooks, as a share
  of all such pairs (goal: at most 2 %);
- time: the step on `--timing-n` notebooks, from their results to
  similarity.csv and summary.html (goal: 500 in at most 60 s on 2 cores),
  next to the summary alone (what a batch without the format pays);
- beyond the goals, how many copies are still flagged when they also write
  `--rewrite` of the functions another way.
Timings are noisy on a shared machine: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import __version__  # noqa: E402
from grader.batch.writers import ReportOptions, write_batch  # noqa: E402
from grader.reports.similarity import common_limit, starter_cells  # noqa: E402
from grader.results import SubmissionResult  # noqa: E402
from grader.checks.semantics import load_rubric  # noqa: E402
from tests.similarity_corpus.build import Corpus, corpus  # noqa: E402

RUBRIC = ROOT / "rubrics" / "matrix_calculus.yaml"
GOAL_FALSE = 0.02
GOAL_SECONDS, GOAL_N = 60.0, 500


def results_for(c: Corpus) -> list[SubmissionResult]:
    """What a batch leaves: one graded result per notebook (the scores do not matter here)."""
    return [SubmissionResult(submission=sid, source=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                             assignment="matrix_calculus", rubric_version=1, grader_version=__version__,
                             status="graded", score=10.0, max_score=10.0) for sid, path in sorted(c.paths.items())]


def batch_step(out: Path, c: Corpus, formats: list[str]) -> float:
    """write_batch as `grader grade` runs it at the end of a batch; its seconds."""
    rubric = load_rubric(RUBRIC)
    opts = ReportOptions(starter=starter_cells(ROOT / "assignments", ROOT / "solutions", "matrix_calculus"))
    results = results_for(c)
    started = time.perf_counter()
    write_batch(out, results, formats, rubric, opts)
    return time.perf_counter() - started


def score(c: Corpus, out: Path) -> tuple[int, int, int]:
    """From OUT/similarity.csv: (copies flagged with their source, independent pairs flagged,
    independent pairs)."""
    with open(out / "similarity.csv", newline="") as f:
        flagged = {(row["submission_a"], row["submission_b"]) for row in csv.DictReader(f) if row["flagged"] == "yes"}
    caught = sum(1 for copy, source in c.copies.items() if tuple(sorted((copy, source))) in flagged)
    n = len(c.paths)
    wrong = sum(1 for a, b in flagged if not c.is_copy(a, b))
    return caught, wrong, n * (n - 1) // 2 - len(c.copies)


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=240, help="notebooks in the accuracy corpus (at least 200)")
    parser.add_argument("--copies", type=int, default=40, help="of which disguised copies")
    parser.add_argument("--timing-n", type=int, default=GOAL_N, help="notebooks in the timing corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rewrite", type=int, nargs="*", default=[2, 4],
                        help="also measure copies that rewrite this many functions (information, no goal)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        for n, copies, timed in ((args.n, args.copies, False),
                                 (args.timing_n, args.timing_n * args.copies // args.n, True)):
            c = corpus(Path(tmp) / f"corpus{n}", n, copies, seed=args.seed)
            seconds = batch_step(Path(tmp) / f"out{n}", c, ["similarity", "summary"])
            caught, wrong, pairs = score(c, Path(tmp) / f"out{n}")
            print(f"corpus of {n}: {n - copies} written independently, {copies} disguised copies; "
                  f"fingerprints in more than {common_limit(n)} notebooks ignored")
            print(f"  recall      {caught}/{copies} copies flagged with their source = {caught / copies:.1%}"
                  f"   goal: all   {'OK' if caught == copies else 'MISSED'}")
            print(f"  false flags {wrong}/{pairs} independent pairs = {wrong / pairs:.3%}"
                  f"   goal: <= {GOAL_FALSE:.0%}   {'OK' if wrong / pairs <= GOAL_FALSE else 'MISSED'}")
            ok &= caught == copies and wrong / pairs <= GOAL_FALSE
            if timed:
                alone = batch_step(Path(tmp) / f"alone{n}", c, ["summary"])
                print(f"  time        {seconds:.1f} s for {n} notebooks (similarity.csv + summary.html), "
                      f"summary.html alone {alone:.1f} s   goal: {GOAL_N} in <= {GOAL_SECONDS:.0f} s   "
                      f"{'OK' if seconds * GOAL_N / n <= GOAL_SECONDS else 'MISSED'}   ({load()})")
                ok &= seconds * GOAL_N / n <= GOAL_SECONDS
        for rewrite in args.rewrite:   # beyond the goals: copies that also change some functions' code
            c = corpus(Path(tmp) / f"rewrite{rewrite}", args.n, args.copies, seed=args.seed, rewrite=rewrite)
            batch_step(Path(tmp) / f"rw{rewrite}", c, ["similarity"])
            caught, wrong, pairs = score(c, Path(tmp) / f"rw{rewrite}")
            print(f"copies that also write {rewrite} of the 8 functions another way (no goal): "
                  f"{caught}/{args.copies} flagged, {wrong} independent pairs flagged")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
