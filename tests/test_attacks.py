"""The attack corpus (tests/attacks): every hostile notebook scores exactly its honest part.

One batch grades the whole corpus on warm kernels, at the best level they
reach here (bwrap where the grader is root and bubblewrap runs). Attacks
that only bubblewrap can stop (reading the course's files) are graded
again, with the attacks whose outcome the bwrap level changes, in a second
small batch of fresh kernels at the bwrap level when it runs here;
elsewhere they are skipped with the level that ran.
"""

from __future__ import annotations

import csv
import json

import pytest

from attacks.corpus import ATTACKS, BY_NAME, expected_score, guaranteed, level_of, needs_of, text_at
from attacks.run import grade_corpus
from grader.sandbox import levels

AT_BWRAP = tuple(a for a in ATTACKS if "bwrap" in needs_of(a) or a.name == "fake_result_files")


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


@pytest.mark.parametrize("name", [a.name for a in ATTACKS])
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
