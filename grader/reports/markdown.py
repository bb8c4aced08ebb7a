"""Per-submission feedback in Markdown: what was checked, what failed, why, and a hint."""

from __future__ import annotations

import html

from grader.reports.views import device_summary, reproduce, sandbox_warning, show_value, skip_notes, worst_lines
from grader.results import QuestionResult, SubmissionResult

STATUS_MARK = {"passed": "✅", "failed": "❌", "not_implemented": "⬜", "missing": "❔",
               "error": "💥", "timeout": "⏱", "crashed": "💥", "forbidden": "🚫", "not_run": "⏭"}


def question_section(q: QuestionResult, plot: str | None = None, *, notebook: str | None = None,
                     assignment: str | None = None) -> list[str]:
    lines = [f"### {STATUS_MARK.get(q.status, '')} `{q.id}` — {q.score:g} / {q.max_score:g}", ""]
    if q.title:
        lines += [f"*{q.title}* (calls {', '.join(f'`{c}`' for c in q.calls)})", ""]
    lines += [f"- **status**: {q.status.replace('_', ' ')}", f"- **cases per device**: {device_summary(q)}",
              f"- **feedback**: {q.feedback}"]
    lines += [f"- **hint**: {h}" for h in q.hints]
    if q.hidden_failed:
        lines.append(f"- hidden cases failed: {q.hidden_failed} (their inputs are not shown)")
    command = reproduce(q, notebook, assignment) if notebook else None
    if command:
        lines.append(f"- **reproduce**: `{command}`")
    if plot:
        lines += ["", f"![{q.id}: error against h, yours and the reference's]({plot})"]
    for case in q.public_failures:
        lines += ["", f"<details><summary>public case <code>{html.escape(case.case)}</code>: "
                  f"{html.escape(case.message)}</summary>", ""]
        for name, value in case.inputs.items():
            lines.append(f"- `{name}` = `{show_value(value)}`")
        lines += [f"- expected: `{show_value(case.expected)}`", f"- got: `{show_value(case.got)}`"]
        lines += [f"- worst entry: {w}" for w in worst_lines(case)]
        lines += ["", "</details>"]
    lines.append("")
    return lines


def render(result: SubmissionResult, plots: dict[str, str] | None = None, *, notebook: str | None = None) -> str:
    """`notebook`: the link to the executed notebook's page (format `notebook`), if written."""
    lines = [f"# Feedback: {result.assignment} — {result.submission}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**"
             + (" (public checks only)" if result.public_only else ""), ""]
    if result.message:
        lines += [f"> {result.message}", ""]
    if notebook:
        lines += [f"📓 [Your notebook as the grader ran it]({notebook}), with each verdict after the cell "
                  "that defines its function.", ""]
    if warning := sandbox_warning(result.sandbox):
        lines += [f"> ⚠️ {warning}", ""]
    lines += [f"> ⏭ {note}" for note in skip_notes(result.questions)]
    if lines[-1].startswith("> ⏭"):
        lines.append("")
    lines += ["| question | score | status |", "| --- | --- | --- |"]
    lines += [f"| `{q.id}` | {q.score:g} / {q.max_score:g} | {STATUS_MARK.get(q.status, '')} "
              f"{q.status.replace('_', ' ')} |" for q in result.questions]
    lines.append("")
    if result.notebook_issues:
        lines += ["## While running your notebook", ""]
        lines += [f"- {issue}" for issue in result.notebook_issues] + [""]
    lines += ["## Questions", ""]
    for q in result.questions:
        lines += question_section(q, (plots or {}).get(q.id), notebook=result.source,
                                  assignment=result.assignment)
    lines += ["---", f"source `{result.source}`, sha256 `{result.sha256[:12]}`, "
              f"grader {result.grader_version}, rubric v{result.rubric_version}, "
              f"network {result.sandbox.get('network', '?')}", ""]
    return "\n".join(lines)
