"""The attack corpus (tests/attacks): every hostile notebook scores exactly its honest part.

One batch grades the whole corpus on warm kernels, at the best level they
reach here (bwrap where the grader is root and bubblewrap runs). Attacks
that only bubblewrap can stop (reading the course's files) are graded
again, with the attacks whose outcome the bwrap level changes, in a second
small batch of fresh kernels at the bwrap level when it runs here;
elsewhere they are skipped with the level that ran.

Then, per sandbox level this machine gives (each named, as an instructor
chooses it; `run.grade_level`): a plain solution, then notebooks that read the
course's solutions and that damage and forge the output folder, then a rerun.
At every level nothing is damaged and nothing forged sticks; at bwrap and uid
nothing is read either (at the weak levels, netns and limits, it is: that is
why `grader grade` refuses them unless named). The same with the grader's
Python in a venv under /tmp (bubblewrap's fresh /tmp used to hide it).
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from attacks.corpus import ATTACKS, BY_NAME, expected_score, guaranteed, level_of, needs_of, text_at
from attacks.run import LATE, VICTIM, grade_corpus, grade_level, grade_level_cli
from grader.batch import log
from grader.sandbox import levels

AT_BWRAP = tuple(a for a in ATTACKS if {"bwrap", "uid"} & needs_of(a) or a.name in ("fake_result_files",
                                                                                    "tamper_output"))


@pytest.fixture(scope="module")
def warm_run(tmp_path_factory):
    return grade_corpus(tmp_path_factory.mktemp("attacks"), kernel="warm")


@pytest.fixture(scope="module")
def bwrap_run(tmp_path_factory):
    ok, why = levels.available("bwrap")
    if not ok:
        pytest.skip(f"the bwrap level does not run here ({why})")
    return grade_corpus(tmp_path_factory.mktemp("attacks-bwrap"), attacks=AT_BWRAP,
                        kernel="fresh", sandbox="bwrap")


def run_for(attack, warm_run, request):
    """The run whose sandbox keeps every expectation of `attack`, else skip naming the level."""
    runs = [warm_run] + ([request.getfixturevalue("bwrap_run")] if attack in AT_BWRAP else [])
    for run in runs:
        sandbox = run.results[attack.name].sandbox
        if all(guaranteed(sandbox, n) for n in needs_of(attack)):
            return run
    pytest.skip(f"{attack.name} needs {sorted(needs_of(attack))}; it ran at level "
                f"{level_of(warm_run.results[attack.name].sandbox)}")


def test_one_result_per_notebook(warm_run):
    assert sorted(warm_run.results) == sorted(warm_run.names)
    for name in warm_run.names:
        assert (warm_run.out / "results" / f"{name}.json").is_file(), name
        assert warm_run.results[name].status == "graded", (name, warm_run.results[name].message)


@pytest.mark.parametrize("name", [pytest.param(a.name, marks=pytest.mark.xfail(strict=True, reason=a.known_hole))
                                  if a.known_hole else a.name for a in ATTACKS])
def test_attack_scores_its_honest_part(name, warm_run, request):
    attack = BY_NAME[name]
    run = run_for(attack, warm_run, request)
    result = run.results[name]
    lost = {q.id: (q.status, q.feedback) for q in result.questions if q.score < q.max_score}
    assert result.score == expected_score(attack, run.rubric), lost
    assert set(lost) == set(attack.lost), lost
    for reason in attack.reasons:
        assert reason.text in text_at(result, reason.where), (reason, text_at(result, reason.where))


def test_no_process_outlives_the_batch(warm_run):
    assert warm_run.leftovers == [], "a notebook's children survived the batch"


def test_forged_result_files_do_not_stick(warm_run, request):
    """The attacker's own result and the gradebook are the grader's at every level;
    other submissions' files only where the output folder is out of the kernel's reach."""
    run = warm_run
    own = json.loads((run.out / "results" / "fake_result_files.json").read_text(encoding="utf-8"))
    assert own["questions"] and own["sha256"], "the forged result file survived"
    with open(run.out / "gradebook.csv", newline="", encoding="utf-8") as f:
        totals = {r["submission"]: float(r["total"]) for r in csv.DictReader(f)}
    assert totals == {n: run.results[n].score for n in run.names}
    bwrap = request.getfixturevalue("bwrap_run")
    for name in bwrap.names:
        on_disk = json.loads((bwrap.out / "results" / f"{name}.json").read_text(encoding="utf-8"))
        assert on_disk["score"] == bwrap.results[name].score and on_disk["questions"], name


# -- per sandbox level -------------------------------------------------------------------

LEVEL_CASES = [("bwrap", "warm"), ("uid", "warm"), ("uid", "fresh"), ("netns", "warm"), ("limits", "warm")]


@pytest.fixture(scope="module", params=LEVEL_CASES, ids=lambda case: "-".join(case))
def level_run(request, tmp_path_factory):
    level, kernel = request.param
    ok, why = levels.available(level, warm=kernel == "warm")
    if not ok:
        pytest.skip(f"level {level} does not run here for {kernel} kernels: {why}")
    return level, kernel, grade_level(tmp_path_factory.mktemp(f"level-{level}-{kernel}"), sandbox=level, kernel=kernel)


def assert_output_holds(level: str, run) -> None:
    """Nothing damaged, nothing forged: the victim's result is the grader's, on disk too; the
    forged results were never taken for one; where the kernel could write (weak levels) the
    grader saw it and said so, elsewhere the attack could not write at all."""
    weak = level in levels.WEAK
    full = run.rubric.max_score
    victim_on_disk = (run.out / "results" / f"{VICTIM}.json").read_bytes()
    logged = log.result_hashes(log.read(run.out))
    for result in (run.first[VICTIM], run.second[VICTIM]):
        assert result.score == full, (result.message, [(q.id, q.status, q.feedback) for q in result.questions
                                                       if q.score < q.max_score])
    assert logged[VICTIM] == log.digest(victim_on_disk), "the victim's result is not the one the grader wrote"
    tamper = run.first["tamper_output"]
    assert tamper.score == full, [(q.id, q.status, q.feedback) for q in tamper.questions if q.score < q.max_score]
    late = run.second[LATE]
    assert late.score == full and late.status == "graded", (late.score, late.message)
    changed = f"{VICTIM}: {VICTIM}.json was changed during the batch by another hand; written again"
    ignored = f"forged.json: not written by the grader (not in {log.LOG_NAME}); ignored"
    regraded = f"{LATE}: graded again ({LATE}.json is not in the batch log (not written by the grader))"
    if weak:      # the attack did write; the grader put its own result back and ignored the rest
        assert changed in run.first_notes and ignored in run.first_notes, run.first_notes
        assert regraded in run.second_notes, run.second_notes
        assert "forged" not in logged, "a forged batch-log line survived"
    else:         # the output folder does not exist for the kernel: nothing to put back
        assert not [n for n in run.first_notes + run.second_notes if "by another hand" in n or "not written" in n]
        assert sorted(p.name for p in (run.out / "results").glob("*.json")) == sorted(
            f"{n}.json" for n in (*run.first, LATE)), "a file appeared in results/"


def test_each_level_records_itself_and_why(level_run):
    level, kernel, run = level_run
    for result in [*run.first.values(), run.second[LATE]]:
        assert result.sandbox["level"] == level and result.sandbox["kernel"] == kernel, result.sandbox
        assert result.sandbox["why"] == f"named in the configuration or with --sandbox ({level})", result.sandbox


def assert_course_unread(run) -> None:
    """The notebook that reads solutions/ found nothing: it earns its honest part only."""
    result, attack = run.first["read_solutions"], BY_NAME["read_solutions"]
    assert result.score == expected_score(attack, run.rubric)
    assert "not_implemented" in text_at(result, "grad_log_abs_det")


def test_each_level_keeps_the_course_unread(level_run):
    level, kernel, run = level_run
    if level in levels.WEAK:     # the control: at a weak level the solutions are there to read
        assert run.first["read_solutions"].score == run.rubric.max_score, \
            "the attack failed to read where nothing hides"
        return
    assert_course_unread(run)


def test_each_level_keeps_the_output_the_graders(level_run):
    level, kernel, run = level_run
    assert_output_holds(level, run)


@pytest.mark.slow
def test_a_venv_under_tmp_still_gets_bubblewrap(tmp_path):
    """The grader's Python in a venv under /tmp: the sandbox's fresh /tmp used to hide it, bwrap
    failed and `auto` fell silently to a level where the attacks worked."""
    import subprocess
    import sys
    import time

    if not levels.available("bwrap")[0]:
        pytest.skip(f"bubblewrap does not run here: {levels.available('bwrap')[1]}")
    venv = tmp_path / "venv"
    assert str(venv).startswith("/tmp/"), venv
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    made = time.monotonic() - started
    run, stderr = grade_level_cli(tmp_path / "batch", str(venv / "bin" / "python"), "--warm")
    assert not [line for line in stderr if line.startswith("sandbox:")], stderr     # bwrap: no notice
    for result in run.first.values():
        assert result.sandbox["level"] == "bwrap", result.sandbox
    assert_course_unread(run)
    assert_output_holds("bwrap", run)
    assert made < 30, f"making the venv took {made:.1f} s"


def test_merge_takes_only_the_graders_results(level_run, tmp_path):
    """`grader merge` reads a shard's results through its batch log: a forged file is skipped
    (and said so), a result changed after grading is refused."""
    from grader.batch.merge import merge_results
    from grader.errors import InputError

    level, kernel, run = level_run
    notes: list[str] = []
    merged = merge_results([run.out], run.rubric, notes)
    assert sorted(r.submission for r in merged) == sorted([*run.first, LATE])
    assert all(r.score <= run.rubric.max_score for r in merged)
    if level in levels.WEAK:    # the forged files are there, and skipped
        assert f"{run.out / 'results' / 'forged.json'}: not in {log.LOG_NAME} (not written by the grader); " \
               "skipped" in notes, notes
    victim = run.out / "results" / f"{VICTIM}.json"
    shard = tmp_path / "shard"
    shutil.copytree(run.out, shard)
    changed = shard / "results" / victim.name
    text = changed.read_text()
    assert '"score": 12.0' in text
    changed.write_text(text.replace('"score": 12.0', '"score": 2.0', 1))
    with pytest.raises(InputError, match="changed after the grader wrote it"):
        merge_results([shard], run.rubric)
