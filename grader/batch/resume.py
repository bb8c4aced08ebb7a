"""Resume: which submissions of a batch already have a result that still holds.

A result in OUT/results/ID.json is reused when it was made from the same
notebook bytes, the same rubric (its fingerprint), the same grader version
and the same public/hidden choice, and is not an internal grader error.
Anything else (no file, a file torn or corrupted by a crash, a changed
notebook or rubric) is graded again, and the reason is kept for the summary.
Config settings (timeouts, devices, dtypes) are not part of the key: after
changing them, `--force` re-grades everything.

Only the grader's own results are reused: the file's sha256 must be the one
the batch log recorded when the grader wrote it (`log.result_hashes`). A
file the log does not know, or whose bytes changed since, is graded again,
with the reason: whoever wrote it, it was not this grader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydantic

from grader import __version__
from grader.batch import log
from grader.batch.writers import result_path
from grader.results import SubmissionResult
from grader.submissions import Submission


@dataclass(frozen=True)
class Previous:
    result: SubmissionResult | None   # reusable as it is
    why_regrade: str = ""             # why not, when a file was there ("" when there was none)


def previous_result(out: Path, sub: Submission, *, fingerprint: str, public_only: bool,
                    logged: dict[str, str] | None = None) -> Previous:
    """`fingerprint`: Rubric.fingerprint() of the rubric graded with now. `logged`: the
    batch log's result hashes (`log.result_hashes`; read here when not given)."""
    path = result_path(out, sub.id)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Previous(None)
    except OSError as exc:
        return Previous(None, f"{path.name} could not be read ({exc.strerror})")
    try:
        old = SubmissionResult.model_validate_json(raw)
    except (pydantic.ValidationError, ValueError):
        return Previous(None, f"{path.name} was corrupted (not a result)")
    logged = log.result_hashes(log.read(out)) if logged is None else logged
    if sub.id not in logged or not logged[sub.id]:
        return Previous(None, f"{path.name} is not in the batch log (not written by the grader)")
    if logged[sub.id] != log.digest(raw):
        return Previous(None, f"{path.name} was changed after the grader wrote it")
    changes = {
        "the notebook changed": old.sha256 != sub.sha256,
        "the rubric changed": old.rubric_sha256 != fingerprint,
        f"the grader changed ({old.grader_version} -> {__version__})": old.grader_version != __version__,
        "public-only grading changed": old.public_only != public_only,
        "the last try was an internal grader error": old.status == "error",
        "the result belongs to another submission": old.submission != sub.id,
    }
    reasons = [why for why, changed in changes.items() if changed]
    return Previous(None, "; ".join(reasons)) if reasons else Previous(old)
