"""The style corpus (tests/style_corpus): correct code in unusual styles gets full marks, no flag.

One fixture grades every notebook on warm kernels (one batch per assignment,
about 1.5 minutes on 2 cores); each notebook is then its own test, named by
assignment and style, whose failure lists every question that lost points
with the grader's feedback.
"""

from __future__ import annotations

import pytest

import helpers
from grader.checks.semantics import load_rubric

from style_corpus.build import styles_of, whole_notebooks
from style_corpus.styles import IMPLEMENTATIONS
from style_corpus.run import flags, grade_corpus, shortfalls

NOTEBOOKS = [f"{a}_style{k + 1}" for a in IMPLEMENTATIONS for k in range(styles_of(a))] + [
    p.stem for a in IMPLEMENTATIONS for p in whole_notebooks(a)]


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    return grade_corpus(tmp_path_factory.mktemp("styles"))


def test_every_question_has_three_styles():
    assert set(IMPLEMENTATIONS) == {p.stem for p in (helpers.ROOT / "rubrics").glob("*.yaml")}
    for assignment, names in IMPLEMENTATIONS.items():
        rubric = load_rubric(helpers.ROOT / "rubrics" / f"{assignment}.yaml")
        assert {q.calls[0] for q in rubric.questions} <= set(names), assignment
        for name, versions in names.items():
            assert len(versions) >= 3, (assignment, name)
            assert len(set(versions)) == len(versions), (assignment, name, "repeats a version")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_correct_style_gets_full_marks_and_no_flag(name, style_run):
    result = style_run.results[name]
    assert shortfalls(result) == [], f"{name} ({style_run.assignment_of[name]}): {shortfalls(result)}"
    assert result.score == result.max_score
    assert flags(result) == [], f"{name}: {flags(result)}"
