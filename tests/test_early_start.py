"""A batch worker starts its next kernel while its current submission runs (`LocalExecutor(expected=...)`,
`SandboxedKernel.start_early`). The kernels started early grade exactly as kernels started on
demand; the batch starts no more kernels than it has readable notebooks (an unreadable one takes
none); and when the batch ends no kernel, kernel folder or kernel process is left behind."""

from __future__ import annotations

import asyncio
import shutil

from grader.batch import grade_batch
from grader.batch.executors import LocalExecutor
from grader.checks.semantics import load_rubric
from grader.sandbox import launcher, warm_env, warm_shared
from grader.sandbox.kernel import SandboxedKernel
from grader.submissions import discover
from helpers import RUBRIC, SOLUTION, config


def _kernel_folders() -> set[str]:
    """Each kernel's root folder (the warm parent's own is not one)."""
    return {p.name for p in warm_env.kernels_dir().glob("grader-*") if not p.name.startswith("grader-zygote-")}


def _kernel_processes() -> list[int]:
    """Live children of the warm kernels' parents (each a kernel, or what a kernel left). A
    parent in bubblewrap is bwrap's child."""
    found = []
    for z in warm_shared._shared.values():
        if z.pid:
            with open(f"/proc/{z.pid}/comm") as f:
                parents = launcher.children_of(z.pid) if f.read().strip() == "bwrap" else [z.pid]
            found += [pid for parent in parents for pid in launcher.children_of(parent)]
    return found


def test_kernels_started_early_grade_as_on_demand_and_none_is_left(tmp_path, monkeypatch):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("a_first", "c_third", "d_fourth"):
        shutil.copy(SOLUTION, folder / f"{name}.ipynb")
    (folder / "b_broken.ipynb").write_text("{ not a notebook")
    early = []
    start_early = SandboxedKernel.start_early

    def counted(self):
        early.append(self)
        start_early(self)
    monkeypatch.setattr(SandboxedKernel, "start_early", counted)
    before = _kernel_folders()
    rubric, cfg = load_rubric(RUBRIC), config()

    async def batch(workers: int, out):
        return await grade_batch(discover([folder]), rubric, cfg, out, workers=workers)

    for workers in (1, 2):
        early.clear()
        results = {r.submission: r for r in asyncio.run(batch(workers, tmp_path / f"out{workers}"))}
        graded = [results[n] for n in ("a_first", "c_third", "d_fourth")]
        # the solution's full marks, every question passed, from kernels started early or not
        assert [r.score for r in graded] == [rubric.max_score] * 3, [(r.submission, r.message) for r in graded]
        assert all(q.status == "passed" for r in graded for q in r.questions)
        assert results["b_broken"].status == "invalid" and "b_broken" in results["b_broken"].message
        # three readable notebooks: the first kernel on demand, the others early, none in vain
        assert len(early) == 2, f"{workers} worker(s): {len(early)} kernels started early for 2 notebooks"
        assert all(k.log.kernel for k in early), "a kernel started early never ran"
        assert _kernel_folders() <= before, "a kernel's folder is left after the batch"
        assert _kernel_processes() == [], "a kernel process is left after the batch"


def test_a_spare_nobody_takes_is_closed_with_the_batch(tmp_path):
    """More submissions announced than graded (a batch stopped early): the spare kernel started
    for the next one is closed when the executor closes, its processes and folder gone."""
    rubric, cfg = load_rubric(RUBRIC), config()
    subs = discover([SOLUTION])
    before = _kernel_folders()

    async def go():
        executor = LocalExecutor(rubric, cfg, workers=1, public_only=False, expected=3)
        async with executor:
            result = await executor.grade(subs[0])
            assert len(executor.spares) == 1
            spare = executor.spares[0]
        return result, spare

    result, spare = asyncio.run(go())
    assert result.score == rubric.max_score
    assert not spare.alive, "the spare kernel is still running after the executor closed"
    assert _kernel_folders() <= before
    assert _kernel_processes() == []


def test_no_kernel_starts_early_where_kernels_share_a_uid(tmp_path, monkeypatch):
    """At a weak level (netns, limits) every kernel is the same user: the submission running
    now could reach a kernel started for the next student before that student's notebook runs.
    There each kernel starts when its submission begins, as before."""
    rubric, cfg = load_rubric(RUBRIC), config(sandbox="limits")
    subs = discover([SOLUTION])
    early = []
    monkeypatch.setattr(SandboxedKernel, "start_early", lambda self: early.append(self))

    async def go():
        executor = LocalExecutor(rubric, cfg.with_kernel(batch=True), workers=1, public_only=False, expected=3)
        async with executor:
            result = await executor.grade(subs[0])
        return executor, result

    executor, result = asyncio.run(go())
    assert executor.plan.level == "limits"
    assert result.score == rubric.max_score and result.sandbox["level"] == "limits"
    assert early == [] and executor.spares == []
