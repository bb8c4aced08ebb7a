"""What a zygote is given, grader side: its environment, its folder, its bubblewrap view.

Shared by the handle that starts a zygote (`zygote_handle`), the provisioner that
asks it for kernels (`warm`) and `SandboxedKernel`, which gives a fresh kernel the
same import-time environment (`zygote_env`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import bwrap

HERE = Path(__file__).parent
ZYGOTE_SCRIPT = HERE / "zygote.py"
#: every file the zygote runs, loaded by path (`zygote._load`): a zygote in bubblewrap
#: sees these and nothing else of the grader, so a new one must be listed here
ZYGOTE_SCRIPTS = (ZYGOTE_SCRIPT, HERE / "zygote_server.py", HERE / "zygote_child.py", HERE / "launcher.py",
                  HERE / "cells_kernel_side.py")


class WarmUnavailable(RuntimeError):
    """The zygote cannot run here; use fresh kernels (the message says why)."""


def zygote_env(threads: int) -> dict[str, str]:
    """The zygote's whole environment: nothing of the grader's.

    Variables read once at import time (thread counts, the matplotlib backend,
    malloc arenas, bytecode writing) are fixed here for every kernel forked
    later; `SandboxedKernel._env` gives a fresh kernel the same ones (it builds on these).
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "MALLOC_ARENA_MAX": "2",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


_kernels_dir: Path | None = None
_kernels_dir_lock = threading.Lock()


def _short_temp_root() -> str:
    """The temp root for kernel folders: a kernel's ipc sockets lie about 50 characters
    below it, and a unix socket path may not exceed 107 bytes ("File name too long":
    the kernel never starts). A long TMPDIR (pytest's, a CI runner's) gives way to /tmp."""
    root = tempfile.gettempdir()
    if len(root) > 48 and os.access("/tmp", os.W_OK | os.X_OK):
        return "/tmp"
    return root


def kernels_dir() -> Path:
    """This grader process's folder of warm kernels (made on first use, removed at exit):
    the zygote's own folder and each warm kernel's workdir and runtime folder go
    here, the one folder a sandboxed zygote sees read-write. Mode 0711: a kernel can
    reach its own folder by its path but not list the others."""
    global _kernels_dir
    with _kernels_dir_lock:
        if _kernels_dir is None or not _kernels_dir.is_dir():
            _kernels_dir = Path(tempfile.mkdtemp(prefix="grader-warm-", dir=_short_temp_root()))
            _kernels_dir.chmod(0o711)
        return _kernels_dir


def remove_kernels_dir() -> None:
    """At exit, once every zygote is stopped: remove the folder of warm kernels."""
    global _kernels_dir
    with _kernels_dir_lock:
        if _kernels_dir is not None:
            shutil.rmtree(_kernels_dir, ignore_errors=True)
            _kernels_dir = None


@dataclass(frozen=True)
class ZygoteSandbox:
    """How a zygote in bubblewrap is sandboxed; fixed for its life, so one zygote serves
    the kernels that ask for the same (a key of `shared_zygote`)."""

    network: bool = False                 # the network is reachable (execution.network: allow)
    hide: tuple[str, ...] = ()            # folders to cover where they lie inside a bound root
    tmp_mb: int = 256                     # size of the /tmp the zygote's kernels share

    @classmethod
    def from_spec(cls, spec: dict) -> ZygoteSandbox:
        """From the "bwrap" entry `SandboxedKernel` puts in a kernel's sandbox. Hidden folders
        outside every bound root are not there anyway; only the others change the zygote."""
        hide = tuple(sorted(p for p in spec.get("hide", ()) if bwrap.covers((Path(p),))))
        return cls(network=bool(spec.get("network")), hide=hide, tmp_mb=int(spec.get("tmp_mb", 256)))

    def options(self, base: Path) -> list[str]:
        return bwrap.zygote_options(base=base, scripts=ZYGOTE_SCRIPTS,
                                    hide=tuple(Path(p) for p in self.hide), network=self.network,
                                    tmp_mb=self.tmp_mb)
