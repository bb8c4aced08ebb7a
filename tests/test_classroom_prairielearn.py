"""GitHub Classroom and PrairieLearn: the formats from a real grading run, the Classroom workflow
example, and the PrairieLearn entrypoint on a fake /grade tree.

Correct, partial and broken samples are graded once through the real CLI with both formats on,
as a Classroom grader step runs it ($GITHUB_OUTPUT pointing into the test's folder); the other
tests read what that run wrote.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from grader import __version__
from grader.reports import classroom, prairielearn
from grader.reports.views import mentions_hidden
from grader.results import CaseReport, DeviceCount, QuestionResult, SubmissionResult
from helpers import ROOT, RUBRIC, cli_env
from helpers import grader_cli as cli

SAMPLES = ROOT / "samples" / "matrix_calculus"
EXAMPLE_PL = ROOT / "examples" / "prairielearn"
ENTRYPOINT = EXAMPLE_PL / "entrypoint.py"
CLASSROOM_WORKFLOW = ROOT / "examples" / "classroom" / ".github" / "workflows" / "classroom.yml"
#: sample -> (what it is, score out of 12, Classroom status, questions that lose points)
CASES = {
    "student01_alice": ("correct", 12, "pass", set()),
    "student04_dmitri": ("partial", 10, "fail", {"grad_quadratic_form"}),
    "student12_lena": ("failing cells", 10, "fail", {"grad_log_abs_det"}),
    "student13_broken": ("not a notebook", 0, "error", None),      # None: every question
}
TEST_FIELDS = {"name": str, "status": str, "score": (int, float), "message": str, "test_code": str,
               "filename": str, "line_no": int, "duration": (int, float)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom-pl")
    subs, out, outputs = tmp / "subs", tmp / "out", tmp / "github_output.txt"
    subs.mkdir()
    for name in CASES:
        if (SAMPLES / f"{name}.ipynb").exists():
            shutil.copy(SAMPLES / f"{name}.ipynb", subs)
    (subs / "student13_broken.ipynb").write_text("this is not a notebook\n")
    proc = cli("grade", subs, "-a", "matrix_calculus", "--out", out, "--format", "classroom",
               "--format", "prairielearn", env={"GITHUB_OUTPUT": str(outputs)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {p.stem: SubmissionResult.model_validate_json(p.read_text()) for p in (out / "results").glob("*.json")}
    assert set(results) == set(CASES)
    return dict(out=out, outputs=outputs, results=results, tmp=tmp)


# -- GitHub Classroom ----------------------------------------------------------------------------

def step_output(path: Path) -> dict:
    """What the reporter does with it: the env var's value, base64-decoded, parsed as UTF-8 JSON."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("result=")]
    assert len(lines) == 1, lines
    value = lines[0].removeprefix("result=")
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", value), "one line of plain base64"
    return json.loads(base64.b64decode(value, validate=True).decode("utf-8"))


def assert_reporter_shape(doc: dict) -> None:
    assert set(doc) == {"version", "status", "max_score", "tests"}
    assert doc["version"] == 1 and doc["status"] in ("pass", "fail", "error")
    assert isinstance(doc["max_score"], (int, float)) and doc["max_score"] > 0   # 0 would be left out
    assert doc["tests"]
    for test in doc["tests"]:
        assert set(test) == set(TEST_FIELDS), test
        for field, kind in TEST_FIELDS.items():
            assert isinstance(test[field], kind), (field, test)
        assert test["status"] in ("pass", "fail", "error")
        assert test["line_no"] == 0 and test["duration"] == 0


def classroom_points(doc: dict) -> tuple[float, float]:
    """(totalPoints, maxPoints) as the reporter's notice computes them: tests' scores summed,
    max_score taken as it is, a runner whose max_score is falsy left out."""
    if not doc["max_score"]:
        return 0.0, 0.0
    return sum(t["score"] for t in doc["tests"]), doc["max_score"]


def test_step_output_decodes_to_the_reporter_shape_and_adds_up(run):
    doc = step_output(run["outputs"])
    assert_reporter_shape(doc)
    results = run["results"]
    total, most = classroom_points(doc)
    assert total == pytest.approx(sum(r.score for r in results.values()), abs=1e-6)
    assert total == 32 and most == 48
    assert doc["status"] == "error"                  # one notebook could not run at all
    names = [t["name"] for t in doc["tests"]]
    assert len(names) == 4 * 8 and len(set(names)) == len(names)
    assert names[0] == "student01_alice: grad_inner"


