"""Feedback shows values as the student wrote them, counts public and hidden cases apart,
and says once per run (not per question) that the CUDA cases were skipped, and why."""

from __future__ import annotations

from grader.checks import gradient
from grader.checks.cases import cases_for
from grader.probe.session import CallOutcome
from grader.probe.values import Value
from grader.reports import github, markdown, terminal
from grader.reports.views import device_summary, show_value
from grader.results import CaseReport, DeviceCount, QuestionResult, SubmissionResult
from grader.checks.semantics import load_rubric
from helpers import RUBRIC

NO_CUDA = "CUDA is not available to the grader; these cases do not count"


def _number(x: float) -> Value:
    return Value("float", number=x)


def test_values_are_shown_as_written():
    assert show_value([[1.0, 2.5], [3.0]]) == "[[1.0, 2.5], [3.0]]"          # ragged stays ragged
    assert show_value(None) == "missing" and show_value([1.0, None]) == "[1.0, missing]"
    assert "null" not in show_value({"got": None, "items": [None]})
    assert show_value(["Dual(real=1.0, dual=2.0)"]) == "[Dual(real=1.0, dual=2.0)]"
    assert show_value(float("nan")) == "nan" and show_value(True) == "True"


def test_a_ragged_list_is_reported_as_returned_not_as_a_shape():
    q = next(q for q in load_rubric(RUBRIC).questions if q.id == "grad_linear_map")
    case = cases_for(q, ["float64"], ["cpu"], hidden=False)[0]
    ref, known = gradient.expected_for(q, case, "cpu")
    ragged = Value("list", items=[Value("list", items=[_number(1.0), _number(2.0)]),
                                  Value("list", items=[_number(3.0)])])
    verdict = gradient.judge_case(q, case, CallOutcome("ok", value=ragged), ref, known)
    assert not verdict.passed and "returned a list of 2 items, expected a torch.Tensor" in verdict.message
    report = gradient.case_report(verdict)
    assert report.got == [[1.0, 2.0], [3.0]]
    text = markdown.render(_result([QuestionResult(
        id=q.id, calls=q.calls, score=0, max_score=1, status="failed", feedback=verdict.message,
        public_failures=[report], cases={"cpu": DeviceCount(passed=0, total=1)})]))
    assert "- got: `[[1.0, 2.0], [3.0]]`" in text and "null" not in text
    none = gradient.case_report(gradient.judge_case(q, case, CallOutcome("ok", value=Value("none")), ref, known))
    assert none.got == "None" and show_value(none.got) == "None"       # returned None: as Python says it


def _result(questions: list[QuestionResult], name: str = "s") -> SubmissionResult:
    return SubmissionResult(submission=name, source=f"{name}.ipynb", sha256="0" * 64,
                            assignment="matrix_calculus", rubric_version=1, grader_version="0",
                            status="graded", score=sum(q.score for q in questions),
                            max_score=sum(q.max_score for q in questions), questions=questions)


def _cpu_only(qid: str) -> QuestionResult:
    return QuestionResult(id=qid, calls=[qid], score=1, max_score=1, status="passed", feedback="all 12 cases passed",
                          cases={"cpu": DeviceCount(passed=12, total=12),
                                 "cuda": DeviceCount(skipped=12, skip_reason=NO_CUDA)})


def test_skipped_cuda_is_said_once_per_run_and_counted_per_question():
    results = [_result([_cpu_only("grad_inner"), _cpu_only("grad_linear_map")], name) for name in ("a", "b")]
    q = results[0].questions[0]
    assert device_summary(q) == "cpu ✅ 12/12 · cuda ⏭ 12 skipped"           # a count, no reason
    text = markdown.render(results[0])
    assert text.count(NO_CUDA) == 1 and "cuda: 24 case(s) skipped" in text
    lines = github.annotation_lines(results)
    assert [ln for ln in lines if ln.startswith("::notice")] == [ln for ln in lines if "cuda" in ln.lower()]
    assert sum(ln.startswith("::notice") for ln in lines) == 1
    assert not any(ln.startswith("::warning") for ln in lines)
    assert "(2 submission(s))" in lines[-1] and NO_CUDA in lines[-1]
    assert github.summary(results).count(NO_CUDA) == 1
    single = github.summary(results[:1])
    assert single.count(NO_CUDA) == 1 and "| ⏭ 12 skipped |" in single

    from grader.reports import html
    page = html.render(results[0])
    assert page.count(NO_CUDA) == 1 and page.count("cuda ⏭ 12 skipped") == 4    # table + section, 2 questions

    from rich.console import Console
    console = Console(width=200, record=True, color_system=None)
    console.print(terminal.render(results[0], notebook="a.ipynb"))
    out = console.export_text()
    assert out.count(NO_CUDA) == 1 and "cuda 12 skipped" in out


def test_no_notice_when_nothing_was_skipped():
    q = QuestionResult(id="grad_inner", calls=["grad_inner"], score=1, max_score=1, status="passed",
                       feedback="ok", cases={"cpu": DeviceCount(passed=4, total=4)})
    assert not any(ln.startswith("::notice") for ln in github.annotation_lines([_result([q])]))


def test_public_feedback_counts_public_cases_only():
    from grader.reports.views import public_feedback
    q = QuestionResult(id="grad_inner", calls=["grad_inner"], score=0, max_score=1, status="failed",
                       feedback="1 of 4 public and 8 of 8 hidden cases failed; first (public-2/float64/cpu): bad",
                       cases={"cpu": DeviceCount(passed=3, total=12)}, hidden_failed=8, hidden_total=8,
                       public_failures=[CaseReport(case="public-2/float64/cpu", message="bad")])
    assert public_feedback(q) == "1 of 4 public case(s) failed; first (public-2/float64/cpu): bad"


def test_junit_says_why_once_per_suite_and_counts_per_case():
    import xml.etree.ElementTree as ET
    from grader.reports import junit
    doc = ET.fromstring(junit.render([_result([_cpu_only("grad_inner"), _cpu_only("grad_linear_map")])]))
    suite = doc.find("testsuite")
    notes = [p.get("value") for p in suite.find("properties") if p.get("name") == "skipped"]
    assert notes == [f"cuda: 24 case(s) skipped: {NO_CUDA}"]
    assert NO_CUDA not in "".join(t.text or "" for t in doc.iter())


def test_a_rerun_command_stays_one_line_on_a_narrow_terminal():
    """Copied from an 80-column (or piped) terminal, the command must still be one command."""
    from rich.console import Console
    q = QuestionResult(id="grad_inner", calls=["grad_inner"], score=0, max_score=1, status="error",
                       feedback="raised ValueError: boom at line 6: raise ValueError('boom')",
                       cases={"cpu": DeviceCount(passed=0, total=4)},
                       public_failures=[CaseReport(case="public-1/float64/cpu", message="raised ValueError",
                                                   inputs={"x": [1.0, 2.0]})])
    notebook = "a rather long folder name/with more depth/my homework notebook final version.ipynb"
    console = Console(width=40, record=True, color_system=None)
    console.print(terminal.render(_result([q]), notebook=notebook, assignment="matrix_calculus"), soft_wrap=True)
    lines = console.export_text().splitlines()
    rerun = [ln for ln in lines if "rerun:" in ln]
    assert len(rerun) == 1 and rerun[0].rstrip().endswith("--question grad_inner"), lines
    assert not any(ln.strip().startswith(("expected:", "got:")) for ln in lines)   # a raise has neither
