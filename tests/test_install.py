"""The install as users get it: declared imports (deptry), where a course lives, the version,
file modes, and the Gradescope bundle made without the source tree.

The full clean install (wheel, fresh venv with only torch, commands from outside the clone)
is `.ci/clean_install.py`, a stage of `.ci/run` before this suite; the tests here are the
fast parts of the same promises.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import grader
from grader import gradescope_bundle
from grader.config import load_config
from grader.course import ENV_VAR, find_config
from grader.errors import InputError
from grader.files import current_umask, write_atomic_bytes
from grader.pipeline import submission_result
from grader.reports import github, html, markdown, summary
from grader.checks.semantics import load_rubric
from grader.submissions import Submission
from helpers import ROOT, RUBRIC, cli_env

EXIT_INPUT = 2


def grader_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli.main", *args], cwd=cwd, env=cli_env(**(env or {})),
                          capture_output=True, text=True, timeout=120)


# -- every import declared where it is used -----------------------------------------------------------

def deptry(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deptry", ".", "--no-ansi"], cwd=project, capture_output=True,
                          text=True, timeout=300)


def test_every_import_of_the_package_is_a_declared_dependency():
    """deptry reads pyproject.toml ([tool.deptry]): a module grader/ imports that no dependency
    declares (or only a dependency of a dependency, like click through distributed) fails here."""
    proc = deptry(ROOT)
    assert proc.returncode == 0, "undeclared or unused dependencies:\n" + proc.stdout + proc.stderr


@pytest.mark.parametrize("line, module", [('"jinja2>=3.1"', "jinja2"), ('"pyzmq>=25"', "zmq"),
                                          ('"typer>=0.12"', "typer")])
def test_deleting_a_dependency_line_fails_naming_the_module(tmp_path, line, module):
    """The check above can fail: the project with one dependency line deleted is reported, by module."""
    text = (ROOT / "pyproject.toml").read_text()
    assert f"    {line},\n" in text
    (tmp_path / "pyproject.toml").write_text(text.replace(f"    {line},\n", "", 1))
    shutil.copytree(ROOT / "grader", tmp_path / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    proc = deptry(tmp_path)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, report
    assert f"'{module}' imported but" in report, report


def _extra_modules(extra: str) -> set[str]:
    """Top-level modules installed by the distributions of one extra of this package."""
    names = {r.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
             for r in metadata.requires("autograd-grader") or [] if f'extra == "{extra}"' in r}
    return {module for module, dists in metadata.packages_distributions().items()
            if any(d.lower() in names for d in dists)}


def test_optional_dependencies_are_imported_only_inside_the_feature():
    """A core install has no extras: a module of the `dask` extra may be imported only inside a
    function (the dask executor), never at module level, or `grader` would not start without it."""
    extra = _extra_modules("dask")
    assert "distributed" in extra
    found = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        for node in _run_at_import(ast.parse(path.read_text(), filename=str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in extra]
    assert found == []


def _run_at_import(node: ast.AST):
    """The nodes Python runs when it imports the module: all but the bodies of functions."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _run_at_import(child)


# -- where a course lives ---------------------------------------------------------------------------------

def test_the_course_is_found_from_the_current_folder_upward(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert find_config(cwd=ROOT / "samples" / "matrix_calculus") == ROOT / "config.yaml"
    assert find_config(cwd=ROOT) == ROOT / "config.yaml"
    nested = tmp_path / "course" / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "course" / "config.yaml").write_text("workers: 1\n")
    assert find_config(cwd=nested) == tmp_path / "course" / "config.yaml"
    # --config names the file; --course and GRADER_COURSE name the folder; --course wins over the variable
    assert find_config(Path("x.yaml"), ROOT, cwd=nested) == Path("x.yaml")
    assert find_config(course=ROOT, cwd=nested) == ROOT / "config.yaml"
    monkeypatch.setenv(ENV_VAR, str(ROOT))
    assert find_config(cwd=tmp_path) == ROOT / "config.yaml"
    assert find_config(course=tmp_path / "course", cwd=tmp_path) == tmp_path / "course" / "config.yaml"


def test_no_course_is_one_line_naming_what_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(InputError) as err:
        find_config(cwd=tmp_path)
    assert "config.yaml" in str(err.value) and "--course DIR" in str(err.value)
    with pytest.raises(InputError, match=r"not a course: no config.yaml"):
        find_config(course=tmp_path)
    with pytest.raises(InputError, match=r"GRADER_COURSE: no such course folder"):
        monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
        find_config()


