"""How the probe asks a kernel for a submission's answers: one request for every
question, and the same outcome as asking question by question when that goes wrong.

`ProbeSession.call_all` sends one request; a kernel that dies or wedges in it is
asked again one question at a time, so the question that killed it alone loses
its points and the restart that took is not charged to the student. A
notebook whose functions are slow is asked in several requests, so that the
questions answered before the submission's time limit keep their scores.
"""

from __future__ import annotations

import pytest

import helpers
from grader.probe import session as probe_session
from grader.sandbox import kernel as sandbox_kernel
from helpers import SOLUTION, by_question, config, notebook_with, write

EXITS_IN_TRACE_PRODUCT = """\
import os

def grad_trace_product(A, B):
    os._exit(1)"""

SLOW_WEIGHTED_RESIDUALS = """\
import time

def grad_weighted_residual_s(x, A, b, W):
    time.sleep(60)

def grad_weighted_residual_x(x, A, b, W):
    time.sleep(60)"""

QUESTIONS = ["grad_inner", "grad_linear_map", "grad_quadratic_form", "grad_weighted_residual_s",
             "grad_weighted_residual_x", "grad_log_abs_det", "grad_trace_product", "grad_chain_rule"]


@pytest.fixture
def probe_requests(monkeypatch):
    """The probe requests sent to kernels: "call_all" or "call" for each."""
    sent: list[str] = []
    execute = sandbox_kernel.SandboxedKernel.execute

    async def counting(self, code, timeout):
        if code.startswith("_grader_probe_") and "." in code:
            sent.append(code.split(".", 1)[1].split("(", 1)[0])
        return await execute(self, code, timeout)
    monkeypatch.setattr(sandbox_kernel.SandboxedKernel, "execute", counting)
    return sent


def test_a_solution_is_asked_in_one_request(tmp_path, probe_requests):
    r = helpers.grade([write(notebook_with(SOLUTION, []), tmp_path, "sol")], tmp_path / "out", workers=1)["sol"]
    assert r.score == r.max_score, r.message
    assert list(by_question(r)) == QUESTIONS
    assert probe_requests == ["call_all"]


def test_one_request_per_question_gives_the_same_result(tmp_path, probe_requests, monkeypatch):
    path = write(notebook_with(SOLUTION, [EXITS_IN_TRACE_PRODUCT]), tmp_path, "sub")
    together = helpers.grade([path], tmp_path / "together", workers=1)["sub"]
    assert probe_requests.count("call_all") >= 1
    probe_requests.clear()
    monkeypatch.setattr(probe_session, "WINDOW_S", 0.0)   # no second question in any request
    apart = helpers.grade([path], tmp_path / "apart", workers=1)["sub"]
    assert "call_all" in probe_requests
    assert apart.model_dump(exclude={"source"}) == together.model_dump(exclude={"source"})


def test_a_call_that_kills_the_kernel_costs_only_its_question(tmp_path, probe_requests):
    # one restart allowed: asking again question by question after the combined request
    # died must not use it up, or grad_chain_rule (after the crash) would be lost too
    path = write(notebook_with(SOLUTION, [EXITS_IN_TRACE_PRODUCT]), tmp_path, "sub")
    r = helpers.grade([path], tmp_path / "out", workers=1, cfg=config(max_restarts=1))["sub"]
    qs = by_question(r)
    crashed = qs.pop("grad_trace_product")
    assert crashed.score == 0 and "died" in crashed.feedback, crashed.feedback
    assert all(q.score == q.max_score for q in qs.values()), {k: q.feedback for k, q in qs.items()}
    assert r.sandbox["restarts"] == 2, r.sandbox     # the free one, then the question's own
    assert probe_requests[0] == "call_all" and probe_requests.count("call") >= 2, probe_requests


def test_questions_answered_before_the_time_limit_keep_their_scores(tmp_path, probe_requests):
    # each slow question runs into its 10 s call limit once (the rest of its cases are then
    # skipped); the submission's 16 s run out during the second, in the second request
    path = write(notebook_with(SOLUTION, [SLOW_WEIGHTED_RESIDUALS]), tmp_path, "slow")
    r = helpers.grade([path], tmp_path / "out", workers=1, cfg=config(submission_timeout=16))["slow"]
    qs = by_question(r)
    assert "stopped at the submission time limit (16 s)" in r.message, r.message
    assert [qs[q].status for q in QUESTIONS[:3]] == ["passed"] * 3, {q: qs[q].feedback for q in QUESTIONS[:3]}
    assert qs["grad_weighted_residual_s"].score == 0
    assert "did not return within its time limit" in qs["grad_weighted_residual_s"].feedback
    assert all(qs[q].status == "not_run" for q in QUESTIONS[5:]), [qs[q].status for q in QUESTIONS]
    assert probe_requests[:2] == ["call_all", "call_all"]


def test_a_request_is_encoded_once_and_never_served_stale():
    """The request text is made once per list of calls (every submission's, for a check kind
    whose cases are the same): the same bytes as encoding it afresh, and a question with other
    calls, another function or another watch gets its own."""
    from grader.probe.session import WINDOW_S, CallSpec, QuestionCalls, pack_questions, pack_request

    def fresh(questions):
        return pack_request({"window": WINDOW_S, "questions": [q.payload() for q in questions]})

    calls = [CallSpec([{"kind": "float", "value": 1.5}], "cpu", 3.0),
             CallSpec(scenario={"scenario": "dual", "graph": {"nodes": [[1, 2]]}, "x": [0.5]}, timeout=2.5)]
    first = [QuestionCalls("f", calls, True), QuestionCalls("g", [CallSpec([], "cpu", 10.0)])]
    assert pack_questions(first) == fresh(first)
    assert pack_questions(first) == fresh(first)                 # the cached text, same bytes
    assert pack_questions(first[1:]) == fresh(first[1:])         # what is left after a failed request
    for other in (QuestionCalls("h", calls, True), QuestionCalls("f", calls, False),
                  QuestionCalls("f", [CallSpec([{"kind": "float", "value": 2.5}], "cpu", 3.0)], True)):
        assert pack_questions([other]) == fresh([other]) != pack_questions(first[:1])
