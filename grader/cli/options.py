"""Options shared by `grade` and `check`: output formats, the exit policy, GitHub (CI) mode.

Formats (`--format`, repeatable; without it the config's `formats`): json is
always written; the others are the table's (grader/formats.py). CI mode
is on with `--format github` or when `GITHUB_ACTIONS=true` (set on every GitHub
runner); it adds the github and junit formats. `classroom` also sets the step output `result` for GitHub
Classroom's reporter (grader/reports/classroom.py), wherever $GITHUB_OUTPUT is set.

Exit policy, `--fail-under SCORE`: SCORE in points (`8.5`) or percent of the
maximum (`85%`). Exit 1 when a submission scores under it; in a batch, when
any submission does (a submission that could not be graded scores 0).
`--fail-under 0` never fails: report only. Without the option `grade`
reports only (exit 0) and `check` fails unless every public check passed,
as before.
"""

from __future__ import annotations

import difflib
import re
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import typer

from grader.errors import EXIT_FAILED, EXIT_OK
from grader.reports import classroom, github
from grader.reports.formats import FORMATS as TABLE
from grader.reports.gradescope import VISIBILITIES
from grader.results import SubmissionResult

FORMATS: tuple[str, ...] = tuple(TABLE)     # the names, in the table's order


def _check_formats(values: list[str] | None) -> list[str] | None:
    for v in values or []:
        if v not in FORMATS:
            close = difflib.get_close_matches(v, FORMATS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise typer.BadParameter(f"unknown format '{v}'{hint}; one of {', '.join(FORMATS)}")
    return values


def _check_fail_under(value: str | None) -> str | None:
    if value is not None:
        parse_fail_under(value)
    return value


def _check_visibility(value: str) -> str:
    if value not in VISIBILITIES:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(VISIBILITIES)}")
    return value


FormatOption = t.Annotated[t.Optional[list[str]], typer.Option(
    "--format", "-f", callback=_check_formats, metavar="FORMAT",
    help="report format, repeatable: " + ", ".join(FORMATS) + " (json is always written)")]
FailUnderOption = t.Annotated[t.Optional[str], typer.Option(
    "--fail-under", callback=_check_fail_under, metavar="SCORE",
    help="exit 1 when a score is under SCORE: points (8.5) or percent (85%); 0 = report only")]

HiddenVisibilityOption = t.Annotated[str, typer.Option(
    "--hidden-visibility", callback=_check_visibility, metavar="WHEN",
    help="Gradescope visibility of the tests of hidden cases: " + ", ".join(VISIBILITIES))]


@dataclass(frozen=True)
class FailUnder:
    value: float
    percent: bool

    def under(self, r: SubmissionResult) -> bool:
        if self.percent:
            return r.max_score > 0 and 100 * r.score / r.max_score < self.value - 1e-9
        return r.score < self.value - 1e-9

    def describe(self) -> str:
        return f"fail under {self.value:g}{'%' if self.percent else ' points'}"


def parse_fail_under(text: str) -> FailUnder:
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", text)
    if not m:
        raise typer.BadParameter(f"'{text}' is not a score: give points (8.5) or a percentage (85%)")
    value, percent = float(m.group(1)), bool(m.group(2))
    if percent and value > 100:
        raise typer.BadParameter(f"'{text}': a percentage is at most 100%")
    return FailUnder(value, percent)


def resolve_formats(cli: list[str] | None, configured: t.Iterable[str]) -> list[str]:
    """The formats to write: --format if given, else the config's; json first; CI mode adds github;
    then each format on adds those it implies (the table's `implies`: github adds junit, html adds
    notebook, the executed notebook with the verdicts, which the HTML feedback links to)."""
    chosen = list(cli) if cli else list(configured)
    if github.ci_mode(chosen):
        chosen.append("github")
    seen: list[str] = ["json"]
    for f in chosen:            # grows while it is read: an implied format's own implications too
        if f not in seen:
            seen.append(f)
        chosen += [g for g in TABLE[f].implies if g not in chosen]
    return seen


def policy_exit(results: list[SubmissionResult], fail_under: str | None, *, default: int) -> tuple[int, str]:
    """(exit code, one line describing the policy and its outcome)."""
    if fail_under is None:
        return default, ""
    policy = parse_fail_under(fail_under)
    under = [r for r in results if policy.under(r)]
    if not under:
        return EXIT_OK, f"{policy.describe()}: every submission is at or above it"
    names = ", ".join(r.submission for r in under[:5]) + (" ..." if len(under) > 5 else "")
    return EXIT_FAILED, f"{policy.describe()}: {len(under)} submission(s) under it ({names})"


def github_report(results: list[SubmissionResult], formats: list[str], out_dir: Path, *,
                  policy_line: str, passed: bool, explicit_assignment: bool = True,
                  title: str = "autograd-grader") -> None:
    """CI mode: the job summary ($GITHUB_STEP_SUMMARY and OUT/summary.md), annotations on stdout,
    step outputs ($GITHUB_OUTPUT). Nothing when the github format is off, except the classroom
    format's step output `result`, which needs no CI mode."""
    if "classroom" in formats:
        classroom.write_step_output(results)
    if "github" not in formats:
        return
    text = github.summary(results, title=title, policy=policy_line or None)
    github.write_summary(text, out_dir)
    sys.stdout.flush()
    for line in github.annotation_lines(results, explicit_assignment=explicit_assignment):
        sys.stdout.write(line + "\n")     # workflow commands: raw lines, never wrapped by rich
    sys.stdout.flush()
    github.write_outputs(results, out_dir, passed_policy=passed)
