"""A generated corpus for the similarity flags: independently written
matrix_calculus notebooks and disguised copies of some of them.

`variants` writes one student's notebook from their own random choices (how
each function is written, their own test cells and helpers, kept or dropped
starter cells); `disguise` turns a notebook into a copy an instructor should
catch: names changed, functions reordered, comments and whitespace changed,
an extra helper that nothing calls. `build.corpus` writes N notebooks of which
a share are copies, and says which pairs are copies.

Every notebook is correct code, so the same corpus can be graded.
"""

import sys
from pathlib import Path

# the style corpus lives beside this package (pytest puts tests/ on the path; the benchmark,
# run from the repository root, does not)
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
