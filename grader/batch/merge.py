"""Join the outputs of `grade --shard i/n` runs into one batch output.

Each shard folder holds results/*.json (plus feedback and Gradescope files)
for its slice. Merging copies those files into one folder, checks that every
result was graded against the same rubric, and that no submission appears in
two shards with different results; the batch reports are then written from
the joined results exactly as an unsharded run writes them, so the gradebook
is the same file.
"""

from __future__ import annotations

from pathlib import Path

import pydantic

from grader.batch import log
from grader.errors import InputError
from grader.files import write_atomic_bytes
from grader.results import SubmissionResult
from grader.rubric.model import Rubric

COPIED = ("results", "feedback", "gradescope")   # per-submission folders of a batch output


def read_results(folder: Path, notes: list[str] | None = None) -> dict[str, tuple[SubmissionResult, bytes, Path]]:
    """The shard's results that its batch log names (others were not written by the grader:
    skipped, and said in `notes`)."""
    found = {}
    results = folder / "results"
    if not results.is_dir():
        raise InputError(folder, "not a batch output: no results/ folder")
    logged = log.result_hashes(log.read(folder))
    for path in sorted(results.glob("*.json")):
        if not logged.get(path.stem):
            if notes is not None:
                notes.append(f"{path}: not in {log.LOG_NAME} (not written by the grader); skipped")
            continue
        raw = path.read_bytes()
        try:
            found[path.stem] = (SubmissionResult.model_validate_json(raw), raw, path)
        except (pydantic.ValidationError, ValueError):
            raise InputError(path, "not a grading result (corrupted or foreign JSON); regrade that shard") from None
    return found


def merge_results(shards: list[Path], rubric: Rubric, notes: list[str] | None = None) -> list[SubmissionResult]:
    """Every result of every shard, checked for one rubric, no conflicting duplicates, and
    bytes that are the ones its shard's batch log recorded (else that shard is regraded)."""
    fingerprint = rubric.fingerprint()
    merged: dict[str, tuple[SubmissionResult, bytes, Path]] = {}
    hashes = {}
    for folder in shards:
        logged = log.result_hashes(log.read(folder))
        for sub_id, (result, raw, path) in read_results(folder, notes).items():
            hashes[path] = (logged[sub_id], log.digest(raw))
            if result.assignment != rubric.assignment or result.rubric_sha256 != fingerprint:
                raise InputError(path, f"graded against another rubric than {rubric.assignment} as it is now")
            if sub_id in merged and merged[sub_id][1] != raw:
                raise InputError(path, f"'{sub_id}' is also in {merged[sub_id][2]} with another result")
            merged[sub_id] = (result, raw, path)
    for path, (recorded, actual) in hashes.items():
        if recorded != actual:
            raise InputError(path, f"changed after the grader wrote it (its sha256 is not the one in "
                             f"{log.LOG_NAME}); regrade that shard")
    if not merged:
        raise InputError(shards[0], "no results to merge")
    return [merged[k][0] for k in sorted(merged)]


def copy_outputs(shards: list[Path], dest: Path) -> None:
    """Per-submission files of every shard into dest (each atomically, names kept), and
    the shards' batch logs and error logs joined (written whole, so merging twice is harmless)."""
    for folder in shards:
        for name in COPIED:
            base = folder / name
            logged = log.result_hashes(log.read(folder)) if name == "results" else {}
            for src in sorted(base.rglob("*")) if base.is_dir() else []:
                if name == "results" and not logged.get(src.stem):
                    continue        # not the grader's (`read_results` said so)
                if src.is_file() and not src.name.startswith("."):
                    write_atomic_bytes(dest / name / src.relative_to(base), src.read_bytes())
    for name in (log.LOG_NAME, "errors.log"):
        parts = [(folder / name).read_bytes() for folder in shards if (folder / name).is_file()]
        if parts:
            write_atomic_bytes(dest / name, b"".join(parts))
