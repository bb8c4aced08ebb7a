"""Folders other tools leave: nbgrader's submitted/, `gh classroom clone student-repos`, otter zips.

One real `grader grade` run over a generated tree of each (module-scoped: the
students' ids in the results and the gradebook, their scores and why, and the
similarity flags of the same run); then `collect` alone on the corners of
each layout (no kernels).
"""

from __future__ import annotations

import csv
import json
import random
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.errors import InputError
from grader.submissions import collect
from helpers import BLANK, ROOT, SOLUTION, grader_cli
from similarity_corpus.disguise import disguise
from similarity_corpus.variants import student_notebook

OTTER_NAME = "matrix_calculus_2024_03_01T10_00_00_000000.zip"   # otter.Notebook.export's default name


def write_nb(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def read_nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def with_bug(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`nb` with grad_quadratic_form assuming a symmetric A (a mistake the rubric names)."""
    for cell in nb.cells:
        if cell.source.startswith("def grad_quadratic_form("):
            cell.source = "def grad_quadratic_form(A, x):\n    return 2 * A @ x"
    return nb


def otter_zip(path: Path, nb: nbformat.NotebookNode, *, extra: dict[str, bytes] | None = None) -> Path:
    """What otter.Notebook.export writes: the notebook, otter's log, the zip's own name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("matrix_calculus.ipynb", nbformat.writes(nb))
        zf.writestr(".OTTER_LOG", b"\x80\x04binary log")
        zf.writestr("__zip_filename__", OTTER_NAME)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def git_clone(repo: Path, files: dict[str, str | nbformat.NotebookNode]) -> Path:
    """A folder as `gh repo clone` leaves it: a .git folder and the repository's files."""
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for name, content in files.items():
        if isinstance(content, str):
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(content)
        else:
            write_nb(content, repo / name)
    return repo


# -- one grading run over all three ---------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """nbgrader: alice (the solution), bob (the blank starter), and an older assignment of alice's;
    GitHub Classroom: octocat (their own notebook) and hubot (a disguised copy of octocat's);
    otter: dana (their own) and eve (their own, one function wrong)."""
    tmp = tmp_path_factory.mktemp("layouts")
    octocat = student_notebook(random.Random(101))
    submitted = tmp / "course" / "submitted"
    write_nb(read_nb(SOLUTION), submitted / "alice" / "matrix_calculus" / "matrix_calculus.ipynb")
    (submitted / "alice" / "matrix_calculus" / "timestamp.txt").write_text("2024-03-01 10:00:00.000000 UTC")
    write_nb(read_nb(BLANK), submitted / "bob" / "matrix_calculus" / "matrix_calculus.ipynb")
    write_nb(read_nb(BLANK), submitted / "alice" / "ps0" / "ps0.ipynb")
    repos = tmp / "matrix-calculus-submissions"
    git_clone(repos / "matrix-calculus-octocat", {"README.md": "# hw\n", "matrix_calculus.ipynb": octocat})
    git_clone(repos / "matrix-calculus-hubot", {"README.md": "# hw\n", "requirements.txt": "torch\n",
                                                "matrix_calculus.ipynb": disguise(octocat, random.Random(7))})
    otter = tmp / "otter"
    otter_zip(otter / "dana.zip", student_notebook(random.Random(202)))
    otter_zip(otter / "eve.zip", with_bug(student_notebook(random.Random(303))), extra={"matrix_calculus.pdf": b"%PDF"})
    out = tmp / "out"
    proc = grader_cli("grade", submitted, repos, otter, "-a", "matrix_calculus", "--out", out,
                      "--format", "csv", "--format", "summary", "--format", "similarity")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    with open(out / "gradebook.csv", newline="") as f:
        gradebook = {row["submission"]: row for row in csv.DictReader(f)}
    return out, proc.stdout, results, gradebook


def test_each_layout_names_its_students_in_results_and_gradebook(graded):
    _, _, results, gradebook = graded
    students = {"alice", "bob", "octocat", "hubot", "dana", "eve"}
    assert set(results) == set(gradebook) == students          # ids from the layouts, nothing else
    assert {r["student"] for r in results.values()} == students
    assert all(gradebook[s]["student"] == s for s in students)
    assert results["alice"]["source"].endswith("submitted/alice/matrix_calculus/matrix_calculus.ipynb")
    assert results["hubot"]["source"].endswith("matrix-calculus-hubot/matrix_calculus.ipynb")
    assert "/otter/dana-" in results["dana"]["source"]          # unpacked once under OUT/submissions/otter/


def test_scores_and_reasons_come_through_every_layout(graded):
    _, _, results, gradebook = graded
    for sid in ("alice", "octocat", "hubot", "dana"):
        assert results[sid]["score"] == results[sid]["max_score"] == 12, sid
        assert gradebook[sid]["total"] == "12"
    assert results["bob"]["score"] == 0
    assert {q["status"] for q in results["bob"]["questions"]} == {"not_implemented"}
    eve = {q["id"]: q for q in results["eve"]["questions"]}
    assert results["eve"]["score"] == 12 - eve["grad_quadratic_form"]["max_score"]
    assert eve["grad_quadratic_form"]["status"] == "failed"
    assert "only when A is symmetric" in " ".join(eve["grad_quadratic_form"]["hints"])


def test_notes_say_what_each_layout_left_out(graded):
    _, stdout, _, _ = graded
    notes = " ".join(stdout.split())
    assert "assignment matrix_calculus graded; ps0 left out" in notes
    assert "README.md" not in notes and "requirements.txt" not in notes   # a repository's own files
    assert "matrix_calculus.pdf" not in notes                              # inside the otter zip


def test_similarity_of_the_same_run_flags_the_copy_and_changes_no_score(graded):
    out, _, results, _ = graded
    with open(out / "similarity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    flagged = [(r["submission_a"], r["submission_b"]) for r in rows if r["flagged"] == "yes"]
    assert flagged == [("hubot", "octocat")]
    assert results["hubot"]["score"] == results["octocat"]["score"] == 12   # flagged, still its own score
    assert "similarity" not in json.dumps(results["hubot"])
    page = (out / "summary.html").read_text()
    assert "Similarity never changes a score" in page and "<mark>" in page


# -- the corners of each layout, read without grading ----------------------------------------------

def ids_and_students(found) -> dict[str, str | None]:
    return {s.id: s.student for s in found.submissions}


def test_nbgrader_one_folder_per_student_from_a_shell_glob(tmp_path):
    submitted = tmp_path / "submitted"
    for student in ("alice", "bob"):
        write_nb(read_nb(BLANK), submitted / student / "ps1" / "ps1.ipynb")
        (submitted / student / "ps1" / "timestamp.txt").write_text("2024-03-01 10:00:00 UTC")
    found = collect(sorted(submitted.glob("*/ps1")), tmp_path / "out", "matrix_calculus")
    assert ids_and_students(found) == {"alice": "alice", "bob": "bob"}


def test_nbgrader_several_assignments_none_named_like_the_rubric_is_one_line_of_bad_input(tmp_path):
    for assignment in ("ps1", "ps2"):
        write_nb(read_nb(BLANK), tmp_path / "submitted" / "alice" / assignment / f"{assignment}.ipynb")
    with pytest.raises(InputError, match=r"holds the nbgrader assignments ps1, ps2, none is named "
                                         r"matrix_calculus: grade one with the folders .*/submitted/\*/ASSIGNMENT"):
        collect([tmp_path / "submitted"], tmp_path / "out", "matrix_calculus")


def test_nbgrader_picks_the_assignments_notebook_and_grades_a_student_without_one_as_invalid(tmp_path):
    folder = tmp_path / "submitted" / "alice" / "matrix_calculus"
    write_nb(read_nb(BLANK), folder / "matrix_calculus.ipynb")
    write_nb(read_nb(BLANK), folder / "scratch.ipynb")
    (tmp_path / "submitted" / "bob" / "matrix_calculus").mkdir(parents=True)
    (tmp_path / "submitted" / "bob" / "matrix_calculus" / "data.csv").write_text("1,2\n")
    found = collect([tmp_path / "submitted"], tmp_path / "out", "matrix_calculus")
    subs = {s.id: s for s in found.submissions}
    assert subs["alice"].path.name == "matrix_calculus.ipynb" and subs["bob"].path.name == "data.csv"
    assert any("scratch.ipynb: skipped, not the notebook named matrix_calculus" in n for n in found.notes)
    assert any("bob is graded as invalid" in n for n in found.notes)


def test_classroom_clones_without_the_submissions_folder_name_share_a_prefix(tmp_path):
    root = tmp_path / "clones"
    git_clone(root / "hw1-octo-cat", {"hw1.ipynb": read_nb(BLANK)})
    git_clone(root / "hw1-hubot", {"notes/hw1.ipynb": read_nb(BLANK), "README.md": "x"})
    git_clone(root / "hw1-empty-repo", {"README.md": "nothing handed in"})
    found = collect([root], tmp_path / "out")
    assert ids_and_students(found) == {"octo-cat": "octo-cat", "hubot": "hubot", "empty-repo": "empty-repo"}
    assert any("no notebook in the repository; empty-repo is graded as invalid" in n for n in found.notes)


def test_classroom_folder_that_is_no_student_repo_is_graded_under_its_path(tmp_path):
    root = tmp_path / "hw1-submissions"
    git_clone(root / "hw1-octocat", {"hw1.ipynb": read_nb(BLANK)})
    write_nb(read_nb(BLANK), root / "instructor" / "key.ipynb")
    found = collect([root], tmp_path / "out")
    assert ids_and_students(found) == {"instructor-key": None, "octocat": "octocat"}
    assert any("not named like a classroom upload; graded as instructor-key" in n for n in found.notes)


def test_otter_zip_on_the_command_line_and_inside_a_canvas_export(tmp_path):
    single = otter_zip(tmp_path / "jdoe.zip", read_nb(BLANK))
    found = collect([single], tmp_path / "out")
    assert ids_and_students(found) == {"jdoe": "jdoe"}
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as zf:      # Canvas renames each upload; the zips are otter's
        zf.write(otter_zip(tmp_path / "a.zip", read_nb(BLANK)), "doejane_12_100_" + OTTER_NAME)
        zf.write(otter_zip(tmp_path / "b.zip", read_nb(BLANK)), "smithbob_34_120_" + OTTER_NAME)
    found = collect([canvas], tmp_path / "out")
    subs = {s.id: s for s in found.submissions}
    assert ids_and_students(found) == {"doejane-12": "12", "smithbob-34": "34"}
    assert all(s.path.name == "matrix_calculus.ipynb" for s in subs.values())


def test_an_unsafe_otter_zip_costs_its_student_only(tmp_path):
    folder = tmp_path / "otter"
    otter_zip(folder / "good.zip", read_nb(BLANK))
    otter_zip(folder / "evil.zip", read_nb(BLANK), extra={"../../escape.txt": b"x"})
    found = collect([folder], tmp_path / "out")
    subs = {s.id: s for s in found.submissions}
    assert set(subs) == {"good", "evil"} and subs["evil"].path.suffix == ".zip"    # graded as invalid
    assert any("evil.zip: ../../escape.txt: refused: path leaves the folder (zip-slip); student (otter id evil) "
               "is graded as invalid" in n for n in found.notes)
    assert not (tmp_path / "escape.txt").exists()
