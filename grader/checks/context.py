"""What a check kind gets to grade one question of one submission."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

import torch

from grader.checks.static import NotebookCode
from grader.config import Config
from grader.probe.session import CallOutcome, ProbeSession, QuestionCalls
from grader.results import QuestionResult
from grader.rubric.model import Question, Rubric


def grader_has_cuda() -> bool:
    return torch.cuda.is_available()


@dataclass
class GradeContext:
    rubric: Rubric
    cfg: Config
    session: ProbeSession            # the student's kernel, for calls
    code: NotebookCode               # the notebook's source, for static checks
    public_only: bool
    # per submission: which single operations failed, by mode ("forward"/"reverse"),
    # so composite questions can name the smallest failing graph
    op_failures: dict[str, dict[str, str]] = field(default_factory=dict)
    # per submission: the class questions that failed, by mode, for hints on the
    # functions built on the class (derivative, jvp, jacobian, vjp)
    class_failures: dict[str, list[str]] = field(default_factory=dict)

    def call_timeout(self, q: Question) -> float:
        return q.call_timeout or self.rubric.defaults.call_timeout or self.cfg.execution.call_timeout


@dataclass
class Prepared:
    """A question ready to ask: its calls, and how their outcomes become its result.
    Every check kind's `prepare(question, ctx)` gives one; the pipeline asks all of a
    submission's questions in one request and then finishes them in rubric order (a
    later question's hints may name an earlier one's failure)."""

    request: QuestionCalls
    finish: t.Callable[[list[CallOutcome]], QuestionResult]
