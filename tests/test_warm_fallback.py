"""Without a zygote: why it cannot run, the fall back to fresh kernels, no retry per kernel."""

from __future__ import annotations

import functools
import shutil
import sys
import time

import pytest

import grader.sandbox.kernel as kernel_mod
from grader.sandbox import warm, warm_env, warm_shared, zygote_handle
from grader.sandbox.kernel import SandboxedKernel
from warm_helpers import LIMITS, notebook, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")


def test_unavailable_zygote_says_why(monkeypatch):
    with pytest.raises(warm_env.WarmUnavailable, match="no_such_module_for_the_zygote"):
        zygote_handle.ZygoteHandle(preload=("no_such_module_for_the_zygote",)).start()
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(warm_env.WarmUnavailable, match="Linux"):
        zygote_handle.ZygoteHandle().start()


def test_a_zygote_that_ends_before_it_is_ready_is_said_to_have_ended_not_to_be_slow():
    started = time.monotonic()
    with pytest.raises(warm_env.WarmUnavailable, match=r"exited \(status 1\) before it was ready"):
        zygote_handle.ZygoteHandle(python=shutil.which("false") or "/bin/false", start_timeout=60).start()
    assert time.monotonic() - started < 30      # it did not wait for the 60 s


def test_without_a_zygote_the_warm_manager_falls_back_to_a_fresh_kernel(monkeypatch):
    broken = zygote_handle.ZygoteHandle(python="/nonexistent/python3")
    monkeypatch.setattr(kernel_mod, "AsyncKernelManager",
                        functools.partial(warm.WarmKernelManager, zygote=broken))

    async def go():
        kernel = SandboxedKernel(notebook(["import torch\ntorch.tensor([1.0, 2.0]).sum().item()"]), LIMITS)
        try:
            log = await kernel.run_notebook()
            assert log.finished and not log.issues, log.issues
            assert kernel._client.km.kernel_mode == "fresh"
            assert kernel.nb.cells[0].outputs[0]["data"]["text/plain"] == "3.0"
        finally:
            await kernel.close()
    run(go())
    with pytest.raises(warm_env.WarmUnavailable, match="cannot start the zygote"):
        broken.start()


def test_a_failed_shared_zygote_is_not_retried_for_every_kernel(monkeypatch):
    calls = []

    def cannot_start(self):
        calls.append(self)
        raise warm_env.WarmUnavailable("not here")
    monkeypatch.setattr(zygote_handle.ZygoteHandle, "start", cannot_start)
    monkeypatch.setattr(warm_shared, "_shared", {})
    monkeypatch.setattr(warm_shared, "_failed", {})
    assert warm_shared.warm_available(threads=3) == (False, "not here")
    with pytest.raises(warm_env.WarmUnavailable, match="not here"):
        warm_shared.shared_zygote(threads=3)
    assert len(calls) == 1


def test_kernel_args_from_kernel_commands():
    assert warm.kernel_args([sys.executable, "/x/launcher.py", "-f", "k.json"]) == ["-f", "k.json"]
    assert warm.kernel_args([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json", "--x=1"]) \
        == ["-f", "k.json", "--x=1"]
