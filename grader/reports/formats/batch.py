"""The formats written once per batch, when every submission has its result: csv (gradebook.csv),
summary (summary.html), junit (junit.xml) and similarity (similarity.csv)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from grader.files import write_atomic
from grader.reports import gradebook, junit, similarity    # copydetect: imported by similarity's comparison
from grader.reports.formats import Format, ReportOptions
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


def _write_gradebook(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    write_atomic(out / "gradebook.csv", gradebook.render(rubric, results))


def _write_summary(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    from grader.reports.summary import write_summary   # matplotlib and jinja2: only when asked for
    write_summary(out, results, rubric, seconds=opts.seconds, notes=opts.notes, similarity=opts.similarity)


def _write_junit(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    write_atomic(out / "junit.xml", junit.render(results, rubric))


def _compare(results: list[SubmissionResult], opts: ReportOptions) -> ReportOptions:
    """Read after grading, and only when asked for: it never sets a score (similarity.csv and
    the summary's section share it)."""
    return dataclasses.replace(opts, similarity=similarity.compare_results(results, opts.starter))


def _write_similarity(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    write_atomic(out / "similarity.csv", similarity.render_csv(opts.similarity))


CSV = Format("csv", per_batch=_write_gradebook)
def _start_drawing() -> None:
    from grader.reports import drawing     # subprocess only; the helpers import matplotlib themselves
    drawing.start()


def _stop_drawing() -> None:
    from grader.reports import drawing
    drawing.stop()


# its histograms are drawn by helper processes that live as long as the batch (grader/reports/drawing.py)
SUMMARY = Format("summary", per_batch=_write_summary, warm_up=_start_drawing, cool_down=_stop_drawing)
JUNIT = Format("junit", per_batch=_write_junit)
SIMILARITY = Format("similarity", per_batch=_write_similarity, before_batch=_compare)
