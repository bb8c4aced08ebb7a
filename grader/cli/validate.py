"""`grader validate` — every rubric loads, solutions score full marks, blanks score zero."""

from __future__ import annotations

import asyncio
import typing as t

import typer
from rich.table import Table

from grader.cli.common import ConfigOption, KernelOption, out, prestart_kernels, run, setup
from grader.config import Config
from grader.errors import EXIT_FAILED, EXIT_OK
from grader.rubric import load_rubric
from grader.rubric.load import available_assignments
from grader.submissions import discover


async def _self_test(cfg: Config, name: str, gate: asyncio.Semaphore) -> list[tuple[str, str, bool, str]]:
    from grader.pipeline import grade_notebook      # torch: imported once there is work
    rubric = load_rubric(cfg.path("rubrics") / f"{name}.yaml")
    rows = [(name, "rubric loads", True, f"{len(rubric.questions)} questions, {rubric.max_score:g} points")]
    for label, folder, want_full in (("solution = full marks", "solutions", True),
                                     ("blank = zero", "assignments", False)):
        path = cfg.path(folder) / f"{name}.ipynb"
        if not path.is_file():
            rows.append((name, label, False, f"missing {path}"))
            continue
        async with gate:   # no more kernels at once than workers
            result = await grade_notebook(discover([path])[0], rubric, cfg)
        ok = result.status == "graded" and (result.score == rubric.max_score if want_full else result.score == 0)
        detail = f"{result.score:g} / {result.max_score:g}"
        bad = [q for q in result.questions if (q.status != "passed") == want_full]
        if bad and not ok:
            detail += "; " + "; ".join(f"{q.id}: {q.feedback}" for q in bad[:3])
        rows.append((name, label, ok, detail))
    return rows


def _mutation_table(report) -> Table:
    table = Table("question", "mutants caught", "missed", title=f"{report.assignment}: mutation test")
    by_question: dict[str, list] = {}
    for o in report.outcomes:
        by_question.setdefault(o.question, []).append(o)
    for question, outcomes in by_question.items():
        applicable = [o for o in outcomes if o.applicable]
        missed = [o for o in applicable if not o.caught]
        table.add_row(question, f"{len(applicable) - len(missed)}/{len(applicable)}",
                      ", ".join(f"{o.mutant} ({o.description})" for o in missed) or "-")
    return table


def validate(config: ConfigOption = None, warm: KernelOption = None,
             assignment: t.Annotated[t.Optional[list[str]], typer.Option("--assignment", "-a")] = None,
             mutants: t.Annotated[bool, typer.Option("--mutants", help="also run the mutation test: "
                                                     "does each question catch every applicable mutant "
                                                     "of the solution?")] = False) -> int:
    """Self-test the course: every rubric, its solution and its blank notebook (and, with
    --mutants, known-wrong variants of each solution)."""
    cfg = setup(config, warm, batch=True)
    names = assignment or available_assignments(cfg)
    prestart_kernels(cfg)

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
        for name in names:
            from grader.authoring.mutants import mutation_test   # torch: only with --mutants
            report = run(mutation_test(cfg, load_rubric(cfg.path("rubrics") / f"{name}.yaml"),
                                       cfg.path("solutions") / f"{name}.ipynb"))
            out.print(_mutation_table(report))
            ok = ok and not report.missed()
    return EXIT_OK if ok else EXIT_FAILED


def register(app: typer.Typer) -> None:
    app.command()(validate)
