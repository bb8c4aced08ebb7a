"""The batch summary page (grader/reports/summary.py) from synthetic results: no kernels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from grader.results import DeviceCount, QuestionResult, SubmissionResult
from grader.reports.summary import (bar_steps, failed_to_run, histogram, question_rows, slowest,
                                    write_summary)
from grader.checks.semantics import load_rubric

import helpers

RUBRIC = load_rubric(helpers.RUBRIC)
HOSTILE = "<script>alert(1)"   # ids are file names: no slash


def question(qid: str, status: str = "passed", *, feedback: str = "", hints: list[str] | None = None,
             score: float | None = None) -> QuestionResult:
    points = next(q.points for q in RUBRIC.questions if q.id == qid)
    if score is None:
        score = points if status == "passed" else 0.0
    return QuestionResult(id=qid, calls=[qid], score=score, max_score=points, status=status,
                          feedback=feedback or status, hints=hints or [], cases={"cpu": DeviceCount(total=1)})


def result(sub: str, status: str = "graded", *, message: str = "", issues: list[str] | None = None,
           sandbox: dict | None = None, **overrides: QuestionResult) -> SubmissionResult:
    """Every rubric question passed unless overridden (`grad_inner=question(...)`)."""
    questions = [overrides.get(q.id, question(q.id)) for q in RUBRIC.questions]
    return SubmissionResult(submission=sub, source=f"{sub}.ipynb", sha256="0" * 64, assignment=RUBRIC.assignment,
                            rubric_version=1, grader_version="0", status=status, message=message,
                            score=sum(q.score for q in questions), max_score=RUBRIC.max_score,
                            sandbox=sandbox or {}, notebook_issues=issues or [], questions=questions)


def every(status: str, feedback: str) -> dict[str, QuestionResult]:
    return {q.id: question(q.id, status, feedback=feedback) for q in RUBRIC.questions}


SIGN = "sign flipped: your result is minus the gradient"
RESULTS = [
    result("alice", sandbox={"level": "bwrap"}),
    result("bob", sandbox={"level": "bwrap"},
           grad_inner=question("grad_inner", "failed", hints=[SIGN], feedback="3 of 12 cases failed; first ..."),
           grad_chain_rule=question("grad_chain_rule", "failed", hints=["keep the dtype"])),
    result("carla", sandbox={"level": "rlimits"},
           grad_inner=question("grad_inner", "failed", hints=[SIGN], feedback="12 of 12 cases failed; first ...")),
    result("dmitri", "invalid", message="not a notebook: invalid JSON at line 1 column 1",
           **every("not_run", "the notebook could not be read")),
    result("elena", "error", message="the kernel did not start", **every("not_run", "the kernel did not start")),
    result("farid", issues=["cell 3: the kernel died (restarted)"], **every("crashed", "the kernel died")),
    result("grace", message="stopped at the submission time limit (60 s)", **every("timeout", "timed out")),
    result("hiroshi", **every("not_run", "no case could run here")),
    result(HOSTILE, message=f"<img src=x onerror=alert(2)> {HOSTILE}", **every("timeout", "timed out")),
    # one crash among passing questions: it ran, so it is not in the failed list
    result("ines", grad_inner=question("grad_inner", "crashed", feedback="the kernel died")),
]
SECONDS = {f"s{i:02d}": float(i % 7) for i in range(14)} | {"alice": 6.0}
NOTES = ["duplicate id: bob.ipynb graded as bob-2", f"skipped {HOSTILE}.txt: not a notebook"]


def _write(out: Path) -> Path:
    (out / "feedback").mkdir(parents=True)
    (out / "feedback" / "alice.html").write_text("x")
    (out / "feedback" / "alice.md").write_text("x")     # the HTML one wins
    (out / "feedback" / "bob.md").write_text("x")
    (out / "feedback" / f"{HOSTILE}.html").write_text("x")
    return write_summary(out, RESULTS, RUBRIC, seconds=SECONDS, notes=NOTES)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Path, str]:
    path = _write(tmp_path_factory.mktemp("summary"))
    return path, path.read_text(encoding="utf-8")


def section(html: str, title: str) -> str:
    m = re.search(rf"<h2>{title}</h2>(.*?)(?=<h2>|</body>)", html, re.S)
    assert m, f"no section {title!r}"
    return m.group(1)


def rows(html: str) -> list[list[str]]:
    """Table rows as lists of cell texts (tags stripped)."""
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if "<td" in row]


# -- binning ------------------------------------------------------------------------------------

def test_histogram_puts_scores_on_the_right_bars():
    assert bar_steps(12, whole_points=True, fine=20) == 12
    assert bar_steps(12, whole_points=False, fine=20) == 20
    assert bar_steps(12.5, whole_points=True, fine=20) == 20
    # one bar per point; 11.5 is not full marks, so it goes to the bar below the top one
    assert histogram([0, 0, 3, 2.6, 11.5, 12, 12], 12, 12) == [2, 0, 0, 2] + [0] * 7 + [1, 2]
    # fine bars at 0, 0.1, ... 1: a score near 0 is not zero, one near 1 is not full marks
    counts = histogram([0.0, 0.01, 0.1 + 0.2, 0.3, 0.99, 1.0, 1.0], 1.0, 10)
    assert counts == [1, 1, 0, 2, 0, 0, 0, 0, 0, 1, 2]
    assert histogram([0, 2, 2, 0, 2], 2, 2) == [2, 0, 3]   # all-or-nothing question: the middle bar stays empty
    assert bar_steps(1, whole_points=True, fine=20) == 20    # one step would leave no bar between the ends
    with pytest.raises(ValueError):
        histogram([0.5], 1, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), max_size=30), st.sampled_from([2, 3, 5, 10, 20]),
       st.sampled_from([1.0, 2.0, 12.0, 7.5]))
def test_histogram_counts_every_score_once_and_the_ends_exactly(fractions, steps, max_score):
    scores = [f * max_score for f in fractions]
    counts = histogram(scores, max_score, steps)
    assert len(counts) == steps + 1 and sum(counts) == len(scores)
    assert counts[0] == sum(s <= 1e-9 for s in scores)
    assert counts[-1] == sum(s >= max_score - 1e-9 for s in scores)


# -- what the page lists --------------------------------------------------------------------------

def test_failed_list_names_the_submissions_that_never_ran_with_their_reasons(page):
    failures = {f.submission: f for f in failed_to_run(RESULTS)}
    assert sorted(failures) == sorted(["dmitri", "elena", "farid", "grace", "hiroshi", HOSTILE])
    assert failures["dmitri"].status == "invalid" and failures["elena"].status == "error"
    assert failures["dmitri"].reasons == ["not a notebook: invalid JSON at line 1 column 1"]
    assert failures["farid"].reasons == ["cell 3: the kernel died (restarted)"]
    assert failures["grace"].status == "never ran"
    assert failures["grace"].reasons == ["stopped at the submission time limit (60 s)"]
    assert failures["hiroshi"].reasons == ["not run: no case could run here"]   # from the questions, once
    table = {r[0]: r for r in rows(section(page[1], "Failed to run"))}
    assert set(table) == {"dmitri", "elena", "farid", "grace", "hiroshi", "&lt;script&gt;alert(1)"}
    assert table["elena"][1:] == ["error", "the kernel did not start"]
    assert table["grace"][1:] == ["never ran", "stopped at the submission time limit (60 s)"]


def test_slowest_are_the_top_ten_slowest_first(page):
    top = slowest(SECONDS)
    assert [s for _, s in top] == sorted(SECONDS.values(), reverse=True)[:10]
    assert top[:3] == [("alice", 6.0), ("s06", 6.0), ("s13", 6.0)]       # ties by id
    shown = rows(section(page[1], "Slowest submissions"))
    assert [r[0] for r in shown] == [sub for sub, _ in top] and shown[0][1] == "6.0"


def test_slowest_section_is_left_out_without_timings(tmp_path):
    html = write_summary(tmp_path, RESULTS[:2], RUBRIC).read_text()
    assert "Slowest" not in html and "Collection notes" not in html
    assert "sandbox level" in html and "None: every submission ran." in html
    html = write_summary(tmp_path, [result("x")], RUBRIC).read_text()
    assert "sandbox level" not in html                      # no result says which level ran


def test_header_counts_and_scores(page):
    header = dict((r[0], r[1]) for r in re.findall(r"<tr><th>(.*?)</th><td[^>]*>(.*?)</td></tr>",
                                                     page[1].split("<h2>")[0]))
    assert header["submissions"] == str(len(RESULTS))
    assert header["graded / invalid / error"] == "8 / 1 / 1"
    # alice 12, bob 12-1-2=9, carla 11, ines 11, six at 0: mean 43/10, median 0, max 12
    assert header["mean / median / max score"] == "4.3 / 0 / 12 (of 12)"
    assert header["sandbox level"] == "bwrap (2), rlimits (1)"


def test_question_table_has_mean_full_marks_and_the_most_common_failure(page):
    by_id = {r.id: r for r in question_rows(RESULTS, RUBRIC)}
    inner = by_id["grad_inner"]       # passed by alice only: 1 of 10
    assert (inner.points, inner.mean, inner.full_marks) == (1.0, "0.1", "10%")
    assert inner.status == ("not run", 3)                          # dmitri, elena, hiroshi
    # the hint groups bob and carla; the notebooks that never ran (listed apart) do not count
    assert inner.reason == (SIGN, 2)
    chain = by_id["grad_chain_rule"]  # alice, carla, ines passed; 3 not run: ties go to the first name
    assert (chain.full_marks, chain.status, chain.reason) == ("30%", ("not run", 3), ("keep the dtype", 1))
    shown = {r[0]: r for r in rows(section(page[1], "Questions"))}
    assert shown["grad_inner"][1:4] == ["1", "0.1", "10%"] and shown["grad_inner"][5] == f"{SIGN} ×2"


def test_feedback_links_prefer_html_and_quote_the_id(page):
    table = {r[0]: r for r in rows(section(page[1], "Submissions"))}
    assert table["carla"][3] == "none"
    links = re.findall(r'<a href="([^"]+)">', section(page[1], "Submissions"))
    assert links == ["feedback/%3Cscript%3Ealert%281%29.html", "feedback/alice.html",
                     "feedback/bob.md"]


def test_hostile_ids_messages_and_notes_are_escaped(page):
    html = page[1]
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in section(html, "Failed to run")
    assert [re.sub(r"<[^>]+>", "", li) for li in re.findall(r"<li>(.*?)</li>", section(html, "Collection notes"))] \
        == [NOTES[0], "skipped &lt;script&gt;alert(1).txt: not a notebook"]


# -- files --------------------------------------------------------------------------------------

def test_pngs_exist_are_valid_and_every_image_resolves(page):
    path, html = page
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert sorted(sources) == sorted(["summary/total.png"] + [f"summary/{q.id}.png" for q in RUBRIC.questions])
    for src in sources:
        with Image.open(path.parent / src) as img:
            assert img.format == "PNG" and img.size[0] > 100
            img.verify()


def test_same_results_give_the_same_bytes(page, tmp_path):
    again = _write(tmp_path / "again")
    assert again.read_bytes() == page[0].read_bytes()
    first = sorted((page[0].parent / "summary").iterdir())
    second = sorted((again.parent / "summary").iterdir())
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    assert not list(again.parent.rglob("*.tmp"))            # atomic writes leave nothing behind
