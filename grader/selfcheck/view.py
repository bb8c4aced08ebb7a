"""A check's report: an HTML table in Jupyter, the same as text in a terminal or script.

One row per question: the mark, the id, the points, the cases passed per device,
the worst error (as a multiple of the tolerance: 1 is the edge of passing), and
for a question that did not pass the feedback, the first failing public case,
the hint, and the line of the student's code an exception came from. Everything
shown is read from the `QuestionResult` the check kind judged (the same
`reports/views.py` helpers as every other report); nothing is judged here.

A question that is not implemented yet, or not defined, is one line.
"""

from __future__ import annotations

import html
import typing as t
from dataclasses import dataclass

from grader.reports.markdown import STATUS_MARK
from grader.reports.views import device_summary, public_feedback, show_value, skip_notes
from grader.results import QuestionResult

#: statuses said in one line, with no details under them
ONE_LINE = {"not_implemented", "missing"}
SHORT = 90     # characters of a value shown in a line


@dataclass
class Row:
    result: QuestionResult
    line: str | None = None        # where the student's code raised ("line 3: return A @ x")


def worst(q: QuestionResult) -> str:
    return f"{q.worst_error:.2g}× tolerance" if q.worst_error is not None else ""


def _details(row: Row) -> list[tuple[str, str]]:
    """(label, text) lines under a question that did not pass."""
    q = row.result
    if q.status == "passed" or q.status in ONE_LINE:
        return []
    out = [("", public_feedback(q))]
    case = q.public_failures[0] if q.public_failures else None
    if case is not None and (case.expected is not None or case.got is not None):   # values to compare
        out.append(("expected", show_value(case.expected, limit=SHORT)))
        out.append(("got", show_value(case.got, limit=SHORT)))
    out += [("hint", h) for h in q.hints if h not in q.feedback]
    if row.line and row.line not in out[0][1]:
        out.append(("raised at", row.line))
    return out


class Report:
    """What `grader.check` shows and returns: `.ok`, `.score`, `.results` (QuestionResult)."""

    def __init__(self, assignment: str | None, rows: list[Row], *, error: str | None = None,
                 every: bool = False, seconds: float = 0.0):
        self.assignment = assignment
        self.rows = rows
        self.error = error
        self.every = every             # check_all: a header with the public score
        self.seconds = seconds
        self.shown_in: int | None = None   # the IPython execution count it was displayed in

    @property
    def results(self) -> list[QuestionResult]:
        return [r.result for r in self.rows]

    @property
    def ok(self) -> bool:
        return self.error is None and all(q.status == "passed" for q in self.results)

    @property
    def score(self) -> float:
        return sum(q.score for q in self.results)

    @property
    def max_score(self) -> float:
        return sum(q.max_score for q in self.results)

    def verdicts(self) -> dict[str, dict[str, t.Any]]:
        """Per question: status, points, cases passed and run (the tests compare these with
        `grader check`'s)."""
        return {q.id: {"status": q.status, "score": q.score,
                       "passed": sum(c.passed for c in q.cases.values()),
                       "total": sum(c.total for c in q.cases.values())} for q in self.results}

    def _header(self) -> str | None:
        if not self.every:
            return None
        passed = sum(q.status == "passed" for q in self.results)
        return (f"{self.assignment}: public checks in this kernel: {passed} of {len(self.rows)} questions "
                f"passed, public score {self.score:g} / {self.max_score:g}")

    # -- text ---------------------------------------------------------------------------------
    def text(self) -> str:
        if self.error:
            return f"grader: {self.error}"
        lines = [h for h in [self._header()] if h]
        width = max((len(q.id) for q in self.results), default=8)
        for row in self.rows:
            q = row.result
            head = f"{STATUS_MARK.get(q.status, '')} {q.id.ljust(width)}  {q.score:g}/{q.max_score:g}".ljust(width + 10)
            if q.status in ONE_LINE:
                lines.append(f"{head}  {q.feedback}")
                continue
            lines.append("  ".join(p for p in (head, device_summary(q, marks=False), worst(q)) if p))
            lines += [f"     {label + ': ' if label else ''}{text}" for label, text in _details(row)]
        if self.every:     # once, under the whole assignment (a single question stays short)
            lines += skip_notes(self.results)
        return "\n".join(lines)

    __str__ = text

    def __repr__(self) -> str:
        if self.error:
            return f"<grader check: {self.error}>"
        passed = sum(q.status == "passed" for q in self.results)
        return f"<grader check of {self.assignment}: {passed} of {len(self.rows)} passed>"

    # -- HTML (Jupyter) -----------------------------------------------------------------------
    def html(self) -> str:
        e = html.escape
        if self.error:
            return f'<div style="color:#b00"><b>grader:</b> {e(self.error)}</div>'
        parts = ['<div class="grader-check">']
        if header := self._header():
            parts.append(f"<p><b>{e(header)}</b></p>")
        parts.append('<table><thead><tr><th style="text-align:left">question</th><th>points</th>'
                     '<th>cases passed</th><th>worst error</th><th style="text-align:left">what to fix</th>'
                     '<th style="text-align:left">raised at</th></tr></thead><tbody>')
        for row in self.rows:
            q = row.result
            if q.status in ONE_LINE:
                fix = e(q.feedback)
            else:
                fix = "<br>".join((f"<b>{e(label)}:</b> " if label else "") + e(text)
                                  for label, text in _details(row) if label != "raised at")
            parts.append(
                f'<tr><td style="text-align:left">{STATUS_MARK.get(q.status, "")} <code>{e(q.id)}</code></td>'
                f"<td>{q.score:g} / {q.max_score:g}</td>"
                f"<td>{e(device_summary(q, marks=False)) if q.status not in ONE_LINE else ''}</td>"
                f"<td>{e(worst(q))}</td><td style=\"text-align:left\">{fix}</td>"
                f'<td style="text-align:left"><code>{e(row.line or "")}</code></td></tr>')
        parts.append("</tbody></table>")
        if self.every:
            parts += [f"<p><small>{e(n)}</small></p>" for n in skip_notes(self.results)]
        parts.append("</div>")
        return "".join(parts)

    _repr_html_ = html

    def mime_bundle(self) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def _ipython_display_(self) -> None:
        """Shown once per cell: `grader.check(...)` displays its report as it runs (so a check
        that is not a cell's last line shows too), and the cell's value then shows nothing."""
        from IPython import get_ipython
        from IPython.display import display
        shell = get_ipython()
        count = getattr(shell, "execution_count", None)
        if self.shown_in is not None and self.shown_in == count:
            return
        self.shown_in = count
        display(self.mime_bundle(), raw=True)
