"""The sandbox of one command run, decided once: `SandboxPlan`.

`decide_plan` turns the config's `execution` and a probe of the machine (`levels`) into the
level the kernels get, why, whether they are warm, and what of the sandbox is the same for
every kernel of the run (the limits it applies, the paths it hides, the network policy). The
batch, `grader check` and `grader validate` decide it once and hand it to every
`SandboxedKernel`; what is per kernel (its folders, its cgroup, the uid its launcher or zygote
picks) stays with the kernel. `sandbox_json` is the one writer of the JSON a kernel's
launcher or zygote child reads from `GRADER_SANDBOX`; `read_sandbox` reads it back on the
grader's side (the warm provisioner). `launcher.py` runs by path inside the sandbox and
cannot import this module: it reads the same keys itself (`launcher.main`).
"""

from __future__ import annotations

import json
import os
import typing as t
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from grader.config import Config, Execution
from grader.sandbox import bwrap, levels
from grader.sandbox.levels import LAUNCHER, Level
from grader.sandbox.warm_env import ZygoteSandbox

if t.TYPE_CHECKING:
    from grader.rubric.model import Rubric

#: device files of a GPU that torch could use (NVIDIA, ROCm, WSL's)
GPU_DEVICES = ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")
#: the environment variable that carries the sandbox to the kernel's launcher or zygote child
ENV = "GRADER_SANDBOX"


@dataclass(frozen=True)
class SandboxPlan:
    """The sandbox every kernel of one run gets (the per-kernel parts are `sandbox_json`'s
    arguments). A warm kernel whose zygote turns out to run outside bubblewrap reports a
    lower level of its own (`SandboxedKernel._level_that_ran`)."""
    requested: str               # execution.sandbox: auto or a level's name
    level: Level                 # what the kernels get
    why: str                     # why that level, in the words results record
    error: str                   # a named level that does not run here: every kernel's start fails with it
    warm: bool                   # forked from the zygote (never with CUDA, nor bwrap named where it cannot run warm)
    cuda: bool                   # the kernels may use the GPU
    network_allowed: bool        # execution.network: allow
    isolated: bool               # the kernels are offline (recorded as log.network)
    hide: tuple[Path, ...]       # what the kernels must not see (bwrap, uid levels)
    memory_mb: int
    cpu_seconds: float
    file_size_mb: int
    max_processes: int

    def hiding(self, paths: t.Iterable[Path]) -> "SandboxPlan":
        """The same decision with `paths` hidden from the kernels too (a batch knows the
        folders it found notebooks in after its plan was made)."""
        return dataclasses.replace(self, hide=tuple(dict.fromkeys([*self.hide, *map(Path, paths)])))

    def refusal(self) -> str | None:
        """Why `grader grade` must not run on this plan: a named level that does not run here,
        or only a weak level where none was named; None: it may."""
        return self.error or levels.weak_refusal(self.requested, self.level, self.why)

    def notice(self) -> str | None:
        """The one line a run prints at its start when its kernels get less than bubblewrap."""
        return levels.notice(self.level, self.why, warm=self.warm)

    def zygote_sandbox(self) -> ZygoteSandbox | None:
        """The bubblewrap the warm kernels' parent runs in (`warm_shared.prestart`), None where
        the kernels are fresh or below the bwrap level."""
        if not self.warm or self.level != "bwrap":
            return None
        return ZygoteSandbox(network=self.network_allowed, tmp_mb=self.tmp_mb)

    @property
    def launcher_network(self) -> str:
        """What the launcher (or zygote child) does itself: under bubblewrap the network
        namespace is bwrap's (`bwrap.options`), so the launcher leaves it alone."""
        return "isolate" if self.isolated and self.level != "bwrap" else "allow"

    @property
    def tmp_mb(self) -> int:
        """The size of the kernel's private /tmp (bwrap, uid levels)."""
        return 4 * self.file_size_mb

    @property
    def uid_per_kernel(self) -> bool:
        """A fresh kernel runs as a uid of its own in a mount namespace of its own (the uid
        level; warm kernels in a sandboxed zygote get a uid each from the zygote)."""
        return self.level == "uid"

    def netns_possible(self) -> bool:
        """Whether a kernel that cannot get bubblewrap may still have a network namespace."""
        return not self.network_allowed and levels.network_isolation_available()


def may_use_cuda(rubric: Rubric, cfg: Config) -> bool:
    """Whether the kernel might have to get CUDA: the rubric or config asks for CUDA cases
    and this machine has a GPU device (without one, torch has no CUDA either). Light on
    purpose: `grader grade` asks before it starts the kernels' parent."""
    return "cuda" in (rubric.defaults.devices or cfg.devices) and any(os.path.exists(p) for p in GPU_DEVICES)


