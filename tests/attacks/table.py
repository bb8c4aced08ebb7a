"""Grade the corpus and print the attack table (Markdown), for the closing note.

    python -m tests.attacks.table            # warm kernels, the best level they reach
    python -m tests.attacks.table --bwrap    # fresh kernels at the bwrap level
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .corpus import ATTACKS, expected_score, guaranteed, level_of, needs_of
from .run import grade_corpus


def rows(run) -> list[str]:
    out = ["| attack | expected | got | sandbox level |", "| --- | --- | --- | --- |"]
    for attack in ATTACKS:
        if attack.name not in run.results:
            continue
        result = run.results[attack.name]
        missing = sorted(n for n in needs_of(attack) if not guaranteed(result.sandbox, n))
        expected = f"{expected_score(attack, run.rubric):g}" + (f" (needs {', '.join(missing)})" if missing else "")
        out.append(f"| {attack.name}: {attack.what} | {expected} | {result.score:g} | {level_of(result.sandbox)} |")
    return out


def main(argv: list[str]) -> None:
    bwrap = "--bwrap" in argv
    with tempfile.TemporaryDirectory(prefix="attack-table-") as folder:
        run = grade_corpus(Path(folder), kernel="fresh" if bwrap else "warm",
                           sandbox="bwrap" if bwrap else "auto")
        print("\n".join(rows(run)))
        print(f"\n{len(run.results)} notebooks in {run.seconds:.0f} s; processes left behind: {len(run.leftovers)}")


if __name__ == "__main__":
    main(sys.argv[1:])
