"""A throwaway check kind (tests/test_registries.py puts it into a copy of the package as
grader/checks/kinds/value_equals.py, with one line in grader/rubric/kinds.py): the student's
function, called without arguments, returns the number `expect`. Its few lines of work sit in
its prepare, which imports the checks' code when it runs (the rubric's load imports this module)."""

import typing as t

from grader.rubric.kinds import Kind
from grader.rubric.parts import CheckModel


class ValueEqualsCheck(CheckModel):
    """The number the student's function returns."""

    kind: t.Literal["value_equals"]
    expect: float


def _prepare(q, ctx):
    from grader.checks.context import Prepared
    from grader.checks.scoring import GeneratedCase, Verdict, outcome_failure, score_question
    from grader.probe.session import CallSpec, QuestionCalls
    from grader.results import CaseReport

    case = GeneratedCase("public-1", "public", 1)

    def finish(outcomes):
        out = outcomes[0]
        if out.status != "ok":
            verdict = Verdict(case, False, *outcome_failure(q.calls[0], out))
        else:
            got = out.value.number if out.value.kind in ("float", "int") else None
            ok = got == q.check.expect
            verdict = Verdict(case, ok, "ok" if ok else "wrong",
                              f"expected {q.check.expect:g}, got {out.value.describe() if got is None else got}",
                              expected=q.check.expect, got=got)
        return score_question(q, [verdict], {}, lambda v: CaseReport(case=v.case.id, message=v.message,
                                                                     expected=v.expected, got=v.got))
    return Prepared(QuestionCalls(q.calls[0], [CallSpec(timeout=ctx.call_timeout(q))]), finish)


KIND = Kind("value_equals", ValueEqualsCheck, _prepare, autograd=False, tensors=False,
            convention="The function takes no arguments and returns one number.",
            snippet="- id: {id}\n  points: 1\n  calls: [{id}]\n  check: {{kind: value_equals, expect: 42}}\n"
                    "  cases: {{public: {{count: 1, seed: 1}}}}\n",
            describe=lambda c: f"returns {c.expect:g}", tolerance=lambda q, dtypes: "exact",
            problem=lambda q: None)
