#!/usr/bin/env python3
"""CI stage: install the grader as its users do, and use it from outside the clone.

Builds the wheel from the clone's files, installs it (no extras, not
editable) into a fresh venv that holds only torch, and from temporary
folders outside the clone runs what an instructor and a student run:

  copy           the clone's files (as git sees them) and the course's files into a temporary folder
  wheel          the wheel holds the package (code, templates) and no course data
  venv           a fresh venv with only torch==2.13.0, then the wheel
  installed      `grader` is the wheel's install in the venv, not the clone
  version        grader --version names the version in pyproject.toml
  help           grader --help
  schema         grader schema (works anywhere: no course needed)
  no-course      a course command outside any course: exit 2, one line naming config.yaml and --course
  quick-start    the README's Quick-start grading command, read from README.md, in a copy of the course
  check          grader check on one sample notebook in the course copy
  bundle         grader gradescope-bundle: the wheel's install bundles itself (package files + metadata)
  kit            grader kit -a matrix_calculus --out KIT, then grader check in KIT alone

Each step prints its name; the first that fails stops the stage with
"clean install FAILED at step NAME" and what it printed. Usage:
`python .ci/clean_install.py [--keep]` (--keep leaves the temporary folder).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TORCH = "torch==2.13.0"
COURSE_PARTS = ["config.yaml", "rubrics", "assignments", "solutions", "samples"]
README_INSTALL = f"python -m pip install {TORCH} ."
SAMPLE = "samples/matrix_calculus/student01_alice.ipynb"     # all correct (samples/.../README.md)


class StepFailed(Exception):
    pass


def step(name: str):
    """Decorator: print the step's name and time; turn any failure into StepFailed(name)."""
    def wrap(fn):
        def run(*args, **kwargs):
            print(f"== clean install: {name}", flush=True)
            t0 = time.monotonic()
            try:
                result = fn(*args, **kwargs)
            except StepFailed:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure names the step
                raise StepFailed(f"{name}: {exc}") from exc
            print(f"   ok ({time.monotonic() - t0:.1f} s)", flush=True)
            return result
        return run
    return wrap


def sh(cmd: list[str], *, cwd: Path, env: dict[str, str], expect: int | None = 0,
       timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if expect is not None and proc.returncode != expect:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"`{shlex.join(cmd)}` in {cwd} exited {proc.returncode} (expected {expect}):\n{tail}")
    return proc


@step("copy")
def copy_files(dest: Path, course: Path) -> None:
    """The clone's files as git sees them (tracked, plus new files not ignored): what a fresh
    clone holds once this work is committed, never build/, egg-info or caches; and from them
    the course alone (config.yaml and its folders, no grader/): a course is data."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for part in COURSE_PARTS:
        (shutil.copytree if (dest / part).is_dir() else shutil.copy2)(dest / part, course / part)


def quick_start_commands(readme: str) -> tuple[str, str]:
    """(install, grade): the first command of the README's Quick start, split at `&&`."""
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    if not block:
        raise RuntimeError("README.md: no ```bash block under '## Quick start'")
    install, _, grade = block.group(1).strip().splitlines()[0].partition(" && ")
    if not grade.startswith("grader grade "):
        raise RuntimeError(f"README.md Quick start: expected 'INSTALL && grader grade ...', got {block.group(1)!r}")
    return install.strip(), grade.strip()


