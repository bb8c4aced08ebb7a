"""`grader check` in the terminal: the feedback, compact and in colour (rich).

One line per question (mark, id, score, pass/fail per device); under a
question that did not pass, the feedback, the first failing public case
(inputs, expected, got, shortened to a line each), the hint, and the command
that reruns just that question.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from grader.reports.markdown import STATUS_MARK
from grader.reports.views import check_command, device_status, reproduce, show_value, skip_notes, worst_lines
from grader.results import QuestionResult, SubmissionResult

STYLE = {"passed": "green", "failed": "red", "not_implemented": "yellow", "missing": "yellow",
         "error": "red", "timeout": "red", "crashed": "red", "forbidden": "magenta", "not_run": "dim"}
LINE = 96     # characters of a value shown per line


def _devices(q: QuestionResult) -> Text:
    text = Text()
    for i, (device, c) in enumerate(sorted(q.cases.items())):
        if i:
            text.append(" · ", style="dim")
        status = device_status(c)
        if status in ("passed", "failed"):
            text.append(f"{device} {c.passed}/{c.total}", style="green" if status == "passed" else "red")
        elif status == "skipped":
            text.append(f"{device} {c.skipped} skipped", style="dim")    # why: once, at the top
        else:
            text.append(f"{device} {status}", style="dim")
    return text


def _short(value: object) -> str:
    """A value on one terminal line: a matrix says its size first, then as much as fits."""
    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        return f"{len(value)}x{len(value[0])} " + show_value(value, limit=LINE)
    return show_value(value, limit=LINE)


def _details(q: QuestionResult, notebook: str, assignment: str | None) -> list[Text]:
    lines = [Text(q.feedback)]
    if q.public_failures and q.status != "missing":     # inputs say nothing of a missing function
        case = q.public_failures[0]
        more = len(q.public_failures) - 1
        lines.append(Text.assemble(("public case ", "dim"), (case.case, "bold"),
                                   (f"  (+{more} more: --format html)" if more else "", "dim")))
        for name, value in case.inputs.items():
            lines.append(Text.assemble(f"  {name} = ", (_short(value), "cyan")))
        if case.expected is not None or case.got is not None:   # a call that raised has neither
            lines.append(Text.assemble("  expected: ", (_short(case.expected), "green")))
            lines.append(Text.assemble("  got:      ", (_short(case.got), "red")))
        lines += [Text(f"  worst entry: {w}", style="red") for w in worst_lines(case, k=3)]
    lines += [Text.assemble(("hint: ", "bold yellow"), h) for h in q.hints if h not in q.feedback]
    if q.plot and q.plot.get("kind") == "loglog_error":
        lines.append(Text(f"error against h: your slope {q.plot.get('student_slope', float('nan')):.2f}, "
                          f"the reference's {q.plot.get('reference_slope', float('nan')):.2f} "
                          "(the plot: --format html)", style="dim"))
    command = reproduce(q, notebook, assignment)
    if command:
        lines.append(Text.assemble(("rerun: ", "bold"), (command, "bold cyan")))
    return lines


def render(result: SubmissionResult, *, notebook: str, assignment: str | None = None) -> Group:
    """The self-check as rich renderables; `assignment` goes into the rerun commands when the
    student had to name it (it could not be inferred from the notebook)."""
    width = max((len(q.id) for q in result.questions), default=8)
    parts: list = [Text(f"{result.assignment}: public checks of {notebook}", style="bold")]
    if result.message:
        parts.append(Text(result.message, style="bold red"))
    parts += [Text(note, style="dim") for note in skip_notes(result.questions)]
    for q in result.questions:
        style = STYLE.get(q.status, "")
        row = Text.assemble(f"{STATUS_MARK.get(q.status, '')} ", (q.id.ljust(width), f"bold {style}"),
                            (f" {q.score:g}/{q.max_score:g}".ljust(8), style), "  ", _devices(q))
        parts.append(row)
        if q.status != "passed":
            # indented by hand, not by rich's Padding, which folds at the console's width: with
            # soft wrap the terminal folds long lines, and a rerun command stays one line to copy
            parts += [Text("     ") + line for line in _details(q, notebook, assignment)]
    return Group(*parts)


def rerun_all(notebook: str, assignment: str | None) -> str:
    return check_command(notebook, None, assignment)
