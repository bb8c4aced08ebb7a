"""Per-submission feedback as one standalone HTML file (styles inline, plots as base64 PNGs).

The same content as the Markdown feedback (grader/reports/markdown.py): per
question what was checked, pass/fail per device, for failing public cases the
inputs, expected and got (small tensors in full, matrices as tables, large
ones as shape plus entries), the hint, the command that reproduces it, and
for finite-difference questions the error-against-h plot. One file, nothing
fetched: it opens from an LMS download or an e-mail attachment as it is.
"""

from __future__ import annotations

import base64
import typing as t

import jinja2
from markupsafe import Markup

from grader.reports.markdown import STATUS_MARK
from grader.reports.views import device_status, reproduce, sandbox_warning, show_value, skip_notes, worst_lines
from grader.results import QuestionResult, SubmissionResult


#: a question's open public cases, inputs and all (also in the notebook feedback page)
PUBLIC_CASES = """\
{% for case in q.public_failures %}
<details{% if loop.first %} open{% endif %}><summary>public case <code>{{ case.case }}</code>: {{ inline(case.message) }}</summary>
<table>
{% for name, value in case.inputs.items() %}<tr><th><code>{{ name }}</code></th><td>{{ value_html(value) }}</td></tr>{% endfor %}
<tr><th>expected</th><td>{{ value_html(case.expected) }}</td></tr>
<tr><th>got</th><td>{{ value_html(case.got) }}</td></tr>
{% for w in worst(case) %}<tr><th>worst entry</th><td><code>{{ w }}</code></td></tr>{% endfor %}
</table>
</details>
{% endfor %}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feedback: {{ r.assignment }} — {{ r.submission }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
        padding: 0 1rem; color: #1f2328; line-height: 1.45; }
 h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
 h3 { font-size: 1.05rem; margin: 0; }
 .score { font-size: 1.2rem; font-weight: 600; }
 table { border-collapse: collapse; margin: .5rem 0; }
 th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
 th { background: #f6f8fa; }
 section.q { border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
 section.passed { border-left: 6px solid #1a7f37; } section.failed { border-left: 6px solid #cf222e; }
 section.skipped { border-left: 6px solid #9a6700; }
 .passed-t { color: #1a7f37; } .failed-t { color: #cf222e; } .skipped-t { color: #9a6700; }
 code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
 pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; white-space: pre-wrap; }
 table.m td { text-align: right; font-family: ui-monospace, monospace; font-size: .8rem; border-color: #eaeef2; }
 .hint { background: #fff8c5; padding: .4rem .6rem; border-radius: 4px; margin: .4rem 0; }
 .muted { color: #656d76; font-size: .85rem; }
 details { margin: .5rem 0; } summary { cursor: pointer; }
 img { max-width: 100%; }
</style>
</head>
<body>
<h1>Feedback: {{ r.assignment }} — {{ r.submission }}</h1>
<p class="score">Score: {{ g(r.score) }} / {{ g(r.max_score) }}{% if r.public_only %} (public checks only){% endif %}</p>
{% if r.message %}<p><strong>{{ r.message }}</strong></p>{% endif %}
{% if notebook %}<p>📓 <a href="{{ notebook }}">Your notebook as the grader ran it</a>, with each verdict after the cell that defines its function.</p>{% endif %}
{% if sandbox_warning %}<p class="hint">⚠️ {{ sandbox_warning }}</p>{% endif %}
{% for note in skips %}<p class="muted">⏭ {{ note }}</p>{% endfor %}
<table>
<tr><th>question</th><th>score</th><th>status</th><th>devices</th></tr>
{% for q in r.questions %}
<tr><td><a href="#{{ q.id }}"><code>{{ q.id }}</code></a></td><td>{{ g(q.score) }} / {{ g(q.max_score) }}</td>
<td>{{ mark(q.status) }} {{ q.status.replace('_', ' ') }}</td>
<td>{% for d in devices(q) %}<span class="{{ d.css }}">{{ d.short }}</span>{% if not loop.last %} · {% endif %}{% endfor %}</td></tr>
{% endfor %}
</table>
{% if r.notebook_issues %}
<h2>While running your notebook</h2>
<ul>{% for issue in r.notebook_issues %}<li>{{ issue }}</li>{% endfor %}</ul>
{% endif %}
<h2>Questions</h2>
{% for q in r.questions %}
<section class="q {{ css(q) }}" id="{{ q.id }}">
<h3>{{ mark(q.status) }} <code>{{ q.id }}</code> — {{ g(q.score) }} / {{ g(q.max_score) }}</h3>
{% if q.title %}<p><em>{{ q.title }}</em> (calls {% for c in q.calls %}<code>{{ c }}</code>{% if not loop.last %}, {% endif %}{% endfor %})</p>{% endif %}
<p><strong>Checked:</strong>
{% for d in devices(q) %}<span class="{{ d.css }}">{{ d.text }}</span>{% if not loop.last %} · {% endif %}{% endfor %}</p>
<p>{{ inline(q.feedback) }}</p>
{% for h in q.hints %}<div class="hint">💡 {{ inline(h) }}</div>{% endfor %}
{% if q.hidden_failed %}<p class="muted">hidden cases failed: {{ q.hidden_failed }} (their inputs are not shown)</p>{% endif %}
{% set cmd = repro(q) %}{% if cmd %}<p>Reproduce: <code>{{ cmd }}</code></p>{% endif %}
{% if plots.get(q.id) %}<p><img alt="{{ q.id }}: error against h, yours and the reference's" src="data:image/png;base64,{{ plots[q.id] }}"></p>{% endif %}
""" + PUBLIC_CASES + """</section>
{% endfor %}
<p class="muted">source <code>{{ r.source }}</code>, sha256 <code>{{ r.sha256[:12] }}</code>, grader {{ r.grader_version }},
rubric v{{ r.rubric_version }}, network {{ r.sandbox.get('network', '?') }}</p>
</body>
</html>
"""