@step("wheel")
def build_wheel(src: Path, dist: Path) -> Path:
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(src)],
       cwd=src, env=dict(os.environ))
    wheel = next(dist.glob("autograd_grader-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    stray = [n for n in names if not (n.startswith("grader/") or ".dist-info/" in n)]
    if stray:
        raise RuntimeError(f"the wheel carries more than the package: {stray[:5]}")
    for needed in ("grader/reports/templates/summary.html.j2", "grader/py.typed", "grader/cli/main.py"):
        if needed not in names:
            raise RuntimeError(f"the wheel lacks {needed}")
    return wheel


@step("venv")
def make_venv(venv: Path, wheel: Path, env: dict[str, str]) -> None:
    sh([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent, env=env)
    # --no-compile: no .pyc for torch's thousands of modules (half the files to write and delete)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile"]
    sh([*pip, TORCH], cwd=venv.parent, env=env, timeout=600)
    sh([*pip, str(wheel)], cwd=venv.parent, env=env, timeout=600)     # no extras, not editable


@step("installed")
def check_installed(venv: Path, work: Path, env: dict[str, str]) -> None:
    where = sh([str(venv / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
               cwd=work, env=env).stdout.strip()
    if not Path(where).resolve().is_relative_to(venv.resolve()):
        raise RuntimeError(f"grader imports from {where}, not from the venv")


@step("version")
def check_version(work: Path, env: dict[str, str]) -> None:
    version = re.search(r'(?m)^version = "([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    got = sh(["grader", "--version"], cwd=work, env=env).stdout.strip()
    if got != f"autograd-grader {version}":
        raise RuntimeError(f"grader --version printed {got!r}, expected 'autograd-grader {version}'")


@step("help")
def check_help(work: Path, env: dict[str, str]) -> None:
    text = sh(["grader", "--help"], cwd=work, env=env).stdout
    for verb in ("grade", "check", "kit", "--course", "--version"):
        if verb not in text:
            raise RuntimeError(f"grader --help does not mention {verb}")


@step("schema")
def check_schema(work: Path, env: dict[str, str]) -> None:
    if '"title": "autograd-grader rubric"' not in sh(["grader", "schema"], cwd=work, env=env).stdout:
        raise RuntimeError("grader schema printed no rubric schema")


@step("no-course")
def check_outside_course(work: Path, env: dict[str, str]) -> None:
    proc = sh(["grader", "show", "matrix_calculus"], cwd=work, env=env, expect=2)
    lines = proc.stderr.strip().splitlines()
    if len(lines) != 1 or "config.yaml" not in lines[0] or "--course" not in lines[0] or "Traceback" in proc.stdout:
        raise RuntimeError(f"expected one line naming config.yaml and --course, got:\n{proc.stderr}")


@step("quick-start")
def run_quick_start(course: Path, env: dict[str, str]) -> None:
    install, grade = quick_start_commands((REPO / "README.md").read_text())
    if install != README_INSTALL:
        raise RuntimeError(f"README Quick start installs with {install!r}; this stage checks {README_INSTALL!r} "
                           "(a regular install of the clone, as the wheel here): update one or the other")
    print(f"   README: {grade}", flush=True)
    sh(shlex.split(grade), cwd=course, env=env, timeout=600)
    out = course / "reports" / "matrix_calculus"
    rows = (out / "gradebook.csv").read_text().splitlines()
    if len(rows) != 13:
        raise RuntimeError(f"gradebook.csv has {len(rows) - 1} rows, expected the 12 samples")
    mode = (out / "gradebook.csv").stat().st_mode & 0o777
    umask = os.umask(0o022)
    os.umask(umask)
    if mode != 0o666 & ~umask:
        raise RuntimeError(f"gradebook.csv has mode {mode:o}, expected {0o666 & ~umask:o} (umask {umask:03o})")


@step("check")
def run_check(course: Path, env: dict[str, str]) -> None:
    text = sh(["grader", "check", SAMPLE], cwd=course, env=env).stdout
    if "public score: 12 / 12" not in text:
        raise RuntimeError(f"grader check of {SAMPLE} did not report 12 / 12:\n{text[-2000:]}")


@step("bundle")
def run_bundle(course: Path, work: Path, env: dict[str, str]) -> None:
    zip_path = work / "autograder.zip"
    sh(["grader", "gradescope-bundle", "-a", "matrix_calculus", "--out", str(zip_path)], cwd=course, env=env)
    names = set(zipfile.ZipFile(zip_path).namelist())
    for needed in ("setup.sh", "run_autograder", "pyproject.toml", "config.yaml", "rubrics/matrix_calculus.yaml",
                   "grader/cli/main.py", "grader/reports/templates/summary.html.j2"):
        if needed not in names:
            raise RuntimeError(f"the Gradescope bundle lacks {needed}")


@step("kit")
def run_kit(course: Path, kit: Path, env: dict[str, str]) -> None:
    sh(["grader", "kit", "-a", "matrix_calculus", "--out", str(kit)], cwd=course, env=env)
    shutil.copy(course / SAMPLE, kit / "my_work.ipynb")       # a student's finished notebook
    text = sh(["grader", "check", "my_work.ipynb"], cwd=kit, env=env).stdout
    if "public score: 12 / 12" not in text:
        raise RuntimeError(f"grader check in the kit alone did not report 12 / 12:\n{text[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="grader-clean-install-")).resolve()
    if tmp.is_relative_to(REPO):
        print("clean install: the temporary folder must be outside the clone", file=sys.stderr)
        return 1
    src, dist, venv, course, work, kit = (tmp / n for n in ("src", "dist", "venv", "course", "work", "kit"))
    for folder in (src, dist, course, work):
        folder.mkdir()
    # Only the venv on PATH; nothing of the clone or of a developer's virtualenv leaks in.
    # PYTHONDONTWRITEBYTECODE dropped: the venv is installed --no-compile, so its commands cache
    # the bytecode of what they import (the first import of torch compiles it once).
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "GRADER_COURSE")
           and not k.startswith("GITHUB_")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", COLUMNS="200", NO_COLOR="1")
    try:
        copy_files(src, course)
        wheel = build_wheel(src, dist)
        make_venv(venv, wheel, env)
        check_installed(venv, work, env)
        check_version(work, env)
        check_help(work, env)
        check_schema(work, env)
        check_outside_course(work, env)
        run_quick_start(course, env)
        run_check(course, env)
        run_bundle(course, work, env)
        run_kit(course, kit, env)
    except StepFailed as exc:
        print(f"clean install FAILED at step {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"clean install: kept {tmp}")
        else:   # in the background: deleting torch's files can take a minute on a busy disk
            subprocess.Popen(["rm", "-rf", str(tmp)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"clean install: all steps passed in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
