"""Where a course lives: the folder that holds its `config.yaml`.

A course is data, not part of the installed package: its `config.yaml`,
`rubrics/`, and for instructors `assignments/`, `solutions/` and `samples/`
(paths in the config are relative to it). A student kit is a course too: a
folder with its own `config.yaml` and the public rubric.

The course used by a command, first match wins:

1. `--config FILE` of the command: that file's folder;
2. the global `grader --course DIR`;
3. the environment variable `GRADER_COURSE=DIR`;
4. the current directory or the nearest parent holding `config.yaml`
   (so any subfolder of a course, e.g. `samples/matrix_calculus`, works).

Nothing is looked up next to the installed package: a grader installed from
a wheel has no course of its own. Without a course, a command that needs one
stops with one line saying what it looked for and how to point at a course.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.errors import InputError

CONFIG_NAME = "config.yaml"
ENV_VAR = "GRADER_COURSE"


def find_config(config: Path | None = None, course: Path | None = None, *, cwd: Path | None = None) -> Path:
    """The course's config.yaml (see the module's docstring for the order)."""
    if config is not None:
        return Path(config)
    if course is not None:
        return _in_folder(Path(course), "--course")
    if os.environ.get(ENV_VAR):
        return _in_folder(Path(os.environ[ENV_VAR]), ENV_VAR)
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    raise InputError(start, f"not in a course: looked for {CONFIG_NAME} in this folder and its parents; "
                     f"run grader inside a course folder, or point at one with --course DIR "
                     f"(or {ENV_VAR}=DIR)")


def _in_folder(folder: Path, given_by: str) -> Path:
    if not folder.is_dir():
        raise InputError(folder, "no such course folder", key=given_by)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise InputError(folder, f"not a course: no {CONFIG_NAME} in this folder", key=given_by)
    return path
