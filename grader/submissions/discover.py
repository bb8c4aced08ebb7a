"""Turn the paths on the command line into submissions.

A file argument must be a readable notebook (else one-line error, exit 2);
inside a folder every ``*.ipynb`` is a submission (hidden folders and
checkpoints skipped), and a notebook there that cannot be read is still a
submission: it gets a result that says why, so one broken upload never
stops a batch.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, replace
import typing as t
from pathlib import Path

from grader.errors import InputError

if t.TYPE_CHECKING:
    import nbformat

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Submission:
    id: str
    path: Path
    sha256: str
    explicit: bool = True      # named on the command line (errors are fatal) or found in a folder
    student: str | None = None  # the LMS's id of the student(s), when an export says (grader.submissions.ids)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook; every problem is an InputError naming the file."""
    # nbformat (and jsonschema under it, 60 ms) on first use: `grader grade` lists the
    # submissions before it starts the kernels' parent, and reads them afterwards
    import nbformat
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_dir():
        raise InputError(path, "is a folder, expected a .ipynb notebook")
    if path.suffix != ".ipynb":
        raise InputError(path, f"not a notebook: expected a .ipynb file, got '{path.suffix or 'no extension'}'")
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "empty file, not a notebook")
    if size > MAX_NOTEBOOK_BYTES:
        raise InputError(path, f"notebook too large ({size // (1024 * 1024)} MiB, limit "
                               f"{MAX_NOTEBOOK_BYTES // (1024 * 1024)} MiB)")
    try:
        raw = path.read_bytes().decode("utf-8")
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise InputError(path, "not a notebook: the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not a notebook: invalid JSON at line {exc.lineno} column {exc.colno} "
                               f"({exc.msg})") from None
    except ValueError as exc:   # json's int() refuses numbers of over 4300 digits (a DoS guard)
        raise InputError(path, f"not a notebook: {exc}") from None
    except RecursionError:      # json's decoder recurses once per nested [ or {
        raise InputError(path, "not a notebook: JSON nested too deeply") from None
    # nbformat 3 kept its cells in "worksheets": nbformat converts such a notebook (an old
    # Jupyter or tool may still write one), which is no reason to grade it 0
    if not isinstance(data, dict) or ("cells" not in data and "worksheets" not in data):
        raise InputError(path, "not a notebook: JSON without a 'cells' list")
    try:
        with warnings.catch_warnings():   # cell ids missing or repeated: unused here, and a warning
            warnings.simplefilter("ignore", nbformat.warnings.MissingIDFieldWarning)   # would add lines
            warnings.simplefilter("ignore", nbformat.warnings.DuplicateCellId)       # to a one-line error
            invalid: dict = {}      # reads validates (once: a second validate() doubled the cost)
            nb = nbformat.reads(raw, as_version=4, capture_validation_error=invalid)
            if "ValidationError" in invalid:
                raise invalid["ValidationError"]
    except Exception as exc:  # noqa: BLE001 - nbformat raises many types; all mean "bad notebook"
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"not a valid notebook: {msg}") from None
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell.get("source"), str):
            raise InputError(path, "cell source is not text", key=f"cell {index + 1}")
        try:   # JSON may escape a lone surrogate (\ud800): the kernel message cannot carry it
            cell.source.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(path, f"cell source is not valid Unicode ({exc.reason})",
                             key=f"cell {index + 1}") from None
    return nb


def id_for(path: Path, root: Path | None) -> str:
    if root is None:
        return path.stem
    rel = path.relative_to(root).with_suffix("")
    return "-".join(rel.parts)


def discover(paths: list[Path], *, read_named: bool = True) -> list[Submission]:
    """Submissions in command-line order; folders expand to their notebooks, sorted. A notebook
    named here must be valid (`read_named`: checked now; False: the caller does,
    `lms.unreadable_notes(..., named=True)`, as `grader grade` does once the kernels' parent is
    starting); one that cannot be opened is refused either way."""
    found: list[Submission] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for nb in sorted(path.rglob("*.ipynb")):
                rel = nb.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue   # .ipynb_checkpoints and other hidden folders
                found.append(Submission(id_for(nb, path), nb, sha256_of(nb), explicit=False))
        else:
            if read_named:
                read_notebook(path)   # explicit files must be valid: fail fast, exit 2
            try:
                digest = sha256_of(path)
            except OSError:
                read_notebook(path)   # says why, naming the file (exit 2)
                raise
            found.append(Submission(id_for(path, None), path, digest))
    return unique_ids(found)


def unique_ids(found: list[Submission]) -> list[Submission]:
    """Two submissions with the same id get -2, -3 ... in order."""
    ids: dict[str, int] = {}
    unique = []
    for sub in found:
        n = ids[sub.id] = ids.get(sub.id, 0) + 1
        unique.append(sub if n == 1 else replace(sub, id=f"{sub.id}-{n}"))
    return unique
