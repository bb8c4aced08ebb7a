"""Grade many submissions: results written as they finish, a killed batch resumed.

For each submission: reuse its earlier result if it still holds
(`resume.previous_result`), else grade it on the executor, write its report
files and then its JSON result atomically, and log it (`log.append`). The
batch reports (gradebook, JUnit, summary) are written once at the end from
every result, reused or new, so a resumed batch ends with the same files as
one that never stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import time
import traceback
import typing as t
from pathlib import Path

from grader.batch import log
from grader.batch.executors import LocalExecutor
from grader.batch.resume import previous_result
from grader.batch.writers import ReportOptions, write_batch, write_result
from grader.config import Config
from grader.errors import OutputError
from grader.pipeline import not_run, submission_result
from grader.reports.result import SubmissionResult
from grader.rubric.model import Rubric
from grader.submissions import Submission

OnDone = t.Callable[[SubmissionResult, bool], None]    # (result, reused)


async def _grade_safely(executor, sub: Submission, rubric: Rubric, public_only: bool,
                        errors_log: Path) -> SubmissionResult:
    try:
        return await executor.grade(sub)
    except Exception:  # noqa: BLE001 - a grader bug costs this submission, not the batch
        errors_log.parent.mkdir(parents=True, exist_ok=True)
        with open(errors_log, "a", encoding="utf-8") as f:
            f.write(f"--- {sub.id} ({sub.path})\n{traceback.format_exc()}\n")
        return submission_result(sub, rubric, "error", public_only=public_only,
                                 message=f"internal grader error (details in {errors_log.name})",
                                 questions=[not_run(q, "internal grader error") for q in rubric.questions])


def _writing(out: Path, action: t.Callable[[], None]) -> None:
    """Run a write; a full disk or a read-only folder stops the batch with one clear line."""
    try:
        action()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG):
            raise OutputError(getattr(exc, "filename", None) or out, exc) from None
        raise


async def grade_batch(subs: list[Submission], rubric: Rubric, cfg: Config, out: Path, *,
                      workers: int, public_only: bool = False, force: bool = False,
                      on_done: OnDone | None = None, report: ReportOptions = ReportOptions(),
                      executor=None, notes: list[str] | None = None) -> list[SubmissionResult]:
    """Every submission's result (sorted by id). Why a result was graded again goes to the
    summary (after `report.notes`, e.g. the collection's) and into `notes` if given."""
    cfg = cfg.with_kernel(batch=True)
    executor = executor or LocalExecutor(rubric, cfg, workers=workers, public_only=public_only, hide=(out,))
    regraded: list[str] = []
    fingerprint = rubric.fingerprint()
    results: list[SubmissionResult] = []

    async def one(sub: Submission) -> None:
        before = previous_result(out, sub, fingerprint=fingerprint, public_only=public_only)
        if before.result is not None and not force:
            _writing(out, lambda: write_result(out, before.result, cfg.formats, rubric, report,
                                               only_missing=True))
            _writing(out, lambda: log.append(out, log.Entry(sub.id, sub.sha256, "reused")))
            results.append(before.result)
            if on_done:
                on_done(before.result, True)
            return
        if before.why_regrade:
            regraded.append(f"{sub.id}: graded again ({before.why_regrade})")
        started = time.perf_counter()
        result = await _grade_safely(executor, sub, rubric, public_only, out / "errors.log")
        seconds = time.perf_counter() - started
        _writing(out, lambda: write_result(out, result, cfg.formats, rubric, report))
        _writing(out, lambda: log.append(out, log.Entry(sub.id, sub.sha256, "graded", round(seconds, 3),
                                                        round(result.student_seconds, 3), before.why_regrade)))
        results.append(result)
        if on_done:
            on_done(result, False)

    async with executor:
        tasks = [asyncio.ensure_future(one(s)) for s in subs]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:   # a full disk (or Ctrl-C) stops the rest; what was written is complete
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    regraded.sort()
    if notes is not None:
        notes.extend(regraded)
    report = dataclasses.replace(report, notes=(*report.notes, *regraded))
    _writing(out, lambda: write_batch(out, results, cfg.formats, rubric, report))
    return sorted(results, key=lambda r: r.submission)
