"""Grading many submissions: the batch loop (`run`), where each is graded
(`executors`), what is reused on a rerun (`resume`), the batch log (`log`),
slices for CI matrices (`shard`), joining slices (`merge`) and the report
writers (`writers`)."""

from grader.batch.writers import ReportOptions, result_path, write_batch, write_result

__all__ = ["ReportOptions", "grade_batch", "result_path", "write_batch", "write_result"]


def __getattr__(name: str):
    # grade_batch pulls in torch (through the pipeline): imported on first use, so the
    # CLI answers --help and bad input without paying for it
    if name == "grade_batch":
        from grader.batch.run import grade_batch
        return grade_batch
    raise AttributeError(f"module 'grader.batch' has no attribute {name!r}")
