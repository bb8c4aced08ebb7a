"""`grader grade PATH... --assignment NAME --out DIR [--workers N]` — the instructor's batch."""

from __future__ import annotations

import enum
import typing as t
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from grader import collection
from grader.batch import ReportOptions, log
from grader.batch.profile import BatchProfile
from grader.batch.shard import parse_shard
from grader.cli.common import ConfigOption, KernelOption, console, kernel_needs, out, prestart_kernels, run, setup
from grader.cli.progress import BatchProgress
from grader.cli.options import (FailUnderOption, FormatOption, HiddenVisibilityOption, github_report, policy_exit,
                                resolve_formats)
from grader.errors import EXIT_OK, InputError
from grader.rubric.load import require_hidden_cases
from grader.rubric.model import Rubric
from grader.checks.semantics import check_rubric
from grader.yamlmodel import load_yaml_model
from grader.reports import moodle_feedback
from grader.reports.similarity import starter_for
from grader.rubric import find_rubric
from grader.sandbox import elevate, levels
from grader.submissions.lms import collect, unreadable_notes



class Executor(str, enum.Enum):
    local = "local"
    dask = "dask"


class SandboxLevel(str, enum.Enum):
    auto = "auto"
    bwrap = "bwrap"
    uid = "uid"
    netns = "netns"
    limits = "limits"


def sandbox_level(cfg, chosen: SandboxLevel | None):
    """The config with --sandbox applied (and fresh kernels where warm ones cannot get
    bubblewrap; run again under sudo where the uid level needs it)."""
    if chosen is not None:
        cfg = cfg.model_copy(update={"execution": cfg.execution.model_copy(update={"sandbox": chosen.value})})
    requested = cfg.execution.sandbox
    if cfg.execution.kernel == "warm" and requested in ("auto", "bwrap"):
        levels.warm_bwrap_status()      # what the warm parent needs, both bubblewrap probes at once
    if elevate.wanted(requested, levels.available("bwrap")[0], levels.sudo_works):
        why = "the uid level needs root" if requested == "uid" else \
            "bubblewrap does not run here and the uid level needs root"
        console.print(f"sandbox: {why}: running the grader again with sudo (passwordless)",
                      markup=False, soft_wrap=True)
        elevate.rerun_with_sudo()
    return cfg


def batch_plan(cfg, rubric: Rubric, chosen: SandboxLevel | None):
    """The config (fresh kernels where warm ones would get a weaker level) and the batch's
    sandbox, decided once, here, and handed down to every kernel (CUDA where the
    rubric or config asks for CUDA cases and this machine has a GPU: decided before torch is
    imported, so that the kernels' parent can start meanwhile). Refuse (exit 2) a level that
    does not run here or a weak level nobody named; say once, on stderr, which level the
    kernels get and why when it is below bubblewrap."""
    # the kernel client (jupyter_client, zmq): not for `grader --help`
    from grader.sandbox.plan import decide_plan, may_use_cuda
    cuda = may_use_cuda(rubric, cfg)
    plan = decide_plan(cfg.execution, cuda=cuda)
    if plan.warm and plan.requested == "auto":
        fresh = decide_plan(cfg.execution, warm=False, cuda=cuda)
        if levels.LEVELS.index(fresh.level) < levels.LEVELS.index(plan.level):
            # bubblewrap runs, but warm kernels need root for a uid each: fresh kernels, sandboxed
            console.print("sandbox: warm kernels cannot run in bubblewrap here (they need the grader to run "
                          "as root); kernels start fresh", markup=False, soft_wrap=True)
            cfg, plan = cfg.with_kernel(batch=True, warm=False), fresh
    if refused := plan.refusal():
        raise InputError("--sandbox" if chosen is not None else "execution.sandbox", refused)
    if line := plan.notice():
        console.print(line, markup=False, soft_wrap=True)
    return cfg, plan


