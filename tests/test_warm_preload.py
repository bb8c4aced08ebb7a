"""What the warm kernels' parent imports for the batch's notebooks (`grader.cli.common.kernel_needs`):
a notebook that hands a backward pass a cotangent (`y.backward(v)`, `grad_outputs=`) makes torch
import torch.fx's symbolic shapes and sympy (480 modules, about 0.3 s) in every kernel that does
it; with --cotangents the parent has them already, and without it a kernel still imports them
itself when it needs them."""

from __future__ import annotations

import asyncio
import functools

import pytest

import grader.sandbox.kernel as kernel_mod
from grader.cli.common import kernel_needs
from grader.sandbox import warm, warm_env
from grader.sandbox.zygote_handle import ZygoteHandle
from helpers import ROOT
from warm_helpers import LIMITS, kernel_with_value

BACKWARD_WITH_V = "import torch; x = torch.ones(2, requires_grad=True); (2 * x).backward(torch.ones(2)); x.grad.tolist()"


@pytest.mark.parametrize("text, cotangents", [
    ("y.backward(v)", True), ("y.backward(gradient=v)", True),
    ("torch.autograd.grad(y, x, grad_outputs=v)", True),
    ("y.backward()", False), ("loss.backward( )", False), ("y.backward(retain_graph=True)", False),
    ("torch.autograd.grad(loss, (x, lam), allow_unused=True)", False),
])
def test_which_notebooks_need_the_cotangent_imports(tmp_path, text, cotangents):
    path = tmp_path / "a.ipynb"
    path.write_text(text)
    assert kernel_needs([path]) == (False, cotangents)


def test_the_bundled_solutions_ask_for_them_where_they_use_them():
    needs = {p.stem: kernel_needs([p])[1] for p in sorted((ROOT / "solutions").glob("*.ipynb"))}
    assert [name for name, yes in needs.items() if yes] == ["torch_autograd"], needs
    assert kernel_needs([ROOT / "missing.ipynb"]) == (True, True)     # unreadable: everything


@pytest.mark.parametrize("cotangents", [False, True])
def test_a_kernel_inherits_them_only_when_asked_and_computes_alike(cotangents, monkeypatch):
    try:
        zygote = ZygoteHandle(threads=1, plotting=False, cotangents=cotangents).start()
    except warm_env.WarmUnavailable as exc:
        pytest.skip(f"warm kernels unavailable here: {exc}")
    monkeypatch.setattr(kernel_mod, "AsyncKernelManager", functools.partial(warm.WarmKernelManager, zygote=zygote))

    async def go() -> tuple[str | None, str | None]:
        async with kernel_with_value("import sys; 'sympy' in sys.modules", LIMITS) as (kernel, preloaded):
            return preloaded, (await kernel.execute(BACKWARD_WITH_V, timeout=30)).value_text

    try:
        preloaded, grad = asyncio.run(go())
    finally:
        zygote.stop()
    assert preloaded == str(cotangents)
    assert grad == "[2.0, 2.0]"
