"""The student kit (`grader kit`): nothing secret in it, and `grader check` works from it alone
with the same public verdicts as in the course's repository."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.authoring.assign import BEGIN, END
from grader.authoring.kit import KIT_MARKER, public_rubric, public_rubric_yaml, write_kit
from grader.config import load_config
from grader.errors import InputError
from grader.reports.markdown import STATUS_MARK
from grader.checks.semantics import load_rubric
from helpers import ROOT, config, grader_cli, grader_popen

ASSIGNMENTS = sorted(p.stem for p in (ROOT / "rubrics").glob("*.yaml"))
#: per assignment, a sample that fails some public checks and passes others (see its README)
SAMPLES = {"matrix_calculus": "student12_lena", "numerical_diff": "student02_two_h_forward",
           "torch_autograd": "student03_accumulate_zeroes", "lagrange": "student04_gradient_no_lam_part",
           "dual_numbers": "student04_minimal", "backward_engine": "student03_tanh_wrong"}


def test_every_assignment_has_a_sample_here():
    assert sorted(SAMPLES) == ASSIGNMENTS


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> dict[str, Path]:
    """One kit per bundled assignment, as `grader kit -a NAME --out DIR` writes it (in this
    process: the CLI's kit is compared with it byte for byte below)."""
    made = {}
    for name in ASSIGNMENTS:
        made[name] = tmp_path_factory.mktemp(f"kit-{name}")
        write_kit(config(), [load_rubric(ROOT / "rubrics" / f"{name}.yaml")], made[name])
    return made


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_cli_writes_the_same_kit(kits, tmp_path):
    proc = grader_cli("kit", "-a", "matrix_calculus", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {tmp_path / 'README.md'}" in proc.stdout and "placeholder" in proc.stdout
    assert files_of(tmp_path) == files_of(kits["matrix_calculus"])


# -- what a kit must never contain --------------------------------------------------------------

def solution_lines(solution: Path) -> set[str]:
    """Every non-trivial line inside a `# BEGIN SOLUTION` / `# END SOLUTION` region (comments
    included): at least 8 characters, and not also found in the notebook's text outside the
    regions, which the student notebook keeps by design (`out.backward()` in the course's text)."""
    inside, outside = [], []
    for cell in nbformat.read(solution, as_version=4).cells:
        in_region = False
        for line in cell.source.splitlines():
            if cell.cell_type == "code" and (BEGIN.match(line) or END.match(line)):
                in_region = bool(BEGIN.match(line))
                continue
            (inside if in_region else outside).append(line.strip())
    kept = "\n".join(outside)
    return {line for line in inside if len(line) >= 8 and line not in kept}


def searchable_text(folder: Path) -> str:
    """Every file of a folder as text; a notebook also as its cells' sources (in the JSON file
    they are escaped strings, which a plain search would miss)."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts.append(path.read_text(encoding="utf-8"))
        if path.suffix == ".ipynb":
            parts += [cell.source for cell in nbformat.read(path, as_version=4).cells]
    return "\n".join(parts)


def hidden_seeds(name: str) -> set[int]:
    return {q.cases.hidden.seed for q in load_rubric(ROOT / "rubrics" / f"{name}.yaml").questions
            if q.cases.hidden.count}


def seed_pattern(seed: int) -> re.Pattern:
    return re.compile(rf"(?<![0-9]){seed}(?![0-9])")


def test_the_searches_find_what_they_look_for(tmp_path):
    """The two searches below can fail: run on the solution and the full rubric, they hit."""
    for name in ASSIGNMENTS:
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", tmp_path / f"{name}.ipynb")
        shutil.copy(ROOT / "rubrics" / f"{name}.yaml", tmp_path / f"{name}.yaml")
        text = searchable_text(tmp_path)
        lines = solution_lines(ROOT / "solutions" / f"{name}.ipynb")
        assert lines and all(line in text for line in lines), name
        assert hidden_seeds(name) and all(seed_pattern(s).search(text) for s in hidden_seeds(name)), name


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_kit_holds_no_solution_line_and_no_hidden_seed(kits, name):
    text = searchable_text(kits[name])
    leaked = sorted(line for line in solution_lines(ROOT / "solutions" / f"{name}.ipynb") if line in text)
    assert not leaked, f"solution lines in the {name} kit: {leaked[:5]}"
    seeds = sorted(s for s in hidden_seeds(name) if seed_pattern(s).search(text))
    assert not seeds, f"hidden seeds in the {name} kit: {seeds}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_kit_layout_and_public_rubric(kits, name):
    kit = kits[name]
    assert sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()) == sorted(
        ["README.md", "config.yaml", f"{name}.ipynb", f"rubrics/{name}.yaml"])
    data = yaml.safe_load((kit / "rubrics" / f"{name}.yaml").read_text())
    assert data["public_only"] is True
    for q in data["questions"]:      # no hidden key at all: not even a count of hidden cases
        assert list(q["cases"]) == ["public"], q["id"]
        assert "hidden_only" not in q, q["id"]
    full = load_rubric(ROOT / "rubrics" / f"{name}.yaml")
    kit_rubric = load_rubric(kit / "rubrics" / f"{name}.yaml")
    assert kit_rubric == public_rubric(full)       # everything public survives the round trip
    assert [(q.id, q.points, q.cases.public, q.check, q.tolerance) for q in kit_rubric.questions] == [
        (q.id, q.points, q.cases.public, q.check, q.tolerance) for q in full.questions]
    assert all(q.cases.hidden.count == 0 for q in kit_rubric.questions)
    nb = nbformat.read(kit / f"{name}.ipynb", as_version=4)
    assert nb.metadata["grader"]["assignment"] == name
    assert (kit / "config.yaml").read_text().startswith(KIT_MARKER)
    readme = (kit / "README.md").read_text()
    assert "python -m pip install " in readme and f"grader check {name}.ipynb" in readme


def test_install_line_and_a_second_assignment_join_one_kit(tmp_path):
    spec = "git+https://github.com/example-course/autograd-grader@v1.2"
    for name in ("lagrange", "numerical_diff"):
        proc = grader_cli("kit", "-a", name, "--out", tmp_path, "--install", spec)
        assert proc.returncode == 0, proc.stderr
        assert "placeholder" not in proc.stdout
    readme = (tmp_path / "README.md").read_text()
    assert f"python -m pip install {spec}\n" in readme
    assert "grader check lagrange.ipynb" in readme and "grader check numerical_diff.ipynb" in readme


# -- bad input --------------------------------------------------------------------------------

def test_unknown_assignment_is_one_line_exit_2(tmp_path):
    proc = grader_cli("kit", "-a", "matrix_calculs", "--out", tmp_path / "k")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "did you mean 'matrix_calculus'" in proc.stderr
    assert not (tmp_path / "k").exists()


def test_kit_never_overwrites_a_course(tmp_path):
    proc = grader_cli("kit", "-a", "lagrange", "--out", ROOT)
    assert proc.returncode == 2 and "course folder itself" in proc.stderr and proc.stderr.count("\n") == 1
    (tmp_path / "config.yaml").write_text("workers: 1\n")
    proc = grader_cli("kit", "-a", "lagrange", "--out", tmp_path)
    assert proc.returncode == 2 and "not a student kit's config" in proc.stderr
    assert (tmp_path / "config.yaml").read_text() == "workers: 1\n"


def test_public_only_rubric_refuses_hidden_cases(tmp_path):
    text = (ROOT / "rubrics" / "lagrange.yaml").read_text().replace("version: 1\n", "version: 1\npublic_only: true\n")
    bad = tmp_path / "lagrange.yaml"
    bad.write_text(text)
    with pytest.raises(InputError) as err:
        load_rubric(bad)
    assert "public_only" in str(err.value) and "have hidden cases" in str(err.value)


def test_grade_and_gradescope_bundle_refuse_a_kit_rubric(kits, tmp_path):
    rubric = kits["lagrange"] / "rubrics" / "lagrange.yaml"
    for args in (["grade", "samples/lagrange", "-a", rubric, "--out", tmp_path / "out"],
                 ["gradescope-bundle", "-a", rubric, "--out", tmp_path / "b.zip"]):
        proc = grader_cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert "student kit's rubric" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "results").exists() and not (tmp_path / "b.zip").exists()


def test_a_kit_rubric_has_a_fingerprint_of_its_own():
    """A result made with a kit's rubric never passes for one made with the course's (resume,
    merge): the fingerprint counts `public_only` when it is true, and the hidden cases."""
    full = load_rubric(ROOT / "rubrics" / "lagrange.yaml")
    kit = public_rubric(full)
    assert kit.fingerprint() != full.fingerprint()
    assert kit.fingerprint() != kit.model_copy(update={"public_only": False}).fingerprint()


def test_kit_config_is_a_course_config(tmp_path):
    write_kit(config(), [load_rubric(ROOT / "rubrics" / "numerical_diff.yaml")], tmp_path)
    cfg = load_config(tmp_path / "config.yaml")
    assert cfg.path("rubrics") == tmp_path / "rubrics" and cfg.execution.sandbox == "auto"
    assert cfg.execution == config().execution.model_copy(update={"sandbox": "auto", "kernel": "auto"})


# -- grader check from the kit alone ------------------------------------------------------------

def _check(cwd: Path, notebook: str, name: str, out: Path):
    return grader_popen("check", notebook, "-a", name, "--format", "json", "--out", out, cwd=cwd)


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_check_from_the_kit_alone_gives_the_repository_verdicts(kits, name, tmp_path):
    kit = tmp_path / "kit"                      # the kit alone: no solutions/, samples/, rubrics of the course
    shutil.copytree(kits[name], kit)
    sample = ROOT / "samples" / name / f"{SAMPLES[name]}.ipynb"
    shutil.copy(sample, kit / sample.name)
    in_repo = _check(ROOT, str(sample.relative_to(ROOT)), name, tmp_path / "repo-out")
    in_kit = _check(kit, sample.name, name, tmp_path / "kit-out")
    repo_stdout, repo_stderr = in_repo.communicate(timeout=300)
    kit_stdout, kit_stderr = in_kit.communicate(timeout=300)
    assert in_repo.returncode == in_kit.returncode == 1, (repo_stderr, kit_stderr)

    def result(out: Path) -> dict:
        return json.loads((out / "results" / f"{sample.stem}.json").read_text())

    repo, from_kit = result(tmp_path / "repo-out"), result(tmp_path / "kit-out")
    # the kit's own rubric was used, not the repository's
    assert from_kit["rubric_sha256"] == load_rubric(kit / "rubrics" / f"{name}.yaml").fingerprint()
    assert repo["rubric_sha256"] == load_rubric(ROOT / "rubrics" / f"{name}.yaml").fingerprint()
    assert repo["public_only"] and from_kit["public_only"]
    statuses = {q["status"] for q in repo["questions"]}
    assert "passed" in statuses and statuses - {"passed"}, f"{sample.name} should pass some, fail some"
    for field in ("score", "max_score", "status", "message", "notebook_issues", "questions"):
        assert from_kit[field] == repo[field], field        # verdicts, scores, reasons, hints, cases
    table = [line for line in kit_stdout.splitlines() if line.startswith(tuple(STATUS_MARK.values()))]
    assert len(table) == len(repo["questions"]), kit_stdout
    assert all(line in repo_stdout.splitlines() for line in table)     # the same table in the terminal


@pytest.mark.slow
def test_the_readme_check_command_runs_in_the_kit(kits, tmp_path):
    """The student README's command, as written, on the untouched notebook: every question
    not implemented, exit 1, nothing taken from the repository."""
    kit = tmp_path / "kit"
    shutil.copytree(kits["numerical_diff"], kit)
    command = next(line for line in (kit / "README.md").read_text().splitlines() if line.startswith("grader check"))
    proc = grader_cli(*command.split()[1:], cwd=kit)
    assert proc.returncode == 1, proc.stderr
    top = load_rubric(kit / "rubrics" / "numerical_diff.yaml").max_score
    assert f"public score: 0 / {top:g}" in proc.stdout and proc.stdout.count("not implemented") >= 3, proc.stdout


def test_without_solutions_the_committed_student_notebook_is_used(tmp_path):
    cfg = config()
    paths = cfg.paths.model_copy(update={"solutions": tmp_path / "none"})
    cfg = cfg.model_copy(update={"paths": paths})
    rubric = load_rubric(ROOT / "rubrics" / "lagrange.yaml")
    write_kit(cfg, [rubric], tmp_path / "kit")
    assert (nbformat.read(tmp_path / "kit" / "lagrange.ipynb", as_version=4)
            == nbformat.read(ROOT / "assignments" / "lagrange.ipynb", as_version=4))
    cfg = cfg.model_copy(update={"paths": paths.model_copy(update={"assignments": tmp_path / "none"})})
    with pytest.raises(InputError) as err:
        write_kit(cfg, [rubric], tmp_path / "kit2")
    assert "lagrange" in str(err.value) and "\n" not in str(err.value)


def test_what_the_rubric_says_about_hidden_cases_stays_out():
    """`hidden_only` (mutants only hidden cases catch, with the reason) describes the hidden cases."""
    full = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    q = full.questions[0].model_copy(update={"hidden_only": {"transpose": "only hidden cases are non-square"}})
    text = public_rubric_yaml(full.model_copy(update={"questions": [q, *full.questions[1:]]}))
    assert "only hidden cases are non-square" not in text and "hidden_only" not in text
    assert "public_only: true" in text
