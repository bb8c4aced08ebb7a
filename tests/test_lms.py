"""LMS exports: Canvas, Gradescope and Moodle zips (and folders) become one submission per student.

Pure functions, no kernels: each test builds a small export in tmp_path with
tiny notebooks and reads it with `collect`.
"""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, strategies as st

from grader.errors import InputError
from grader.submissions import Submission, collect, discover
from grader.submissions.ids import submission_id
from grader.submissions.unzip import MARKER, unpack


def notebook(tag: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {tag}\nx = 1")])
    return nbformat.writes(nb).encode()


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def by_id(subs: list[Submission]) -> dict[str, Submission]:
    return {s.id: s for s in subs}


def notes_about(notes: list[str], name: str) -> list[str]:
    return [n for n in notes if name in n]


# -- Canvas -------------------------------------------------------------------------

SAME = notebook("same answer")   # cells get random ids: one object for byte-identical files
CANVAS = {
    "doejane_12_100_hw.ipynb": notebook("jane first"),
    "doejane_12_140_hw-1.ipynb": notebook("jane again"),
    "smithbob_LATE_34_120_hw.ipynb": SAME,
    "leeann_78_150_hw.ipynb": SAME,
    "nunezjose_56_130_hw.ipynb": notebook("jose"),
    "nunezjose_56_130_hw-2.ipynb": notebook("jose resubmitted"),
    "nunezjose_56_130_notes.pdf": b"%PDF-1.4",
    "parkkim_90_160_hw.ipynb": b'{"cells": [ broken',
    "readme.txt": b"not from a student",
}


@pytest.fixture
def canvas(tmp_path):
    export = make_zip(tmp_path / "hw1_submissions.zip", CANVAS)
    return export, collect([export], tmp_path / "out" / "submissions")


def test_canvas_ids_students_and_chosen_files(canvas):
    _, found = canvas
    subs = by_id(found.submissions)
    assert sorted(subs) == ["doejane-12", "leeann-78", "nunezjose-56", "parkkim-90", "smithbob-34"]
    assert {i: s.student for i, s in subs.items()} == {
        "doejane-12": "12", "leeann-78": "78", "nunezjose-56": "56", "parkkim-90": "90", "smithbob-34": "34"}
    assert subs["doejane-12"].path.name == "doejane_12_140_hw-1.ipynb"   # the later submission id
    assert subs["nunezjose-56"].path.name == "nunezjose_56_130_hw-2.ipynb"   # the highest resubmission
    assert all(not s.explicit for s in found.submissions)               # broken ones get a result


def test_canvas_notes_name_each_file(canvas):
    export, found = canvas
    notes = found.notes
    assert notes_about(notes, str(export))[0].startswith(f"{export}: canvas export, 5 students, 8 files")
    [older] = notes_about(notes, "doejane_12_100_hw.ipynb")
    assert "skipped, doejane (canvas id 12) has a later upload; graded: " in older
    assert older.endswith("doejane_12_140_hw-1.ipynb")
    assert "skipped, not a notebook" in notes_about(notes, "nunezjose_56_130_notes.pdf")[0]
    assert "skipped, not a notebook" in notes_about(notes, "readme.txt")[0]
    assert "late" in notes_about(notes, "smithbob_LATE_34_120_hw.ipynb")[0]
    [same] = [n for n in notes if "byte-identical" in n]
    assert "leeann_78_150_hw.ipynb" in same and "smithbob_LATE_34_120_hw.ipynb" in same and "all graded" in same
    [broken] = notes_about(notes, "parkkim_90_160_hw.ipynb")
    assert "invalid JSON" in broken and broken.endswith("graded as invalid")
    assert all("\n" not in n for n in notes)


def test_canvas_unpacks_once_and_gives_the_same_submissions_again(canvas, tmp_path):
    export, first = canvas
    folder = tmp_path / "out" / "submissions" / "hw1_submissions"
    assert (folder / MARKER).is_file()
    marker_time = (folder / MARKER).stat().st_mtime_ns
    again = collect([export], tmp_path / "out" / "submissions")
    assert again == first
    assert (folder / MARKER).stat().st_mtime_ns == marker_time   # reused, not unpacked again


def test_a_new_zip_under_the_same_name_replaces_the_old_folder(tmp_path):
    unpack_to = tmp_path / "out"
    export = make_zip(tmp_path / "hw1.zip", {"doejane_12_100_hw.ipynb": notebook("v1")})
    collect([export], unpack_to)
    make_zip(export, {"smithbob_34_120_hw.ipynb": notebook("v2")})
    assert [s.id for s in collect([export], unpack_to).submissions] == ["smithbob-34"]
    assert not (unpack_to / "hw1" / "doejane_12_100_hw.ipynb").exists()


def test_the_same_student_in_two_exports_keeps_the_latest_submission(tmp_path):
    first = make_zip(tmp_path / "a" / "export.zip", {"doejane_12_300_hw.ipynb": notebook("late fix")})
    second = make_zip(tmp_path / "b" / "export.zip", {"doejane_12_200_hw.ipynb": notebook("on time")})
    found = collect([first, second], tmp_path / "out")
    [sub] = found.submissions
    assert sub.path == tmp_path / "out" / "export" / "doejane_12_300_hw.ipynb"
    assert (tmp_path / "out" / "export-2" / "doejane_12_200_hw.ipynb").is_file()
    assert "has a later upload" in notes_about(found.notes, "doejane_12_200_hw.ipynb")[0]


# -- Gradescope ---------------------------------------------------------------------

GRADESCOPE_METADATA = """\
---
submission_1001:
  :submitters:
  - :name: Jane Doe
    :sid: 5001
    :email: jane@example.edu
  :created_at: 2024-03-01 10:00:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.1e2
submission_1002:
  :submitters:
  - :name: Ann Lee
    :sid: '5003'
    :email: ann@example.edu
  - :name: Bob Smith
    :sid: '5002'
    :email: bob@example.edu
  :created_at: 2024-03-01 11:00:00.000000000 -08:00
submission_1003:
  :submitters:
  - :name: Kim Park
    :sid:
    :email: kim@example.edu
  :created_at: 2024-03-01 12:00:00.000000000 -08:00
submission_1004:
  :submitters:
  - :name: Nobody Here
    :sid: '5009'
"""


@pytest.fixture
def gradescope(tmp_path):
    top = "assignment_7_export/"   # Gradescope wraps the export in one folder
    export = make_zip(tmp_path / "gs.zip", {
        top + "submission_metadata.yml": GRADESCOPE_METADATA.encode(),
        top + "submission_1001/hw.ipynb": notebook("jane"),
        top + "submission_1001/.ipynb_checkpoints/hw-checkpoint.ipynb": notebook("jane old"),
        top + "submission_1002/group.ipynb": notebook("group"),
        top + "submission_1002/scratch.ipynb": notebook("group scratch"),
        top + "submission_1003/hw.ipynb": b"",
    })
    return export, collect([export], tmp_path / "out")


def test_gradescope_ids_from_sids_groups_and_emails(gradescope):
    _, found = gradescope
    subs = by_id(found.submissions)
    assert sorted(subs) == ["bob-smith-ann-lee-5002+5003", "jane-doe-5001", "kim-park-kim-example-edu"]
    assert subs["jane-doe-5001"].student == "5001"                       # a number in the YAML
    assert subs["bob-smith-ann-lee-5002+5003"].student == "5002+5003"    # a group: both members
    assert subs["jane-doe-5001"].path.name == "hw.ipynb"                 # not the checkpoint
    assert subs["bob-smith-ann-lee-5002+5003"].path.name == "scratch.ipynb"


def test_gradescope_notes(gradescope):
    export, found = gradescope
    assert f"{export}: gradescope export, 3 students" in found.notes[0]
    [extra] = notes_about(found.notes, "group.ipynb")
    assert "skipped, Bob Smith + Ann Lee (gradescope id 5002+5003) handed in several notebooks" in extra
    assert extra.endswith("scratch.ipynb")
    [missing] = notes_about(found.notes, "submission_1004")
    assert "has no folder in the export" in missing and "submission_metadata.yml" in missing
    [empty] = notes_about(found.notes, "submission_1003")
    assert "empty file" in empty and empty.endswith("graded as invalid")


def test_gradescope_metadata_that_is_not_yaml_is_bad_input(tmp_path):
    export = make_zip(tmp_path / "gs.zip", {"submission_metadata.yml": b"submission_1: [unclosed\n",
                                            "submission_1/hw.ipynb": notebook("x")})
    with pytest.raises(InputError) as err:
        collect([export], tmp_path / "out")
    assert "submission_metadata.yml" in str(err.value) and "invalid YAML" in str(err.value)


def test_gradescope_submitters_of_the_wrong_shape_name_the_key(tmp_path):
    export = make_zip(tmp_path / "gs.zip", {"submission_metadata.yml": b"submission_1:\n  :submitters: 7\n",
                                            "submission_1/hw.ipynb": notebook("x")})
    with pytest.raises(InputError) as err:
        collect([export], tmp_path / "out")
    assert "submission_metadata.yml: submission_1.submitters:" in str(err.value)


# -- Moodle -------------------------------------------------------------------------

def test_moodle_folders_and_the_older_flat_form(tmp_path):
    folders = make_zip(tmp_path / "moodle.zip", {
        "José Núñez_7_assignsubmission_file_/hw.ipynb": notebook("jose"),
        "Ann Lee_8_assignsubmission_file_/hw.ipynb": notebook("ann"),
        "Ann Lee_8_assignsubmission_file_/data.csv": b"1,2",
        "Bo Li_9_assignsubmission_onlinetext_/onlinetext.html": b"<p>see email</p>",
    })
    flat = make_zip(tmp_path / "old" / "moodle_flat.zip", {
        "Kim Park_11_assignsubmission_file_hw.ipynb": notebook("kim")})
    found = collect([folders, flat], tmp_path / "out")
    subs = by_id(found.submissions)
    assert list(subs) == ["ann-lee-8", "bo-li-9", "jose-nunez-7", "kim-park-11"]
    assert subs["jose-nunez-7"].student == "7" and subs["kim-park-11"].student == "11"
    assert "skipped, not a notebook" in notes_about(found.notes, "data.csv")[0]
    # no notebook at all: still a gradebook row, graded as invalid, with the reason
    assert subs["bo-li-9"].path.name == "onlinetext.html"
    assert "not a notebook" in notes_about(found.notes, "onlinetext.html")[0]


# -- plain folders and files keep today's behaviour ---------------------------------------

def test_a_zip_without_an_lms_layout_is_a_plain_folder(tmp_path):
    entries = {"hw1/alice.ipynb": notebook("alice"), "hw1/extra/bob.ipynb": notebook("bob"),
               "__MACOSX/hw1/._alice.ipynb": b"resource fork"}
    found = collect([make_zip(tmp_path / "plain.zip", entries)], tmp_path / "out")
    assert not (tmp_path / "out" / "plain" / "__MACOSX").exists()
    assert [(s.id, s.student) for s in found.submissions] == [("hw1-alice", None), ("hw1-extra-bob", None)]
    assert found.submissions == discover([tmp_path / "out" / "plain"]) and found.notes == []


def test_folders_and_files_as_discover_finds_them(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "alice.ipynb").write_bytes(notebook("alice"))
    single = tmp_path / "bob.ipynb"
    single.write_bytes(notebook("bob"))
    paths = [tmp_path / "class", single]
    assert collect(paths, tmp_path / "out").submissions == discover(paths)


def test_an_unpacked_export_folder_reads_like_its_zip(tmp_path):
    folder = tmp_path / "canvas"
    folder.mkdir()
    for name, data in CANVAS.items():
        (folder / name).write_bytes(data)
    from_folder = collect([folder], tmp_path / "out")
    from_zip = collect([make_zip(tmp_path / "canvas.zip", CANVAS)], tmp_path / "out")
    assert [s.id for s in from_folder.submissions] == [s.id for s in from_zip.submissions]
    assert not (tmp_path / "out").joinpath("canvas", "canvas").exists()


def test_submission_keeps_its_positional_form():
    sub = Submission("a", Path("a.ipynb"), "0" * 64, False)
    assert (sub.explicit, sub.student) == (False, None)


@given(st.text(max_size=80), st.text(min_size=1, max_size=20))
def test_ids_are_filesystem_safe(name, student):
    assert re.fullmatch(r"[a-z0-9+-]+", submission_id(name, student))


# -- unsafe and broken zips ----------------------------------------------------------

def refused(archive: Path, dest: Path, **limits) -> str:
    with pytest.raises(InputError) as err:
        unpack(archive, dest, **limits)
    line = str(err.value)
    assert line.startswith(str(archive)) and "\n" not in line
    assert not dest.exists()
    return line


@pytest.mark.parametrize("name, why", [("../escape.ipynb", "zip-slip"), ("ok/../../escape.ipynb", "zip-slip"),
                                       ("/etc/escape.ipynb", "absolute"), ("C:/escape.ipynb", "absolute"),
                                       ("..\\escape.ipynb", "zip-slip")])
def test_entries_outside_the_folder_refuse_the_zip(tmp_path, name, why):
    archive = make_zip(tmp_path / "evil.zip", {"a_1_2_hw.ipynb": notebook("a"), name: notebook("evil")})
    line = refused(archive, tmp_path / "out" / "evil")
    assert why in line and name in line
    assert not list(tmp_path.rglob("escape.ipynb"))


def test_symlinks_refuse_the_zip(tmp_path):
    archive = tmp_path / "link.zip"
    link = zipfile.ZipInfo("hw.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(link, "/etc/passwd")
    assert "symbolic link" in refused(archive, tmp_path / "out")


def test_zip_bombs_are_capped(tmp_path):
    big = make_zip(tmp_path / "big.zip", {"zeros.ipynb": bytes(2 * 1024 * 1024)})
    assert big.stat().st_size < 64 * 1024
    assert "zip bomb" in refused(big, tmp_path / "out", max_bytes=1024 * 1024)
    many = make_zip(tmp_path / "many.zip", {f"nb{i}.ipynb": notebook(str(i)) for i in range(6)})
    assert "6 entries" in refused(many, tmp_path / "out", max_entries=5)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupted_zip_is_one_line_of_bad_input(tmp_path, damage):
    archive = make_zip(tmp_path / "export.zip", CANVAS)
    data = archive.read_bytes()
    archive.write_bytes(b"PK\x03\x04 not really a zip" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        collect([archive], tmp_path / "out")
    assert str(err.value).startswith(f"{archive}: corrupted or unsupported zip archive")
    assert "\n" not in str(err.value)


def test_a_folder_the_grader_did_not_unpack_is_never_replaced(tmp_path):
    (tmp_path / "out" / "export").mkdir(parents=True)
    (tmp_path / "out" / "export" / "mine.txt").write_text("keep")
    archive = make_zip(tmp_path / "export.zip", {"doejane_12_100_hw.ipynb": notebook("x")})
    with pytest.raises(InputError, match="was not unpacked by the grader"):
        collect([archive], tmp_path / "out")
    assert (tmp_path / "out" / "export" / "mine.txt").read_text() == "keep"
