"""Which course and which assignment a check in the student's kernel is about.

A kernel is not told which notebook it runs, so the assignment is decided here,
first match wins:

1. `grader.init("NAME")` (every check cell `grader assign` writes says it), or
   `check(..., assignment="NAME")`;
2. the environment variable `GRADER_ASSIGNMENT`;
3. the notebook's own file, where the kernel can know it: VS Code puts its path in
   `__vsc_ipynb_file__`, Jupyter Server (2.0 and later) in `JPY_SESSION_NAME`,
   which ipykernel copies to `__session__`. Its metadata (`grader.assignment`,
   written by `grader assign`), else its file name, decide, as for `grader check`
   (`submissions.assignment.infer_assignment`, the one rule);
4. the notebooks of the current folder: when those whose metadata names an
   assignment of the course all name the same one;
5. a course with a single assignment (a kit handed out for one notebook).

The course is found as every command finds it (`grader/course.py`): `init(...,
course=DIR)`, `GRADER_COURSE`, else the notebook's folder or the current one and
their parents. In a student kit that is the kit's folder, in the course's
repository the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.config import Config
from grader.course import ENV_VAR as COURSE_ENV
from grader.course import find_config
from grader.errors import InputError
from grader.rubric.load import available_assignments

ASSIGNMENT_ENV = "GRADER_ASSIGNMENT"
#: where a front end leaves the notebook's path: user-namespace variables, then the environment
NOTEBOOK_VARIABLES = ("__vsc_ipynb_file__", "__session__")
NOTEBOOK_ENV = "JPY_SESSION_NAME"


class NotFound(Exception):
    """A check that cannot start: one line saying what to do."""


def notebook_path(namespace: dict) -> Path | None:
    """The running notebook's file, where the front end says which it is."""
    found = [namespace.get(v) for v in NOTEBOOK_VARIABLES] + [os.environ.get(NOTEBOOK_ENV)]
    cwd = Path.cwd()
    for value in found:
        if not isinstance(value, str) or not value.endswith(".ipynb"):
            continue
        path = Path(value)
        # Jupyter Server names it from its root folder; the kernel runs in the notebook's
        for candidate in (path, cwd / path, cwd / path.name):
            if candidate.is_file():
                return candidate
    return None


def course_config(course: Path | None, notebook: Path | None) -> Path:
    if course is None and not os.environ.get(COURSE_ENV) and notebook is not None:
        try:
            return find_config(cwd=notebook.parent)
        except InputError:
            pass
    try:
        return find_config(course=course)
    except InputError as exc:
        raise NotFound(f"{exc.message} (for a notebook: grader.init(\"NAME\", course=\"DIR\"))") from None


def _metadata_assignment(path: Path) -> str | None:
    from grader.submissions import read_notebook    # nbformat and jsonschema: only when needed
    try:
        meta = read_notebook(path).metadata.get("grader", {})
    except InputError:
        return None
    name = meta.get("assignment") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _having(cfg: Config, names: list[str], questions: tuple[str, ...]) -> list[str]:
    """The assignments whose rubric has every question named (by id or the function it calls)."""
    from grader.rubric.model import Rubric              # pydantic models: only when needed
    from grader.yamlmodel import load_yaml_model
    found = []
    for name in names:
        try:
            rubric = load_yaml_model(cfg.path("rubrics") / f"{name}.yaml", Rubric)
        except InputError:
            continue
        known = {q.id for q in rubric.questions} | {c for q in rubric.questions for c in q.calls[:1]}
        if set(questions) <= known:
            found.append(name)
    return found


def assignment(cfg: Config, explicit: str | None, notebook: Path | None,
               questions: tuple[str, ...] = ()) -> str:
    """Which assignment a check is for: named, from the environment, from the notebook (its
    metadata, its file name), from the notebooks of this folder, the course's only one, or
    the only one whose rubric has every question named (`check("vjp")`)."""
    names = available_assignments(cfg)
    if explicit:
        return explicit
    if os.environ.get(ASSIGNMENT_ENV):
        return os.environ[ASSIGNMENT_ENV]
    if notebook is not None:
        from grader.submissions.assignment import infer_assignment     # nbformat: only when needed
        try:
            return infer_assignment(cfg, notebook)
        except InputError:
            pass
    here = {_metadata_assignment(p) for p in sorted(Path.cwd().glob("*.ipynb"))[:50]}
    here &= set(names)
    if len(here) == 1:
        return here.pop()
    if len(names) == 1:
        return names[0]
    if not names:
        raise NotFound(f"{cfg.path('rubrics')}: the course has no rubrics")
    having = _having(cfg, names, questions) if questions else []
    if len(having) == 1:
        return having[0]
    raise NotFound("cannot tell which assignment this notebook is: run grader.init(\"NAME\") first "
                   f"(NAME: {', '.join(names)})")
