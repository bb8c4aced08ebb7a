"""Grade many submissions at once: a pool of kernels, results written as they finish.

Concurrency is asyncio: each submission's kernel is its own process, the
grader process only waits on sockets and computes tiny references, so one
event loop drives `workers` kernels at a time. Each result is written
atomically the moment it is ready, so an interrupted batch loses nothing
already graded.
"""

from __future__ import annotations

import asyncio
import traceback
import typing as t
from pathlib import Path

from grader import __version__
from grader.config import Config
from grader.pipeline import grade_notebook, not_run
from grader.reports import gradebook, markdown
from grader.reports.plots import write_plots
from grader.reports.result import SubmissionResult, write_atomic
from grader.rubric.model import Rubric
from grader.submissions import Submission


def result_path(out: Path, sub_id: str) -> Path:
    return out / "results" / f"{sub_id}.json"


def write_result(out: Path, result: SubmissionResult, formats: t.Iterable[str]) -> None:
    write_atomic(result_path(out, result.submission), result.to_json())
    if "markdown" in formats:
        folder = out / "feedback"
        plots = write_plots(result.questions, folder, result.submission)
        write_atomic(folder / f"{result.submission}.md", markdown.render(result, plots))


async def _grade_safely(sub: Submission, rubric: Rubric, cfg: Config, public_only: bool,
                        errors_log: Path) -> SubmissionResult:
    try:
        return await grade_notebook(sub, rubric, cfg, public_only=public_only)
    except Exception:  # noqa: BLE001 - a grader bug costs this submission, not the batch
        errors_log.parent.mkdir(parents=True, exist_ok=True)
        with open(errors_log, "a", encoding="utf-8") as f:
            f.write(f"--- {sub.id} ({sub.path})\n{traceback.format_exc()}\n")
        return SubmissionResult(
            submission=sub.id, source=str(sub.path), sha256=sub.sha256, assignment=rubric.assignment,
            rubric_version=rubric.version, grader_version=__version__, status="error",
            message=f"internal grader error (details in {errors_log.name})", score=0.0,
            max_score=rubric.max_score, public_only=public_only,
            questions=[not_run(q, "internal grader error") for q in rubric.questions])


async def grade_batch(subs: list[Submission], rubric: Rubric, cfg: Config, out: Path, *,
                      workers: int, public_only: bool = False,
                      on_done: t.Callable[[SubmissionResult], None] | None = None) -> list[SubmissionResult]:
    gate = asyncio.Semaphore(max(1, workers))
    results: list[SubmissionResult] = []

    async def one(sub: Submission) -> None:
        async with gate:
            result = await _grade_safely(sub, rubric, cfg, public_only, out / "errors.log")
        write_result(out, result, cfg.formats)
        results.append(result)
        if on_done:
            on_done(result)

    await asyncio.gather(*(one(s) for s in subs))
    if "csv" in cfg.formats:
        write_atomic(out / "gradebook.csv", gradebook.render(rubric, results))
    return sorted(results, key=lambda r: r.submission)
