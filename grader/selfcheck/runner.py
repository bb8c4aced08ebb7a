"""One check run in the student's kernel, and what later runs reuse.

The first check loads the course's config and the rubric (whose loader
evaluates every expression), prepares every question (its public cases, its
encoded calls, the graph questions' references), builds the probe and pays
torch autograd's first call; later checks reuse all of it. A rubric or config is
read again only when its file changed; the check kinds cache per question
object (`checks/memo.py`), so keeping the same `Rubric` object keeps their caches.

The context is `public_only=True`, as `grader check` grades. What a run may
change is set anew for each run: the session, the source the static checks read
(what the session ran), and the earlier failures later hints name (a fixed
mistake leaves no mark on the next run's hints).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import os
import sys
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import collection
from grader.checks.static import NotebookCode
from grader.config import Config
from grader.errors import InputError
from grader.rubric import find_rubric
from grader.checks.semantics import load_rubric
from grader.rubric.model import Question, Rubric
from grader.selfcheck import where
from grader.submissions.check_cells import only_check_calls
from grader.selfcheck.view import Report, Row
from grader.yamlmodel import load_yaml_model

# The check kinds, the pipeline and the local probe import torch: they are imported inside the
# functions that run a check, so that `import grader` and `grader.init(...)` in a notebook stay light.


@dataclass
class State:
    """What `grader.init` set, and what the last runs loaded (keyed by file and mtime)."""

    explicit: str | None = None
    course: Path | None = None
    files: dict[Path, tuple[int, t.Any]] = field(default_factory=dict)
    resolved: dict[tuple, str] = field(default_factory=dict)
    code: tuple[tuple[str, ...], t.Any] | None = None     # (the sources, their analysis)
    prepared: tuple | None = None     # (key, context, {question id: Prepared}, what the key names)


STATE = State()


def _cached(path: Path, load: t.Callable[[Path], t.Any]) -> t.Any:
    path = path.resolve()
    mtime = path.stat().st_mtime_ns
    hit = STATE.files.get(path)
    if hit is None or hit[0] != mtime:
        hit = (mtime, load(path))
        STATE.files[path] = hit
    return hit[1]


def _load_config(path: Path) -> Config:
    # as grader.config.load_config, less its check that a named sandbox level runs on this
    # machine: nothing runs in a sandbox here
    return load_yaml_model(path, Config).model_copy(update={"base_dir": path.resolve().parent})


def course(assignment: str | None, questions: t.Sequence[str] = ()) -> tuple[Config, Rubric]:
    """This notebook's course config and its assignment's rubric (see `where`; `questions`: the
    names checked, which may tell the assignment where nothing else does)."""
    from grader.selfcheck.local import user_namespace    # torch: only once a check runs
    notebook = where.notebook_path(user_namespace())
    try:
        cfg = _cached(where.course_config(STATE.course, notebook), _load_config)
        explicit = assignment or STATE.explicit
        key = (explicit, os.environ.get(where.ASSIGNMENT_ENV), notebook, cfg.base_dir, Path.cwd(), tuple(questions))
        if key not in STATE.resolved:
            STATE.resolved[key] = where.assignment(cfg, explicit, notebook, tuple(str(q) for q in questions))
        return cfg, _cached(find_rubric(cfg, STATE.resolved[key]), load_rubric)
    except InputError as exc:
        # a rubric or config that does not load, an unknown assignment: its one line
        raise where.NotFound(str(exc).replace("--assignment:", "assignment:")) from None


def select(rubric: Rubric, names: t.Sequence[str]) -> list[Question]:
    """Questions by id, or by the function or class they call first (`check("Dual")`: every
    question on the class), in rubric order; all for no names."""
    if not names:
        return list(rubric.questions)
    wanted: set[str] = set()
    ids = [q.id for q in rubric.questions]
    for name in names:
        hits = [q.id for q in rubric.questions if name in (q.id, q.calls[0])]
        if not hits:
            close = difflib.get_close_matches(str(name), ids + [q.calls[0] for q in rubric.questions], n=1)
            raise where.NotFound(f"no question '{name}' in {rubric.assignment}"
                                 + (f" (did you mean '{close[0]}'?)" if close else f"; questions: {', '.join(ids)}"))
        wanted.update(hits)
    return [q for q in rubric.questions if q.id in wanted]


@functools.lru_cache(maxsize=4096)
def _is_check_source(source: str) -> bool:
    return only_check_calls(source)


class KeptCode(NotebookCode):
    """The static checks' answers kept per name: the same source gives the same findings."""

    def __init__(self, nb):
        super().__init__(nb)
        self._found: dict[tuple[str, str], list] = {}

    def _kept(self, what: str, name: str, find):
        if (what, name) not in self._found:
            self._found[what, name] = find(name)
        return self._found[what, name]

    def autograd_uses(self, name):
        return self._kept("autograd", name, super().autograd_uses)

    def torch_uses(self, name):
        return self._kept("torch", name, super().torch_uses)

    def assignments_to(self, qualified):
        return self._kept("assigned", qualified, super().assignments_to)


