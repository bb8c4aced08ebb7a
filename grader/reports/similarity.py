"""Similarity flags: pairs of submissions whose code shares more than chance explains.

Format `similarity` (off by default): `OUT/similarity.csv` and a section of
`summary.html` with each flagged pair side by side. It reads the graded
notebooks again after grading and never changes a score.

copydetect does the fingerprinting; this module is the glue around it:

1. Code: a notebook's code cells in order, IPython magics and shell lines
   left out, and every cell that is the starter's own (as `grader assign`
   gave it, spacing aside) dropped. The whole notebook is one document: one
   line answers alone say nothing.
2. Fingerprints: copydetect tokenises the code (names become V, F, O,
   strings S; comments and spacing vanish, so renaming, new comments and
   reformatting change nothing) and hashes every run of K tokenised
   characters. Every run, not a winnowed sample (window 1): winnowing picks
   by hash value, and Python's string hash changes with each process, so
   the same results would give different reports.
3. Chance: fingerprints of the starter code are dropped (copydetect's
   boilerplate), and so are those that more than `common_limit(n)`
   submissions share, as MOSS does: correct short functions look alike, and
   that is not copying.
4. Pairs: only submissions sharing a rare fingerprint are compared;
   copydetect's `compare_files` gives each side's share of its rare code
   that the other has. A pair is flagged when the larger share reaches
   THRESHOLD (the copy may have added code, the original's share stays
   high) over at least MIN_SHARED tokenised characters.

THRESHOLD, MIN_SHARED and the common limit were chosen on the generated
corpus of `benchmarks/bench_similarity.py` (independent students and
disguised copies), which prints recall, false flags and time against the
goals.
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import io
import itertools
import json
import math
import re
import typing as t
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup

from grader.errors import InputError

K = 25                 # tokenised characters per fingerprint (copydetect's default noise threshold)
THRESHOLD = 0.8        # flagged: the larger share of rare code in common reaches this ...
MIN_SHARED = 80        # ... over at least this many tokenised characters
REPORTED = 0.25        # similarity.csv lists pairs from this larger share up
CONTEXT_LINES = 3      # unshared lines kept around shared code in the side-by-side view
_MAGIC = re.compile(r"^\s*[%!]")
# Between cells: a run of K characters the tokeniser keeps, the same in every document. No
# fingerprint then spans two cells (cell order is the easiest disguise and adjacent cells a source
# of chance matches); the run itself is in every document, so it is common and never matches.
SEPARATOR = "\n\n" + "0" * K + "\n\n"
_SHOWN = "\n\n" + ("# " + "\u2500" * K)[:K] + "\n\n"   # how the view shows it: the same length


def common_limit(n: int) -> int:
    """A fingerprint in more than this many of `n` submissions is chance (MOSS's -m is 10)."""
    return max(3, min(10, math.ceil(0.02 * n)))


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    share_a: float           # of a's rare code, the part b has too
    share_b: float
    shared: int              # tokens (tokenised characters: a name is one) of rare code in common
    flagged: bool
    view_a: Markup = Markup("")   # a's code with the shared parts marked (flagged pairs only)
    view_b: Markup = Markup("")

    @property
    def similarity(self) -> float:
        return max(self.share_a, self.share_b)


@dataclass(frozen=True)
class Report:
    compared: int
    pairs: list[Pair]                 # at or above REPORTED, most similar first
    common: int                       # the common_limit used
    skipped: list[str] = field(default_factory=list)   # one line each: why a submission is not in it
    threshold: float = THRESHOLD      # the settings, for the page to state
    min_shared: int = MIN_SHARED
    reported: float = REPORTED

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.flagged]


# -- code ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2048)   # the starter's cells and common cells come back often
def canonical(source: str) -> str:
    """The cell as Python prints it back (`ast.unparse`): comments gone, spacing and redundant
    parentheses normalised, so that `A @x` (which the tokeniser reads as a decorator) and
    `A @ x` are the same; a cell that does not parse stays as it is."""
    try:
        return ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source.strip()


def code_cells(sources: t.Iterable[str]) -> list[str]:
    """Code cells' sources without IPython magics or shell lines (they are not Python)."""
    return ["\n".join(line for line in src.splitlines() if not _MAGIC.match(line)) for src in sources]


def notebook_cells(nb) -> list[str]:
    """The code cells of a notebook (nbformat), as `code_cells` gives them."""
    return code_cells(c.source for c in nb.cells if c.cell_type == "code")


def student_code(cells: t.Sequence[str], starter: t.Sequence[str] = ()) -> str:
    """One document: the cells in order, canonical, without those the starter gave."""
    given = {canonical(s) for s in starter}
    kept = [c for c in map(canonical, cells) if c and c not in given]
    return SEPARATOR.join(kept) + "\n"


def starter_cells(assignments: Path, solutions: Path, assignment: str) -> tuple[str, ...]:
    """The code `grader assign` gave the students: ASSIGNMENTS/NAME.ipynb, else made from the
    solution; () when neither exists (nothing is then excluded but what many share)."""
    from grader.submissions import read_notebook    # nbformat: only for a batch that asks for similarity
    given = assignments / f"{assignment}.ipynb"
    if given.is_file():
        return tuple(notebook_cells(read_notebook(given)))
    solution = solutions / f"{assignment}.ipynb"
    if solution.is_file():
        from grader.authoring.assign import student_notebook   # the rubric loader: only without ASSIGNMENTS/
        return tuple(notebook_cells(student_notebook(read_notebook(solution), assignment, str(solution))))
    return ()


