"""`grader validate` — every rubric loads, solutions score full marks, blanks score zero."""

from __future__ import annotations

import asyncio
import typing as t

import typer
from rich.table import Table

from grader.cli.common import ConfigOption, KernelOption, kernel_needs, out, prestart_kernels, run, setup
from grader.config import Config
from grader.errors import EXIT_FAILED, EXIT_OK
from grader.checks.semantics import load_rubric
from grader.rubric.load import available_assignments
from grader.submissions import discover


async def _self_test(cfg: Config, name: str, gate: asyncio.Semaphore) -> list[tuple[str, str, bool, str]]:
    from grader.pipeline import grade_notebook, sandbox_plan      # torch: imported once there is work
    rubric = load_rubric(cfg.path("rubrics") / f"{name}.yaml")
    plan = None     # the assignment's sandbox, decided at its first kernel
    rows = [(name, "rubric loads", True, f"{len(rubric.questions)} questions, {rubric.max_score:g} points")]
    for label, folder, want_full in (("solution = full marks", "solutions", True),
                                     ("blank = zero", "assignments", False)):
        path = cfg.path(folder) / f"{name}.ipynb"
        if not path.is_file():
            rows.append((name, label, False, f"missing {path}"))
            continue
        async with gate:   # no more kernels at once than workers
            plan = plan or sandbox_plan(rubric, cfg)
            result = await grade_notebook(discover([path])[0], rubric, cfg, plan=plan)
        ok = result.status == "graded" and (result.score == rubric.max_score if want_full else result.score == 0)
        detail = f"{result.score:g} / {result.max_score:g}"
        bad = [q for q in result.questions if (q.status != "passed") == want_full]
        if bad and not ok:
            detail += "; " + "; ".join(f"{q.id}: {q.feedback}" for q in bad[:3])
        rows.append((name, label, ok, detail))
    return rows


def _mutation_table(report) -> Table:
    """Per question: applicable mutants, how many any case catches, how many the public cases
    alone catch (what `grader check` shows a student), and how many fail validation."""
    table = Table("question", "mutants", "caught", "by public cases", "hidden_only", "failing",
                  title=f"{report.assignment}: mutation test")
    by_question: dict[str, list] = {}
    for o in report.outcomes:
        by_question.setdefault(o.question, []).append(o)
    failing = {id(o) for o in report.failures()}
    for question, outcomes in by_question.items():
        applicable = [o for o in outcomes if o.applicable]
        caught = [o for o in applicable if o.caught]
        public = [o for o in caught if o.caught_public]
        marked = [o.mutant for o in caught if not o.caught_public and o.hidden_only]
        table.add_row(question, str(len(applicable)), str(len(caught)), str(len(public)),
                      ", ".join(marked) or "-", str(sum(id(o) in failing for o in applicable)))
    return table


def failure_lines(report) -> list[str]:
    """One full line per mutant that fails validation (not cut to a table column)."""
    return [f"{report.assignment}.{o.question}: {o.mutant} ({o.description}): "
            + ("not caught by any case" if not o.caught else
               "caught by hidden cases only (a public case must show it, or mark it hidden_only with a reason)")
            for o in report.failures()]


def mutation_figures(report) -> str:
    """One line per assignment: the figures a course author quotes."""
    applicable = [o for o in report.outcomes if o.applicable]
    public = sum(bool(o.caught_public) for o in applicable)
    marked = sum(bool(o.caught and not o.caught_public and o.hidden_only) for o in applicable)
    return (f"{report.assignment}: {len(applicable)} mutants, {public} caught by public cases, "
            f"{marked} hidden_only, {len(report.missed())} not caught, "
            f"{len(report.caught_by_hidden_only())} caught by hidden cases only without a reason")


def unknown_hidden_only(rubric) -> list[str]:
    """`hidden_only` entries that name no mutant of their question (a typo would otherwise
    silently excuse nothing)."""
    from grader.authoring.mutants import mutants_for     # torch: only with --mutants
    return [f"{q.id}.hidden_only: unknown mutant '{name}' (this question's: {', '.join(mutants_for(q))})"
            for q in rubric.questions for name in q.hidden_only if name not in mutants_for(q)]


def validate(config: ConfigOption = None, warm: KernelOption = None,
             assignment: t.Annotated[t.Optional[list[str]], typer.Option("--assignment", "-a")] = None,
             mutants: t.Annotated[bool, typer.Option("--mutants", help="also run the mutation test: "
                                                     "does each question catch every applicable mutant "
                                                     "of the solution, with its public cases alone "
                                                     "(unless the rubric marks it hidden_only)?")] = False) -> int:
    """Self-test the course: every rubric, its solution and its blank notebook (and, with
    --mutants, known-wrong variants of each solution)."""
    cfg = setup(config, warm, batch=True)
    names = assignment or available_assignments(cfg)
    for name in names:   # every rubric's own checks (checks.semantics) before any kernel: exit 2
        load_rubric(cfg.path("rubrics") / f"{name}.yaml")
    # what its kernels run: the solutions (the mutants are their copies) and the blanks
    notebooks = [cfg.path(folder) / f"{n}.ipynb" for n in names for folder in ("solutions", "assignments")]
    plotting, cotangents = kernel_needs(notebooks)
    prestart_kernels(cfg, plotting=plotting, cotangents=cotangents)

    async def all_tests():
        gate = asyncio.Semaphore(cfg.worker_count())
        return await asyncio.gather(*(_self_test(cfg, n, gate) for n in names))

    rows = [row for rows in run(all_tests()) for row in rows]
    table = Table("assignment", "check", "", "detail", title="grader validate")
    for name, label, ok, detail in rows:
        table.add_row(name, label, "✅" if ok else "❌", detail)
    out.print(table)
    ok = all(ok for *_, ok, _ in rows)
    if mutants:
        figures = []
        for name in names:
            from grader.authoring.mutants import mutation_test   # torch: only with --mutants
            rubric = load_rubric(cfg.path("rubrics") / f"{name}.yaml")
            report = run(mutation_test(cfg, rubric, cfg.path("solutions") / f"{name}.ipynb"))
            out.print(_mutation_table(report))
            for line in failure_lines(report):
                out.print(line, style="red", markup=False, soft_wrap=True)
            for line in unknown_hidden_only(rubric):
                out.print(f"{name}: {line}", style="red", markup=False)
                ok = False
            figures.append(mutation_figures(report))
            ok = ok and not report.failures()
        for line in figures:
            out.print(line, soft_wrap=True)
    return EXIT_OK if ok else EXIT_FAILED


def register(app: typer.Typer) -> None:
    app.command()(validate)
