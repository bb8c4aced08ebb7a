"""GitHub Actions: the job summary, `::error`/`::warning` annotations and step outputs.

- Job summary: Markdown appended to `$GITHUB_STEP_SUMMARY` (and written to
  `OUT/summary.md`): the score table, per-question status, and what to fix
  (feedback, hint, the command that reproduces it). GitHub refuses a step
  summary over 1 MiB, so the text is built to stay under `SUMMARY_LIMIT`
  bytes: the per-submission details go first, then table rows, each cut with
  a line that says what was left out and where to find it.
- Annotations: at most `MAX_ANNOTATIONS` errors and as many warnings (GitHub
  shows 10 of each per step), the most useful first: errors are failing
  questions ordered by points lost; warnings are failing notebook cells
  first (they usually explain a missing function), then partial credit, then
  kernel restarts and dropped output. Devices whose cases were skipped (CUDA
  on a runner without a GPU) get one `::notice` per run, never a warning.
  Each points at the notebook and, where the function's `def` is found in
  the notebook file, at its line. Values are escaped as GitHub's workflow
  commands require (`%`, CR, LF; in properties also `:` and `,`).
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

from grader.files import write_atomic
from grader.reports.markdown import STATUS_MARK
from grader.reports.views import device_status, reproduce, skip_notes
from grader.results import SubmissionResult

SUMMARY_LIMIT = 1024 * 1024 - 16 * 1024      # GitHub's cap is 1 MiB per step; keep a margin
MAX_ANNOTATIONS = 10
SEVERITY = {"forbidden": 0, "failed": 1, "error": 2, "crashed": 2, "timeout": 2, "missing": 3,
            "not_implemented": 4, "not_run": 5}


# -- workflow commands ------------------------------------------------------------------------------

def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Annotation:
    level: t.Literal["error", "warning", "notice"]
    file: str | None
    title: str
    message: str
    line: int | None = None

    def command(self) -> str:
        props = [f"file={escape_property(self.file)}"] if self.file else []
        if self.file and self.line:
            props.append(f"line={self.line}")
        props.append(f"title={escape_property(self.title)}")
        return f"::{self.level} {','.join(props)}::{escape_data(self.message)}"


def display_path(source: str) -> str:
    """The notebook as GitHub names files: relative to the workspace, with forward slashes."""
    path = Path(source)
    base = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    try:
        path = path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        pass
    return path.as_posix()


class _NotebookLines:
    """Line numbers in the notebook *file* (JSON): where a function is defined, where a cell starts."""

    def __init__(self, source: str):
        try:
            self.lines = Path(source).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            self.lines = []

    def definition(self, name: str) -> int | None:
        pattern = re.compile(rf"\b(?:def|class)\s+{re.escape(name)}\b")
        hits = [i + 1 for i, line in enumerate(self.lines) if pattern.search(line)]
        return hits[-1] if hits else None        # the last definition is the one that ran last

    def cell(self, number: int) -> int | None:
        starts = [i + 1 for i, line in enumerate(self.lines) if '"cell_type"' in line]
        return starts[number - 1] if 0 < number <= len(starts) else None


def _title(q) -> str:
    name = q.id if q.calls[0] == q.id else f"{q.id} ({q.calls[0]})"
    return f"{name}: {q.status.replace('_', ' ')}, {q.score:g}/{q.max_score:g}"


def annotations(results: list[SubmissionResult], *, limit: int = MAX_ANNOTATIONS,
                explicit_assignment: bool = True) -> tuple[list[Annotation], list[Annotation], int, int]:
    """(errors, warnings, errors left out, warnings left out), each list at most `limit` long."""
    errors: list[tuple[tuple, Annotation]] = []
    warnings: list[tuple[tuple, Annotation]] = []
    for r in sorted(results, key=lambda r: r.submission):
        file = display_path(r.source)
        nb = _NotebookLines(r.source)
        assignment = r.assignment if explicit_assignment else None
        if r.status != "graded":
            errors.append(((-r.max_score, -1, r.submission, -1),
                           Annotation("error", file, f"{r.submission}: not graded",
                                      r.message or f"the submission was not graded ({r.status})")))
            continue
        for index, q in enumerate(r.questions):
            if q.status == "passed" or (q.status == "not_run" and not any(c.total for c in q.cases.values())
                                        and not r.message):
                continue
            lost = q.max_score - q.score
            if q.score > 0:     # partial credit: worth a look, not an error
                warnings.append(((1, -lost, r.submission, index), Annotation(
                    "warning", file, f"{q.id}: {q.score:g}/{q.max_score:g}",
                    f"{q.feedback}" + "".join(f"\nHint: {h}" for h in q.hints), nb.definition(q.calls[0]))))
                continue
            message = [f"{q.id} ({q.score:g}/{q.max_score:g}): {q.feedback}"]
            message += [f"Hint: {h}" for h in q.hints if h not in q.feedback]
            command = reproduce(q, r.source, assignment)
            if command:
                message.append(f"Reproduce: {command}")
            errors.append(((-lost, SEVERITY.get(q.status, 9), r.submission, index), Annotation(
                "error", file, _title(q), "\n".join(message),
                nb.definition(q.calls[0]))))
        for n, issue in enumerate(r.notebook_issues):
            m = re.match(r"cell (\d+):", issue)
            warnings.append(((0, 0, r.submission, n), Annotation(
                "warning", file, "notebook cell failed" if m else "notebook", issue,
                nb.cell(int(m.group(1))) if m else None)))
        if r.sandbox.get("restarts"):
            warnings.append(((2, 0, r.submission, 0), Annotation(
                "warning", file, "kernel restarted", f"the kernel was restarted {r.sandbox['restarts']} time(s)")))
        if r.sandbox.get("output_truncated"):
            warnings.append(((2, 0, r.submission, 1), Annotation(
                "warning", file, "output dropped", "the notebook printed more than the output cap; the rest "
                "was dropped")))
    errors.sort(key=lambda e: e[0])
    warnings.sort(key=lambda w: w[0])
    return ([a for _, a in errors[:limit]], [a for _, a in warnings[:limit]],
            max(0, len(errors) - limit), max(0, len(warnings) - limit))


def skip_notice(results: list[SubmissionResult]) -> Annotation | None:
    """At most one `::notice` per run for the devices whose cases were skipped (CUDA on a
    runner without a GPU): expected there, so never a warning, and never one per question."""
    notes: dict[str, set[str]] = {}
    for r in results:
        for note in skip_notes(r.questions):
            device_why = re.sub(r": \d+ case\(s\) skipped: ", ": ", note, count=1)
            notes.setdefault(device_why, set()).add(r.submission)
    if not notes:
        return None
    devices = sorted({n.split(":", 1)[0] for n in notes})
    return Annotation("notice", None, f"{', '.join(devices)} cases skipped", "; ".join(
        f"{n} ({len(subs)} submission(s))" for n, subs in sorted(notes.items())))


def annotation_lines(results: list[SubmissionResult], **kw) -> list[str]:
    """The workflow-command lines to print on stdout (plus one plain line per level cut)."""
    errors, warnings, more_errors, more_warnings = annotations(results, **kw)
    notice = skip_notice(results)
    lines = [a.command() for a in errors + warnings + ([notice] if notice else [])]
    if more_errors:
        lines.append(f"({more_errors} more failing question(s): see the job summary)")
    if more_warnings:
        lines.append(f"({more_warnings} more warning(s): see the job summary)")
    return lines


# -- the job summary ---------------------------------------------------------------------------------

def md_text(text: str, *, in_table: bool = False) -> str:
    """Plain text for Markdown: one line, `<`/`>` escaped outside code spans, `|` escaped in tables."""
    text = " ".join(str(text).split())
    parts = text.split("`")
    if len(parts) % 2 == 0:            # unbalanced backticks: treat all as text
        parts = [text.replace("`", "'")]
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if in_table:
            part = part.replace("|", "\\|")
        out.append(part)
    return "`".join(out)


def _pct(score: float, max_score: float) -> str:
    return f"{100 * score / max_score:.0f}%" if max_score else "-"


def _device_cell(c) -> str:
    status = device_status(c)
    if status == "skipped":
        return f"⏭ {c.skipped} skipped"       # why: once, under the table
    if status == "not run":
        return "-"
    return f"{'✅' if status == 'passed' else '❌'} {c.passed}/{c.total}"


def _fix_block(r: SubmissionResult, *, single: bool) -> list[str]:
    failing = [q for q in r.questions if q.status != "passed"]
    lines: list[str] = []
    if not failing and not r.notebook_issues and not r.message:
        return lines
    if not single:
        lines += [f"<details><summary><code>{md_text(r.submission)}</code> — {r.score:g} / {r.max_score:g}"
                  f" ({len(failing)} question(s) to fix)</summary>", ""]
    if r.message:
        lines += [f"> {md_text(r.message)}", ""]
    for issue in r.notebook_issues:
        lines.append(f"- ⚠️ notebook: {md_text(issue)}")
    for q in failing:
        lines.append(f"- {STATUS_MARK.get(q.status, '')} **`{q.id}`** {q.score:g}/{q.max_score:g} — "
                     f"{md_text(q.feedback)}")
        lines += [f"  - 💡 {md_text(h)}" for h in q.hints if h not in q.feedback]
        command = reproduce(q, r.source, r.assignment)
        if command:
            lines.append(f"  - reproduce: `{command}`")
    lines.append("")
    if not single:
        lines += ["</details>", ""]
    return lines


def summary(results: list[SubmissionResult], *, title: str = "autograd-grader",
            policy: str | None = None, limit: int = SUMMARY_LIMIT) -> str:
    """The job summary (Markdown), at most `limit` bytes in UTF-8."""
    results = sorted(results, key=lambda r: r.submission)
    assignment = results[0].assignment if results else ""
    single = len(results) == 1
    total = sum(r.score for r in results)
    total_max = sum(r.max_score for r in results)
    head = [f"## {title}: `{assignment}`", ""]
    if single:
        r = results[0]
        head.append(f"**Score: {r.score:g} / {r.max_score:g}** ({_pct(r.score, r.max_score)})"
                    + (" — public checks only" if r.public_only else "") + f" · `{md_text(r.source)}`")
    else:
        full = sum(r.score == r.max_score for r in results)
        head.append(f"**{len(results)} submissions** · mean {total / max(1, len(results)):.3g} / "
                    f"{(total_max / max(1, len(results))):g} ({_pct(total, total_max)}) · {full} at full marks")
    if policy:
        head[-1] += f" · {md_text(policy)}"
    head.append("")

    if single:
        r = results[0]
        devices = sorted({d for q in r.questions for d in q.cases})
        rows = ["| question | score | status | " + " | ".join(devices) + " |" if devices else
                "| question | score | status |",
                "| --- | --- | --- |" + " --- |" * len(devices)]
        for q in r.questions:
            cells = [f"`{q.id}`", f"{q.score:g} / {q.max_score:g}",
                     f"{STATUS_MARK.get(q.status, '')} {q.status.replace('_', ' ')}"]
            cells += [_device_cell(q.cases[d]) if d in q.cases else "-" for d in devices]
            rows.append("| " + " | ".join(cells) + " |")
    else:
        qids = [q.id for q in results[0].questions] if results else []
        rows = ["| submission | score | % | status | " + " | ".join(f"`{i}`" for i in qids) + " |",
                "| --- | --- | --- | --- |" + " :-: |" * len(qids)]
        for r in results:
            marks = {q.id: STATUS_MARK.get(q.status, "") for q in r.questions}
            rows.append(f"| `{md_text(r.submission, in_table=True)}` | {r.score:g} / {r.max_score:g} | "
                        f"{_pct(r.score, r.max_score)} | {md_text(r.status, in_table=True)} | "
                        + " | ".join(marks.get(i, "") for i in qids) + " |")

    legend = ["", "✅ passed · ❌ failed · ⬜ not implemented · ❔ missing · 💥 error · ⏱ timeout · "
              "🚫 forbidden · ⏭ not run", ""]
    notice = skip_notice(results)
    if notice:
        legend += [f"⏭ {md_text(notice.message)}", ""]
    fixes = [_fix_block(r, single=single) for r in results]
    fixes = [f for f in fixes if f]
    fix_head = ["### What to fix", ""] if fixes else []

    def size(lines: list[str]) -> int:
        return len("\n".join(lines).encode("utf-8")) + 1

    out = list(head)
    reserve = 512            # room for the "left out" lines
    table = rows
    fixed = size(out) + size(legend) + size(fix_head) + reserve
    kept_rows = table[:2]
    for row in table[2:]:
        if fixed + size(kept_rows + [row]) > limit:
            break
        kept_rows.append(row)
    out += kept_rows
    if len(kept_rows) < len(table):
        out += ["", f"*{len(table) - len(kept_rows)} more row(s) left out: GitHub caps a job summary at 1 MiB; "
                    "every submission is in the results/ folder and gradebook.csv*"]
    out += legend
    if fixes:
        out += fix_head
        used = size(out) + reserve
        shown = 0
        for block in fixes:
            if used + size(block) > limit:
                break
            out += block
            used += size(block)
            shown += 1
        if shown < len(fixes):
            out += [f"*What to fix in {len(fixes) - shown} more submission(s) is left out here (GitHub caps a "
                    "job summary at 1 MiB): see feedback/ in the grader's output*", ""]
    out += ["", _footer(results)]
    return "\n".join(out).rstrip("\n") + "\n"


def _footer(results: list[SubmissionResult]) -> str:
    """Which grader and rubric made the results (as the feedback footers say it)."""
    made = sorted({(r.grader_version, r.rubric_version) for r in results})
    return "<sub>" + "; ".join(f"grader {g}, rubric v{v}" for g, v in made) + "</sub>" if made else ""


def write_summary(text: str, out_dir: Path) -> Path | None:
    """Write OUT/summary.md and append to $GITHUB_STEP_SUMMARY when set; return that file's path."""
    write_atomic(out_dir / "summary.md", text)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as f:
        f.write(text + "\n")
    return Path(target)


def write_outputs(results: list[SubmissionResult], out_dir: Path, *, passed_policy: bool) -> None:
    """Step outputs (`$GITHUB_OUTPUT`): score, max-score, percent, submissions, passed, report."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    score = sum(r.score for r in results)
    max_score = sum(r.max_score for r in results)
    values = {"score": f"{score:g}", "max-score": f"{max_score:g}",
              "percent": f"{100 * score / max_score:.1f}" if max_score else "0",
              "submissions": str(len(results)), "passed": str(passed_policy).lower(), "report": str(out_dir)}
    with open(target, "a", encoding="utf-8") as f:
        for k, v in values.items():
            f.write(f"{k}={v}\n")


def ci_mode(formats: t.Iterable[str]) -> bool:
    """GitHub mode: `--format github`, or running inside GitHub Actions."""
    return "github" in formats or os.environ.get("GITHUB_ACTIONS") == "true"
