"""The batch progress bar: counts, rate, ETA, and how many results were reused."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from grader.results import SubmissionResult


class RateColumn(ProgressColumn):
    """Submissions per second over the run so far (rich's speed is smoothed bytes/s)."""

    def render(self, task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed else 0.0
        return Text(f"{rate:.2f}/s" if rate >= 0.1 else f"{60 * rate:.1f}/min", style="progress.data.speed")


class BatchProgress:
    """`on_done` for grade_batch: advances the bar and keeps the tallies it shows."""

    def __init__(self, console: Console, total: int):
        self.progress = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 TextColumn("{task.description}"), console=console, transient=True)
        self.task = self.progress.add_task("", total=total)
        self.reused = self.failed_to_run = 0

    def __enter__(self) -> "BatchProgress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, result: SubmissionResult, reused: bool) -> None:
        self.reused += reused
        self.failed_to_run += result.status != "graded"
        tallies = [f"{self.reused} reused"] if self.reused else []
        tallies += [f"{self.failed_to_run} not run"] if self.failed_to_run else []
        self.progress.update(self.task, advance=1,
                             description=" ".join([result.submission, *(f"({t})" for t in tallies)]))
