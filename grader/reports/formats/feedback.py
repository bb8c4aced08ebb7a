"""The per-submission feedback pages: markdown, html and the executed notebook (`notebook`),
each a file of OUT/feedback/ that links to the others written beside it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from grader.files import write_atomic
from grader.reports import markdown
from grader.reports.formats import Format, ReportOptions, feedback_file, output_of
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


def _write_markdown(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    path = output_of("markdown", out, result.submission)
    plots: dict[str, str] = {}
    if any(q.plot for q in result.questions):
        from grader.reports.plots import write_plots      # matplotlib: only for a result with a plot
        plots = write_plots(result.questions, path.parent, result.submission)
    write_atomic(path, markdown.render(result, plots, notebook=_notebook_link(result, opts)))


def _write_html(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import html      # jinja2
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


MARKDOWN = Format("markdown", feedback_file(".md"), _write_markdown)
HTML = Format("html", feedback_file(".html"), _write_html, implies=("notebook",))
NOTEBOOK = Format("notebook", feedback_file(".notebook.html"), _write_notebook, warm_up=_warm_notebook)
