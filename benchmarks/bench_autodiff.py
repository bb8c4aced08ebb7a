"""Cost of generated-graph questions, next to `python -c "import torch"` in the same run.

    python benchmarks/bench_autodiff.py

Prints (1) the cost of one generated-graph case end to end in a warm kernel
(probe call + reference + comparison), measured on the reference solution's
`Value` over many single-op and composite cases, and (2) the time of a whole
`backward_engine` and `dual_numbers` submission (fresh sandboxed kernel,
notebook, every question), each with its ratio to the bare floor of starting
Python and importing torch.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_grade import import_torch_seconds  # noqa: E402
from grader.checks.context import GradeContext  # noqa: E402
from grader.checks.static import NotebookCode  # noqa: E402
from grader.config import load_config  # noqa: E402
from grader.pipeline import grade_notebook, grade_question  # noqa: E402
from grader.probe.session import ProbeSession  # noqa: E402
from grader.checks.semantics import load_rubric  # noqa: E402
from grader.sandbox.kernel import SandboxedKernel  # noqa: E402
from grader.submissions import discover, read_notebook  # noqa: E402


async def per_case_seconds(name: str) -> tuple[float, int]:
    """Grade every question of `name`'s rubric on its solution in one warm kernel,
    twice (the second time the cases and references are cached, as in a batch)."""
    cfg = load_config(ROOT / "config.yaml")
    rubric = load_rubric(ROOT / "rubrics" / f"{name}.yaml")
    nb = read_notebook(ROOT / "solutions" / f"{name}.ipynb")
    kernel = SandboxedKernel(nb, cfg.execution)
    try:
        await kernel.run_notebook()
        session = ProbeSession(kernel)
        await session.install()
        for _ in range(2):
            ctx = GradeContext(rubric, cfg, session, NotebookCode(nb), public_only=False)
            start = time.perf_counter()
            cases = 0
            for q in rubric.questions:
                if q.check.graphs.generator == "deep_chain":
                    continue   # reported separately below: one deep case is not a typical case
                result = await grade_question(q, ctx)
                assert result.status == "passed", (q.id, result.feedback)
                cases += sum(c.total for c in result.cases.values())
            elapsed = time.perf_counter() - start
        return elapsed / cases, cases
    finally:
        await kernel.close()


def whole_submission(name: str) -> float:
    cfg = load_config(ROOT / "config.yaml")
    rubric = load_rubric(ROOT / "rubrics" / f"{name}.yaml")
    sub = discover([ROOT / "solutions" / f"{name}.ipynb"])[0]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = asyncio.run(grade_notebook(sub, rubric, cfg))
        times.append(time.perf_counter() - start)
        assert result.score == result.max_score, result.message
    return statistics.median(times[1:])   # the first run pays one-time warm-ups of the grader process


def main() -> None:
    floor = import_torch_seconds()
    print(f"python -c 'import torch' (median of 5):                 {floor:7.3f} s")
    for name in ("backward_engine", "dual_numbers"):
        case, n = asyncio.run(per_case_seconds(name))
        print(f"{name}: one generated-graph case, warm kernel ({n} cases): "
              f"{case * 1000:7.2f} ms  ratio {case / floor:.4f}x")
    for name in ("backward_engine", "dual_numbers"):
        whole = whole_submission(name)
        print(f"{name}: whole submission (fresh kernel, all questions): {whole:6.2f} s  "
              f"ratio {whole / floor:5.2f}x")


if __name__ == "__main__":
    main()
