"""The probe, in this process: the student's functions called where they live.

`LocalSession` offers what the pipeline's check kinds need from
`probe.session.ProbeSession` (`call`, `call_all`, `kernel_cuda`), but instead of
sending the request to a sandboxed kernel it hands it to the probe's own
kernel-side code (`grader/probe/kernel_side.py`, compiled and run here once),
on the live namespace (IPython's user namespace, or `__main__`'s). The reply is
the same plain data, decoded and validated by the same code
(`ProbeSession._outcome`, `probe.values.decode_value`): a call judged here is
judged as in a kernel. Only the base64 JSON text that a kernel's request and
reply travel as is left out: nothing crosses a process boundary here.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator

import torch

from grader.expr import KERNEL_INTERP_FACTORY, KERNEL_INTERP_SOURCE
from grader.probe.session import KERNEL_SOURCE, CallOutcome, CallSpec, ProbeSession, QuestionCalls
from grader.probe.values import ProtocolError


@functools.cache
def probe():
    """The kernel side's probe object, built once per process (its integrity baseline is
    what this process looked like at the first check)."""
    code = compile(KERNEL_INTERP_SOURCE + "\n" + KERNEL_SOURCE, "<grader-probe>", "exec")
    namespace: dict = {"__name__": "grader_probe"}
    exec(code, namespace)   # noqa: S102 - the grader's own probe source
    return namespace["_grader_probe_factory"](namespace[KERNEL_INTERP_FACTORY]())


def user_namespace() -> dict:
    """Where the student's definitions live: the IPython shell's user namespace when this
    runs in one (Jupyter, IPython), else the `__main__` module's (`python script.py`)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        return shell.user_ns
    return vars(sys.modules["__main__"])


class LocalSession:
    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.kernel_cuda = torch.cuda.is_available()    # the kernel is this process
        self.student_seconds = 0.0

    def ask(self, request: QuestionCalls) -> list[CallOutcome]:
        """One question's calls, answered in this process."""
        calls = request.calls
        if not calls:
            return []
        try:
            # no text in between: nothing crosses a process boundary here
            raw = probe().answer(request.payload(), self.namespace)
            if not isinstance(raw, list) or len(raw) != len(calls):
                raise ProtocolError("wrong number of results")
            outcomes = [ProbeSession._outcome(r) for r in raw]
        except (ProtocolError, KeyError, TypeError) as exc:
            return [CallOutcome("protocol", error=f"no readable result ({exc})") for _ in calls]
        except ValueError as exc:   # e.g. signal.signal outside the main thread (no per-call alarm)
            return [CallOutcome("protocol", error=f"the check could not call it ({exc}); run the "
                                "check in a cell of its own") for _ in calls]
        self.student_seconds += sum(max(0.0, o.seconds) for o in outcomes)
        if any(o.status == "error" and (o.error or "").startswith("KeyboardInterrupt") for o in outcomes):
            raise KeyboardInterrupt   # the student stopped the check (the probe catches everything)
        return outcomes

    # the interface of probe.session.ProbeSession, for code written against it
    async def call(self, fn: str, calls: list[CallSpec], *, watch_autograd: bool = False) -> list[CallOutcome]:
        return self.ask(QuestionCalls(fn, calls, watch_autograd))

    async def call_all(self, questions: list[QuestionCalls]) -> AsyncIterator[list[CallOutcome]]:
        for q in questions:
            yield self.ask(q)
