"""The summary's histograms drawn by helper processes (grader/reports/drawing.py): the same
bytes as drawn in this process, whoever draws them; a helper that fails costs only time; none
outlives its batch."""

from __future__ import annotations

import os
import signal

import pytest

from grader.reports import drawing
from grader.reports.summary import write_summary
from test_summary import RUBRIC, question, result

JOBS = [([0, 3, 1], 2.0, "grad_inner", (3.8, 2.6)),
        ([5, 0, 0, 0, 7], 12.0, "total score", (6.4, 3.2)),
        ([1, 1], 1.0, "<script>alert(1)", (3.8, 2.6)),
        ([0, 0, 40], 1.0, "grad_chain_rule", (3.8, 2.6))]


def here(jobs):
    return [drawing.histogram_png(list(c), m, t, size=s) for c, m, t, s in jobs]


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(pid)
        except FileNotFoundError:
            pass
    return out


@pytest.fixture
def helpers():
    drawing.start()
    pids = [h.proc.pid for h in drawing._helpers]
    assert len(pids) == drawing.HELPERS
    assert all(h.ready(timeout=60) for h in drawing._helpers), "a helper never got ready"
    yield pids
    drawing.stop()


def test_helpers_draw_the_same_bytes_as_this_process(helpers):
    assert drawing.draw(JOBS) == here(JOBS)
    assert drawing.drawn_by_helpers == len(JOBS)
    # a later batch finds them waiting, and they still answer
    assert drawing.draw(JOBS[:1]) == here(JOBS[:1])
    assert drawing.drawn_by_helpers == 1


def test_a_helper_that_dies_costs_only_time(helpers):
    os.kill(helpers[0], signal.SIGKILL)
    assert drawing.draw(JOBS) == here(JOBS)
    assert drawing.drawn_by_helpers == len(JOBS)        # the live one drew them all
    assert [h.proc.pid for h in drawing._helpers] == helpers[1:]


def test_a_helper_that_fails_mid_job_has_its_job_drawn_again(helpers, monkeypatch):
    failing = drawing._helpers[0]
    real_receive = drawing.Helper.receive

    def receive(self):
        if self is failing:
            raise EOFError("the drawing helper stopped")
        return real_receive(self)
    monkeypatch.setattr(drawing.Helper, "receive", receive)
    assert drawing.draw(JOBS) == here(JOBS)
    assert drawing.drawn_by_helpers == len(JOBS)        # its job went back: the other one drew it
    assert drawing._helpers == [h for h in drawing._helpers if h is not failing] and failing.proc.poll() is not None


def test_a_silent_helper_is_given_up_and_its_job_goes_to_the_idle_one(helpers, monkeypatch):
    # the second helper takes the second job and never answers: by then the first is idle
    silent = drawing._helpers[1]
    real_send = drawing.Helper.send
    monkeypatch.setattr(drawing.Helper, "send", lambda self, job: None if self is silent else real_send(self, job))
    monkeypatch.setattr(drawing, "ANSWER_S", 0.5)
    assert drawing.draw(JOBS[:2]) == here(JOBS[:2])
    assert drawing.drawn_by_helpers == 2
    assert silent not in drawing._helpers and silent.proc.poll() is not None


def test_without_helpers_everything_is_drawn_here():
    drawing.stop()
    assert drawing.draw(JOBS) == here(JOBS)
    assert drawing.drawn_by_helpers == 0


def test_stop_leaves_no_helper(helpers):
    drawing.stop()
    assert alive(helpers) == []
    assert drawing._helpers == []


def test_a_summary_drawn_by_helpers_is_the_summary_drawn_here(tmp_path, helpers):
    results = [result("s1"), result("s2", grad_inner=question("grad_inner", "failed"))]
    write_summary(tmp_path / "a", results, RUBRIC)
    assert drawing.drawn_by_helpers == 1 + len(RUBRIC.questions)
    drawing.stop()
    write_summary(tmp_path / "b", results, RUBRIC)
    assert drawing.drawn_by_helpers == 0
    names = sorted(p.name for p in (tmp_path / "a" / "summary").iterdir())
    assert names == sorted(["total.png", *(f"{q.id}.png" for q in RUBRIC.questions)])
    for name in names:
        assert (tmp_path / "a" / "summary" / name).read_bytes() == (tmp_path / "b" / "summary" / name).read_bytes()


def test_a_batch_that_writes_a_summary_starts_the_helpers_and_stops_them():
    from grader.batch import writers
    writers.prepare(["json", "summary"])
    pids = [h.proc.pid for h in drawing._helpers]
    assert len(pids) == drawing.HELPERS
    writers.finish(["json", "summary"])
    assert drawing._helpers == [] and alive(pids) == []
    writers.prepare(["json", "markdown"])       # no summary: no helper
    assert drawing._helpers == []


def test_a_batch_draws_its_summary_with_helpers_and_leaves_none(tmp_path, monkeypatch):
    import asyncio
    import shutil

    from grader.batch import grade_batch
    from grader.checks.semantics import load_rubric
    from grader.submissions import discover
    from helpers import RUBRIC as RUBRIC_PATH, SOLUTION, config

    (tmp_path / "subs").mkdir()
    shutil.copy(SOLUTION, tmp_path / "subs" / "a.ipynb")
    started = []
    real_start = drawing.start
    monkeypatch.setattr(drawing, "start", lambda n=drawing.HELPERS: (real_start(n), started.extend(
        h.proc.pid for h in drawing._helpers)))
    cfg = config().model_copy(update={"formats": ["json", "summary"]})
    rubric = load_rubric(RUBRIC_PATH)
    [r] = asyncio.run(grade_batch(discover([tmp_path / "subs"]), rubric, cfg, tmp_path / "out", workers=1))
    assert r.score == r.max_score
    assert len(started) == drawing.HELPERS and alive(started) == [] and drawing._helpers == []
    assert drawing.drawn_by_helpers == 1 + len(rubric.questions)
    pngs = tmp_path / "out" / "summary"
    assert (pngs / "total.png").read_bytes() == here([([0] * 12 + [1], 12.0, "total score", (6.4, 3.2))])[0]
