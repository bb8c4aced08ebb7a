"""When the report writers run: each format's per-submission writer the moment a result is
ready, its per-batch writer once every submission has one. Which formats there are and what
each writes: the table in grader/formats.py, read by grader/reports/formats/.

The JSON result is written last, after the submission's other files: its
presence is what tells a resumed batch "this one is done", so a batch
killed between two writes never leaves a result without its feedback.
"""

from __future__ import annotations

import dataclasses
import typing as t
from pathlib import Path

from grader.batch import log
from grader.files import write_atomic
from grader.reports.formats import FORMATS, BatchWriter, ReportOptions, Writer, output_of  # noqa: F401 - re-exported
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


def result_path(out: Path, sub_id: str) -> Path:
    return out / "results" / f"{sub_id}.json"


def _write_json(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(result_path(out, result.submission), result.to_json())


def prepare(formats: t.Iterable[str]) -> None:
    """Before a batch's first result: what a format needs once per process, made in the background
    (the notebook format's nbconvert import and exporter take about a second)."""
    wanted = set(formats)
    for fmt in FORMATS.values():
        if fmt.name in wanted and fmt.warm_up is not None:
            fmt.warm_up()


def finish(formats: t.Iterable[str]) -> None:
    """After a batch's reports (or its failure): stop what `prepare` started."""
    wanted = set(formats)
    for fmt in FORMATS.values():
        if fmt.name in wanted and fmt.cool_down is not None:
            fmt.cool_down()


def write_result(out: Path, result: SubmissionResult, formats: t.Iterable[str],
                 rubric: Rubric | None = None, opts: ReportOptions = ReportOptions(), *,
                 only_missing: bool = False) -> None:
    """One submission's files: each per-submission format asked for, then results/ID.json.
    `only_missing`: a result reused by a resumed batch gets just the files it lacks
    (a format asked for now and not then), and its JSON is left as it is."""
    wanted = set(formats)
    opts = dataclasses.replace(opts, formats=frozenset(wanted))
    for fmt in FORMATS.values():
        if fmt.name in wanted and fmt.per_submission is not None:
            if not (only_missing and output_of(fmt.name, out, result.submission).exists()):
                fmt.per_submission(out, result, rubric, opts)
    result.executed = None      # its page is written: the batch keeps results, not notebooks, till the end
    if not only_missing:
        _write_json(out, result, rubric, opts)


def write_batch(out: Path, results: list[SubmissionResult], formats: t.Iterable[str], rubric: Rubric,
                opts: ReportOptions = ReportOptions()) -> None:
    wanted = set(formats)
    results = sorted(results, key=lambda r: r.submission)   # the same files whatever order they finished in
    opts = dataclasses.replace(opts, seconds=log.latest_seconds(log.read(out)))
    on = [fmt for fmt in FORMATS.values() if fmt.name in wanted]
    for fmt in on:
        if fmt.before_batch is not None:
            opts = fmt.before_batch(results, opts)
    for fmt in on:
        if fmt.per_batch is not None:
            fmt.per_batch(out, results, rubric, opts)
    # no format of its own: wherever a Moodle export's students got feedback pages, Moodle can take
    # them back in one upload, so the zip comes with them (grader/reports/moodle_feedback.py)
    if wanted & {"markdown", "html", "notebook"}:
        from grader.reports import moodle_feedback     # nbformat: only where feedback pages were asked for
        moodle_feedback.write(out, results, wanted)