def grade(
    paths: t.Annotated[list[Path], typer.Argument(help="notebooks and/or folders of notebooks")],
    assignment: t.Annotated[str, typer.Option("--assignment", "-a", help="rubric name or path")],
    out_dir: t.Annotated[t.Optional[Path], typer.Option("--out", "-o", help="where results go")] = None,
    workers: t.Annotated[t.Optional[int], typer.Option("--workers", "-w", min=1,
                                                       help="kernels at once (default: cores)")] = None,
    config: ConfigOption = None,
    warm: KernelOption = None,
    formats: FormatOption = None,
    fail_under: FailUnderOption = None,
    hidden_visibility: HiddenVisibilityOption = "after_published",
    force: t.Annotated[bool, typer.Option("--force", help="grade everything again, even submissions "
                                          "whose result still holds")] = False,
    shard: t.Annotated[t.Optional[str], typer.Option(
        "--shard", metavar="I/N", help="grade only slice I of N (for a CI matrix; join with `grader merge`)")] = None,
    executor: t.Annotated[Executor, typer.Option("--executor", help="where submissions are graded: "
                                                 "this machine, or a Dask cluster")] = Executor.local,
    scheduler: t.Annotated[t.Optional[str], typer.Option(
        "--scheduler", help="Dask scheduler address (tcp://HOST:PORT), with --executor dask")] = None,
    sandbox: t.Annotated[t.Optional[SandboxLevel], typer.Option(
        "--sandbox", help="sandbox level of the kernels (default: execution.sandbox). auto takes the "
        "best that runs here and refuses to grade at a weak one (netns, limits: a notebook could read "
        "the course); naming a weak level accepts it")] = None,
    profile: t.Annotated[bool, typer.Option(
        "--profile", help="print where the batch's time went: its start, each phase of a submission "
        "(kernel start, the notebook's run, probe calls, judging, writing), its end, and the CPU used")] = False,
) -> int:
    """Grade submissions: one JSON result per notebook, plus the reports of each --format
    (default: the config's formats: Markdown feedback and a gradebook CSV).

    Notebooks named on the command line must be readable (else exit 2); a
    broken notebook found inside a folder gets a result that says why.
    Rerunning the same command resumes: a submission is graded again only when
    it has no result, or its notebook, the rubric or the grader changed
    (--force: all of them).
    Exit 0 when every submission has a result; with --fail-under, exit 1 when
    any submission scores under it. In GitHub Actions (GITHUB_ACTIONS=true, or
    --format github) also a job summary, annotations and JUnit XML.
    """
    slice_ = parse_shard(shard) if shard else None
    if (executor is Executor.dask) != (scheduler is not None):
        raise InputError("--scheduler", "--executor dask and --scheduler ADDRESS go together")
    cfg = sandbox_level(setup(config, warm, batch=True), sandbox)
    chosen = resolve_formats(formats, cfg.formats)
    cfg = cfg.model_copy(update={"formats": chosen})
    rubric_path = find_rubric(cfg, assignment)
    rubric = require_hidden_cases(load_yaml_model(rubric_path, Rubric), assignment)   # the schema; no torch yet
    cfg, plan = batch_plan(cfg, rubric, sandbox)      # a Dask executor's workers use their own
    dest = out_dir or cfg.path("out") / rubric.assignment
    # zip exports are unpacked there, once; the notebooks are read once the kernels' parent starts
    found = collect(paths, dest / "submissions", rubric.assignment, read_all=False)
    subs = found.submissions
    if not subs:
        raise InputError(paths[0], "no .ipynb notebooks found")
    if slice_:
        subs = slice_.select(subs, key=lambda s: s.id)
    if not scheduler:
        # the warm kernels' parent imports torch in its own process (seconds) while this one
        # imports it and checks the rubric (seconds too); a bad rubric leaves at once all the same
        plotting, cotangents = kernel_needs(s.path for s in subs)
        prestart_kernels(cfg, plotting=plotting, cotangents=cotangents, plan=plan)
    # a notebook named on the command line must be valid (exit 2 before torch is imported)
    unreadable_notes([s for s in found.submissions if s.explicit], named=True)
    check_rubric(rubric, rubric_path)
    with collection.paused():       # importing torch set off hundreds of collections: 0.1-0.3 s
        from grader.batch import grade_batch      # torch: once the rubric is checked and the warm parent started
        from grader.batch.executors import DaskExecutor
    # one found in a folder gets a note: read (some 4 ms each) while the kernels' parent ends its
    # imports, which it started before this process imported torch
    found.notes += unreadable_notes(found.submissions)
    n_workers = workers or cfg.worker_count()
    runner = DaskExecutor(rubric, cfg, scheduler=scheduler, public_only=False, hide=(dest,)) if scheduler else None
    notes = list(found.notes)
    timings = BatchProfile() if profile else None
    with BatchProgress(console, len(subs)) as bar:
        results = run(grade_batch(subs, rubric, cfg, dest, workers=n_workers, force=force, on_done=bar,
                                  report=ReportOptions(hidden_visibility=hidden_visibility,
                                                       notes=tuple(found.notes),
                                                       starter=starter_for(cfg, rubric.assignment, chosen)),
                                  executor=runner, notes=notes,
                                  hide=(find_rubric(cfg, assignment).parent,), profile=timings,
                                  plan=plan))
    graded = len(results) - bar.reused
    title = f"{rubric.assignment}: {graded} graded" + (f", {bar.reused} reused" if bar.reused else "")
    title += f" (shard {shard})" if shard else ""
    table = Table("submission", "score", "status", title=title)
    for r in results:
        table.add_row(r.submission, f"{r.score:g} / {r.max_score:g}",
                      r.status + (f": {r.message}" if r.message else ""))
    out.print(table)
    if timings is not None:     # this run's log lines are the last ones (`run.seal`)
        console.print(timings.table(log.read(dest)[-len(subs):], n_workers))
    for note in notes:
        out.print(f"note: {note}", markup=False)
    out.print(f"results: {dest / 'results'}", markup=False)
    if {"markdown", "html", "notebook"} & set(chosen):
        out.print(f"feedback: {dest / 'feedback'}", markup=False)
        if any(moodle_feedback.participant(r) for r in results):
            out.print(f"moodle feedback: {dest / moodle_feedback.ZIP_NAME}", markup=False)
    if "csv" in chosen:
        out.print(f"gradebook: {dest / 'gradebook.csv'}", markup=False)
    if "summary" in chosen:
        out.print(f"summary: {dest / 'summary.html'}", markup=False)
    if "junit" in chosen:
        out.print(f"junit: {dest / 'junit.xml'}", markup=False)
    if "similarity" in chosen:
        out.print(f"similarity: {dest / 'similarity.csv'}", markup=False)
    if "gradescope" in chosen:
        out.print(f"gradescope: {dest / ('results.json' if len(results) == 1 else 'gradescope')}", markup=False)
    elevate.give_back(dest)          # run again under sudo: the files belong to who started it
    code, policy_line = policy_exit(results, fail_under, default=EXIT_OK)
    if policy_line:
        out.print(Text(policy_line, style="red" if code else "green"))
    github_report(results, chosen, dest, policy_line=policy_line, passed=code == EXIT_OK)
    return code


def register(app: typer.Typer) -> None:
    app.command()(grade)