def starter_for(cfg, assignment: str, formats: t.Iterable[str]) -> tuple[str, ...]:
    """`starter_cells` of the course `cfg` when format `similarity` is asked for, else ()."""
    if "similarity" not in formats:
        return ()
    return starter_cells(cfg.path("assignments"), cfg.path("solutions"), assignment)


# -- fingerprints and pairs --------------------------------------------------------------------------

def _fingerprint(name: str, code: str):
    from copydetect import CodeFingerprint   # imported only when similarity is asked for
    return CodeFingerprint(f"{name}.py", K, 1, fp=io.StringIO(code), language="python")


def _drop(fp, hashes: set) -> None:
    """Forget `hashes` in one fingerprint (boilerplate and chance), as copydetect's boilerplate
    argument would; done afterwards, so each document is tokenised once."""
    from copydetect.utils import get_token_coverage
    gone = fp.hashes & hashes
    fp.hashes -= gone
    for h in gone:
        del fp.hash_idx[h]
    fp.token_coverage = get_token_coverage(fp.hash_idx, K, len(fp.filtered_code))


def _candidates(prints: list, limit: int) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, sharing a fingerprint that at most `limit` submissions have."""
    holders: dict[int, list[int]] = defaultdict(list)
    for i, fp in enumerate(prints):
        for h in fp.hashes:
            holders[h].append(i)
    pairs: set[tuple[int, int]] = set()
    for docs in holders.values():
        if 1 < len(docs) <= limit:
            pairs.update(itertools.combinations(docs, 2))
    return pairs


def _view(fp, slices) -> Markup:
    from copydetect.utils import highlight_overlap
    shown = fp.raw_code.replace(SEPARATOR, _SHOWN)     # the same length: the slices still fit
    html, _ = highlight_overlap(shown, slices, "<mark>", "</mark>", truncate=CONTEXT_LINES,
                                escape_html=True)      # the code is escaped; only the marks are HTML
    return Markup(html)


def compare(codes: t.Mapping[str, str], starter: t.Sequence[str] = (), *,
            skipped: t.Sequence[str] = ()) -> Report:
    """Compare every pair of `codes` (submission id -> student_code)."""
    from copydetect import compare_files
    ids = sorted(codes)
    prints = [_fingerprint(i, codes[i]) for i in ids]
    limit = common_limit(len(ids))
    df = Counter(h for fp in prints for h in fp.hashes)
    chance = {h for h, n in df.items() if n > limit}
    if starter:   # copydetect's boilerplate: what the students were given
        chance |= _fingerprint("starter", SEPARATOR.join(map(canonical, starter))).hashes
    for fp in prints:
        _drop(fp, chance)
    pairs = []
    for i, j in sorted(_candidates(prints, limit)):
        shared, (share_a, share_b), slices = compare_files(prints[i], prints[j])
        if max(share_a, share_b) < REPORTED:
            continue
        flagged = max(share_a, share_b) >= THRESHOLD and shared >= MIN_SHARED
        views = (_view(prints[i], slices[0]), _view(prints[j], slices[1])) if flagged else (Markup(""),) * 2
        pairs.append(Pair(ids[i], ids[j], float(share_a), float(share_b), int(shared), flagged, *views))
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b))
    return Report(len(ids), pairs, limit, list(skipped))


def compare_results(results: t.Sequence, starter: t.Sequence[str] = ()) -> Report:
    """Compare the notebooks graded in `results` (SubmissionResult), read again from their source.
    One that is gone, changed since it was graded, or was not a notebook is left out, with a line."""
    codes, skipped = {}, []
    for r in sorted(results, key=lambda r: r.submission):
        try:
            codes[r.submission] = student_code(_graded_cells(r), starter)
        except InputError as exc:
            skipped.append(f"{r.submission}: not compared: {exc}")
    return compare(codes, starter, skipped=skipped)


def _graded_cells(result) -> list[str]:
    """The code cells of the notebook `result` graded: the same bytes (sha256), so already read
    and validated once; plain JSON is enough (nbformat's validation costs more than the rest)."""
    path = Path(result.source)
    if result.status == "invalid":
        raise InputError(path, "not a readable notebook when graded")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read again ({exc.strerror or exc})") from None
    if hashlib.sha256(data).hexdigest() != result.sha256:
        raise InputError(path, "changed since it was graded")
    try:
        cells = json.loads(data)["cells"]
        sources = [c["source"] for c in cells if c.get("cell_type") == "code"]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise InputError(path, f"not a notebook ({type(exc).__name__})") from None
    return code_cells(["".join(s) if isinstance(s, list) else str(s) for s in sources])


# -- similarity.csv ----------------------------------------------------------------------------------

CSV_COLUMNS = ("submission_a", "submission_b", "similarity", "share_a", "share_b", "shared_tokens", "flagged")


def render_csv(report: Report) -> str:
    """One row per pair at or above REPORTED, most similar first; `flagged` is yes or no."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in report.pairs:
        writer.writerow([p.a, p.b, f"{p.similarity:.3f}", f"{p.share_a:.3f}", f"{p.share_b:.3f}", p.shared,
                         "yes" if p.flagged else "no"])
    return out.getvalue()
