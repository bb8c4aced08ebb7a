"""Pieces shared by the verbs: config loading, rubric lookup, the event loop."""

from __future__ import annotations

import asyncio
import re
import threading
import typing as t
from pathlib import Path

import typer
from rich.console import Console

from grader.config import Config, load_config
from grader.course import find_config
from grader.rubric import find_rubric
from grader.checks.semantics import load_rubric
from grader.rubric.model import Rubric
from grader.sandbox import levels
from grader.sandbox.levels import check_config

if t.TYPE_CHECKING:
    from grader.sandbox.plan import SandboxPlan

ConfigOption = t.Annotated[t.Optional[Path], typer.Option(
    "--config", help="course config file (default: the course's config.yaml: see grader --course)")]

#: the global `grader --course DIR` of this invocation (set by the app's callback)
course_dir: Path | None = None

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


KernelOption = t.Annotated[t.Optional[bool], typer.Option(
    "--warm/--fresh", help="warm: fork kernels from a process that already imported torch (fast for "
    "batches); fresh: a new Python per submission (default: execution.kernel in the config; its "
    "default, auto, is warm for grade and validate, fresh for check)")]


def setup(config: Path | None, warm: bool | None = None, *, batch: bool = False) -> Config:
    """Load the config; `warm` (--warm/--fresh) overrides execution.kernel, whose `auto`
    means warm for a batch command and fresh for a single notebook. A sandbox level the
    config names must run on this machine (one line naming the file and key, else)."""
    path = find_config(config, course_dir)
    cfg = load_config(path)
    check_config(cfg.execution.sandbox, path)
    return cfg.with_kernel(batch=batch, warm=warm)


#: what a notebook that plots says somewhere in its source (bytes of the .ipynb file)
PLOTTING_WORDS = (b"matplotlib", b"pylab", b"plt", b"seaborn", b"plotly")
#: a backward pass handed a cotangent: `y.backward(v)`, `grad_outputs=` (a positional one,
#: `torch.autograd.grad(y, x, v)`, is missed: such a kernel imports what it needs itself)
COTANGENT = re.compile(rb"grad_outputs|\.backward\(\s*(?!retain_graph|create_graph|inputs)[^)\s]")


def kernel_needs(paths: t.Iterable[Path]) -> tuple[bool, bool]:
    """(plotting, cotangents): whether any of these notebooks may plot (mentions a plotting
    library), and whether any may hand a backward pass a cotangent; an unreadable one: both."""
    plotting = cotangents = False
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return True, True
        plotting = plotting or any(word in data for word in PLOTTING_WORDS)
        cotangents = cotangents or COTANGENT.search(data) is not None
        if plotting and cotangents:
            break
    return plotting, cotangents


def prestart_kernels(cfg: Config, *, plotting: bool = True, cotangents: bool = False,
                     plan: SandboxPlan | None = None) -> None:
    """Start the warm parent in the background (it imports torch, in bubblewrap where the
    kernels will be) as soon as the config is known, so that it starts while this process
    imports torch and checks the rubric; a bad input still leaves at once (`grader.cli.main.main`
    does not wait for it). The network-namespace probe that every kernel's sandbox asks
    (`levels.network_isolation_available`, a subprocess) runs then too, off the event loop.
    `plotting=False` (no notebook to grade mentions plotting, `plots`): matplotlib is not
    preloaded for the kernels, half a second less before the first one. `cotangents=True` (a
    notebook may hand a backward pass a cotangent): what torch imports then is preloaded
    (`COTANGENTS` in grader/sandbox/zygote.py), not imported again by every kernel. `plan`: the run's
    sandbox (`grader grade` decides it first); None: decided here for warm kernels."""
    if plan is None and cfg.execution.kernel == "warm":
        from grader.sandbox.plan import decide_plan     # the kernel client: only where kernels start
        plan = decide_plan(cfg.execution, warm=True)
    if plan is None or not plan.warm:
        return
    from grader.sandbox import warm_shared     # the warm parent's client: only where kernels start
    warm_shared.prestart(cfg.execution.torch_threads, plan.zygote_sandbox(), plotting=plotting,
                         cotangents=cotangents)
    if cfg.execution.network == "isolate":
        threading.Thread(target=levels.network_isolation_available, name="grader-netns-probe",
                         daemon=True).start()


def rubric_for(cfg: Config, assignment: str) -> Rubric:
    return load_rubric(find_rubric(cfg, assignment))


def run(coro):
    return asyncio.run(coro)
