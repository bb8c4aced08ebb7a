"""The one table of check kinds: each one's name and where its record is. A new kind is one
module (its record: rubric model, authoring texts, prepare; under grader/checks/kinds/) and one
line here.

Why the table lives on the rubric's floor and names each record as text: the rubric validates
`check:` with the union of the kinds' models (grader/rubric/model.py) and may not import the
checks (floor 6, grader/layers.py). So the rubric loads each record by its "module:attribute"
(the form of a package's entry points), and a kind's module imports at its top only what the
rubric's floor may (grader/layers.py LOADED_FROM_BELOW, enforced by tests/test_layers.py): its
model and texts are plain data, and its prepare imports the checks' code (and torch) when it
runs. Loading a rubric therefore never imports torch: `grader check` starts the kernel first.
The pipeline dispatches through the records; `grader schema`, `grader new-question`, `grader show`
and the rubric's semantic check (grader/checks/semantics.py) read them.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from grader.registry import Registry
from grader.rubric.parts import CheckModel

#: kind -> "module:attribute" of its record, in the order of the rubric's union
TABLE: dict[str, str] = {
    "gradient": "grader.checks.kinds.gradient:GRADIENT",
    "value": "grader.checks.kinds.gradient:VALUE",
    "forward_mode": "grader.checks.kinds.autodiff:FORWARD_MODE",
    "reverse_mode": "grader.checks.kinds.autodiff:REVERSE_MODE",
    "finite_difference": "grader.checks.kinds.finite_difference:FINITE_DIFFERENCE",
    "lagrange": "grader.checks.kinds.lagrange:LAGRANGE",
}

#: (key path inside the question, message): a rubric problem the schema cannot see
Problem = t.Tuple[t.Tuple[t.Union[str, int], ...], str]


class CheckKind(t.Protocol):
    """What the rubric, the pipeline, the semantic check and the authoring texts need of a kind.
    The callables take a grader.rubric.model.Question (and the pipeline's GradeContext); they are
    typed loosely here because this floor may not name the checks' types."""

    name: str                       # `check.kind` in a rubric
    model: type[CheckModel]         # the rubric's model of its `check:`
    prepare: t.Callable[[t.Any, t.Any], t.Any]    # (question, GradeContext) -> Prepared
    autograd: bool                  # its references run torch autograd (warmed up before the first)
    tensors: bool                   # its calls take tensors in the rubric's dtypes and devices
    convention: str                 # what holds for every question of the kind (`grader show`)
    snippet: str                    # `grader new-question KIND`: a valid question, `{id}` its id
    describe: t.Callable[[t.Any], str]              # check -> one line for the assignment page
    tolerance: t.Callable[[t.Any, list[str]], str]  # (question, dtypes) -> the tolerance it applies
    #: question -> the first problem its settings cause when cases and references are made (the
    #: args were checked before), or None
    problem: t.Callable[[t.Any], Problem | None]


@dataclass(frozen=True)
class Kind:
    """A kind as a record (every kind of the table is one)."""

    name: str
    model: type[CheckModel]
    prepare: t.Callable[[t.Any, t.Any], t.Any]
    autograd: bool
    tensors: bool
    convention: str
    snippet: str
    describe: t.Callable[[t.Any], str]
    tolerance: t.Callable[[t.Any, list[str]], str]
    problem: t.Callable[[t.Any], Problem | None]


def question_snippet(title: str, calls: str, check: str, *, hidden: int, note: str = "") -> str:
    """A record's `snippet`: one question worth a point, 2 public cases (seed 1) and `hidden`
    hidden ones (seed 1001), around the kind's own lines (`check`, and `args` before it where
    the kind takes them). `note` comments the `calls` line. A format string: `{id}` is the
    question's id, braces of the YAML are doubled."""
    calls_line = f"  calls: [{calls}]"
    if note:
        calls_line = f"{calls_line:<33}# {note}"     # the comments of a snippet line up
    head = "- id: {id}\n  title: %s\n  points: 1\n%s\n" % (title, calls_line)
    cases = "  cases: {{public: {{count: 2, seed: 1}}, hidden: {{count: %d, seed: 1001}}}}\n" % hidden
    return head + check + cases


#: kind name -> its record, in TABLE's order, each loaded when first looked up
KINDS: t.Mapping[str, CheckKind] = Registry("check kind", "grader/rubric/kinds.py", lambda: TABLE)
