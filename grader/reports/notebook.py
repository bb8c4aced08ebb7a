"""The executed notebook as feedback: `feedback/ID.notebook.html` (format `notebook`).

The student's notebook as the grader's kernel ran it (outputs kept and capped
as the run capped them), rendered by nbconvert (`notebook_cells`, which makes
everything that came from the notebook inert), with the score table at the
top and each question's verdict, hint and public failures placed right after
the cell that defines the graded function (the last such cell: the one that
ran last). Hidden cases appear only as counts. Cells that failed carry the
run's note under them. The page's Content-Security-Policy runs no script and
fetches nothing: the file opens offline, from an LMS download or an e-mail,
as it is, and says so at its top.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path, PurePath

import jinja2
import nbformat
from markupsafe import Markup

from grader.errors import InputError
from grader.reports.html import PUBLIC_CASES, inline, value_html
from grader.reports.markdown import STATUS_MARK
from grader.reports.notebook_cells import cells_html, pygments_css
from grader.reports.views import (device_summary, failed_counts, mentions_hidden, public_feedback, reproduce,
                                  sandbox_warning, skip_notes, worst_lines)
from grader.results import QuestionResult, SubmissionResult
from grader.submissions import read_notebook

#: what the page lets a browser do: inline styles and inline images, nothing else
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
SANITIZED = ("HTML in the notebook's Markdown and outputs was sanitized: scripts, styles, forms, frames "
             "and remote images were removed, and this page runs no script.")

# -- where each verdict goes ----------------------------------------------------------------------

def defining_cell(cells: t.Sequence[t.Mapping], name: str) -> int | None:
    """The last code cell that defines `name` (`def`, `class` or an assignment at the top level,
    else a `def` indented in a class); None when none does. Found by text, not by parsing, so a
    cell with a syntax error still holds its function's verdict."""
    base = re.escape(name.split(".")[0])
    top = re.compile(rf"^(?:async\s+def|def|class)\s+{base}\b|^{base}\s*(?::[^=]*)?=(?!=)", re.M)
    nested = re.compile(rf"^\s+(?:async\s+)?def\s+{re.escape(name.split('.')[-1])}\b", re.M)
    for pattern in (top, nested):
        hits = [i for i, c in enumerate(cells) if c.get("cell_type") == "code" and pattern.search(_source(c))]
        if hits:
            return hits[-1]
    return None


def _source(cell: t.Mapping) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


_CELL_ISSUE = re.compile(r"cell (\d+): (.*)", re.S)    # how pipeline.py words a cell's issue


def cell_issues(result: SubmissionResult) -> dict[int, list[str]]:
    """The run's notes per cell index (`cell 3: NameError: ...` in the result)."""
    out: dict[int, list[str]] = {}
    for issue in result.notebook_issues:
        m = _CELL_ISSUE.match(issue)
        if m:
            out.setdefault(int(m.group(1)) - 1, []).append(m.group(2))
    return out


# -- the page -------------------------------------------------------------------------------------

_env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)

_VERDICT = _env.from_string("""\
<aside class="verdict {{ css }}" id="q-{{ q.id }}">
<h3>{{ mark }} <code>{{ q.id }}</code> — {{ g(q.score) }} / {{ g(q.max_score) }} · {{ q.status.replace('_', ' ') }}<a class="up" href="#scores">↑ scores</a></h3>
{% if q.title %}<p><em>{{ q.title }}</em> (calls {% for c in q.calls %}<code>{{ c }}</code>{% if not loop.last %}, {% endif %}{% endfor %})</p>{% endif %}
<p><strong>Checked:</strong> {{ devices }}</p>
<p>{{ inline(feedback) }}</p>
{% for h in hints %}<div class="hint">💡 {{ inline(h) }}</div>{% endfor %}
{% if q.hidden_total or q.hidden_failed %}<p class="muted">hidden cases: {{ q.hidden_failed }} of {{ q.hidden_total }} failed (only counted: their inputs are not shown)</p>{% endif %}
""" + PUBLIC_CASES + """{% if command %}<p>Reproduce: <code>{{ command }}</code></p>{% endif %}
</aside>
""")

_ISSUES = _env.from_string("""\
{% for issue in issues %}<aside class="issue">⚠️ {{ where }}: {{ issue }}</aside>
{% endfor %}""")

