"""Grade the corpus and print the attack table (Markdown), for the closing note.

    python -m tests.attacks.table            # warm kernels, the best level they reach
    python -m tests.attacks.table --bwrap    # fresh kernels at the bwrap level
    python -m tests.attacks.table --levels   # read / damage / forge at every level that runs here
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from .corpus import ATTACKS, BY_NAME, expected_score, guaranteed, level_of, needs_of
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


def level_rows(folder: Path) -> list[str]:
    """One row per level this machine gives (each named, as an instructor would)."""
    from grader.batch import log
    from grader.sandbox import levels

    from .run import LATE, VICTIM, grade_level
    out = ["| level | kernel | solutions read? (read_solutions: got / honest) | victim's result on disk | "
           "forged result for the next run taken? | what the grader noted | seconds |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for level, kernel in (("bwrap", "warm"), ("bwrap", "fresh"), ("uid", "warm"), ("uid", "fresh"),
                          ("netns", "warm"), ("limits", "warm")):
        ok, why = levels.available(level, warm=kernel == "warm")
        if not ok:
            out.append(f"| {level} | {kernel} | not here: {why} | | | | |")
            continue
        started = time.monotonic()
        run = grade_level(folder / f"{level}-{kernel}", sandbox=level, kernel=kernel)
        seconds = time.monotonic() - started
        read = run.first["read_solutions"].score
        honest = expected_score(BY_NAME["read_solutions"], run.rubric)
        disk = json.loads((run.out / "results" / f"{VICTIM}.json").read_text())["score"]
        intact = log.result_hashes(log.read(run.out))[VICTIM] == log.digest(
            (run.out / "results" / f"{VICTIM}.json").read_bytes())
        late = run.second[LATE].score
        notes = "; ".join(run.first_notes + run.second_notes) or "nothing"
        out.append(f"| {level} | {kernel} | {'yes' if read > honest else 'no'} ({read:g} / {honest:g}) | "
                   f"{disk:g}{' (the logged bytes)' if intact else ' (CHANGED)'} | "
                   f"{'yes' if late != run.rubric.max_score else 'no'} ({late:g}) | {notes} | {seconds:.0f} |")
    return out


def main(argv: list[str]) -> None:
    if "--levels" in argv:
        with tempfile.TemporaryDirectory(prefix="attack-levels-") as folder:
            print("\n".join(level_rows(Path(folder))))
        return
    bwrap = "--bwrap" in argv
    with tempfile.TemporaryDirectory(prefix="attack-table-") as folder:
        run = grade_corpus(Path(folder), kernel="fresh" if bwrap else "warm",
                           sandbox="bwrap" if bwrap else "auto")
        print("\n".join(rows(run)))
        print(f"\n{len(run.results)} notebooks in {run.seconds:.0f} s; processes left behind: {len(run.leftovers)}")


if __name__ == "__main__":
    main(sys.argv[1:])
