"""What nbclient and jupyter_client deal with for a sandboxed kernel: the kernel spec that
starts `launcher.py`, the notebook client with an output cap, and what running cells
gives back (`ExecutionLog`, `ExecResult`, `CellIssue`). `kernel.SandboxedKernel` drives
them."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient

from grader.sandbox.levels import LAUNCHER   # noqa: F401 - the kernel spec's argv (re-exported)

TIMEOUT_ENAME = "CellTimeoutError"   # the ename of the reply nbclient makes up for a cell past its limit
FLOOD_GRACE_S = 2.0   # output still pouring in this long past the cap: interrupt the cell
# IPython's history database is for a person's sessions, not a graded run: without it a
# kernel starts without creating a sqlite file and writes none per cell (`In`, `Out`
# and `_` live in memory and work as before).
KERNEL_OPTIONS = ("--HistoryManager.enabled=False",)


class SandboxSpecs(KernelSpecManager):
    """Every kernel name resolves to the sandbox launcher."""

    def __init__(self, interrupt_mode: str = "signal", **kwargs):
        super().__init__(**kwargs)
        self._interrupt_mode = interrupt_mode

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, str(LAUNCHER), "-f", "{connection_file}", *KERNEL_OPTIONS],
            display_name="grader sandbox", language="python", name=kernel_name,
            interrupt_mode=self._interrupt_mode, env={}, resource_dir=str(LAUNCHER.parent))


@dataclass
class CellIssue:
    cell: int           # index of the cell in the notebook
    kind: str           # "error" | "timeout" | "crash" | "output"
    message: str        # one line, for the report


@dataclass
class ExecResult:
    """What one probe execution gave back. Only `value_text` carries data."""

    value_text: str | None = None      # text/plain of the execute_result
    error: str | None = None           # "EName: message" if the code raised
    timed_out: bool = False
    died: bool = False
    unresponsive: bool = False         # timed out, and did not end when interrupted (known without asking)


def outcome_of(reply: dict, cell, *, probe_mode: bool) -> ExecResult:
    """What a cell's execute reply's content (and the outputs its cell got) say."""
    result = ExecResult()
    if reply.get("status") == "error":
        if reply.get("ename") == TIMEOUT_ENAME:
            result.timed_out = True
        else:
            result.error = f"{reply.get('ename', 'Error')}: {in_cell_terms(reply.get('evalue', ''), cell.source)}"
    replies_shown = [out for out in cell.get("outputs", []) if out.get("output_type") == "execute_result"]
    # A probe cell shows exactly one reply. More means the student's code displayed
    # forged ones (sys.displayhook, or a thread still sending after the call): trust none.
    if len(replies_shown) == 1 or (replies_shown and not probe_mode):
        result.value_text = replies_shown[-1].get("data", {}).get("text/plain")
    return result


_COMPILED_AT = re.compile(r" \((?:(?:[^()]*[/\\])?[^()/\\]+\.py|<[^<>]*>), line (\d+)\)$")


def in_cell_terms(evalue: str, source: str) -> str:
    """A syntax error as the student finds it: "invalid syntax (line 79)", not IPython's
    compiled file (`4044272822.py`), and counted from the cell's top (IPython drops a
    cell's leading blank lines before it compiles the cell)."""
    match = _COMPILED_AT.search(evalue)
    if not match:
        return evalue
    lines = source.splitlines()
    blank = next((i for i, line in enumerate(lines) if line.strip()), 0)
    return f"{evalue[:match.start()]} (line {int(match[1]) + blank})"


@dataclass
class ExecutionLog:
    issues: list[CellIssue] = field(default_factory=list)
    restarts: int = 0
    network: str = "allowed"
    output_truncated: bool = False
    finished: bool = False            # every cell was run (or skipped for a reason)
    kernel: str = "fresh"             # "warm" (forked from the zygote) or "fresh"
    level: str = "limits"             # sandbox level that ran: "bwrap" | "uid" | "netns" | "limits"
    why: str = ""                     # why that level (`levels.decide`), recorded in the result
    memory: str = "rlimit"            # what bounds memory and processes: "cgroup" | "rlimit"
    cell_seconds: float = 0.0         # wall time of the notebook's cells (the batch log's floor)
    start_seconds: float = 0.0        # wall time of starting the kernel (every start, restarts too)


class CappedClient(NotebookClient):
    """NotebookClient that keeps at most `cap` characters of output.

    nbclient has no output limit; past the cap outputs are dropped and the
    running cell is interrupted once. In probe mode only the execute_result
    is kept: what the student's function prints is never read.
    """

    cap: int = 1 << 20
    used: int = 0
    truncated: bool = False
    probe_mode: bool = False
    _interrupted_for_cap: bool = False
    _over_cap_since: float | None = None

    def output(self, outs, msg, display_id, cell_index):
        is_reply = self.probe_mode and msg["msg_type"] == "execute_result"
        if not is_reply:   # the probe's own reply is bounded by the protocol, not by the cap
            content = msg.get("content", {})
            self.used += len(content.get("text", "")) + sum(
                len(v) if isinstance(v, str) else len(json.dumps(v))
                for v in content.get("data", {}).values())
            if self.used > self.cap:
                self._over_cap()
        keep = is_reply if self.probe_mode else self.used <= self.cap
        return super().output(outs, msg, display_id, cell_index) if keep else None

    def _over_cap(self) -> None:
        # A cell that printed one big blob has usually finished by the time we see
        # it, and an interrupt would then hit the *next* cell. So interrupt only
        # a flood that is still going a while after crossing the cap.
        self.truncated = True
        now = time.monotonic()
        if self._over_cap_since is None:
            self._over_cap_since = now
        elif (now - self._over_cap_since > FLOOD_GRACE_S and not self._interrupted_for_cap
              and self.km is not None):
            self._interrupted_for_cap = True
            asyncio.ensure_future(self.km.interrupt_kernel())

    def new_cell(self, probe: bool) -> None:
        self.probe_mode, self._interrupted_for_cap, self._over_cap_since = probe, False, None
        if probe:
            self.used = 0