def decide_plan(execution: Execution, hide: t.Iterable[Path] = (), *, warm: bool | None = None,
                cuda: bool = False) -> SandboxPlan:
    """The run's plan for `execution` on this machine. `warm`: None takes
    `execution.kernel`. A level named but unavailable is no exception here: the plan
    carries the error and every kernel start reports it (as the results record);
    `grader grade` refuses earlier (`SandboxPlan.refusal`)."""
    # warm kernels are forked from a process that already imported torch
    # (grader/sandbox/zygote.py); CUDA stays on fresh kernels until checked on a GPU.
    # Where the zygote cannot run in bubblewrap (`levels.warm_bwrap_status`), a config that
    # names the bwrap level gets fresh kernels, `auto` gets warm ones at a lower level.
    warm = ((execution.kernel == "warm" if warm is None else warm) and not cuda
            and (execution.sandbox != "bwrap" or levels.warm_bwrap_status()[0]))
    error = ""
    try:
        level, why = levels.decide(execution.sandbox, warm=warm)
    except levels.LevelUnavailable as exc:
        level, why, error = "limits", str(exc), str(exc)
    if level == "netns" and execution.network == "allow":
        level, why = "limits", "netns with execution.network: allow"    # nothing of netns would run
    isolated = execution.network == "isolate" and level in ("bwrap", "uid", "netns")
    return SandboxPlan(requested=execution.sandbox, level=level, why=why, error=error, warm=warm, cuda=cuda,
                       network_allowed=execution.network == "allow", isolated=isolated,
                       hide=tuple(Path(p) for p in hide), memory_mb=execution.memory_mb,
                       cpu_seconds=execution.cpu_seconds, file_size_mb=execution.file_size_mb,
                       max_processes=execution.max_processes)


def grader_checkout() -> tuple[Path, ...]:
    """The folder holding the grader package where it is not an installed package (an
    editable install, a checkout on the path): it may hold a course (the bundled rubrics and
    solutions) even when the config names another. At the ``uid`` level the kernel could
    otherwise find it through `import grader`."""
    here = Path(__file__).resolve().parents[2]
    roots = [Path(os.path.realpath(p)) for p in bwrap.python_roots()]
    return () if any(here == r or r in here.parents for r in roots) else (here,)


def sandbox_json(plan: SandboxPlan, *, level: str, root: Path, workdir: Path, runtime: Path,
                 cgroups: t.Sequence[Path] | None, memory: str) -> str:
    """The value of `GRADER_SANDBOX` for one kernel: the plan plus that kernel's folders
    (`root` holds its `workdir` and `runtime`), cgroup folders and memory limit's kind.
    Read by `launcher.main` (a fresh kernel; it keeps what the inside of bubblewrap needs),
    by `warm.WarmProvisioner.launch_kernel` through `read_sandbox`, and by
    `zygote_child` / `launcher.apply` (a warm kernel)."""
    sandbox: dict[str, t.Any] = {
        "memory_mb": plan.memory_mb, "cpu_seconds": plan.cpu_seconds, "file_size_mb": plan.file_size_mb,
        "network": plan.launcher_network, "workdir": str(workdir), "cuda": plan.cuda,
        "max_processes": plan.max_processes, "memory": memory}
    if cgroups is not None:
        sandbox["cgroups"] = [str(d) for d in cgroups]
    if level == "uid":     # what `launcher.enter_own_user` hides, keeps and hands over
        sandbox["uid"] = {"hide": [str(p) for p in (*plan.hide, *grader_checkout())], "own": str(root),
                          "keep": [str(p) for p in bwrap.python_roots()], "tmp_mb": plan.tmp_mb}
    if level == "bwrap":
        sandbox["bwrap"] = {"exe": bwrap.executable(), "options": bwrap.options(
            workdir=workdir, runtime=runtime, launcher=LAUNCHER, hide=plan.hide,
            network=plan.network_allowed, cuda=plan.cuda, tmp_mb=plan.tmp_mb),
            # what a warm kernel's zygote in bubblewrap needs (warm.ZygoteSandbox.from_spec)
            "hide": [str(p) for p in plan.hide], "network": plan.network_allowed, "tmp_mb": plan.tmp_mb,
            # what a kernel manager that cannot run bwrap (a warm one) applies instead
            "network_without": "isolate" if plan.netns_possible() else "allow"}
    return json.dumps(sandbox)


def read_sandbox(env: dict[str, str]) -> dict[str, t.Any] | None:
    """Take `GRADER_SANDBOX` out of a kernel's environment (`sandbox_json`'s), None if absent."""
    value = env.pop(ENV, None)
    return json.loads(value) if value is not None else None
