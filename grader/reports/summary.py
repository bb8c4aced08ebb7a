"""The batch summary for the instructor: one HTML page over all submissions.

`OUT/summary.html` with its histograms as PNG files in `OUT/summary/`: the
score distribution overall and per question, a table per question (mean,
share of full marks, the most common status and failure reason), the
slowest submissions, every submission that failed to run and why, the
collection notes, and a link to each submission's feedback file.

Deterministic like the results: submissions sorted by id, no timestamps, and
PNGs without matplotlib's version stamp, so the same results give the same
bytes (a re-run that changed nothing shows no diff).
"""

from __future__ import annotations

import math
import statistics
import typing as t
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2

from grader import __version__
from grader.files import write_atomic, write_atomic_bytes
from grader.reports import drawing
from grader.reports.html import inline
from grader.results import QuestionResult, SubmissionResult
from grader.rubric.model import Question, Rubric

#: question statuses that mean the code never produced a value to judge
NEVER_RAN = {"crashed", "timeout", "not_run"}
SLOWEST = 10
_EPS = 1e-9

_env = jinja2.Environment(loader=jinja2.PackageLoader("grader.reports", "templates"), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


# -- histograms ---------------------------------------------------------------------------------

def bar_steps(max_score: float, *, whole_points: bool, fine: int) -> int:
    """How many steps of width max/steps the bars sit on (bars at 0, w, 2w, ... max).

    Fixed by the rubric, not by the data, so that histograms of two batches
    compare: one bar per point when every score is a whole number of points
    (at most 40), else `fine` steps; at least 2, so that a bar lies between
    the end bars (see `histogram`)."""
    if whole_points and float(max_score).is_integer() and 2 <= max_score <= 40:
        return int(max_score)
    return max(fine, 2)


def histogram(scores: t.Iterable[float], max_score: float, steps: int) -> list[int]:
    """Counts for the `steps + 1` bars at k * max_score / steps, k = 0 .. steps.

    The end bars count exact scores only (0, and full marks): a score of 11.9
    out of 12 must never read as full marks. Scores in between go to the
    nearest inner bar, so at least 2 steps are needed."""
    if steps < 2:
        raise ValueError(f"a histogram needs at least 2 steps, got {steps}")
    counts = [0] * (steps + 1)
    width = max_score / steps if max_score > 0 else 1.0
    for score in scores:
        if score <= _EPS:
            k = 0
        elif score >= max_score - _EPS:
            k = steps
        else:
            k = math.floor(score / width + 0.5)
            k = min(max(k, 1), steps - 1)
        counts[k] += 1
    return counts


# -- what the page says ----------------------------------------------------------------------------

def _number(x: float) -> str:
    return f"{round(x, 2):g}"


def _question(r: SubmissionResult, q: Question) -> QuestionResult:
    """The result's answer to a rubric question (a result that lacks it: not run, 0 points)."""
    for qr in r.questions:
        if qr.id == q.id:
            return qr
    return QuestionResult(id=q.id, calls=q.calls, score=0.0, max_score=q.points, status="not_run",
                          feedback="not in this result")


def most_common(items: t.Iterable[str]) -> tuple[str, int] | None:
    """The most frequent item and its count, ties to the first in sort order (stable output)."""
    counts = Counter(items)
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0])) if counts else None


def failure_reason(q: QuestionResult) -> str:
    # The hint is the rubric's name for a known mistake, the same text for every student who made
    # it; the feedback names cases and values, so it only groups when nothing better exists.
    return q.hints[0] if q.hints else q.feedback


@dataclass(frozen=True)
class QuestionRow:
    id: str
    points: float
    mean: str
    full_marks: str
    status: tuple[str, int] | None
    reason: tuple[str, int] | None
    png: str


def question_rows(results: list[SubmissionResult], rubric: Rubric) -> list[QuestionRow]:
    # Failure reasons only from submissions that ran: a notebook that never ran fails every question
    # for one reason (listed on its own), which would drown the question's own common mistake.
    never_ran = {f.submission for f in failed_to_run(results)}
    rows = []
    for q in rubric.questions:
        answers = [_question(r, q) for r in results]
        ran = [a for r, a in zip(results, answers) if r.submission not in never_ran]
        full = sum(a.score >= q.points - _EPS for a in answers)
        rows.append(QuestionRow(
            id=q.id, points=q.points,
            mean=_number(statistics.fmean(a.score for a in answers)) if answers else "–",
            full_marks=f"{100 * full / len(answers):.0f}%" if answers else "–",
            status=most_common(a.status.replace("_", " ") for a in answers),
            reason=most_common(failure_reason(a) for a in ran if a.status != "passed"),
            png=f"summary/{q.id}.png"))
    return rows


@dataclass(frozen=True)
class Failure:
    submission: str
    status: str
    reasons: list[str]