_env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                          undefined=jinja2.StrictUndefined)
_template = _env.from_string(TEMPLATE)


def _is_matrix(value: object) -> bool:
    return (isinstance(value, list) and 0 < len(value) <= 12 and all(isinstance(row, list) for row in value)
            and all(0 < len(row) <= 12 and all(isinstance(x, (int, float)) for x in row) for row in value))


def value_html(value: object) -> Markup:
    """A matrix as a small table, anything else as one line of code (escaped)."""
    if _is_matrix(value):
        assert isinstance(value, list)
        rows = "".join("<tr>" + "".join(f"<td>{x:.6g}</td>" for x in row) + "</tr>" for row in value)
        return Markup(f'<table class="m">{rows}</table>')
    return Markup("<code>{}</code>").format(show_value(value))


def _devices(q: QuestionResult) -> list[dict[str, str]]:
    out = []
    for device, c in sorted(q.cases.items()):
        status = device_status(c)
        short = {"passed": f"{device} ✅ {c.passed}/{c.total}", "failed": f"{device} ❌ {c.passed}/{c.total}",
                 "skipped": f"{device} ⏭ {c.skipped} skipped", "not run": f"{device} not run"}[status]
        # why a device was skipped is said once per page (`skip_notes`), not per question
        out.append({"short": short, "text": short,
                    "css": {"passed": "passed-t", "failed": "failed-t"}.get(status, "skipped-t")})
    return out or [{"short": "no cases ran", "text": "no cases ran", "css": "skipped-t"}]


def inline(text: str) -> Markup:
    """Plain text with `code` spans (as the feedback writes them), escaped."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:          # an odd number of backticks: show them as they are
        return Markup("{}").format(text)
    return Markup("").join(Markup("<code>{}</code>").format(p) if i % 2 else Markup("{}").format(p)
                           for i, p in enumerate(parts))


def _css(q: QuestionResult) -> str:
    return "passed" if q.status == "passed" else "skipped" if q.status == "not_run" else "failed"


def render(result: SubmissionResult, plots: dict[str, bytes] | None = None, *, notebook: str | None = None) -> str:
    """The standalone page; `plots` maps question id to PNG bytes (inlined as base64);
    `notebook`: the link to the executed notebook's page (format `notebook`), if written."""
    encoded = {qid: base64.b64encode(png).decode("ascii") for qid, png in (plots or {}).items()}
    return _template.render(
        r=result, plots=encoded, notebook=notebook, g=lambda x: f"{x:g}", mark=lambda s: STATUS_MARK.get(s, ""),
        devices=_devices, css=_css, inline=inline, value_html=value_html, worst=worst_lines,
        repro=lambda q: reproduce(q, result.source, result.assignment),
        sandbox_warning=sandbox_warning(result.sandbox), skips=skip_notes(result.questions))


def plot_pngs(result: SubmissionResult) -> dict[str, bytes]:
    """The error-against-h plots of a result, as PNG bytes (none: matplotlib is not imported)."""
    wanted: list[QuestionResult] = [q for q in result.questions
                                    if q.plot and q.plot.get("kind") == "loglog_error"]
    if not wanted:
        return {}
    from grader.reports.plots import loglog_png
    return {q.id: loglog_png(q) for q in wanted}


__all__: t.Sequence[str] = ("render", "plot_pngs", "value_html")