def test_each_notebook_as_its_own_classroom_runner(run):
    for sub, (what, score, status, lost) in CASES.items():
        result = run["results"][sub]
        doc = json.loads((run["out"] / "classroom" / f"{sub}.json").read_text())
        assert_reporter_shape(doc)
        assert doc == classroom.render_batch([result]), sub     # the step output of this notebook alone
        total, most = classroom_points(doc)
        assert total == pytest.approx(result.score, abs=1e-6) and total == score, (sub, what)
        assert most == result.max_score == 12
        assert doc["status"] == status, (sub, what)
        failing = {t["name"] for t in doc["tests"] if t["status"] != "pass"}
        assert failing == (lost if lost is not None else {q.id for q in result.questions}), sub
        for test in doc["tests"]:
            assert test["filename"] == f"{sub}.ipynb"
            assert test["test_code"] == f"grader check {sub}.ipynb -a matrix_calculus --question {test['name']}"


def test_classroom_messages_hold_the_reason_and_hint_and_no_path(run):
    by_name = lambda sub: {t["name"]: t for t in json.loads(     # noqa: E731
        (run["out"] / "classroom" / f"{sub}.json").read_text())["tests"]}
    dmitri = by_name("student04_dmitri")["grad_quadratic_form"]
    assert dmitri["score"] == 0 and "public case(s) failed" in dmitri["message"]
    assert "hint: " in dmitri["message"] and "symmetric" in dmitri["message"]
    lena = by_name("student12_lena")["grad_log_abs_det"]
    assert "not defined" in lena["message"] and "SyntaxError" in lena["message"]   # why it is missing
    broken = by_name("student13_broken")
    assert {t["status"] for t in broken.values()} == {"error"}       # the reporter prints these messages
    assert all("could not be read" in t["message"] and "not a notebook" in t["message"] for t in broken.values())
    text = (run["out"] / "classroom" / "student13_broken.json").read_text()
    assert str(run["tmp"]) not in text and "student13_broken.ipynb" in text


def test_classroom_keeps_hidden_cases_to_a_count():
    """Everything in a Classroom run is visible at once: a question failing hidden cases only says
    how many, never which, nor a hint that only a hidden case earned."""
    q = QuestionResult(id="grad_f", calls=["grad_f"], score=0, max_score=2, status="failed",
                       feedback="1 of 8 public and 3 of 8 hidden cases failed; first (hidden-2/float64/cpu): "
                                "wrong values at [0]", hints=["hint from the hidden case"],
                       cases={"cpu": DeviceCount(passed=12, total=16)}, hidden_failed=3, hidden_total=8,
                       public_failures=[CaseReport(case="public-4/float64/cpu", message="wrong sign")])
    only_hidden = q.model_copy(update={"public_failures": [], "hidden_failed": 4,
                                       "feedback": "4 of 8 hidden cases failed; first (hidden-1/float64/cpu): x"})
    r = _result([q, only_hidden.model_copy(update={"id": "grad_g", "calls": ["grad_g"]})])
    doc = classroom.render(r)
    text = json.dumps(doc)
    assert not mentions_hidden(text)
    first, second = doc["tests"]
    assert first["message"].startswith("1 of 8 public case(s) failed; first (public-4/float64/cpu): wrong sign")
    assert "3 hidden case(s) failed" in first["message"] and "hint from the hidden case" in first["message"]
    assert second["message"] == "the public cases passed; 4 hidden case(s) failed"      # no hint
    assert doc["status"] == "fail"


def _result(questions: list[QuestionResult], **kw) -> SubmissionResult:
    return SubmissionResult(submission="s", source="/somewhere/s.ipynb", sha256="0" * 64, assignment="a",
                            rubric_version=1, grader_version=__version__, status="graded",
                            score=round(sum(q.score for q in questions), 6),
                            max_score=sum(q.max_score for q in questions), questions=questions, **kw)


