"""Grade many submissions: results written as they finish, a killed batch resumed.

For each submission: reuse its earlier result if it still holds
(`resume.previous_result`), else grade it on the executor, write its report
files and then its JSON result atomically, and log it (`log.append`). The
batch reports (gradebook, JUnit, summary) are written once at the end from
every result, reused or new, so a resumed batch ends with the same files as
one that never stopped.

Results come only from this process: which earlier results still hold is
decided for every submission before any kernel runs, a result is reused only
when its bytes are the ones the batch log recorded, and at the end `seal`
puts back any result file of this batch that changed on disk, drops log lines
this process did not write, and notes result files nobody logged (ignored).
A kernel can write into the output folder only at a weak sandbox level
(netns, limits): at bwrap and uid the folder does not exist for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import errno
import gc
import os
import time
import traceback
import typing as t
from pathlib import Path

from grader.batch import log
from grader.batch.executors import LocalExecutor
from grader.batch.profile import BatchProfile
from grader.batch.resume import previous_result
from grader.batch.writers import ReportOptions, finish, prepare, result_path, write_batch, write_result
from grader.config import Config
from grader.errors import OutputError
from grader.files import write_atomic_bytes
from grader.pipeline import hidden_paths, not_run, submission_result
from grader.results import SubmissionResult
from grader.sandbox.plan import SandboxPlan
from grader.rubric.model import Rubric
from grader.submissions import Submission

OnDone = t.Callable[[SubmissionResult, bool], None]    # (result, reused)


async def _grade_safely(executor, sub: Submission, rubric: Rubric, public_only: bool,
                        errors_log: Path) -> SubmissionResult:
    """The submission's result. A grader error is logged and the submission graded once more
    (an error that does not come back, such as a race in the interpreter, costs the student
    nothing); a second one gives the result "internal grader error"."""
    for attempt in ("", " (graded again)"):
        try:
            return await executor.grade(sub)
        except Exception:  # noqa: BLE001 - a grader bug costs this submission, not the batch
            errors_log.parent.mkdir(parents=True, exist_ok=True)
            with open(errors_log, "a", encoding="utf-8") as f:
                f.write(f"--- {sub.id} ({sub.path}){attempt}\n{traceback.format_exc()}\n")
    return submission_result(sub, rubric, "error", public_only=public_only,
                             message=f"internal grader error (details in {errors_log.name})",
                             questions=[not_run(q, "internal grader error") for q in rubric.questions])


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def seal(out: Path, results: list[SubmissionResult], written: dict[str, str], log_before: bytes,
         ours: list[log.Entry], formats: t.Iterable[str], rubric: Rubric, report: ReportOptions) -> list[str]:
    """After the batch (no kernel runs any more): the output folder holds only what this
    process wrote. A result file of this batch that changed on disk is written again (with its
    feedback), log lines this process did not write are dropped, and result files that no log
    line names are left alone but noted (nothing reads them). Notes for the summary."""
    notes = []
    for result in results:
        path = result_path(out, result.submission)
        if log.digest(_read_bytes(path)) != written.get(result.submission):
            write_result(out, result, formats, rubric, report)
            notes.append(f"{result.submission}: {path.name} was changed during the batch by another "
                         "hand; written again")
    expected = log_before + b"".join(log.line_of(e) for e in ours)
    if _read_bytes(log.log_path(out)) != expected:
        write_atomic_bytes(log.log_path(out), expected)
        notes.append(f"{log.LOG_NAME}: lines the grader did not write were dropped")
    known = log.result_hashes(log.read(out))
    for path in sorted((out / "results").glob("*.json")):
        if path.stem not in known:
            notes.append(f"{path.name}: not written by the grader (not in {log.LOG_NAME}); ignored")
    return notes


def _writing(out: Path, action: t.Callable[[], t.Any]) -> t.Any:
    """Run a write; a full disk or a read-only folder stops the batch with one clear line."""
    try:
        return action()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EFBIG):
            raise OutputError(getattr(exc, "filename", None) or out, exc) from None
        raise


def kernel_hide(subs: list[Submission], cfg: Config, out: Path, extra: t.Iterable[Path] = ()) -> tuple[Path, ...]:
    """What the batch's kernels must not see besides the course's rubrics and solutions
    (`pipeline.hidden_paths`): the output folder, the config's folder and the folders the
    submissions were found in (other students' notebooks)."""
    folders = {out, cfg.base_dir, *extra, *(Path(s.path).parent for s in subs)}
    return tuple(sorted(Path(os.path.abspath(f)) for f in folders))


async def grade_batch(subs: list[Submission], rubric: Rubric, cfg: Config, out: Path, *,
                      workers: int, public_only: bool = False, force: bool = False,
                      on_done: OnDone | None = None, report: ReportOptions = ReportOptions(),
                      executor=None, notes: list[str] | None = None,
                      hide: t.Iterable[Path] = (), profile: BatchProfile | None = None,
                      plan: SandboxPlan | None = None) -> list[SubmissionResult]:
    """Every submission's result (sorted by id). Why a result was graded again goes to the
    summary (after `report.notes`, e.g. the collection's) and into `notes` if given.
    `hide`: more folders the kernels must not see (the rubric's, when given by path).
    `profile`: where the batch's marks and its kernels' closes go (`--profile`)."""
    cfg = cfg.with_kernel(batch=True)
    # What this process imported (torch: some 200,000 objects) lives as long as it does: out of the
    # collector's sight for the batch, no collection walks it again (the event loop, which serves
    # every kernel, spent 0.35 s collecting in a batch of 40, 0.28 s since)
    gc.freeze()
    out.mkdir(parents=True, exist_ok=True)   # it exists before any kernel does: one it cannot see
    prepare(cfg.formats)                     # the report formats' slow imports, while kernels start
    fingerprint = rubric.fingerprint()
    log_before = _read_bytes(log.log_path(out))
    logged = log.result_hashes(log.read(out))
    # every decision before any kernel runs: nothing a notebook writes can change one
    before = {s.id: previous_result(out, s, fingerprint=fingerprint, public_only=public_only, logged=logged)
              for s in subs}
    kernels_hide = kernel_hide(subs, cfg, out, hide)
    executor = executor or LocalExecutor(rubric, cfg, workers=workers, public_only=public_only,
                                         hide=kernels_hide, closes=profile.closes if profile else None,
                                         plan=plan and plan.hiding(hidden_paths(cfg, kernels_hide)),
                                         expected=sum(1 for s in subs if force or before[s.id].result is None))
    if profile:
        profile.mark("batch")
    regraded: list[str] = []
    results: list[SubmissionResult] = []
    ours: list[log.Entry] = []          # the lines this process appends
    written: dict[str, str] = {}        # submission -> sha256 of the result file it holds

    # Reports are written by one thread of their own, in order: off the event loop, which
    # meanwhile keeps the other workers' kernels busy (a plot takes tens of ms to draw)
    writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="grader-writer")
    loop = asyncio.get_running_loop()

    def write(action: t.Callable[[], t.Any]) -> asyncio.Future:
        return loop.run_in_executor(writer, _writing, out, action)

    def record(entry: log.Entry) -> None:
        _writing(out, lambda: log.append(out, entry))
        ours.append(entry)
        written[entry.submission] = entry.result_sha256

    async def one(sub: Submission) -> None:
        prior = before[sub.id]
        if prior.result is not None and not force:
            await write(lambda: write_result(out, prior.result, cfg.formats, rubric, report, only_missing=True))
            record(log.Entry(sub.id, sub.sha256, "reused", result_sha256=logged[sub.id]))
            results.append(prior.result)
            if on_done:
                on_done(prior.result, True)
            return
        if prior.why_regrade:
            regraded.append(f"{sub.id}: graded again ({prior.why_regrade})")
        started = time.perf_counter()
        result = await _grade_safely(executor, sub, rubric, public_only, out / "errors.log")
        seconds = time.perf_counter() - started     # with the wait for a worker, where phases are unknown
        wrote = time.perf_counter()
        await write(lambda: write_result(out, result, cfg.formats, rubric, report))
        phases = {**result.phases, "write": time.perf_counter() - wrote}
        if result.phases:
            seconds = sum(phases.values())
        phases = {k: round(phases[k], 3) for k in log.PHASES if k in phases}
        record(log.Entry(sub.id, sub.sha256, "graded", round(seconds, 3), round(result.student_seconds, 3),
                         prior.why_regrade, log.digest(result.to_json().encode("utf-8")), phases))
        results.append(result)
        if on_done:
            on_done(result, False)

    try:
        async with executor:
            tasks = [asyncio.ensure_future(one(s)) for s in subs]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:   # a full disk (or Ctrl-C) stops the rest; what was written is complete
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            if profile:
                profile.mark("results")
        regraded += await write(lambda: seal(out, results, written, log_before, ours, cfg.formats, rubric, report))
        regraded.sort()
        if notes is not None:
            notes.extend(regraded)
        report = dataclasses.replace(report, notes=(*report.notes, *regraded))
        await write(lambda: write_batch(out, results, cfg.formats, rubric, report))
    finally:
        writer.shutdown(wait=True)      # a write under way is finished, never cut short
        finish(cfg.formats)
        gc.unfreeze()
    return sorted(results, key=lambda r: r.submission)

