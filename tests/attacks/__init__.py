"""The attack corpus: hostile `matrix_calculus` notebooks, each with its exact expected score.

`corpus.ATTACKS` says what each notebook does, which questions its honest part
cannot earn, and the reason the grader must give; `run.grade_corpus` builds
the notebooks and grades them all in one batch; `python -m tests.attacks.table`
prints the attack table (attack | expected | got | sandbox level).
"""

import sys
from pathlib import Path

# `helpers` lives beside this package (pytest puts tests/ on the path; the table
# script, run from the repository root, does not)
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