def test_classroom_partial_credit_adds_up_and_a_huge_output_is_shortened():
    qs = [QuestionResult(id=f"q{i}", calls=[f"q{i}"], score=1 / 3, max_score=1, status="failed",
                         feedback="x" * 50_000, cases={"cpu": DeviceCount(passed=1, total=3)}) for i in range(9)]
    r = _result(qs)
    doc = classroom.render(r)
    assert sum(t["score"] for t in doc["tests"]) == pytest.approx(r.score, abs=1e-5) and doc["max_score"] == 9
    assert len(classroom.encode(doc)) > classroom.STEP_OUTPUT_LIMIT
    cut = classroom.fit(doc)
    assert len(classroom.encode(cut)) <= classroom.STEP_OUTPUT_LIMIT
    assert [(t["name"], t["score"], t["status"]) for t in cut["tests"]] == \
        [(t["name"], t["score"], t["status"]) for t in doc["tests"]]
    assert all(t["message"].endswith("full feedback is in the job summary)") for t in cut["tests"])


# -- PrairieLearn --------------------------------------------------------------------------------

PL_TEST_FIELDS = {"name", "description", "points", "max_points", "message", "output"}


def assert_pl_shape(doc: dict) -> None:
    assert {"gradable", "score", "message", "output", "tests"} <= set(doc) <= \
        {"gradable", "score", "message", "output", "tests", "format_errors"}
    assert isinstance(doc["gradable"], bool) and 0 <= doc["score"] <= 1
    for test in doc["tests"]:
        assert set(test) == PL_TEST_FIELDS
        assert all(isinstance(test[f], str) for f in ("name", "description", "message", "output"))
        assert 0 <= test["points"] <= test["max_points"]      # both on every test: PL's points display


def test_prairielearn_results_from_the_real_run(run):
    for sub, (what, score, status, lost) in CASES.items():
        result = run["results"][sub]
        path = run["out"] / "prairielearn" / f"{sub}.json"
        assert path.stat().st_size <= prairielearn.LIMIT
        doc = json.loads(path.read_text())
        assert_pl_shape(doc)
        assert str(run["tmp"]) not in path.read_text(), "no path of the grading machine"
        assert sum(t["points"] for t in doc["tests"]) == pytest.approx(result.score) == score
        assert sum(t["max_points"] for t in doc["tests"]) == 12
        if status == "error":
            assert doc["gradable"] is False and doc["score"] == 0
            assert re.match(r"student13_broken\.ipynb: not a notebook", doc["format_errors"][0])
            continue
        assert doc["gradable"] is True and doc["score"] == pytest.approx(score / 12, abs=1e-6), (sub, what)
        assert doc["message"].startswith(f"matrix_calculus: {score} / 12")
        losing = {t["name"] for t in doc["tests"] if t["points"] < t["max_points"]}
        assert losing == lost, sub
    lena = json.loads((run["out"] / "prairielearn" / "student12_lena.json").read_text())
    assert "notebook: cell 4: NameError" in lena["output"]
    dmitri = {t["name"]: t for t in json.loads(
        (run["out"] / "prairielearn" / "student04_dmitri.json").read_text())["tests"]}["grad_quadratic_form"]
    assert "hint: " in dmitri["message"] and "expected:" in dmitri["output"] and "got:" in dmitri["output"]
    assert "reproduce: grader check student04_dmitri.ipynb -a matrix_calculus --question grad_quadratic_form" \
        in dmitri["output"]


def test_prairielearn_results_are_cut_under_1_mb_with_a_note():
    big = CaseReport(case="public-1/float64/cpu", message="m" * 5_000, inputs={"x": "1" * 5_000},
                     expected="2", got="3")
    qs = [QuestionResult(id=f"q{i}", calls=[f"q{i}"], score=0.5, max_score=1, status="failed",
                         feedback="f" * 200_000, hints=["h" * 100_000], public_failures=[big] * 60,
                         cases={"cpu": DeviceCount(passed=1, total=2)}) for i in range(8)]
    r = _result(qs, notebook_issues=["cell 1: " + "e" * 300_000])
    full = prairielearn.render(r)
    assert prairielearn.size(full) > 2 * prairielearn.LIMIT
    text = prairielearn.dumps(r)
    assert len(text.encode("utf-8")) <= prairielearn.LIMIT
    doc = json.loads(text)
    assert_pl_shape(doc)
    assert doc["message"].endswith(prairielearn.CUT_NOTE)
    assert doc["score"] == 0.5 and [(t["name"], t["points"], t["max_points"]) for t in doc["tests"]] == \
        [(t["name"], t["points"], t["max_points"]) for t in full["tests"]]
    small = _result(qs[:1]).model_copy(update={"questions": [qs[0].model_copy(update={
        "feedback": "short", "hints": [], "public_failures": []})]})
    assert json.loads(prairielearn.dumps(small)) == prairielearn.render(small)    # untouched when it fits


