"""Warm kernels keep Jupyter's semantics (magics, display, plots, IPython's files), and fresh
kernels still work."""

from __future__ import annotations

import functools
import gc
import sys
import time
from pathlib import Path

import pytest

import grader.sandbox.kernel as kernel_mod
from grader.sandbox import warm
from grader.sandbox.kernel import SandboxedKernel
from warm_helpers import LIMITS, SEMANTICS_CELLS, check_semantics, kernel_with_value, notebook, outputs, run
from warm_helpers import warm_kernels, zygote  # noqa: F401 - fixtures (warm_kernels uses zygote)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")


def test_notebook_runs_with_jupyter_semantics_in_a_warm_kernel(warm_kernels):
    async def go():
        kernel = SandboxedKernel(notebook(SEMANTICS_CELLS), LIMITS)
        try:
            log = await kernel.run_notebook()
            check_semantics(kernel, log)
            assert kernel._client.km.kernel_mode == "warm"
            # it really was forked from the zygote (no new interpreter)
            assert Path(f"/proc/{kernel.pid}/stat").read_text().rsplit(")", 1)[1].split()[1] \
                == str(warm_kernels.pid)
        finally:
            await kernel.close()
    run(go())


def test_a_warm_kernel_skips_the_debuggers_module_list_and_keeps_the_real_sys(warm_kernels):
    # The list costs each forked kernel ~1,700 copy-on-write faults (zygote_child._no_module_list);
    # what ipykernel's module reads of `sys` afterwards must be the interpreter's own.
    code = ("import sys, ipykernel.ipkernel as k; "
            "(k.sys is sys, len(get_ipython().kernel._kernel_modules), 'torch' in sys.modules)")

    async def go():
        async with kernel_with_value(code, LIMITS) as (kernel, value):
            assert kernel._client.km.kernel_mode == "warm"
            assert value == "(True, 0, True)", value
    run(go())


def test_a_warm_kernel_collects_garbage_as_a_fresh_python_does(warm_kernels):
    # the zygote imports with the collector off (zygote.py); a kernel must have it back on:
    # a student's reverse-mode graph is reference cycles, thousands per call
    code = ("import gc, weakref\nclass Node: pass\nrefs = []\nfor _ in range(5000):\n"
            "    n = Node(); n.me = n; refs.append(weakref.ref(n))\ndel n\n"
            "(gc.isenabled(), gc.get_threshold(), sum(r() is not None for r in refs) < 1000)")

    async def go():
        async with kernel_with_value(code, LIMITS) as (kernel, value):
            assert kernel._client.km.kernel_mode == "warm"
            assert value == f"(True, {gc.get_threshold()}, True)", value
    run(go())


RAISES = "def g():\n    return undefined_name + 1\n\n\ng()"
SET_UP = ("import inspect, linecache\nfrom pygments.lexers.python import PythonLexer\n"
          "('_tokens' in PythonLexer.__dict__, len(inspect._filesbymodname) > 1000, "
          "[name for name in linecache.cache if 'warm-up' in name])")


def _traceback(cell) -> list[str]:
    errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "NameError", cell.get("outputs")
    return errors[0]["traceback"]


def test_a_warm_kernels_first_traceback_was_set_up_in_the_zygote_and_reads_the_same(zygote, monkeypatch):
    # zygote_child.warm_tracebacks: before any traceback of its own, a warm kernel finds the
    # lexer's regexes compiled and the module-to-file map made (70-100 ms of its first
    # traceback otherwise), and nothing of the warm-up in linecache; the traceback it then
    # shows is the one a fresh kernel shows.
    async def go():
        kernel = SandboxedKernel(notebook([SET_UP, RAISES]), LIMITS)
        try:
            log = await kernel.run_notebook()
            assert log.finished, log.issues
            return log.kernel, kernel.nb
        finally:
            await kernel.close()

    mode, fresh = run(go())
    assert mode == "fresh"
    # the zygote sets it up once it has been idle (zygote_server.IDLE_S), not before its ready line
    deadline = time.monotonic() + 30
    while zygote.ping()["idle_setups"] and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setattr(kernel_mod, "AsyncKernelManager", functools.partial(warm.WarmKernelManager, zygote=zygote))
    mode, warmed = run(go())
    assert mode == "warm"
    assert outputs(warmed.cells[0]) == [("execute_result", {"text/plain": "(True, True, [])"})]
    assert outputs(fresh.cells[0]) == [("execute_result", {"text/plain": "(False, False, [])"})]
    assert "undefined_name" in "".join(_traceback(warmed.cells[1]))
    assert _traceback(warmed.cells[1]) == _traceback(fresh.cells[1])


def test_fresh_kernels_still_work():
    # No patch: the unmodified SandboxedKernel spawns launcher.py as before.
    async def go():
        kernel = SandboxedKernel(notebook(SEMANTICS_CELLS), LIMITS)
        try:
            check_semantics(kernel, await kernel.run_notebook())
            assert isinstance(kernel._client.km, kernel_mod.AsyncKernelManager)
            assert not isinstance(kernel._client.km, warm.WarmKernelManager)
        finally:
            await kernel.close()
    run(go())
