"""The sample tables: each bundled sample, how it is made, and the verdict it must get.

One table per assignment, `samples/recipes/<assignment>.py`: plain data, no imports, so
that the builder (samples/build.py), the tests and the README read the same thing. It holds

- `INTRO`: the README text above the sample table;
- `COLUMNS` (optional): the README table's last two column headers;
- `HANDMADE = True` (optional): the notebooks are written by hand, the table only
  documents them and states their verdicts (samples/matrix_calculus);
- `SAMPLES`: sample name -> a record with these keys:
    `wrong`, `breaks`  the README row: what is wrong, which behaviour breaks;
    `expect`           question id -> "status: words": the question loses all its points,
                       gets that status, and its feedback or hints contain the words;
                       the key "*" stands for every question not listed. A question
                       that is not listed (and no "*") must get full marks, status passed;
    `replace`          planted changes, each (cell id, old text, new text[, count]): the
                       exact `old` must occur `count` times (default 1) in that cell of
                       the solution, so a sample cannot silently lose its bug when the
                       solution changes;
    `rewrite`          True: cells written in another style, from
                       `samples/recipes/<assignment>/<sample>.py` (notebook_kit.apply).

The order of SAMPLES is the order of the README's rows.

Whether a graded sample got its table's verdict (`mismatches`, `batch_mismatches`) is asked
by the tests that grade the samples (through tests/sample_verdicts.py) and by the benchmarks
that grade copies of them (benchmarks/bench_batch.py).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"
DEFAULT_COLUMNS = ("what is wrong", "which behaviour breaks")


@dataclass(frozen=True)
class Verdict:
    """What the grader must say about one question of one sample."""
    status: str                 # passed, failed, error, forbidden, missing, not_implemented
    words: str                  # a fragment of its feedback or hints ("" for passed)
    full_marks: bool

    @classmethod
    def parse(cls, text: str, where: str) -> "Verdict":
        status, sep, words = text.partition(": ")
        if not sep or not words.strip() or status == "passed":
            raise ValueError(f"{where}: expected 'status: words the feedback contains', got {text!r}")
        return cls(status, words, full_marks=False)


PASSED = Verdict("passed", "", full_marks=True)


@dataclass(frozen=True)
class Recipe:
    name: str
    wrong: str
    breaks: str
    expect: dict[str, str] = field(default_factory=dict)
    replace: tuple = ()
    rewrite: bool = False

    def verdict(self, question: str) -> Verdict:
        """The verdict this sample's `question` must get."""
        text = self.expect.get(question, self.expect.get("*"))
        return PASSED if text is None else Verdict.parse(text, f"{self.name}/{question}")


@dataclass(frozen=True)
class Table:
    assignment: str
    intro: str
    columns: tuple[str, str]
    handmade: bool
    samples: dict[str, Recipe]

    def readme(self) -> str:
        rows = [f"| file | {self.columns[0]} | {self.columns[1]} |", "| --- | --- | --- |"]
        rows += [f"| `{r.name}.ipynb` | {r.wrong} | {r.breaks} |" for r in self.samples.values()]
        return self.intro.rstrip("\n") + "\n\n" + "\n".join(rows) + "\n"


def assignments() -> list[str]:
    """Every assignment that has a sample table."""
    return sorted(p.stem for p in RECIPES.glob("*.py"))


def load(assignment: str) -> Table:
    """The table of `assignment`; a record with an unknown key or a malformed verdict fails here."""
    path = RECIPES / f"{assignment}.py"
    spec = importlib.util.spec_from_file_location(f"sample_recipes_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    samples = {}
    for name, record in module.SAMPLES.items():
        try:
            recipe = Recipe(name=name, **record)
        except TypeError as exc:
            raise ValueError(f"{path.name}: sample {name}: {exc}") from None
        for question in recipe.expect:
            recipe.verdict(question)                # parse now: a typo fails the build, not a test
        samples[name] = recipe
    return Table(assignment, module.INTRO, tuple(getattr(module, "COLUMNS", DEFAULT_COLUMNS)),
                 bool(getattr(module, "HANDMADE", False)), samples)


# -- a graded sample against its table -------------------------------------------------------------

def _get(obj, key: str):
    """`key` of a result: a grader.results object or its results.json dict."""
    return obj[key] if isinstance(obj, dict) else getattr(obj, key)


def mismatches(recipe: Recipe, questions) -> list[str]:
    """How one graded sample differs from its recipe's `expect`, one line per question; empty
    when it matches. `questions`: QuestionResult objects or their results.json dicts."""
    ids = {_get(q, "id") for q in questions}
    out = [f"{recipe.name}: the table names {k!r}, which is no question" for k in recipe.expect
           if k != "*" and k not in ids]
    for q in questions:
        want = recipe.verdict(_get(q, "id"))
        score, max_score, status = _get(q, "score"), _get(q, "max_score"), _get(q, "status")
        text = " ".join([_get(q, "feedback"), *_get(q, "hints")])
        got_full = score == max_score
        if status != want.status or got_full != want.full_marks or (not got_full and score != 0) \
                or want.words not in text:
            out.append(f"{recipe.name}/{_get(q, 'id')}: got {status} {score}/{max_score} ({text[:160]!r}); "
                       f"table says {want.status}, {'full marks' if want.full_marks else '0 points'}, "
                       f"words {want.words!r}")
    return out


def lost(recipe: Recipe, questions) -> set[str]:
    """The questions that the table says lose their points."""
    return {_get(q, "id") for q in questions if not recipe.verdict(_get(q, "id")).full_marks}


def result_mismatches(recipe: Recipe, result) -> list[str]:
    """How one graded submission of the sample `recipe` (a SubmissionResult or its results.json
    dict) differs from the table: a question's verdict, the total."""
    questions = _get(result, "questions")
    out = mismatches(recipe, questions)
    gone = lost(recipe, questions)
    score, max_score = _get(result, "score"), _get(result, "max_score")
    want = max_score - sum(_get(q, "max_score") for q in questions if _get(q, "id") in gone)
    if score != want:
        out.append(f"{recipe.name}: total {score} of {max_score}; the table says {want}")
    return out


def batch_mismatches(table: Table, results: dict, others: set[str]) -> list[str]:
    """How a graded batch (submission -> SubmissionResult or results.json dict) differs from its
    table: a sample graded but not in the table or the other way round, a question's verdict, a
    total. `others`: submissions of the batch that are no sample."""
    graded = set(results) - others
    out = [f"{s}: graded, not in the table" for s in sorted(graded - set(table.samples))]
    out += [f"{s}: in the table, not graded" for s in sorted(set(table.samples) - graded)]
    for sample, recipe in table.samples.items():
        if sample in results:
            out += result_mismatches(recipe, results[sample])
    return out
