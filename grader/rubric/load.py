"""Find a rubric by assignment name or path (`checks.semantics.load_rubric` loads and checks it)."""

from __future__ import annotations

import difflib
from pathlib import Path

from grader.config import Config
from grader.errors import InputError
from grader.rubric.model import Rubric


def require_hidden_cases(rubric: Rubric, where: str | Path) -> Rubric:
    """For the commands that grade for real (grade, gradescope-bundle): a student kit's
    rubric would give full marks on the public cases alone."""
    if rubric.public_only:
        raise InputError(where, f"'{rubric.assignment}' is a student kit's rubric (public_only: true, no "
                         "hidden cases): grade with the course's own rubric", key="--assignment")
    return rubric


def available_assignments(cfg: Config) -> list[str]:
    folder = cfg.path("rubrics")
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def find_rubric(cfg: Config, assignment: str) -> Path:
    """`assignment` is a rubric path or the name of a rubric in the rubrics folder."""
    as_path = Path(assignment)
    if as_path.suffix in (".yaml", ".yml"):
        if not as_path.is_file():
            raise InputError(as_path, "no such rubric file")
        return as_path
    path = cfg.path("rubrics") / f"{assignment}.yaml"
    if path.is_file():
        return path
    names = available_assignments(cfg)
    close = difflib.get_close_matches(assignment, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else (
        f" (available: {', '.join(names)})" if names else "")
    raise InputError(cfg.path("rubrics"), f"no rubric for assignment '{assignment}'{hint}",
                     key="--assignment")
