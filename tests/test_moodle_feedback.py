"""moodle-feedback.zip: a Moodle batch's feedback files, named for Moodle's "Upload multiple
feedback files in a zip".

One real grading run of a small Moodle export (the three forms of its entries: folders as Moodle
4.1 names them, folders with the older trailing `_`, flat names; and a student with no notebook),
then the zip is read back with the rule Moodle's importer applies to each entry's name.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.reports import moodle_feedback
from grader.results import SubmissionResult
from grader.checks.semantics import load_rubric
from grader.submissions import collect
from helpers import RUBRIC, ROOT, config
from test_lms import CANVAS, make_zip

SAMPLES = ROOT / "samples" / "matrix_calculus"
FORMATS = ["json", "markdown", "html", "notebook", "csv"]
EXPORT = {     # participant id -> (entry in the export, notebook bytes)
    "7": ("José Núñez_7_assignsubmission_file/hw.ipynb", (SAMPLES / "student02_bob.ipynb").read_bytes()),
    "8": ("Ann Lee_8_assignsubmission_file_/hw.ipynb", (SAMPLES / "student09_ines.ipynb").read_bytes()),
    "11": ("Kim Park_11_assignsubmission_file_hw.ipynb", b'{"cells": [ broken'),
    "9": ("Bo Li_9_assignsubmission_onlinetext_/onlinetext.html", b"<p>see email</p>"),
}


def run(paths: list[Path], out: Path) -> list[SubmissionResult]:
    cfg = config().model_copy(update={"formats": FORMATS})
    subs = collect(paths, out / "submissions").submissions
    return asyncio.run(grade_batch(subs, load_rubric(RUBRIC), cfg, out, workers=2))


def moodle_reads(entry: str, participants: set[str]) -> tuple[str, str] | None:
    """(participant id, feedback file name) as Moodle's importer reads a zip entry's name
    (mod/assign/feedback/file/importziplib.php), or None where it would skip the entry."""
    if entry.endswith("/") or entry.rsplit("/", 1)[-1][:1] in (".", "~"):
        return None
    parts = entry.split("/")
    while parts:
        pieces = parts.pop(0).split("_", 4)
        if len(pieces) < 4 or not pieces[1].isdigit() or str(int(pieces[1])) not in participants:
            continue
        if (pieces[2], pieces[3]) not in {("assignfeedback", "file"), ("assignsubmission", "file")}:
            continue
        return str(int(pieces[1])), "/".join([pieces[4] if len(pieces) == 5 else "", *parts])
    return None


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, dict[str, SubmissionResult]]:
    folder = tmp_path_factory.mktemp("moodle")
    export = make_zip(folder / "hw1-moodle.zip", dict(EXPORT.values()))
    out = folder / "out"
    return out, {r.student: r for r in run([export], out)}


def test_every_moodle_student_is_read_from_the_export(batch):
    _, by_student = batch
    assert sorted(by_student) == sorted(EXPORT)
    assert by_student["7"].score == by_student["7"].max_score and by_student["7"].status == "graded"
    assert 0 < by_student["8"].score < by_student["8"].max_score
    assert by_student["11"].status == "invalid" and "JSON" in by_student["11"].message
    assert by_student["9"].status == "invalid" and "not a notebook" in by_student["9"].message


def test_each_entry_names_its_participant_as_moodle_reads_it_and_holds_their_files(batch):
    out, by_student = batch
    with zipfile.ZipFile(out / moodle_feedback.ZIP_NAME) as zf:
        names = zf.namelist()
        read = {name: moodle_reads(name, set(EXPORT)) for name in names}
        assert None not in read.values(), [n for n, r in read.items() if r is None]
        got: dict[str, dict[str, bytes]] = {}
        for name, (student, file) in read.items():
            got.setdefault(student, {})[file] = zf.read(name)
    assert sorted(got) == sorted(EXPORT)            # every student, even one graded as invalid
    for student, files in got.items():
        sub = by_student[student].submission
        feedback = out / "feedback"
        expected = {p.name: p.read_bytes() for p in feedback.glob(f"{sub}.*")}
        assert files == expected, student       # their own pages, byte for byte, and nobody else's
        assert {f"{sub}.md", f"{sub}.html", f"{sub}.notebook.html"} <= set(files)
    assert "José Núñez_7_assignfeedback_file_jose-nunez-7.html" in names     # the name as the export spells it
    assert names == sorted(names)


def test_the_same_batch_gives_the_same_bytes(batch):
    out, by_student = batch
    first = (out / moodle_feedback.ZIP_NAME).read_bytes()
    for page in (out / "feedback").iterdir():
        page.touch()                # newer files, same contents: nothing of the clock in the zip
    again = moodle_feedback.build(out, reversed(list(by_student.values())), FORMATS)
    assert again == first


def test_the_markdown_pages_plots_go_with_it_and_only_the_formats_asked_for(batch, tmp_path):
    _, by_student = batch
    ann = by_student["8"]
    (tmp_path / "feedback").mkdir()
    for name in (f"{ann.submission}.md", f"{ann.submission}.grad_inner.png", f"{ann.submission}.html"):
        (tmp_path / "feedback" / name).write_text(name)
    with zipfile.ZipFile(moodle_feedback.write(tmp_path, [ann], ["json", "markdown"])) as zf:
        assert zf.namelist() == ["Ann Lee_8_assignfeedback_file_ann-lee-8.grad_inner.png",
                                 "Ann Lee_8_assignfeedback_file_ann-lee-8.md"]
    assert moodle_feedback.build(tmp_path, [ann], ["notebook"]) is None     # no page of that format


def test_a_name_with_an_underscore_keeps_the_id_in_the_place_moodle_reads_it():
    who = moodle_feedback.Participant("ann_marie lee", "42")
    assert moodle_reads(moodle_feedback.prefix(who) + "a.html", {"42"}) == ("42", "a.html")
    assert moodle_reads(moodle_feedback.prefix(moodle_feedback.Participant(".x", "5")) + "a.html",
                        {"5"}) == ("5", "a.html")


def test_a_batch_without_moodle_students_writes_no_zip(tmp_path):
    canvas = make_zip(tmp_path / "hw1-canvas.zip", {"parkkim_90_160_hw.ipynb": CANVAS["parkkim_90_160_hw.ipynb"]})
    out = tmp_path / "canvas-out"
    [result] = run([canvas], out)
    assert result.student == "90" and (out / "feedback" / f"{result.submission}.html").is_file()
    assert not (out / moodle_feedback.ZIP_NAME).exists()
