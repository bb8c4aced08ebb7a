"""Per-submission feedback in Markdown: what was checked, what failed, why, and a hint."""

from __future__ import annotations

import json

from grader.reports.result import QuestionResult, SubmissionResult

STATUS_MARK = {"passed": "✅", "failed": "❌", "not_implemented": "⬜", "missing": "❔",
               "error": "💥", "timeout": "⏱", "crashed": "💥", "forbidden": "🚫", "not_run": "⏭"}


def _fmt(value: object) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str)


def _cases(q: QuestionResult) -> str:
    parts = []
    for device, c in sorted(q.cases.items()):
        text = f"{device}: {c.passed}/{c.total}"
        if c.skipped:
            text += f" ({c.skipped} skipped: {c.skip_reason})"
        parts.append(text)
    return ", ".join(parts) or "-"


def question_section(q: QuestionResult, plot: str | None = None) -> list[str]:
    lines = [f"### {STATUS_MARK.get(q.status, '')} `{q.id}` — {q.score:g} / {q.max_score:g}", ""]
    if q.title:
        lines += [f"*{q.title}* (calls {', '.join(f'`{c}`' for c in q.calls)})", ""]
    lines += [f"- **status**: {q.status.replace('_', ' ')}", f"- **cases passed**: {_cases(q)}",
              f"- **feedback**: {q.feedback}"]
    lines += [f"- **hint**: {h}" for h in q.hints]
    if q.hidden_failed:
        lines.append(f"- hidden cases failed: {q.hidden_failed} (their inputs are not shown)")
    if plot:
        lines += ["", f"![{q.id}: error against h, yours and the reference's]({plot})"]
    for case in q.public_failures:
        lines += ["", f"<details><summary>public case <code>{case.case}</code>: {case.message}</summary>", ""]
        for name, value in case.inputs.items():
            lines.append(f"- `{name}` = `{_fmt(value)}`")
        lines += [f"- expected: `{_fmt(case.expected)}`", f"- got: `{_fmt(case.got)}`", "", "</details>"]
    lines.append("")
    return lines


def render(result: SubmissionResult, plots: dict[str, str] | None = None) -> str:
    lines = [f"# Feedback: {result.assignment} — {result.submission}", "",
             f"**Score: {result.score:g} / {result.max_score:g}**"
             + (" (public checks only)" if result.public_only else ""), ""]
    if result.message:
        lines += [f"> {result.message}", ""]
    lines += ["| question | score | status |", "| --- | --- | --- |"]
    lines += [f"| `{q.id}` | {q.score:g} / {q.max_score:g} | {STATUS_MARK.get(q.status, '')} "
              f"{q.status.replace('_', ' ')} |" for q in result.questions]
    lines.append("")
    if result.notebook_issues:
        lines += ["## While running your notebook", ""]
        lines += [f"- {issue}" for issue in result.notebook_issues] + [""]
    lines += ["## Questions", ""]
    for q in result.questions:
        lines += question_section(q, (plots or {}).get(q.id))
    lines += ["---", f"source `{result.source}`, sha256 `{result.sha256[:12]}`, "
              f"grader {result.grader_version}, rubric v{result.rubric_version}, "
              f"network {result.sandbox.get('network', '?')}", ""]
    return "\n".join(lines)
