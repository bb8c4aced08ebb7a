"""The style corpus: correct notebooks written unlike the solutions (issue 16).

`styles.IMPLEMENTATIONS` holds, per assignment and per graded name, several
short correct implementations in styles the solutions do not use (numpy
scalars and arrays, comprehensions, helpers and classes, lambdas, recursion,
local names that shadow library names); `styles.SETTINGS` and
`styles.EXTRAS` the cells around them (IPython settings and magics, plots,
the student's own seed, print debugging, `__main__` blocks, a checking cell
that imports `torch.func.grad`). `build.notebooks` turns them into notebooks:
every one must score full marks with no flag (tests/test_style_corpus.py).
Add to it whenever a false fail is found.
"""

import sys
from pathlib import Path

# `helpers` lives beside this package (pytest puts tests/ on the path; the
# table script, run from the repository root, does not)
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
