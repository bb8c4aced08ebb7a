"""Report writers, one per format: per submission (the moment its result is
ready) and per batch (once every submission has one).

The JSON result is written last, after the submission's other files: its
presence is what tells a resumed batch "this one is done", so a batch
killed between two writes never leaves a result without its feedback.
"""

from __future__ import annotations

import dataclasses
import json
import typing as t
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from grader.files import write_atomic
from grader.reports import gradebook, gradescope
from grader.reports.outputs import OUTPUT_OF
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


# Each format's module is imported by its own writer, below: a batch pays only for the formats
# it asks for (matplotlib, jinja2, nbconvert, copydetect take up to seconds to import).


def result_path(out: Path, sub_id: str) -> Path:
    return out / "results" / f"{sub_id}.json"


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


Writer = t.Callable[[Path, SubmissionResult, t.Optional[Rubric], ReportOptions], None]
BatchWriter = t.Callable[[Path, t.List[SubmissionResult], Rubric, ReportOptions], None]


def _gradescope_json(result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> str:
    return json.dumps(gradescope.render(result, rubric, hidden_visibility=opts.hidden_visibility), indent=2) + "\n"


def _write_json(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(result_path(out, result.submission), result.to_json())


def _write_markdown(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import markdown
    path = OUTPUT_OF["markdown"](out, result.submission)
    plots: dict[str, str] = {}
    if any(q.plot for q in result.questions):
        from grader.reports.plots import write_plots      # matplotlib: only for a result with a plot
        plots = write_plots(result.questions, path.parent, result.submission)
    write_atomic(path, markdown.render(result, plots, notebook=_notebook_link(result, opts)))


def _write_html(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import html
    write_atomic(OUTPUT_OF["html"](out, result.submission),
                 html.render(result, html.plot_pngs(result), notebook=_notebook_link(result, opts)))


def _notebook_link(result: SubmissionResult, opts: ReportOptions) -> str | None:
    """The executed notebook's page, relative to the feedback folder, when it is written too."""
    if "notebook" not in opts.formats:
        return None
    return quote(OUTPUT_OF["notebook"](Path(), result.submission).name, safe="")


def _write_notebook(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import notebook       # nbconvert: imported only when asked for
    path = OUTPUT_OF["notebook"](out, result.submission)
    if result.executed is None and path.exists():
        return      # a result reused or written again: its notebook was not run now, its page stands
    links = [(label, quote(OUTPUT_OF[fmt](out, result.submission).name, safe=""))
             for fmt, label in (("html", "the feedback page"), ("markdown", "the feedback page (Markdown)"))
             if fmt in opts.formats or OUTPUT_OF[fmt](out, result.submission).is_file()][:1]
    write_atomic(path, notebook.page(result, links=links))


def _write_gradescope(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(OUTPUT_OF["gradescope"](out, result.submission), _gradescope_json(result, rubric, opts))


def _write_classroom(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import classroom      # the step output itself: grader/cli/options.py
    doc = classroom.fit(classroom.render(result))     # what the step output holds for this notebook alone
    write_atomic(OUTPUT_OF["classroom"](out, result.submission), json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def _write_prairielearn(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import prairielearn
    write_atomic(OUTPUT_OF["prairielearn"](out, result.submission), prairielearn.dumps(result))


def _write_gradebook(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    write_atomic(out / "gradebook.csv", gradebook.render(rubric, results))


def _write_summary(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    from grader.batch import log
    from grader.reports.summary import write_summary   # matplotlib and jinja2: only when asked for
    write_summary(out, results, rubric, seconds=log.latest_seconds(log.read(out)), notes=opts.notes,
                  similarity=opts.similarity)


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


#: format -> writer of one submission's feedback, called the moment its result is ready
#: (results/ID.json, the "json" format, is always written, and last: `write_result`)
PER_SUBMISSION: dict[str, Writer] = {
    "markdown": _write_markdown, "html": _write_html, "gradescope": _write_gradescope,
    "classroom": _write_classroom, "prairielearn": _write_prairielearn, "notebook": _write_notebook}
#: format -> writer of the batch's files, called once every submission has its result
PER_BATCH: dict[str, BatchWriter] = {
    "csv": _write_gradebook, "summary": _write_summary, "junit": _write_junit,
    "gradescope": _write_gradescope_single, "similarity": _write_similarity}
# "github" (job summary, annotations, step outputs) needs the exit policy: grader/cli/options.py writes it.


def prepare(formats: t.Iterable[str]) -> None:
    """Before a batch's first result: what a format needs once per process, made in the background
    (the notebook format's nbconvert import and exporter take about a second)."""
    if "notebook" in set(formats):
        from grader.reports import notebook_cells
        notebook_cells.prepare()


def write_result(out: Path, result: SubmissionResult, formats: t.Iterable[str],
                 rubric: Rubric | None = None, opts: ReportOptions = ReportOptions(), *,
                 only_missing: bool = False) -> None:
    """One submission's files: each per-submission format asked for, then results/ID.json.
    `only_missing`: a result reused by a resumed batch gets just the files it lacks
    (a format asked for now and not then), and its JSON is left as it is."""
    wanted = set(formats)
    opts = dataclasses.replace(opts, formats=frozenset(wanted))
    for fmt, writer in PER_SUBMISSION.items():
        if fmt in wanted:
            if not (only_missing and OUTPUT_OF[fmt](out, result.submission).exists()):
                writer(out, result, rubric, opts)
    result.executed = None      # its page is written: the batch keeps results, not notebooks, till the end
    if not only_missing:
        _write_json(out, result, rubric, opts)


def write_batch(out: Path, results: list[SubmissionResult], formats: t.Iterable[str], rubric: Rubric,
                opts: ReportOptions = ReportOptions()) -> None:
    wanted = set(formats)
    results = sorted(results, key=lambda r: r.submission)   # the same files whatever order they finished in
    if "similarity" in wanted:      # read after grading, and only when asked for: it never sets a score
        from grader.reports import similarity
        opts = dataclasses.replace(opts, similarity=similarity.compare_results(results, opts.starter))
    for fmt, writer in PER_BATCH.items():
        if fmt in wanted:
            writer(out, results, rubric, opts)
    # no format of its own: wherever a Moodle export's students got feedback pages, Moodle can take
    # them back in one upload, so the zip comes with them (grader/reports/moodle_feedback.py)
    if wanted & {"markdown", "html", "notebook"}:
        from grader.reports import moodle_feedback
        moodle_feedback.write(out, results, wanted)
