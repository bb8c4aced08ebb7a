"""Course-wide defaults from `config.yaml` (timeouts, limits, workers, paths).

Paths in the file are relative to the file's own folder, the course folder.
Which file a command uses is decided by `grader.course`; this module only
loads and validates it.
"""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

from pydantic import Field

from grader.formats import DEFAULT, NAMES
from grader.yamlmodel import StrictModel, load_yaml_model

Device = t.Literal["cpu", "cuda"]
DType = t.Literal["float32", "float64"]
#: report formats (`formats:` here, `--format` on the command line): the names of the table in
#: grader/formats.py (each format's record is in the module its line names)
Format = t.Literal[NAMES]     # type: ignore[valid-type]   # Literal of the table's names
FORMATS: tuple[str, ...] = t.get_args(Format)


class Paths(StrictModel):
    assignments: Path = Path("assignments")
    solutions: Path = Path("solutions")
    rubrics: Path = Path("rubrics")
    samples: Path = Path("samples")
    out: Path = Path("reports")


class Execution(StrictModel):
    """Limits for one submission's kernel. Times in seconds, sizes in MiB/KiB."""

    cell_timeout: float = Field(30, gt=0, description="wall-clock limit per notebook cell")
    submission_timeout: float = Field(300, gt=0, description="wall-clock limit for a whole submission")
    call_timeout: float = Field(10, gt=0, description="default limit per call of a student's function")
    startup_timeout: float = Field(60, gt=0, description="limit for the kernel to become ready")
    memory_mb: int = Field(2048, ge=512, description="memory limit of the kernel: RLIMIT_AS per process (on "
                           "CPU), and the memory cgroup of its whole tree where cgroups are writable")
    cpu_seconds: int = Field(600, gt=0, description="CPU-time limit over the kernel's whole life")
    file_size_mb: int = Field(64, gt=0, description="largest file the kernel may write")
    output_cap_kb: int = Field(1024, gt=0, description="notebook output kept per submission")
    network: t.Literal["isolate", "allow"] = "isolate"
    max_restarts: int = Field(2, ge=0, description="kernel restarts after a crash or an unstoppable cell")
    torch_threads: int = Field(1, ge=1, description="OMP/MKL threads inside each kernel")
    sandbox: t.Literal["auto", "bwrap", "uid", "netns", "limits"] = Field(
        "auto", description="isolation of the kernel: bwrap (bubblewrap: read-only system, private "
        "workdir and /tmp, no network, course folders invisible), uid (grader run as root: a uid and a "
        "mount namespace per kernel, course folders and output hidden, no network), netns (own network "
        "namespace only; weak), limits (rlimits only; weak); auto = the best that runs here, and "
        "`grade` refuses a weak level unless it is named. Each includes the limits.")
    max_processes: int = Field(256, ge=32, description="processes and threads of one kernel's tree "
                               "(cgroup pids.max; binds root too)")
    cells_in_one_request: bool = Field(True, description="send a notebook's code cells to the kernel in "
                                       "one request (each still run, timed and reported as its own "
                                       "cell); false: one request per cell, as Jupyter does")
    kernel: t.Literal["auto", "fresh", "warm"] = Field(
        "auto", description="fresh: a new Python per submission; warm: forked from a process that "
        "already imported torch (much faster for batches; falls back to fresh where it cannot run); "
        "auto: warm for the batch commands (grade, validate), fresh for one notebook (check)")


class Config(StrictModel):
    paths: Paths = Paths()
    execution: Execution = Execution()
    workers: int = Field(0, ge=0, description="kernels run at once; 0 = number of cores")
    devices: list[Device] = ["cpu", "cuda"]
    dtypes: list[DType] = ["float64", "float32"]
    formats: list[Format] = list(DEFAULT)
    # the course folder (the config file's folder); a Config made in code: the current folder
    base_dir: Path = Field(Path("."), exclude=True)

    def path(self, name: str) -> Path:
        p = getattr(self.paths, name)
        return p if p.is_absolute() else self.base_dir / p

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def with_kernel(self, *, batch: bool, warm: bool | None = None) -> "Config":
        """execution.kernel made concrete: `warm` (--warm/--fresh) wins; `auto` is warm
        for a batch and fresh for a single notebook (a warm parent would not pay off)."""
        kernel = self.execution.kernel if warm is None else ("warm" if warm else "fresh")
        if kernel == "auto":
            kernel = "warm" if batch else "fresh"
        if kernel == self.execution.kernel:
            return self
        return self.model_copy(update={"execution": self.execution.model_copy(update={"kernel": kernel})})


def load_config(path: Path) -> Config:
    path = Path(path)
    cfg = load_yaml_model(path, Config)
    return cfg.model_copy(update={"base_dir": path.resolve().parent})