# -- the PrairieLearn entrypoint on a fake /grade tree --------------------------------------------

def fake_grade_tree(root: Path, notebook: Path | None) -> Path:
    """/grade as PrairieLearn lays it out: the upload in student/, the question's tests/ folder
    (the example's config.yaml and the course's rubric), data/data.json; no results/ yet."""
    (root / "student").mkdir(parents=True)
    (root / "tests" / "rubrics").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "data.json").write_text("{}")
    shutil.copy(EXAMPLE_PL / "question" / "tests" / "config.yaml", root / "tests")
    shutil.copy(RUBRIC, root / "tests" / "rubrics")
    if notebook:
        shutil.copy(notebook, root / "student" / "matrix_calculus.ipynb")
    (root / "student" / "notes.txt").write_text("not graded")
    return root


def entrypoint(root: Path | None, **env: str) -> subprocess.CompletedProcess:
    environ = cli_env(**env)
    args = [sys.executable, str(ENTRYPOINT)] + ([str(root)] if root else [])
    proc = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr     # PrairieLearn reads results only after exit 0
    return proc


@pytest.mark.skipif(os.geteuid() != 0, reason="GRADER_USER=root needs root; as another user it runs as itself")
def test_entrypoint_grades_the_upload_and_always_leaves_results(tmp_path):
    root = fake_grade_tree(tmp_path / "grade", SAMPLES / "student04_dmitri.ipynb")
    grader = f"{shlex.quote(sys.executable)} -m grader.cli.main"
    proc = entrypoint(root, GRADER_USER="root", GRADER_BIN=grader)
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_pl_shape(doc)
    assert doc["gradable"] is True and doc["score"] == pytest.approx(10 / 12, abs=1e-6), proc.stdout
    assert {t["name"] for t in doc["tests"] if t["points"] < t["max_points"]} == {"grad_quadratic_form"}
    # nothing submitted: not gradable (no attempt charged), and the student is told what to upload;
    # the /grade root comes from GRADE_ROOT this time
    empty = fake_grade_tree(tmp_path / "empty", None)
    entrypoint(None, GRADE_ROOT=str(empty), GRADER_USER="root", GRADER_BIN=grader)
    doc = json.loads((empty / "results" / "results.json").read_text())
    assert doc["gradable"] is False and doc["format_errors"] == [
        "No .ipynb notebook was submitted: upload your matrix_calculus.ipynb."]
    # a course that cannot be found: not gradable, the student asked to tell the staff
    shutil.rmtree(empty / "tests")
    entrypoint(empty, GRADER_USER="root", GRADER_BIN=grader)
    doc = json.loads((empty / "results" / "results.json").read_text())
    assert doc["gradable"] is False and "tell the course staff" in doc["message"]


STUB = """#!/bin/sh
# stands in for `grader`: records who it runs as and what it can reach, leaves a process behind
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out="$a"; prev="$a"; done
sleep 300 &
left=$!
w=no; touch "{grade}/results/forged.json" 2>/dev/null && w=yes
r=no; cat "{grade}/tests/config.yaml" >/dev/null 2>&1 && r=yes
mkdir -p "$out/prairielearn"
printf '{{"gradable": true, "score": 0.5, "message": "uid=%s home=%s cwd=%s write=%s read=%s left=%s args=%s", "tests": []}}' \\
  "$(id -u)" "$HOME" "$(pwd)" "$w" "$r" "$left" "$*" > "$out/prairielearn/x.json"
"""


