"""Grade many submissions at once: a pool of kernels, results written as they finish.

Concurrency is asyncio: each submission's kernel is its own process, the
grader process only waits on sockets and computes tiny references, so one
event loop drives `workers` kernels at a time. Each result is written
atomically the moment it is ready, so an interrupted batch loses nothing
already graded.
"""

from __future__ import annotations

import asyncio
import json
import traceback
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.config import Config
from grader.pipeline import grade_notebook, not_run, submission_result
from grader.reports import gradebook, gradescope
from grader.reports.result import SubmissionResult, write_atomic
from grader.rubric.model import Rubric
from grader.submissions import Submission


def result_path(out: Path, sub_id: str) -> Path:
    return out / "results" / f"{sub_id}.json"


@dataclass(frozen=True)
class ReportOptions:
    """Settings of the report writers that are not formats."""

    hidden_visibility: gradescope.Visibility = "after_published"   # Gradescope tests of hidden cases


Writer = t.Callable[[Path, SubmissionResult, t.Optional[Rubric], ReportOptions], None]
BatchWriter = t.Callable[[Path, t.List[SubmissionResult], Rubric, ReportOptions], None]


def _gradescope_json(result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> str:
    return json.dumps(gradescope.render(result, rubric, hidden_visibility=opts.hidden_visibility), indent=2) + "\n"


def _write_json(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(result_path(out, result.submission), result.to_json())


def _write_markdown(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import markdown
    from grader.reports.plots import write_plots      # matplotlib: imported only when needed
    folder = out / "feedback"
    plots = write_plots(result.questions, folder, result.submission)
    write_atomic(folder / f"{result.submission}.md", markdown.render(result, plots))


def _write_html(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    from grader.reports import html
    write_atomic(out / "feedback" / f"{result.submission}.html", html.render(result, html.plot_pngs(result)))


def _write_gradescope(out: Path, result: SubmissionResult, rubric: Rubric | None, opts: ReportOptions) -> None:
    write_atomic(out / "gradescope" / f"{result.submission}.json", _gradescope_json(result, rubric, opts))


def _write_gradebook(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    write_atomic(out / "gradebook.csv", gradebook.render(rubric, results))


def _write_junit(out: Path, results: list[SubmissionResult], rubric: Rubric, opts: ReportOptions) -> None:
    from grader.reports import junit
    write_atomic(out / "junit.xml", junit.render(results, rubric))


def _write_gradescope_single(out: Path, results: list[SubmissionResult], rubric: Rubric,
                             opts: ReportOptions) -> None:
    if len(results) == 1:     # Gradescope grades one submission at a time: OUT/results.json is its file
        write_atomic(out / "results.json", _gradescope_json(results[0], rubric, opts))


#: format -> writer of one submission's files, called the moment its result is ready
PER_SUBMISSION: dict[str, Writer] = {
    "json": _write_json, "markdown": _write_markdown, "html": _write_html, "gradescope": _write_gradescope}
#: format -> writer of the batch's files, called once every submission has its result
PER_BATCH: dict[str, BatchWriter] = {
    "csv": _write_gradebook, "junit": _write_junit, "gradescope": _write_gradescope_single}
# "github" (job summary, annotations, step outputs) needs the exit policy: grader/cli/options.py writes it.


def write_result(out: Path, result: SubmissionResult, formats: t.Iterable[str],
                 rubric: Rubric | None = None, opts: ReportOptions = ReportOptions()) -> None:
    """One submission's files: always results/ID.json, then each per-submission format asked for."""
    wanted = set(formats) | {"json"}
    for fmt, writer in PER_SUBMISSION.items():
        if fmt in wanted:
            writer(out, result, rubric, opts)


def write_batch(out: Path, results: list[SubmissionResult], formats: t.Iterable[str], rubric: Rubric,
                opts: ReportOptions = ReportOptions()) -> None:
    wanted = set(formats)
    for fmt, writer in PER_BATCH.items():
        if fmt in wanted:
            writer(out, results, rubric, opts)


async def _grade_safely(sub: Submission, rubric: Rubric, cfg: Config, public_only: bool,
                        errors_log: Path) -> SubmissionResult:
    try:
        return await grade_notebook(sub, rubric, cfg, public_only=public_only)
    except Exception:  # noqa: BLE001 - a grader bug costs this submission, not the batch
        errors_log.parent.mkdir(parents=True, exist_ok=True)
        with open(errors_log, "a", encoding="utf-8") as f:
            f.write(f"--- {sub.id} ({sub.path})\n{traceback.format_exc()}\n")
        return submission_result(sub, rubric, "error", public_only=public_only,
                                 message=f"internal grader error (details in {errors_log.name})",
                                 questions=[not_run(q, "internal grader error") for q in rubric.questions])


async def grade_batch(subs: list[Submission], rubric: Rubric, cfg: Config, out: Path, *,
                      workers: int, public_only: bool = False,
                      on_done: t.Callable[[SubmissionResult], None] | None = None,
                      report: ReportOptions = ReportOptions()) -> list[SubmissionResult]:
    gate = asyncio.Semaphore(max(1, workers))
    results: list[SubmissionResult] = []

    async def one(sub: Submission) -> None:
        async with gate:
            result = await _grade_safely(sub, rubric, cfg, public_only, out / "errors.log")
        write_result(out, result, cfg.formats, rubric, report)
        results.append(result)
        if on_done:
            on_done(result)

    await asyncio.gather(*(one(s) for s in subs))
    write_batch(out, results, cfg.formats, rubric, report)
    return sorted(results, key=lambda r: r.submission)