def notebook_code(namespace: dict):
    """The source the static checks read: what this IPython session ran, in order (the last
    definition wins, as in the kernel), or a plain script's file. Check cells are left out
    (they define nothing), so checking again after a check reuses the analysis."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if isinstance(history, list):
        sources = tuple(s for s in history[1:] if isinstance(s, str) and s.strip() and not _is_check_source(s))
    else:
        script = namespace.get("__file__")
        path = Path(script) if isinstance(script, str) and script.endswith(".py") else None
        sources = (path.read_text(encoding="utf-8", errors="replace"),) if path and path.is_file() else ()
    if STATE.code is None or STATE.code[0] != sources:
        cells = [nbformat.NotebookNode(cell_type="code", source=s) for s in sources]
        STATE.code = (sources, KeptCode(nbformat.NotebookNode(cells=cells)))
    return STATE.code[1]


@contextlib.contextmanager
def grader_torch_state():
    """The grader's side (cases, references, comparisons) runs with torch's defaults, whatever
    the notebook set for its own code (default dtype or device, grad mode); put back after."""
    import torch
    dtype, grad = torch.get_default_dtype(), torch.is_grad_enabled()
    device = torch.get_default_device() if hasattr(torch, "get_default_device") else torch.device("cpu")
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    # only where the notebook chose another device: setting one, even "cpu", installs a
    # torch function mode that every later torch call goes through (about 4x slower)
    moved = device.type != "cpu"
    if moved:
        torch.set_default_device(None)
    try:
        yield
    finally:
        torch.set_default_dtype(dtype)
        torch.set_grad_enabled(grad)
        if moved:
            torch.set_default_device(device)


def _prepared(cfg: Config, rubric: Rubric, questions: list[Question]):
    """The rubric's context and every question's prepared calls, made once: a question's
    calls depend on the question alone (its public cases), and its `finish` reads the
    context's session, source and earlier failures when it judges, which each run sets
    anew. (The graph questions' specifications take tens of milliseconds to write.)"""
    from grader.checks.context import GradeContext
    from grader.pipeline import prepare
    from grader.selfcheck.local import LocalSession
    key = (id(cfg), id(rubric))
    if STATE.prepared is None or STATE.prepared[0] != key:
        nothing_yet = KeptCode(nbformat.NotebookNode(cells=[]))     # each run sets its own
        ctx = GradeContext(rubric, cfg, LocalSession({}), nothing_yet, public_only=True)  # type: ignore[arg-type]
        STATE.prepared = (key, ctx, {}, (cfg, rubric))      # holds cfg and rubric: their ids stay theirs
    _, ctx, done, _ = STATE.prepared
    # every question at the first check, not only those asked: preparing draws the cases and,
    # for the graph questions, computes their references (up to a second for a 5,000-deep
    # graph), which the first check pays once so that every later one is quick
    for q in rubric.questions:
        if q.id not in done:
            done[q.id] = prepare(q, ctx)
    return ctx, [done[q.id] for q in questions]


def first_line(outcomes) -> str | None:
    """Where the student's code raised, for the report's own column."""
    return next((o.line for o in outcomes if o.status == "error" and o.line), None)


def run(names: t.Sequence[str], assignment: str | None = None) -> Report:
    """Check the questions named (all for none) on their public cases; never raises for
    anything the student's code does (a one-line Report for a check that cannot start)."""
    started = time.perf_counter()
    try:
        cfg, rubric = course(assignment, names)
        questions = select(rubric, names)
    except where.NotFound as exc:
        return Report(assignment or STATE.explicit, [], error=str(exc))
    with collection.paused():     # a student's session holds torch and IPython: no full walks
        return _run(cfg, rubric, questions, every=not names, started=started)


def _run(cfg: Config, rubric: Rubric, questions: list[Question], *, every: bool, started: float) -> Report:
    from grader.checks import reference
    from grader.selfcheck.local import LocalSession, user_namespace
    namespace = user_namespace()
    session = LocalSession(namespace)
    with grader_torch_state():
        reference.warm_up()
        ctx, prepared = _prepared(cfg, rubric, questions)
    # what a run may change: the session, the source, and what earlier questions failed
    ctx.session, ctx.code = session, notebook_code(namespace)     # type: ignore[assignment]
    ctx.op_failures.clear()
    ctx.class_failures.clear()
    rows = []
    for p in prepared:
        outcomes = session.ask(p.request)
        with grader_torch_state():
            rows.append(Row(p.finish(outcomes), first_line(outcomes)))
    return Report(rubric.assignment, rows, every=every, seconds=time.perf_counter() - started)
