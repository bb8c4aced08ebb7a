"""The bundled samples' expected verdicts, read from the tables the samples are built from
(samples/recipes/<assignment>.py, through samples/sample_table.py): a sample and the verdict
it must get sit side by side there, and every test of the samples compares with that."""

from __future__ import annotations

import importlib.util
import sys

from helpers import ROOT


def _load_sample_table():
    spec = importlib.util.spec_from_file_location("sample_table", ROOT / "samples" / "sample_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sample_table", module)      # dataclasses look their module up
    spec.loader.exec_module(sys.modules["sample_table"])
    return sys.modules["sample_table"]


sample_table = _load_sample_table()


def table(assignment: str):
    """The sample table of `assignment` (sample_table.Table)."""
    return sample_table.load(assignment)


def _get(q, key: str):
    return q[key] if isinstance(q, dict) else getattr(q, key)


def mismatches(recipe, questions) -> list[str]:
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


def lost(recipe, questions) -> set[str]:
    """The questions that the table says lose their points."""
    return {_get(q, "id") for q in questions if not recipe.verdict(_get(q, "id")).full_marks}


def batch_mismatches(table, results: dict, others: set[str]) -> list[str]:
    """How a graded batch (submission -> SubmissionResult) differs from its table: a sample
    graded but not in the table or the other way round, a question's verdict, a total."""
    graded = set(results) - others
    out = [f"{s}: graded, not in the table" for s in sorted(graded - set(table.samples))]
    out += [f"{s}: in the table, not graded" for s in sorted(set(table.samples) - graded)]
    for sample, recipe in table.samples.items():
        if sample in results:
            r = results[sample]
            out += mismatches(recipe, r.questions)
            gone = lost(recipe, r.questions)
            want = r.max_score - sum(q.max_score for q in r.questions if q.id in gone)
            if r.score != want:
                out.append(f"{sample}: total {r.score} of {r.max_score}; the table says {want}")
    return out