@pytest.fixture
def world_dir():
    """A folder every user can enter (pytest's own temporary folders are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="pl-entrypoint-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to an unprivileged user needs root")
def test_entrypoint_runs_the_grader_unprivileged(world_dir):
    nobody = pwd.getpwnam("nobody")
    root = fake_grade_tree(world_dir / "grade", SAMPLES / "student01_alice.ipynb")
    root.chmod(0o755)
    stub = world_dir / "bin" / "grader"
    stub.parent.mkdir()
    stub.write_text(STUB.format(grade=root))
    stub.chmod(0o755)
    stub.parent.chmod(0o755)
    proc = entrypoint(root, GRADER_USER="nobody", GRADER_BIN=str(stub))
    doc = json.loads((root / "results" / "results.json").read_text())
    seen = dict(kv.split("=", 1) for kv in doc["message"].split(" args=")[0].split())
    args = doc["message"].split(" args=", 1)[1]
    assert seen["uid"] == str(nobody.pw_uid), proc.stdout
    assert seen["write"] == "no" and not (root / "results" / "forged.json").exists()   # results/ is root's
    assert seen["read"] == "no"                 # /grade's inputs are root's; the grader reads its copy
    assert seen["home"].startswith(seen["cwd"]) and not Path(seen["cwd"]).exists()   # private, then removed
    for part in ("grade", "--assignment matrix_calculus", "--fresh", "--sandbox limits", "--format prairielearn",
                 "--workers 1"):
        assert part in args, args
    left = Path("/proc") / seen["left"]
    assert not left.exists() or left.joinpath("stat").read_text().split()[2] == "Z", "its process group is killed"
    assert doc["gradable"] is True and doc["score"] == 0.5
    assert (root / "results").stat().st_uid == 0 and (root / "tests").stat().st_mode & 0o077 == 0


def test_entrypoint_image_recipe_and_question_agree():
    """The Dockerfile installs the entrypoint where its ENTRYPOINT points and makes the user the
    entrypoint drops to; the example question names the image and the external grading method."""
    docker = (EXAMPLE_PL / "Dockerfile").read_text()
    copied = re.search(r"^COPY examples/prairielearn/entrypoint\.py (\S+)$", docker, re.M)
    assert copied and f'ENTRYPOINT ["{copied.group(1)}"]' in docker
    assert re.search(r"^RUN useradd .*\bgrader$", docker, re.M)
    assert 'os.environ.get("GRADER_USER", "grader")' in ENTRYPOINT.read_text()
    assert '"torch==${TORCH_VERSION}"' in docker and "ARG TORCH_VERSION=2.13.0" in docker
    info = json.loads((EXAMPLE_PL / "question" / "info.json").read_text())
    assert info["gradingMethod"] == "External"
    options = info["externalGradingOptions"]
    assert options["image"] == f"YOUR-COURSE/autograd-grader-pl:{__version__}"
    assert 0 < yaml.safe_load((EXAMPLE_PL / "question" / "tests" / "config.yaml").read_text())[
        "execution"]["submission_timeout"] < options["timeout"] <= 600
    assert 'file-names="matrix_calculus.ipynb"' in (EXAMPLE_PL / "question" / "question.html").read_text()


# -- the Classroom workflow ----------------------------------------------------------------------

def test_classroom_workflow_is_laid_out_as_classroom_generates_it():
    exe, check = shutil.which("actionlint"), shutil.which("shellcheck")
    assert exe and check, "actionlint and shellcheck are test dependencies"
    lint = subprocess.run([exe, "-no-color", "-oneline", str(CLASSROOM_WORKFLOW)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert lint.returncode == 0 and lint.stdout == "", lint.stdout + lint.stderr
    wf = yaml.safe_load(CLASSROOM_WORKFLOW.read_text())
    assert CLASSROOM_WORKFLOW.name == "classroom.yml"
    assert wf["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert {"push", "repository_dispatch"} <= set(wf["on"])
    job = wf["jobs"]["run-autograding-tests"]
    grader_at = next(i for i, s in enumerate(job["steps"]) if "autograd-grader@" in s.get("uses", ""))
    step = job["steps"][grader_at]
    reporter = job["steps"][grader_at + 1]
    assert step["uses"] == f"YOUR-COURSE/autograd-grader@v{__version__}" and "classroom" in step["with"]["formats"]
    runner = step["id"]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"] == runner
    assert reporter["env"] == {f"{runner.upper()}_RESULTS": "${{ steps.%s.outputs.result }}" % runner}
    # the composite action passes the grade step's `result` on
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["outputs"]["result"]["value"] == "${{ steps.grade.outputs.result }}"
    assert any(s.get("id") == "grade" for s in action["runs"]["steps"])