_PAGE = _env.from_string("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Notebook: {{ r.assignment }} — {{ r.submission }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 62rem; margin: 2rem auto;
        padding: 0 1rem; color: #1f2328; line-height: 1.45; }
 h1 { font-size: 1.5rem; } h3 { font-size: 1.05rem; margin: 0 0 .3rem; }
 .score { font-size: 1.2rem; font-weight: 600; }
 table { border-collapse: collapse; margin: .5rem 0; }
 th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
 th { background: #f6f8fa; }
 code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
 pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
 .muted { color: #656d76; font-size: .85rem; }
 .note { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .4rem .7rem; }
 .cell { margin: .6rem 0; }
 .input_prompt, .prompt { display: none; }
 .input_area { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; }
 .output_subarea { padding: .3rem .5rem; overflow-x: auto; }
 .output_stderr { background: #fff1f0; }
 .output_error pre { color: #82071e; }
 .text_cell_render { padding: 0 .2rem; }
 .rendered_html img, .output_png img, .output_jpeg img { max-width: 100%; }
 aside.verdict { border: 1px solid #d0d7de; border-left: 6px solid #9a6700; border-radius: 6px;
                 padding: .6rem 1rem; margin: .6rem 0 1.4rem; background: #fffdf5; }
 aside.passed { border-left-color: #1a7f37; background: #f3fbf5; }
 aside.failed { border-left-color: #cf222e; background: #fff8f8; }
 aside.issue { border-left: 6px solid #9a6700; background: #fff8c5; padding: .3rem .8rem; margin: .3rem 0 1rem; }
 h3 a.up { float: right; font-size: .8rem; font-weight: normal; }
 .hint { background: #fff8c5; padding: .4rem .6rem; border-radius: 4px; margin: .4rem 0; }
 table.m td { text-align: right; font-family: ui-monospace, monospace; font-size: .8rem; border-color: #eaeef2; }
 .passed-t { color: #1a7f37; } .failed-t { color: #cf222e; } .skipped-t { color: #9a6700; }
{{ pygments }}
 .highlight .err { border: none; }
</style>
</head>
<body>
<h1>Your notebook as the grader ran it: {{ r.assignment }} — {{ r.submission }}</h1>
<p class="score">Score: {{ g(r.score) }} / {{ g(r.max_score) }}{% if r.public_only %} (public checks only){% endif %}</p>
{% if r.message %}<p><strong>{{ r.message }}</strong></p>{% endif %}
{% if sandbox_warning %}<p class="hint">⚠️ {{ sandbox_warning }}</p>{% endif %}
{% for note in skips %}<p class="muted">⏭ {{ note }}</p>{% endfor %}
<table id="scores">
<tr><th>question</th><th>score</th><th>status</th><th>checked</th></tr>
{% for q in r.questions %}
<tr><td><a href="#q-{{ q.id }}"><code>{{ q.id }}</code></a></td><td>{{ g(q.score) }} / {{ g(q.max_score) }}</td>
<td>{{ mark(q.status) }} {{ q.status.replace('_', ' ') }}</td><td>{{ devices(q) }}</td></tr>
{% endfor %}
</table>
{% if links %}<p>{% for label, href in links %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>{% endif %}
<p class="note muted">Below: your notebook {% if ran %}with the outputs of the grader's run{% else %}without outputs ({{ inline(not_ran) }}){% endif %},
and each question's verdict right after the cell that defines its function. {{ sanitized }} Hidden cases are only counted.</p>
{% for issue in loose_issues %}<p class="muted">⚠️ {{ issue }}</p>{% endfor %}
<main>
{{ cells }}
</main>
{% if unplaced %}
<h2>Not found in the notebook</h2>
<p class="muted">No cell defines these functions.</p>
{% for v in unplaced %}{{ v }}{% endfor %}
{% endif %}
<hr>
<p class="muted">{{ source_name }}, sha256 <code>{{ r.sha256[:12] }}</code>, grader {{ r.grader_version }},
rubric v{{ r.rubric_version }}, network {{ r.sandbox.get('network', '?') }}</p>
</body>
</html>
""")


def _css(q: QuestionResult) -> str:
    return "passed" if q.status == "passed" else "skipped" if q.status == "not_run" else "failed"


def _g(x: float) -> str:
    return f"{x:g}"


def verdict_html(q: QuestionResult, result: SubmissionResult) -> Markup:
    """One question's verdict: public feedback and cases in full, hidden cases as counts."""
    public_failed, hidden_failed = failed_counts(q)
    # as everywhere a student sees every test at once (views.visible_verdict): a hint may come from
    # a hidden case, so it shows only with a public failure or a failure not about cases, and never
    # one that names a hidden case; the command to reproduce only with a public failure
    shown = public_failed or not hidden_failed
    hints = [h for h in q.hints if not mentions_hidden(h)] if shown else []
    command = reproduce(q, PurePath(result.source).name, result.assignment)
    return Markup(_VERDICT.render(
        q=q, css=_css(q), mark=STATUS_MARK.get(q.status, ""), g=_g, devices=device_summary(q),
        feedback=public_feedback(q), hints=hints, inline=inline, value_html=value_html, worst=worst_lines,
        command=command if command and shown else None))


def render(result: SubmissionResult, nb: nbformat.NotebookNode | None, *,
           links: t.Sequence[tuple[str, str]] = (), not_ran: str = "") -> str:
    """The page for `result`, from the executed notebook `nb` (None: no cells to show).
    `links`: (label, relative href) of the submission's other feedback files.
    `not_ran`: why the cells show no outputs of this run ("" when they do)."""
    cells = list((nb or {}).get("cells", []))
    after: dict[int, list[Markup]] = {}
    unplaced: list[Markup] = []
    for q in result.questions:
        where = None
        for name in q.calls:
            cell = defining_cell(cells, name)
            if cell is not None:
                where = cell if where is None else max(where, cell)
        (after.setdefault(where, []) if where is not None else unplaced).append(verdict_html(q, result))
    grouped: dict[int, str] = {}
    issues = cell_issues(result)
    for index in set(after) | {i for i in issues if i < len(cells)}:
        notes = _ISSUES.render(issues=issues.get(index, []), where=f"cell {index + 1}")
        grouped[index] = notes + "".join(after.get(index, []))
    loose = [i for i in result.notebook_issues if not _CELL_ISSUE.match(i)]
    loose += [f"cell {i + 1}: {m}" for i, ms in issues.items() if i >= len(cells) for m in ms]
    return _PAGE.render(
        r=result, g=_g, csp=CSP, pygments=Markup(pygments_css()), mark=lambda s: STATUS_MARK.get(s, ""),
        devices=device_summary, sandbox_warning=sandbox_warning(result.sandbox), skips=skip_notes(result.questions),
        links=list(links), inline=inline, ran=not not_ran, not_ran=not_ran, sanitized=SANITIZED, loose_issues=loose,
        cells=Markup(cells_html(nb, grouped)), unplaced=unplaced, source_name=PurePath(result.source).name)


def page(result: SubmissionResult, *, links: t.Sequence[tuple[str, str]] = ()) -> str:
    """The page for a result, whatever it holds; never raises for anything in the notebook.

    With the executed notebook (`result.executed`): its cells and this run's outputs. Without
    it (a result reused by a resumed batch, or merged): the notebook file as handed in, outputs
    left out, and the page says why. A notebook the renderer chokes on: the verdicts alone."""
    nb, not_ran = result.executed, ""
    if nb is None:
        nb = _handed_in(result.source)
        not_ran = ("this result was kept from an earlier run, which did not keep its outputs; "
                   "`grader grade --force` runs the notebook again" if nb is not None
                   else "the notebook could not be read")
    elif result.status == "error" and result.message:
        not_ran = result.message
    try:
        return render(result, nb, links=links, not_ran=not_ran)
    except Exception as exc:  # noqa: BLE001 - a hostile notebook costs its page's cells, not the batch
        return render(result, None, links=links,
                      not_ran=f"the notebook could not be shown ({type(exc).__name__}: {exc})")


def _handed_in(source: str) -> nbformat.NotebookNode | None:
    try:
        nb = read_notebook(Path(source))
    except (InputError, OSError):
        return None
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


__all__: t.Sequence[str] = ("page", "render", "verdict_html", "defining_cell", "CSP")
