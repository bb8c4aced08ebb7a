"""A notebook's code cells on one message to a warm kernel, not one execute request per cell.

Why: a request costs more than most cells of a graded notebook. Measured with a warm kernel
over 400 cells `x = 1` (one request each): 3.6 ms of the kernel's CPU and 1.9 ms of the
grader's per request (ipykernel's threads, its status and input broadcasts, the message
signing and parsing, nbclient's polling). A ten-cell notebook paid about 55 ms of CPU for it.

The message is `grader_cells_request`, handled by `cells_kernel_side.py`, which the zygote
installs in each warm kernel: every cell through ipykernel's own `do_execute`, with a
`grader_cell` message on IOPub where each starts and ends. Here every output between a cell's
two markers goes to that cell through nbclient's own `process_message` (the output cap,
`clear_output` and display ids as before), and each end becomes the `ExecResult` the cell's
own request would have given.

What this does not cover is left to the caller, which runs it one request each as before: a
fresh kernel's cells (it has no handler: no marker comes), the cells after `exit()`, every
cell where the kernel side could not make its timer. A cell that started and never ended is
not run again.

A kernel that dies cannot say on IOPub which cell killed it: its IOPub thread sends the
markers after the fact, and a process that dies takes what it had not sent yet with it
(`os._exit` in a cell lost the previous cell's end and its own start, under load). So the
kernel side also writes where it is to a file in its runtime folder, at once, before each
cell's start marker and after its end (`AT_FILE`): a death is put on the cell that file says
was running (or on the next one, if the file says the last one ended), as a request per cell
puts it on the cell that was sent. Where the file cannot be read, the death is only reported
(`Run.lost`): the caller starts a new kernel and runs the notebook one request per cell.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from nbclient.client import timestamp
from nbclient.util import ensure_async
from nbformat import NotebookNode

from grader.sandbox.notebook_client import TIMEOUT_ENAME, CappedClient, ExecResult, outcome_of

MSG_TYPE = "grader_cells_request"   # cells_kernel_side.MSG_TYPE (a test holds them equal)
MARK = "grader_cell"                # cells_kernel_side.MARK
AT_FILE = "grader-cell-at"          # cells_kernel_side.AT_FILE, in the kernel's runtime folder
BACKSTOP_S = 1.0    # past a cell's limit before it is interrupted from outside
ANSWER_S = 3.0      # after that interrupt, the time the cell has to end (`SandboxedKernel._responsive`)
SKIP_TAG = "skip-execution"     # nbclient's default `skip_cells_with_tag`


def sent(cell: NotebookNode) -> bool:
    """Whether nbclient would send this code cell to the kernel (it skips empty and tagged ones)."""
    return bool(cell.source.strip()) and SKIP_TAG not in cell.metadata.get("tags", [])


@dataclass
class Run:
    """What the one message did: each ended cell's outcome, by index, and its wall time;
    while it runs, the cell running and those not started yet."""

    outcomes: dict[int, ExecResult] = field(default_factory=dict)
    seconds: float = 0.0
    lost: bool = False              # the kernel died (or its channel broke) on the way
    current: int | None = None
    waiting: list[int] = field(default_factory=list)

    def blamed(self) -> int | None:
        """The cell that was running, or else the next one: what a wedged kernel is put on
        (alive, it delivers its markers)."""
        return self.current if self.current is not None else (self.waiting[0] if self.waiting else None)


async def run_cells(client: CappedClient, cells: list[tuple[int, NotebookNode]], limit_of,
                    runtime: Path) -> Run:
    """Run `cells` (index, cell; each one `sent` would send) on one message. `limit_of(cell)`:
    the cell's time limit in seconds; `runtime`: the kernel's runtime folder. A broken channel
    is a dead kernel, as for one cell."""
    run, started = Run(waiting=[index for index, _ in cells]), time.perf_counter()
    try:
        await _run(client, cells, limit_of, run)
    except Exception:  # noqa: BLE001 - the kernel side may have run cells: none runs twice here
        run.lost = True
    finally:
        if run.lost:
            _blame_death(run, [index for index, _ in cells], runtime / AT_FILE)
        run.seconds = time.perf_counter() - started
    return run


async def _run(client: CappedClient, cells, limit_of, run: Run) -> None:
    kc = client.kc
    assert kc is not None
    by_index, outcomes, waiting = dict(cells), run.outcomes, run.waiting
    request = kc.session.msg(MSG_TYPE, {"cells": [[i, c.source, limit_of(c)] for i, c in cells]})
    kc.shell_channel.send(request)
    msg_id = request["header"]["msg_id"]
    loop = asyncio.get_running_loop()
    interrupted = False
    deadline = loop.time() + limit_of(cells[0][1]) + BACKSTOP_S
    while True:
        try:
            msg = await kc.get_iopub_msg(timeout=max(0.01, min(1.0, deadline - loop.time())))
        except Empty:
            if not await ensure_async(kc.is_alive()):     # as nbclient asks it
                run.lost = True
                return
            if loop.time() < deadline:
                continue
            if not interrupted:             # its timer did not end it: interrupt, as for a cell's own request
                interrupted = True
                await client.km.interrupt_kernel()
                deadline = loop.time() + ANSWER_S
                continue
            if (blamed := run.blamed()) is not None:
                outcomes[blamed] = ExecResult(timed_out=True, unresponsive=True)
            return
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == MARK:
            if content.get("start") is not None and run.current is None and waiting and content["start"] == waiting[0]:
                run.current, interrupted = waiting.pop(0), False
                _begin(client, by_index[run.current], msg)
                deadline = loop.time() + limit_of(by_index[run.current]) + BACKSTOP_S
            elif content.get("end") is not None and content["end"] == run.current:
                outcomes[run.current] = _end(client, by_index[run.current], msg, interrupted)
                run.current, interrupted = None, False
                deadline = loop.time() + (limit_of(by_index[waiting[0]]) if waiting else 0) + BACKSTOP_S
        elif kind == "status":
            if content.get("execution_state") == "idle":
                break
        elif run.current is not None:
            client.process_message(msg, by_index[run.current], run.current)
    if run.current is not None:     # started, never reported ended (the handler failed around it)
        outcomes[run.current] = outcome_of({}, by_index[run.current], probe_mode=False)
        run.current = None


def _blame_death(run: Run, order: list[int], at_file: Path) -> None:
    """Put a death on the cell the kernel side's file says was running (the next one if it
    says one ended); those before it ran (what their lost markers said does not matter: the
    notebook runs again on a restart). Unreadable: `run.lost` stays, the caller finds the cell."""
    try:
        what, index = _read_small_file(at_file).split()
        at = order.index(int(index))
    except (OSError, ValueError):
        return
    blamed = at + 1 if what == "end" else at
    for index in order[:blamed]:
        run.outcomes.setdefault(index, ExecResult())
    if blamed < len(order):
        run.outcomes[order[blamed]] = ExecResult(died=True)
    run.lost, run.current, run.waiting = False, None, []


def _read_small_file(path: Path, limit: int = 64) -> str:
    """The first bytes of a plain file the kernel wrote, as ASCII. The kernel owns the
    folder: a link is not followed, and a pipe or a device (a read that would block the
    grader, or never end) is refused, with OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a plain file")
        return os.read(fd, limit).decode("ascii")
    finally:
        os.close(fd)


def _begin(client: CappedClient, cell: NotebookNode, msg: dict) -> None:
    """What nbclient does as it sends a cell, and on its `execute_input`."""
    client.new_cell(probe=False)
    client.clear_before_next_output = False
    cell.outputs = []
    count = msg["content"].get("execution_count")   # a notebook can forge a marker: nbformat wants an int
    cell["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    if client.record_timing:
        cell["metadata"]["execution"] = {"iopub.status.busy": timestamp(msg), "iopub.execute_input": timestamp(msg)}


def _end(client: CappedClient, cell: NotebookNode, msg: dict, interrupted: bool) -> ExecResult:
    content = msg["content"]
    if client.record_timing:
        cell["metadata"].setdefault("execution", {}).update(
            {"shell.execute_reply": timestamp(msg), "iopub.status.idle": timestamp(msg)})
    if content.get("alarm") or interrupted:
        return outcome_of({"status": "error", "ename": TIMEOUT_ENAME}, cell, probe_mode=False)
    reply = {"status": "ok"} if content.get("status") != "error" else {
        "status": "error", "ename": content.get("ename") or "Error", "evalue": content.get("evalue") or ""}
    return outcome_of(reply, cell, probe_mode=False)
