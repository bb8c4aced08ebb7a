"""Call a student's function by name inside the kernel and read back plain values.

The probe object is installed *after* the notebook ran, under a random name,
so nothing the student's cells did can refer to it. One request carries all
calls of one question (a per-call alarm inside the kernel, a kernel
interrupt and then a kill from outside); a call that kills or wedges the
kernel fails, and the kernel is restarted for the next question.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from grader.expr import KERNEL_INTERP_FACTORY, KERNEL_INTERP_SOURCE
from grader.probe.values import ProtocolError, Value, decode_reply, decode_value
from grader.sandbox.client import SandboxedKernel

KERNEL_SOURCE = (Path(__file__).with_name("kernel_side.py")).read_text(encoding="utf-8")


@dataclass
class CallSpec:
    """One call: a student function with encoded `args`, or a `scenario` on a student class."""

    args: list[dict] = field(default_factory=list)   # encoded with values.encode_tensor & co.
    device: str = "cpu"
    timeout: float = 10.0
    scenario: dict | None = None   # {"scenario": "dual" | "value", ...}: see kernel_side.py

    def payload(self) -> dict:
        if self.scenario is not None:
            return {**self.scenario, "timeout": self.timeout}
        return {"args": self.args, "device": self.device, "timeout": self.timeout}


@dataclass
class CallOutcome:
    status: str                 # ok | error | timeout | unsupported | missing | not_callable | crashed | protocol
    value: Value | None = None
    args_after: list[Value] = field(default_factory=list)
    error: str | None = None
    line: str | None = None
    recursion: bool = False
    op: str | None = None       # the operation a student's class lacks (status unsupported)
    autograd_calls: int = 0
    f_calls: list[int] = field(default_factory=list)   # calls of each function handed over
    seconds: float = 0.0


class ProbeSession:
    def __init__(self, kernel: SandboxedKernel):
        self.kernel = kernel
        self.name = ""
        self.kernel_cuda = False
        # time inside the student's functions, as the kernel measured it: only for the
        # benchmark's floor and the batch log, never for a score (the student could fake it)
        self.student_seconds = 0.0

    async def install(self) -> bool:
        if not self.kernel.alive:
            return False
        self.name = f"_grader_probe_{secrets.token_hex(8)}"
        code = (KERNEL_INTERP_SOURCE + "\n" + KERNEL_SOURCE +
                f"\n{self.name} = _grader_probe_factory({KERNEL_INTERP_FACTORY}())\n"
                f"del _grader_probe_factory, {KERNEL_INTERP_FACTORY}\n{self.name}.env()")
        result = await self.kernel.execute(code, timeout=120)
        try:
            env = decode_reply(result.value_text)
        except ProtocolError:
            return False
        self.kernel_cuda = bool(env.get("cuda"))
        return True

    async def call(self, fn: str, calls: list[CallSpec], *, watch_autograd: bool = False) -> list[CallOutcome]:
        if not calls:
            return []
        if not self.kernel.alive and not await self._recover():
            return [CallOutcome("crashed", error="the kernel could not be restarted") for _ in calls]
        request = {"fn": fn, "watch_autograd": watch_autograd,
                   "calls": [c.payload() for c in calls]}
        payload = base64.b64encode(json.dumps(request).encode()).decode("ascii")
        budget = sum(c.timeout for c in calls) + 10
        result = await self.kernel.execute(f"{self.name}.call('{payload}', globals())", timeout=budget)
        if result.died:
            why = ("the kernel died during the call" if not result.timed_out else
                   "the call ran past its time limit and could not be interrupted")
            await self._recover()
            return [CallOutcome("crashed", error=why) for _ in calls]
        if result.timed_out:
            return [CallOutcome("timeout", error="timed out") for _ in calls]
        try:
            reply = decode_reply(result.value_text)
            raw = reply["results"]
            if not isinstance(raw, list) or len(raw) != len(calls):
                raise ProtocolError("wrong number of results")
            outcomes = [self._outcome(r) for r in raw]
        except (ProtocolError, KeyError, TypeError) as exc:
            detail = result.error or str(exc)
            return [CallOutcome("protocol", error=f"no readable result ({detail})") for _ in calls]
        self.student_seconds += sum(max(0.0, o.seconds) for o in outcomes)
        return outcomes

    async def _recover(self) -> bool:
        return await self.kernel.restart() and await self.install()

    @staticmethod
    def _outcome(raw: dict) -> CallOutcome:
        if not isinstance(raw, dict):
            raise ProtocolError("bad result")
        status = raw.get("status")
        if status not in ("ok", "error", "timeout", "unsupported", "missing", "not_callable"):
            raise ProtocolError(f"bad status {status!r}")
        out = CallOutcome(status)
        if status == "ok":
            out.value = decode_value(raw.get("value"))
        if status == "not_callable":
            out.error = f"is a {str(raw.get('type'))[:100]}, not a function"
        if status == "unsupported":
            out.op = str(raw.get("op"))[:40]
            out.error = str(raw.get("error", ""))[:600]
        if status == "error":
            out.error = str(raw.get("error", ""))[:600]
            out.line = str(raw["line"])[:300] if raw.get("line") else None
            out.recursion = bool(raw.get("recursion"))
        out.args_after = [decode_value(v) for v in raw.get("args_after") or []]
        out.autograd_calls = int(raw.get("autograd_calls") or 0)
        calls = raw.get("f_calls") or []
        out.f_calls = [int(c) for c in calls] if isinstance(calls, list) else []
        out.seconds = float(raw.get("seconds") or 0.0)
        return out
