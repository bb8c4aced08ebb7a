"""What a report format is, and the formats themselves, loaded from the one table.

A new format is one module (here, beside feedback.py, batch.py and platforms.py, which hold the
bundled formats' records) with its `Format(...)` record and writers, and one line in TABLE of
grader/formats.py naming it. FORMATS below reads that table: the batch's writers
(grader/batch/writers.py), the CLI (grader/cli/options.py) and the reports that gather a
submission's files (the Moodle feedback zip) read FORMATS; none of them lists formats.

A record's module is imported when its format is first looked up; the slow libraries a writer
needs (matplotlib, jinja2, nbconvert, copydetect take up to seconds to import) are imported by
the writer itself, so a batch pays only for the formats it asks for.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from grader import formats as table
from grader.registry import Registry
from grader.reports import gradescope
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


@dataclass(frozen=True)
class ReportOptions:
    """Settings of the report writers that are not formats."""

    hidden_visibility: gradescope.Visibility = "after_published"   # Gradescope tests of hidden cases
    notes: tuple[str, ...] = ()     # lines for the batch summary: skipped files, duplicates, re-grades
    # the per-submission formats written together (set by `write_result`): which sibling files
    # a feedback page may link to
    formats: frozenset[str] = frozenset()
    # format `similarity`: the code cells the students were given (never counted as shared), and
    # the comparison, made once by `write_batch` for similarity.csv and the summary's section
    starter: tuple[str, ...] = ()
    similarity: t.Any = None        # grader.reports.similarity.Report
    # wall seconds of each submission's latest grading, from the batch's log (set by `write_batch`)
    seconds: dict[str, float] = field(default_factory=dict)


Writer = t.Callable[[Path, SubmissionResult, t.Optional[Rubric], ReportOptions], None]
BatchWriter = t.Callable[[Path, t.List[SubmissionResult], Rubric, ReportOptions], None]
OutputPath = t.Callable[[Path, str], Path]


class ReportFormat(t.Protocol):
    """What the writers, the CLI and the config need of a format."""

    name: str
    #: the file it writes for one submission (out folder, submission id): a resumed batch writes
    #: the missing ones; None when it writes none
    output: OutputPath | None
    #: writes one submission's file, the moment its result is ready
    per_submission: Writer | None
    #: writes the batch's files, once every submission has its result
    per_batch: BatchWriter | None
    #: formats it turns on whenever it is on (html: notebook, which the HTML feedback links to)
    implies: tuple[str, ...]
    #: made once per process before a batch's first result, in the background (slow imports)
    warm_up: t.Callable[[], None] | None
    #: run at the batch's end, after its reports: stops what `warm_up` started
    cool_down: t.Callable[[], None] | None
    #: run once before the batch writers, for what several of them share
    before_batch: t.Callable[[list[SubmissionResult], ReportOptions], ReportOptions] | None


@dataclass(frozen=True)
class Format:
    """A format as a record (every format of the table is one)."""

    name: str
    output: OutputPath | None = None
    per_submission: Writer | None = None
    per_batch: BatchWriter | None = None
    implies: tuple[str, ...] = ()
    warm_up: t.Callable[[], None] | None = None
    cool_down: t.Callable[[], None] | None = None
    before_batch: t.Callable[[list[SubmissionResult], ReportOptions], ReportOptions] | None = None


def feedback_file(suffix: str) -> OutputPath:
    """A feedback page beside the others: OUT/feedback/ID{suffix}."""
    return lambda out, sub_id: out / "feedback" / f"{sub_id}{suffix}"


def own_folder(folder: str) -> OutputPath:
    """A JSON file per submission in a folder of the format's own: OUT/{folder}/ID.json."""
    return lambda out, sub_id: out / folder / f"{sub_id}.json"


#: format name -> its record, in grader/formats.py's order, each loaded when first looked up
FORMATS: t.Mapping[str, ReportFormat] = Registry("format", "grader/formats.py", lambda: {
    name: entry.record for name, entry in table.TABLE.items()})


def output_of(fmt: str, out: Path, sub_id: str) -> Path:
    """The file format `fmt` writes for submission `sub_id` under the output folder `out`."""
    path = FORMATS[fmt].output
    if path is None:
        raise KeyError(f"format {fmt} writes no file per submission")
    return path(out, sub_id)
