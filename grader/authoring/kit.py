"""The student kit: what an instructor hands to students (`grader kit`).

A kit is a folder that `grader check` can use on its own, without the
course's repository:

    DIR/README.md            how to install the grader and run `grader check`
    DIR/config.yaml          the course's limits; marks DIR as a (public-only) course
    DIR/NAME.ipynb           the student notebook (solution regions stubbed, hidden cells gone)
    DIR/rubrics/NAME.yaml    the public part of the rubric (`public_only: true`)

What never goes in: solution source (the notebook is made from the solution by
`grader assign`), hidden seeds and hidden case counts (the public rubric has no
hidden cases at all, and the loader refuses hidden cases in a `public_only`
rubric). The rubric's expressions do go in: `grader check` computes the
references of the public cases on the student's machine, and they are the
formulas the exercise statement gives anyway.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from grader.authoring.assign import graded_names, student_notebook
from grader.config import Config
from grader.errors import InputError, OutputError
from grader.checks.semantics import load_rubric
from grader.rubric.model import CaseSet, Question, Rubric
from grader.submissions import read_notebook

#: first line of a kit's config.yaml: `grader kit` only ever overwrites a config that starts with it
KIT_MARKER = "# autograd-grader student kit"
#: what the README's install line says until the instructor names where the course publishes the grader
INSTALL_PLACEHOLDER = "git+https://github.com/YOUR-COURSE/autograd-grader@TAG"


def _public_question(q: Question) -> Question:
    # hidden_only names the mutants only hidden cases catch: it says what they test
    return q.model_copy(update={"cases": q.cases.model_copy(update={"hidden": CaseSet(count=0, seed=0)}),
                                "hidden_only": {}})


def public_rubric(rubric: Rubric) -> Rubric:
    """The rubric without its hidden cases (and what is said about them), marked `public_only`."""
    questions = [_public_question(q) for q in rubric.questions]
    data = rubric.model_copy(update={"questions": questions, "public_only": True}).model_dump()
    return Rubric.model_validate(data)   # through the validators, as the kit's loader will


def public_rubric_yaml(rubric: Rubric) -> str:
    """The public rubric as a YAML file the rubric loader accepts. Every value but an empty
    list or mapping is written out, not left to the defaults of the student's grader, so it
    computes the instructor's cases."""
    data = _without_empty(public_rubric(rubric).model_dump(mode="json", exclude_none=True))
    for question in data["questions"]:
        del question["cases"]["hidden"]     # no hidden key at all, not even a zero count
    header = (f"# Public checks of '{rubric.assignment}', written by `grader kit`.\n"
              "# The hidden cases are not in this file: they run only when your work is graded.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100,
                                   default_flow_style=None)


def _without_empty(value):
    """Empty lists and mappings left out (their defaults; tests/test_kit.py checks the round trip)."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def kit_config_yaml(cfg: Config) -> str:
    """The course's config with kit-relative paths. The sandbox and the kernel kind are
    `auto`, chosen on the student's machine: a level the instructor's machine names (bwrap)
    may not run there."""
    data = cfg.model_dump(mode="json")
    data["paths"] = {"assignments": ".", "rubrics": "rubrics", "solutions": "solutions",
                     "samples": "samples", "out": "reports"}
    data["execution"].update(sandbox="auto", kernel="auto")
    return (f"{KIT_MARKER}: a public-only course folder for `grader check`.\n"
            "# Its rubrics have no hidden cases; solutions/ and samples/ are not part of a kit.\n"
            + yaml.safe_dump(data, sort_keys=False, width=100))


def student_notebook_for(cfg: Config, rubric: Rubric) -> nbformat.NotebookNode:
    """From the solution through `grader assign` (never stale), else the committed student notebook."""
    name = rubric.assignment
    solution = cfg.path("solutions") / f"{name}.ipynb"
    if solution.is_file():
        return student_notebook(read_notebook(solution), name, str(solution), graded_names(rubric))
    stub = cfg.path("assignments") / f"{name}.ipynb"
    if stub.is_file():
        return read_notebook(stub)
    raise InputError(solution, f"no solution notebook, nor a student notebook {stub}, for '{name}'")


def student_readme(rubrics: list[Rubric], install: str) -> str:
    lines = ["# Student kit", "",
             "What your instructor handed out to check your work before you submit it:", ""]
    for r in rubrics:
        lines.append(f"- `{r.assignment}.ipynb`: {r.title or r.assignment} ({r.max_score:g} points, "
                     f"{len(r.questions)} questions); fill in each `raise NotImplementedError` / `...`")
    lines += ["- `rubrics/`: the public checks (cases, points, hints, tolerances)",
              "- `config.yaml`: marks this folder for `grader check`", "",
              "## Install (once)", "",
              "In the Python environment your notebooks run in (the one Jupyter uses):", "",
              "```bash", f"python -m pip install {install}", "```", "",
              "This brings torch if the environment has none. The CPU build of torch is enough for "
              "these exercises; on Linux a plain install of torch downloads the much larger CUDA "
              "build, so install the CPU build first if your course says how. The `grader.check` "
              "cells need the grader in the notebook's own kernel: if Jupyter runs from another "
              "environment, add this one as a kernel (`python -m pip install ipykernel && python -m "
              "ipykernel install --user --name grader`) and pick it in Jupyter.", "",
              "## Check your work", "", "From this folder:", "", "```bash"]
    lines += [f"grader check {r.assignment}.ipynb" for r in rubrics]
    lines += ["```", "",
              "It runs your notebook in a sandboxed kernel, calls your functions on the public cases "
              "and prints a verdict per question, with a hint and the command that reruns a failing "
              "question alone (`--question ID`). It exits 0 when every public check passes.", "",
              "Or inside the notebook, in your running kernel: the cells that say `grader.check(...)` "
              "check the function above them, and `grader.check_all()` checks every question (the "
              "same public checks and verdicts, in well under a second once the first check ran). "
              "Those cells are skipped when your notebook is graded.", "",
              "These are the public checks only. When your work is graded, the same questions also "
              "run on hidden cases: code that passes here by special-casing the public inputs "
              "will fail there.", ""]
    return "\n".join(lines)


def _check_destination(out: Path, cfg: Config) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(out, "not a folder", key="--out")
    if out.resolve() == cfg.base_dir.resolve():
        raise InputError(out, "is the course folder itself: write the kit to a folder of its own", key="--out")
    config = out / "config.yaml"
    if config.is_file() and not config.read_text(encoding="utf-8", errors="replace").startswith(KIT_MARKER):
        raise InputError(config, "exists and is not a student kit's config: choose another folder", key="--out")


def write_kit(cfg: Config, rubrics: list[Rubric], out: Path, *, install: str = INSTALL_PLACEHOLDER) -> list[Path]:
    """Write the kit for `rubrics` into `out` (created; a kit already there gains these
    assignments). Returns the files written."""
    _check_destination(out, cfg)
    files = {out / "config.yaml": kit_config_yaml(cfg)}
    for rubric in rubrics:
        notebook = student_notebook_for(cfg, rubric)
        files[out / f"{rubric.assignment}.ipynb"] = nbformat.writes(notebook) + "\n"
        files[out / "rubrics" / f"{rubric.assignment}.yaml"] = public_rubric_yaml(rubric)
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        in_kit = [load_rubric(p) for p in sorted((out / "rubrics").glob("*.yaml"))]
        readme = out / "README.md"
        readme.write_text(student_readme(in_kit, install), encoding="utf-8")
    except OSError as exc:
        raise OutputError(out, exc) from None
    return [*files, readme]
