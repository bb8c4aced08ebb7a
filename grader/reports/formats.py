"""The one table of report formats: for each, what it writes per submission and per batch, the
file it writes for a submission, the formats it turns on, what it prepares once per process.

A new format is one module under grader/reports/ and one line in FORMATS below, plus its name
in grader/formats.py (the config's floor validates `formats:` and may not import this floor;
tests/test_registries.py fails until both agree). The batch's writers (grader/batch/writers.py),
the CLI (grader/cli/options.py) and the reports that gather a submission's files (the Moodle
feedback zip) read this table; none of them lists formats.

Each format's module is imported by its own writer, below: a batch pays only for the formats it
asks for (matplotlib, jinja2, nbconvert, copydetect take up to seconds to import).
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from grader.files import write_atomic
from grader.formats import NAMES
from grader.reports import gradebook, gradescope
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
    before_batch: t.Callable[[list[SubmissionResult], ReportOptions], ReportOptions] | None = None


def _feedback(suffix: str) -> OutputPath:
    return lambda out, sub_id: out / "feedback" / f"{sub_id}{suffix}"


def _own_folder(folder: str) -> OutputPath:
    return lambda out, sub_id: out / folder / f"{sub_id}.json"


def _gradescope_json(result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> str:
    return json.dumps(gradescope.render(result, rubric, hidden_visibility=opts.hidden_visibility), indent=2) + "\n"


def _write_markdown(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import markdown
    path = output_of("markdown", out, result.submission)
    plots: dict[str, str] = {}
    if any(q.plot for q in result.questions):
        from grader.reports.plots import write_plots      # matplotlib: only for a result with a plot
        plots = write_plots(result.questions, path.parent, result.submission)
    write_atomic(path, markdown.render(result, plots, notebook=_notebook_link(result, opts)))


def _write_html(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import html
    write_atomic(output_of("html", out, result.submission),
                 html.render(result, html.plot_pngs(result), notebook=_notebook_link(result, opts)))


def _notebook_link(result: SubmissionResult, opts: ReportOptions) -> str | None:
    """The executed notebook's page, relative to the feedback folder, when it is written too."""
    if "notebook" not in opts.formats:
        return None
    return quote(output_of("notebook", Path(), result.submission).name, safe="")


def _write_notebook(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import notebook       # nbconvert: imported only when asked for
    path = output_of("notebook", out, result.submission)
    if result.executed is None and path.exists():
        return      # a result reused or written again: its notebook was not run now, its page stands
    links = [(label, quote(output_of(fmt, out, result.submission).name, safe=""))
             for fmt, label in (("html", "the feedback page"), ("markdown", "the feedback page (Markdown)"))
             if fmt in opts.formats or output_of(fmt, out, result.submission).is_file()][:1]
    write_atomic(path, notebook.page(result, links=links))


def _warm_notebook() -> None:
    from grader.reports import notebook_cells     # nbconvert's import and exporter: about a second
    notebook_cells.prepare()


def _write_gradescope(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(output_of("gradescope", out, result.submission), _gradescope_json(result, rubric, opts))


def _write_classroom(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import classroom      # the step output itself: grader/cli/options.py
    doc = classroom.fit(classroom.render(result))     # what the step output holds for this notebook alone
    write_atomic(output_of("classroom", out, result.submission),
                 json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _write_prairielearn(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import prairielearn
    write_atomic(output_of("prairielearn", out, result.submission), prairielearn.dumps(result))


def _write_gradebook(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    write_atomic(out / "gradebook.csv", gradebook.render(rubric, results))


def _write_summary(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    from grader.reports.summary import write_summary   # matplotlib and jinja2: only when asked for
    write_summary(out, results, rubric, seconds=opts.seconds, notes=opts.notes, similarity=opts.similarity)


def _compare(results: list[SubmissionResult], opts: ReportOptions) -> ReportOptions:
    """Read after grading, and only when asked for: it never sets a score (similarity.csv and
    the summary's section share it)."""
    from grader.reports import similarity
    return dataclasses.replace(opts, similarity=similarity.compare_results(results, opts.starter))


def _write_similarity(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    from grader.reports import similarity
    write_atomic(out / "similarity.csv", similarity.render_csv(opts.similarity))


def _write_junit(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    from grader.reports import junit
    write_atomic(out / "junit.xml", junit.render(results, rubric))


def _write_gradescope_single(out: Path, results: list[SubmissionResult], rubric: Rubric,
                             opts: ReportOptions) -> None:
    if len(results) == 1:     # Gradescope grades one submission at a time: OUT/results.json is its file
        write_atomic(out / "results.json", _gradescope_json(results[0], rubric, opts))


#: format name -> its record, in grader/formats.py's order. Writers run in this order: a
#: submission's notebook page after its markdown and html pages (it links to one that exists).
FORMATS: dict[str, ReportFormat] = {f.name: f for f in (
    # results/ID.json: always written, and last, by grader/batch/writers.py (its presence marks
    # a submission done for a resumed batch)
    Format("json"),
    Format("markdown", _feedback(".md"), _write_markdown),
    Format("html", _feedback(".html"), _write_html, implies=("notebook",)),
    Format("csv", per_batch=_write_gradebook),
    Format("summary", per_batch=_write_summary),
    Format("junit", per_batch=_write_junit),
    Format("gradescope", _own_folder("gradescope"), _write_gradescope, _write_gradescope_single),
    # job summary, annotations, step outputs: written by grader/cli/options.py (needs the exit policy)
    Format("github", implies=("junit",)),
    Format("classroom", _own_folder("classroom"), _write_classroom),
    Format("prairielearn", _own_folder("prairielearn"), _write_prairielearn),
    Format("notebook", _feedback(".notebook.html"), _write_notebook, warm_up=_warm_notebook),
    Format("similarity", per_batch=_write_similarity, before_batch=_compare),
)}
assert tuple(FORMATS) == NAMES, "grader/formats.py and this table must list the same formats"


def output_of(fmt: str, out: Path, sub_id: str) -> Path:
    """The file format `fmt` writes for submission `sub_id` under the output folder `out`."""
    path = FORMATS[fmt].output
    if path is None:
        raise KeyError(f"format {fmt} writes no file per submission")
    return path(out, sub_id)