def test_a_course_command_outside_any_course_exits_2_with_one_line(tmp_path):
    for args in (["show", "matrix_calculus"], ["grade", str(ROOT / "samples" / "matrix_calculus"),
                                                "-a", "matrix_calculus"]):
        proc = grader_cli(*args, cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == EXIT_INPUT and len(lines) == 1, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert "looked for config.yaml in this folder and its parents" in lines[0] and "--course DIR" in lines[0]
        assert str(tmp_path) in lines[0]
    proc = grader_cli("--course", str(tmp_path), "show", "matrix_calculus", cwd=tmp_path)
    assert proc.returncode == EXIT_INPUT and proc.stderr.strip() == \
        f"error: {tmp_path}: --course: not a course: no config.yaml in this folder"


def test_course_from_the_option_or_the_environment_and_commands_that_need_none(tmp_path):
    shown = grader_cli("--course", str(ROOT), "show", "matrix_calculus", cwd=tmp_path)
    assert shown.returncode == 0 and "matrix_calculus" in shown.stdout, shown.stderr
    by_env = grader_cli("show", "matrix_calculus", cwd=tmp_path, env={ENV_VAR: str(ROOT)})
    assert by_env.returncode == 0 and by_env.stdout == shown.stdout, by_env.stderr
    for args, expect in ((["--version"], f"autograd-grader {grader.__version__}\n"), (["--help"], "--course DIR"),
                         (["schema"], '"title": "autograd-grader rubric"'), (["new-question", "gradient"], "- id:")):
        proc = grader_cli(*args, cwd=tmp_path)
        assert proc.returncode == 0 and expect in proc.stdout, (args, proc.stderr)


def test_the_package_never_looks_next_to_itself_for_a_course():
    """A wheel's install has no course beside it: grader/ has no path to the folder above the package."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "grader").rglob("*.py")
                 if "PROJECT_ROOT" in p.read_text() or "parent.parent / \"config.yaml\"" in p.read_text()]
    assert offenders == []


# -- the version ------------------------------------------------------------------------------------------

def test_version_comes_from_the_package_metadata():
    assert grader.__version__ == metadata.version("autograd-grader")
    text = (ROOT / "pyproject.toml").read_text()
    assert f'\nversion = "{grader.__version__}"\n' in text


def test_every_result_and_report_footer_carries_the_version(tmp_path):
    rubric = load_rubric(RUBRIC)
    nb = ROOT / "samples" / "matrix_calculus" / "student01_alice.ipynb"
    result = submission_result(Submission(id="alice", path=nb, sha256="0" * 64), rubric, "error",
                               message="kernel did not start")
    assert json.loads(result.to_json())["grader_version"] == grader.__version__
    stamp = f"grader {grader.__version__}, rubric v{rubric.version}"
    assert stamp in markdown.render(result).splitlines()[-1]     # the footer line
    assert stamp in " ".join(html.render(result).split())
    page = summary.render(tmp_path, [result], rubric)
    assert f'<p class="muted">{stamp}</p>' in page
    assert summary.render(tmp_path, [result], rubric) == page         # deterministic
    assert stamp in github.summary([result]).splitlines()[-1]          # the CI job summary's footer


# -- files as a user's machine has them -------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        write_atomic_bytes(tmp_path / "sub" / "gradebook.csv", b"x\n")
        write_atomic_bytes(tmp_path / "sub" / "gradebook.csv", b"y\n")       # replacing keeps the rule
    finally:
        os.umask(old)
    path = tmp_path / "sub" / "gradebook.csv"
    assert path.read_bytes() == b"y\n"
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["gradebook.csv"]     # no temporary file left


# -- the Gradescope bundle without the source tree --------------------------------------------------------

def test_gradescope_bundle_installs_from_its_own_files(tmp_path):
    """The bundle is made from the running package and its metadata (no PROJECT_ROOT, so a grader
    installed from a wheel bundles itself too), and what it holds builds into a complete wheel."""
    cfg = load_config(ROOT / "config.yaml")
    data = gradescope_bundle.build(load_rubric(RUBRIC), RUBRIC, cfg, torch_version="2.13.0")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp_path / "source")
        names = set(zf.namelist())
        setup = zf.read("setup.sh").decode()
    assert not any(n.startswith(("solutions/", "samples/", "assignments/")) for n in names)
    assert "apt-get install -y -q bubblewrap ||" in setup
    assert f"torch==2.13.0 --index-url {gradescope_bundle.TORCH_CPU_INDEX}" in setup
    assert "pip install /autograder/source\n" in setup and " -e " not in setup
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                           str(tmp_path / "dist"), str(tmp_path / "source")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("autograd_grader-*.whl")
    assert wheel.name.startswith(f"autograd_grader-{grader.__version__}-")
    inside = set(zipfile.ZipFile(wheel).namelist())
    package = {f"grader/{p.relative_to(ROOT / 'grader').as_posix()}" for p in (ROOT / "grader").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert package <= inside, sorted(package - inside)[:5]


# -- the README and the clean-install stage agree -----------------------------------------------------------

def _clean_install_module():
    spec = importlib.util.spec_from_file_location("clean_install", ROOT / ".ci" / "clean_install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_quick_start_is_the_command_the_clean_install_stage_runs():
    stage = _clean_install_module()
    install, grade = stage.quick_start_commands((ROOT / "README.md").read_text())
    assert install == stage.README_INSTALL == "python -m pip install torch==2.13.0 ."   # not editable
    assert grade == "grader grade samples/matrix_calculus --assignment matrix_calculus"
    assert "python .ci/clean_install.py" in (ROOT / ".ci" / "run").read_text().split("pytest")[0]
