"""Unpack an LMS export zip safely, deterministically and once.

An export is input from outside: an entry that would land outside the
target folder (``../x``, ``/etc/x``, ``C:\\x``), a symbolic link, an encrypted
entry or a zip bomb (more entries or more uncompressed bytes than any course
export needs) refuses the whole archive with one line naming it; a genuine
LMS export never contains any of them.

The folder is written once: a marker file holds the zip's sha256, and a
second run over the same zip reuses the folder, so the same command gives
the same paths, hashes and ids (resume depends on it). A different zip under
the same name replaces it; a folder the grader did not write is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from grader.errors import InputError
from grader.files import current_umask
from grader.submissions.discover import sha256_of
from grader.submissions.layout import JUNK

MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 2 * 1024 ** 3
MARKER = ".unpacked-from-sha256"


def unpack(archive: Path, dest: Path, *, max_entries: int = MAX_ENTRIES,
           max_bytes: int = MAX_TOTAL_BYTES) -> Path:
    """Unpack `archive` into `dest` (created, or reused when it holds this same zip); returns `dest`."""
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise InputError(archive, "no such file" if not archive.exists() else "not a file")
    digest = sha256_of(archive)
    if _holds(dest, digest):
        return dest
    if dest.exists() and not (dest / MARKER).is_file():
        raise InputError(dest, f"exists and was not unpacked by the grader; cannot unpack {archive.name} there")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    staging.chmod(0o777 & ~current_umask())   # mkdtemp's 0700 would hide the unpacked work from the TAs
    try:
        _extract(archive, staging, max_entries, max_bytes)
        (staging / MARKER).write_text(digest + "\n")
        if dest.exists():   # moved aside first: an interrupted run leaves the old folder whole, or none
            os.replace(dest, staging.with_name(staging.name + ".old"))
        os.replace(staging, dest)
    except OSError as exc:
        if not _holds(dest, digest):   # else another grader unpacked the same zip meanwhile
            raise InputError(dest, f"cannot unpack {archive.name} there: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(staging.with_name(staging.name + ".old"), ignore_errors=True)
    return dest


def _holds(dest: Path, digest: str) -> bool:
    marker = dest / MARKER
    return marker.is_file() and marker.read_text().strip() == digest


def _extract(archive: Path, into: Path, max_entries: int, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info, rel in _checked_entries(archive, zf.infolist(), max_entries, max_bytes):
                _write_entry(zf, info, into / rel)
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise InputError(archive, f"corrupted or unsupported zip archive: {exc}") from None


def _checked_entries(archive: Path, infos: list[zipfile.ZipInfo], max_entries: int,
                     max_bytes: int) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    if len(infos) > max_entries:
        raise InputError(archive, f"refused: {len(infos)} entries, more than the limit of {max_entries} "
                                  "(a zip bomb?)")
    # binding: zipfile stops each entry at the size the central directory declares (and checks its CRC)
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise InputError(archive, f"refused: {total} bytes uncompressed, more than the limit of "
                                  f"{max_bytes} (a zip bomb?)")
    seen: set[PurePosixPath] = set()
    out = []
    for info in sorted(infos, key=lambda i: i.filename):
        rel = _safe_name(archive, info)
        if rel is None:
            continue
        if rel in seen:
            raise InputError(archive, "refused: the entry appears twice", key=info.filename)
        seen.add(rel)
        out.append((info, rel))
    return out


def _safe_name(archive: Path, info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The entry's path inside the target, or None for junk; unsafe entries refuse the archive."""
    name = info.filename.replace("\\", "/")   # some Windows tools write backslashes
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\0" in name:
        raise InputError(archive, "refused: absolute path in the archive", key=info.filename)
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise InputError(archive, "refused: path leaves the folder (zip-slip)", key=info.filename)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(archive, "refused: symbolic link in the archive", key=info.filename)
    if info.flag_bits & 0x1:
        raise InputError(archive, "refused: encrypted entry", key=info.filename)
    if not parts or parts[0] == JUNK:
        return None
    return PurePosixPath(*parts)


def _write_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
