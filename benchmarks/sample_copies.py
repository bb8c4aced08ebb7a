"""Copies of a sample batch for the benchmarks, and whether each copy got the verdicts its
sample's table says (samples/recipes/NAME.py, compared by samples/sample_table.py as the tests
compare the samples themselves): a benchmark that grades wrongly fails instead of timing it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "samples"))      # the sample tables, read as samples/build.py reads them
import sample_table  # noqa: E402

__all__ = ["copy_samples", "sample_table", "say_verdicts", "verdict_problems"]


def copy_samples(assignment: str, folder: Path, n: int) -> dict[str, str]:
    """`n` copies of the assignment's samples in `folder` (unless it is there already), in its
    table's order over and over, each under a name of its own: copy name -> sample name."""
    names = list(sample_table.load(assignment).samples)
    copies = {f"{names[i % len(names)]}_{i:04d}": names[i % len(names)] for i in range(n)}
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for copy, sample in copies.items():
            shutil.copy(ROOT / "samples" / assignment / f"{sample}.ipynb", folder / f"{copy}.ipynb")
    return copies


def verdict_problems(assignment: str, copies: dict[str, str], results: list, label: str = "") -> dict[str, list[str]]:
    """How the graded copies (SubmissionResult objects or results.json dicts) differ from what the
    sample table says of their samples: "LABEL COPY" -> one line per question or total, for each
    copy that differs."""
    table = sample_table.load(assignment)
    by_copy = {Path(r["source"] if isinstance(r, dict) else r.source).stem: r for r in results}
    wrong = {}
    for copy, sample in copies.items():
        lines = (sample_table.result_mismatches(table.samples[sample], by_copy[copy]) if copy in by_copy
                 else ["not graded"])
        if lines:
            wrong[f"{label} {copy}".strip()] = lines
    return wrong


def say_verdicts(graded: int, wrong: dict[str, list[str]]) -> None:
    """The verdicts' line; where a copy got another verdict, the lines that say which, and exit 1."""
    print(f"verdicts: {graded - len(wrong)}/{graded} as the sample tables expect")
    if wrong:
        print("\n".join(f"{copy}: {line}" for copy, lines in wrong.items() for line in lines), file=sys.stderr)
        raise SystemExit(1)
