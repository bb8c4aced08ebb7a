"""`grader check NOTEBOOK [--assignment NAME]` — a student's public self-check."""

from __future__ import annotations

import asyncio
import difflib
import typing as t
from pathlib import Path

import typer
from rich.text import Text

from grader.batch import write_batch, write_result
from grader.checks.semantics import check_rubric
from grader.cli.common import ConfigOption, KernelOption, out, prestart_kernels, run, setup
from grader.cli.options import FailUnderOption, FormatOption, github_report, policy_exit, resolve_formats
from grader.config import Config
from grader.errors import EXIT_FAILED, EXIT_OK, InputError
from grader.reports import terminal
from grader.reports.github import ci_mode
from grader.results import SubmissionResult
from grader.rubric.load import find_rubric
from grader.rubric.model import Rubric
from grader.submissions import Submission, discover
from grader.submissions.assignment import infer_assignment
from grader.yamlmodel import load_yaml_model


def _only(rubric: Rubric, wanted: list[str] | None, where: Path) -> Rubric:
    """The rubric with just the questions asked for (`--question`, repeatable)."""
    if not wanted:
        return rubric
    ids = [q.id for q in rubric.questions]
    for qid in wanted:
        if qid not in ids:
            close = difflib.get_close_matches(qid, ids, n=1)
            raise InputError(where, f"no question '{qid}' in {rubric.assignment}"
                             + (f" (did you mean '{close[0]}'?)" if close else f"; questions: {', '.join(ids)}"))
    return rubric.model_copy(update={"questions": [q for q in rubric.questions if q.id in set(wanted)]})


def check(
    notebook: t.Annotated[Path, typer.Argument(help="your notebook")],
    assignment: t.Annotated[t.Optional[str], typer.Option("--assignment", "-a",
                                                          help="default: from the notebook")] = None,
    question: t.Annotated[t.Optional[list[str]], typer.Option(
        "--question", "-q", metavar="ID", help="check only this question (repeatable)")] = None,
    config: ConfigOption = None,
    warm: KernelOption = None,
    formats: FormatOption = None,
    out_dir: t.Annotated[t.Optional[Path], typer.Option(
        "--out", "-o", help="where --format reports go (default: ./grader-check)")] = None,
    fail_under: FailUnderOption = None,
) -> int:
    """Run the public checks on one notebook and print what passed; exit 1 if anything failed
    (or, with --fail-under, if the public score is under it).

    With --format (or in GitHub Actions) the reports are also written to --out."""
    cfg = setup(config, warm)
    subs = discover([notebook])
    path = find_rubric(cfg, assignment or infer_assignment(cfg, notebook))
    rubric = load_yaml_model(path, Rubric)       # the schema now; what needs torch, below
    selected = _only(rubric, question, notebook)
    prestart_kernels(cfg)
    result = run(_checked(subs[0], rubric, selected, path, cfg))
    shown = str(notebook)
    # soft wrap: the terminal folds long lines itself, so a rerun command copied from a narrow
    # (or piped, 80-column) terminal is still one command, not two halves of a path
    for issue in result.notebook_issues:     # first: a failed cell is often why questions fail
        out.print(Text.assemble(("notebook: ", "yellow"), issue), soft_wrap=True)
    out.print(terminal.render(result, notebook=shown, assignment=assignment), soft_wrap=True)
    out.print(f"public score: {result.score:g} / {result.max_score:g} "
              "(hidden cases run only when your work is graded)", markup=False)
    if question and result.score < result.max_score:
        out.print(Text.assemble(("all questions: ", "dim"), terminal.rerun_all(shown, assignment)), soft_wrap=True)
    default = EXIT_OK if result.score == result.max_score else EXIT_FAILED
    code, policy_line = policy_exit([result], fail_under, default=default)
    if policy_line:
        out.print(Text(policy_line, style="red" if code else "green"))
    if formats or ci_mode(formats or []):
        chosen = resolve_formats(formats, cfg.formats if not formats else [])
        dest = out_dir or Path("grader-check")
        write_result(dest, result, chosen, selected)
        write_batch(dest, [result], chosen, selected)
        github_report([result], chosen, dest, policy_line=policy_line, passed=code == EXIT_OK,
                      explicit_assignment=assignment is not None, title="autograd-grader (public checks)")
        out.print(f"reports: {dest}", markup=False)
    return code


async def _checked(sub: Submission, rubric: Rubric, selected: Rubric, path: Path, cfg: Config) -> SubmissionResult:
    """The notebook graded on the `selected` questions of `rubric`. The kernel starts and runs
    the notebook (`grader.prerun`) while a thread imports torch, checks the whole rubric
    (`checks.semantics`: an InputError stops the check) and warms the references."""
    from grader import prerun as early     # the kernel client: not for `grader --help`
    started = early.start(sub, selected, cfg)
    try:
        grade_notebook = await asyncio.to_thread(_trusted_side, rubric, selected, path, cfg)
    except BaseException:
        if started is not None:
            await started.abandon()
        raise
    return await grade_notebook(sub, selected, cfg, public_only=True, prerun=started)


def _trusted_side(rubric: Rubric, selected: Rubric, path: Path, cfg: Config):
    """What grading needs of this process, made ready: torch, the rubric's semantic check,
    the first reference (torch autograd's lazy imports), the selected questions' cases and
    expected results; the pipeline's entry point."""
    from grader.checks.context import grader_has_cuda     # torch: in this thread, while the kernel starts
    from grader.pipeline import grade_notebook, warm_questions, warm_references
    check_rubric(rubric, path)
    warm_references(selected)
    if not grader_has_cuda():
        warm_questions(selected, cfg, public_only=True)
    return grade_notebook


def register(app: typer.Typer) -> None:
    app.command()(check)
