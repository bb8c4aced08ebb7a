"""Build the bundled sample batches from their tables (samples/recipes/<assignment>.py).

    python samples/build.py [ASSIGNMENT ...]        (default: every table)

writes, deterministically (same bytes on every run), per assignment:

    assignments/<assignment>.ipynb      by `grader assign`, from solutions/<assignment>.ipynb
    samples/<assignment>/*.ipynb        one per row of the table
    samples/<assignment>/README.md      the table's intro and rows

The solution notebook is the source of the code (read, never written): edit it in Jupyter
or by hand, then rebuild. Solution code sits between `# BEGIN SOLUTION` and `# END SOLUTION`
lines; a sample is the solution's cells (by id: "cell-01", ...) with those markers removed
and its recipe applied (samples/sample_table.py), saved in house style (nbformat 4.5, no
outputs, kernelspec python3, metadata `grader.assignment`).
The tests grade every sample and compare with the table's `expect` (tests/sample_verdicts.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.dont_write_bytecode = True          # no __pycache__ among the sample folders
sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_kit import build_assignment  # noqa: E402
from sample_table import assignments, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def build(names: list[str], root: Path = ROOT) -> list[Path]:
    tables = [load(name) for name in names]          # every table parses before anything is written
    return [path for table in tables for path in build_assignment(root, table)]


def main(argv: list[str]) -> int:
    names = argv or assignments()
    unknown = sorted(set(names) - set(assignments()))
    if unknown:
        print(f"samples/build.py: no table samples/recipes/{unknown[0]}.py "
              f"(tables: {', '.join(assignments())})", file=sys.stderr)
        return 2
    try:
        for path in build(names):
            print(path.relative_to(ROOT))
    except ValueError as exc:           # a malformed table or an edit that no longer matches
        print(f"samples/build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