def failed_to_run(results: list[SubmissionResult]) -> list[Failure]:
    """Submissions that could not be graded, or whose every question crashed, timed out or never ran."""
    out = []
    for r in sorted(results, key=lambda r: r.submission):
        never_ran = bool(r.questions) and all(q.status in NEVER_RAN for q in r.questions)
        if r.status == "graded" and not never_ran:
            continue
        reasons = [r.message] if r.message else []
        reasons += r.notebook_issues
        if not reasons:   # nothing at the submission level: what the questions say, once each
            reasons = list(dict.fromkeys(f"{q.status.replace('_', ' ')}: {q.feedback}" for q in r.questions))
        out.append(Failure(r.submission, r.status if r.status != "graded" else "never ran",
                           reasons or ["no reason recorded"]))
    return out


def slowest(seconds: dict[str, float], k: int = SLOWEST) -> list[tuple[str, float]]:
    """The `k` longest-running submissions, slowest first (ties by id, for stable output)."""
    return sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def feedback_link(out: Path, submission: str) -> str | None:
    """`feedback/ID.html` (or `.md`) relative to the summary, URL-quoted; None when neither exists."""
    for suffix in (".html", ".md"):
        if (out / "feedback" / f"{submission}{suffix}").is_file():
            return "feedback/" + quote(submission + suffix, safe="")
    return None


def notebook_link(out: Path, submission: str) -> str | None:
    """`feedback/ID.notebook.html` (format `notebook`: the executed notebook with the verdicts)
    relative to the summary, URL-quoted; None when it does not exist."""
    name = f"{submission}.notebook.html"
    return "feedback/" + quote(name, safe="") if (out / "feedback" / name).is_file() else None


def _header(results: list[SubmissionResult], rubric: Rubric) -> dict[str, t.Any]:
    scores = [r.score for r in results]
    statuses = Counter(r.status for r in results)
    levels = Counter(str(r.sandbox["level"]) for r in results if r.sandbox.get("level") is not None)
    return {
        "assignment": rubric.assignment, "title": rubric.title, "n": len(results),
        "max_score": _number(rubric.max_score),
        "counts": {s: statuses.get(s, 0) for s in ("graded", "invalid", "error")},
        "mean": _number(statistics.fmean(scores)) if scores else "–",
        "median": _number(statistics.median(scores)) if scores else "–",
        "max": _number(max(scores)) if scores else "–",
        "levels": [f"{level} ({n})" for level, n in sorted(levels.items())],
        # the footer: the grader version(s) that wrote the results (merged shards could differ)
        "grader_versions": sorted({r.grader_version for r in results}) or [__version__],
        "rubric_version": rubric.version}


# -- writing ----------------------------------------------------------------------------------------

def _write_histograms(folder: Path, results: list[SubmissionResult], rubric: Rubric) -> None:
    whole = all(not q.partial_credit and float(q.points).is_integer() for q in rubric.questions)
    steps = bar_steps(rubric.max_score, whole_points=whole, fine=20)
    jobs = {"total.png": (histogram((r.score for r in results), rubric.max_score, steps), rubric.max_score,
                          "total score", (6.4, 3.2))}
    for q in rubric.questions:
        # all or nothing: 0 and full marks only (the bar between stays empty); partial: tenths
        steps = 10 if q.partial_credit else 2
        jobs[f"{q.id}.png"] = (histogram((_question(r, q).score for r in results), q.points, steps), q.points,
                               q.id, (3.8, 2.6))
    for name, png in zip(jobs, drawing.draw(list(jobs.values()))):
        write_atomic_bytes(folder / name, png)


def render(out: Path, results: list[SubmissionResult], rubric: Rubric, *,
           seconds: dict[str, float] | None = None, notes: t.Sequence[str] = (), similarity=None) -> str:
    """The page's HTML (the PNGs it links are written by `write_summary`)."""
    ordered = sorted(results, key=lambda r: r.submission)
    return _env.get_template("summary.html.j2").render(
        h=_header(ordered, rubric), questions=question_rows(ordered, rubric),
        slowest=slowest(seconds or {}), failures=failed_to_run(ordered), notes=list(notes),
        submissions=[(r, feedback_link(out, r.submission), notebook_link(out, r.submission)) for r in ordered],
        similarity=similarity, g=_number, inline=inline)


def write_summary(out: Path, results: list[SubmissionResult], rubric: Rubric, *,
                  seconds: dict[str, float] | None = None, notes: t.Sequence[str] = (),
                  similarity=None) -> Path:
    """Write OUT/summary.html and its histograms under OUT/summary/; return the HTML's path.

    `seconds` maps submission id to its grading time (the slowest section is
    left out without it); `notes` are the collection's remarks (duplicates,
    skipped files), shown as they are; `similarity` (grader.reports.similarity.Report, format
    `similarity`) adds the section of flagged pairs."""
    out = Path(out)
    _write_histograms(out / "summary", results, rubric)   # first: the page never links a missing PNG
    path = out / "summary.html"
    write_atomic(path, render(out, results, rubric, seconds=seconds, notes=notes, similarity=similarity))
    return path


__all__: t.Sequence[str] = ("write_summary", "render", "histogram", "bar_steps", "failed_to_run", "slowest",
                            "question_rows", "feedback_link", "notebook_link", "most_common")
