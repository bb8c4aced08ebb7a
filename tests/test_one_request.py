"""A notebook's cells on one message to a warm kernel (`one_request`, `cells_kernel_side`) give
what one execute request per cell gives: the same outputs, execution counts, issues and
restarts, for notebooks written to find the differences (stack depth, top-level `await`,
`exit()`, a timed-out cell, one that ignores the interrupt, a crash, a thread printing late,
`input()`, magics, errors). Each runs both ways in the same warm zygote; the test fails if
the one-message path was not taken where it applies."""

from __future__ import annotations

import copy
import json
import os
import random
import re
import sys

import pytest

from grader.sandbox import cells_kernel_side, one_request, warm_env
from grader.sandbox.kernel import SandboxedKernel
from warm_helpers import LIMITS, notebook, run
from warm_helpers import warm_kernels, zygote  # noqa: F401 - fixtures (warm_kernels uses zygote)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")

DEPTH = ("import sys\ndef depth(n=0):\n    try:\n        return depth(n + 1)\n"
         "    except RecursionError:\n        return n\nprint(depth(), sys.getrecursionlimit())")
NOTEBOOKS = {
    "assorted": [
        DEPTH,
        "sys.setrecursionlimit(3000)\nprint(depth(), sys.getrecursionlimit())",
        "x = 1\nx",
        "print('out'); print('err', file=sys.stderr); print('out2')",
        "from IPython.display import display, clear_output\ndisplay('a')\nclear_output(wait=True)\ndisplay('b')",
        "1/0",
        "\n\n\ndef broken(:\n    pass",
        "",
        "%time y = sum(range(1000))",
        "input('name?')",
        "print(In[3][:5], Out.get(3), _)",
        "class Odd(Exception):\n    def __str__(self):\n        raise ValueError('no')\nraise Odd()",
        "!echo shell-escape",
        "import signal\nsignal.signal(signal.SIGALRM, lambda *a: None)\nsignal.alarm(0)\n'own alarm'",
        "print('skipped: tagged skip-execution')",
    ],
    "await": ["a = 1", "import asyncio\nawait asyncio.sleep(0.01)\nprint('awaited')", "b = a + 1\nb", "print(b)"],
    "exit": ["a = 1", "print('bye')\nexit()", "print('after')", "a"],
    "timeout": ["import time\nprint('start')\ntime.sleep(100)", "print('next')", "z = 3\nz"],
    "ignores_interrupt": ["import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)",
                          "print('after the wedge')"],
    "crash": ["a = 1", "import os\nos._exit(3)", "print('after the crash', a)"],
    "thread": ["import threading, time\ndef later():\n    time.sleep(0.3)\n    print('late')\n"
               "threading.Thread(target=later).start()\nprint('now')", "time.sleep(0.5)\nprint('second')", "print('third')"],
}
TIMED = ("timeout", "ignores_interrupt")     # notebooks whose cells get a 1 s limit
TIMING = re.compile(r"(CPU times|Wall time): [^\n]*")   # %time's own figures differ run to run


def build(name: str):
    nb = notebook(NOTEBOOKS[name])
    if name == "assorted":
        nb.cells[-1].metadata["tags"] = ["skip-execution"]
    return nb


def seen(nb) -> list:
    """Each code cell's execution count and outputs (their metadata and %time's figures aside;
    consecutive stream outputs of one stream joined, as a notebook shows them: where ipykernel's
    flush timer cuts a stream, in one path as in the other, is a race with the cell's threads)."""
    def outputs(cell) -> list[dict]:
        joined: list[dict] = []
        for o in cell.get("outputs", []):
            o = {k: v for k, v in o.items() if k != "metadata"}
            if joined and o["output_type"] == "stream" == joined[-1]["output_type"] and o["name"] == joined[-1]["name"]:
                joined[-1] = {**joined[-1], "text": joined[-1]["text"] + o["text"]}
            else:
                joined.append(o)
        return joined
    return [(c.get("execution_count"), TIMING.sub("<timing>", json.dumps(outputs(c), sort_keys=True)))
            for c in nb.cells]


async def grade_cells(name: str, one: bool, spy: list) -> tuple:
    nb = copy.deepcopy(build(name))
    limits = LIMITS.model_copy(update={"cells_in_one_request": one, **({"cell_timeout": 1} if name in TIMED else {})})
    kernel = SandboxedKernel(nb, limits)
    try:
        log = await kernel.run_notebook()
    finally:
        await kernel.close()
    return seen(nb), [(i.cell, i.kind, i.message) for i in log.issues], log.restarts


@pytest.fixture
def one_message_runs(monkeypatch):
    """Every call of one_request.run_cells: cells sent, outcomes, whether the kernel was lost."""
    calls, real = [], one_request.run_cells

    async def spy(client, cells, limit_of, runtime):
        result = await real(client, cells, limit_of, runtime)
        calls.append((len(cells), len(result.outcomes), result.lost))
        return result
    monkeypatch.setattr(one_request, "run_cells", spy)
    return calls


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_cells_on_one_message_give_what_a_request_per_cell_gives(warm_kernels, one_message_runs, name):
    each = run(grade_cells(name, False, one_message_runs))
    assert one_message_runs == []
    once = run(grade_cells(name, True, one_message_runs))
    if name == "crash":     # whether the dying cell's start (or execute_input) got out before
        for cells in (each[0], once[0]):     # the kernel died is a race either way
            cells[1] = (None, cells[1][1])
    assert once == each
    assert one_message_runs, "the one-message path was not taken"
    sent, ended, lost = one_message_runs[0]
    # an outcome for every cell sent, but: after exit() (each then goes in a request of its
    # own); after the wedged and the crashing cell (whose outcomes come from here too), run
    # on the restart
    expected = {"exit": 2, "ignores_interrupt": 1, "crash": 2}.get(name, sent)
    assert (ended, lost) == (expected, False), one_message_runs


def test_the_reasons_are_the_ones_a_cell_gets(warm_kernels, one_message_runs):
    """Not only equal: right. The timed-out cell is reported as such and the next cell runs;
    the wedged and the crashing cell are skipped on a restart and the cells after them run."""
    outputs, issues, restarts = run(grade_cells("timeout", True, one_message_runs))
    assert issues == [(0, "timeout", "interrupted after 1 s")] and restarts == 0
    assert "KeyboardInterrupt" in outputs[0][1] and "next" in outputs[1][1]
    outputs, issues, restarts = run(grade_cells("ignores_interrupt", True, one_message_runs))
    assert [(cell, kind) for cell, kind, _ in issues] == [(0, "timeout")] and restarts == 1
    assert "could not be interrupted" in issues[0][2] and "after the wedge" in outputs[1][1]
    outputs, issues, restarts = run(grade_cells("crash", True, one_message_runs))
    assert [(cell, kind) for cell, kind, _ in issues] == [(1, "crash")] and restarts == 1
    assert "after the crash 1" in outputs[2][1]
    outputs, _, _ = run(grade_cells("assorted", True, one_message_runs))
    # the stack: a cell recurses exactly as deep as in a request of its own (checked against
    # the other path above); here, that the limit it reads is the one it set
    assert "3000" in outputs[1][1]


def test_a_fresh_kernel_gets_a_request_per_cell(one_message_runs):
    outputs, issues, _ = run(grade_cells("await", True, one_message_runs))
    assert one_message_runs == [] and issues == []
    assert "awaited" in outputs[1][1] and "3" in outputs[2][1]


def test_both_sides_name_the_same_messages_and_the_zygote_sees_the_kernel_side():
    assert (one_request.MSG_TYPE, one_request.MARK) == (cells_kernel_side.MSG_TYPE, cells_kernel_side.MARK)
    assert one_request.AT_FILE == cells_kernel_side.AT_FILE
    assert any(p.name == "cells_kernel_side.py" for p in warm_env.ZYGOTE_SCRIPTS)


def test_a_death_nothing_places_is_found_one_request_per_cell(warm_kernels, one_message_runs, monkeypatch):
    """Where the kernel side's file cannot say which cell was running, a new kernel runs the
    notebook one request per cell: the crashing cell is found and skipped all the same, and
    that start (the grader's choice) is not counted as a restart."""
    each = run(grade_cells("crash", False, one_message_runs))
    monkeypatch.setattr(one_request, "_blame_death", lambda run_, order, at_file: None)
    once = run(grade_cells("crash", True, one_message_runs))
    assert [lost for _, _, lost in one_message_runs] == [True]       # no second message went
    for cells in (each[0], once[0]):
        cells[1] = (None, cells[1][1])
    assert once == each and [(c, k) for c, k, _ in once[1]] == [(1, "crash")] and once[2] == 1


@pytest.mark.parametrize("written, outcomes, lost", [
    ("start 4", {2: "ran", 4: "died"}, False),      # dead in cell 4, its start marker lost or not
    ("end 4", {2: "ran", 4: "ran", 7: "died"}, False),   # between cells: the next one, as a request would
    ("end 7", {2: "ran", 4: "ran", 7: "ran"}, False),    # after the last: nobody (the probe finds it dead)
    (None, {}, True),                               # no file: the caller runs the cells one by one
    ("fifo", {}, True),         # what the kernel put there instead: a pipe (reading it would block)
    ("link", {}, True),         # or a link (not followed)
])
def test_a_death_goes_to_the_cell_the_kernel_side_wrote_down(tmp_path, written, outcomes, lost):
    at = tmp_path / one_request.AT_FILE
    if written == "fifo":
        os.mkfifo(at)
    elif written == "link":
        (tmp_path / "elsewhere").write_text("start 4\n")
        at.symlink_to(tmp_path / "elsewhere")
    elif written is not None:
        at.write_text(f"{written}\n".ljust(32))
    run_ = one_request.Run(lost=True, current=2, waiting=[4, 7])
    one_request._blame_death(run_, [2, 4, 7], tmp_path / one_request.AT_FILE)
    assert {i: "died" if o.died else "ran" for i, o in run_.outcomes.items()} == outcomes
    assert run_.lost is lost


def test_the_faster_cell_names_are_ipykernels_own():
    """The zygote swaps ipykernel's pure-Python murmur2 for one with numpy: every cell keeps
    the name (file name, hence traceback and debugger mapping) ipykernel would give it."""
    from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86

    rng = random.Random(7)
    texts = [""] + ["".join(rng.choice("ab\n x=1é€😀\x00") for _ in range(n)) for n in range(1, 40)]
    texts += ["".join(rng.choice("abcdefgh012345") for _ in range(31_785))]
    for text in texts:
        assert cells_kernel_side.murmur2_x86(text, get_tmp_hash_seed()) == murmur2_x86(text, get_tmp_hash_seed())


def test_a_warm_kernel_names_its_cells_with_the_faster_hash(warm_kernels, one_message_runs):
    nb = notebook(["import ipykernel.compiler as c\nprint(c.murmur2_x86.__module__)", "print('x')"])

    async def go():
        kernel = SandboxedKernel(nb, LIMITS)
        try:
            await kernel.run_notebook()
        finally:
            await kernel.close()
    run(go())
    assert nb.cells[0].outputs[0]["text"].strip() == "_grader_zygote_cells_kernel_side"


FORGE = """k = get_ipython().kernel
for content in ({"end": 0}, {"start": 1, "execution_count": "forged"}, {"stop": 2}, {"end": "x"}):
    k.session.send(k.iopub_socket, "grader_cell", content, parent=k.get_parent(), ident=k._topic("grader_cell"))
print("forged")"""


def test_markers_a_notebook_forges_cost_it_only_its_own_cell_bookkeeping(warm_kernels, one_message_runs):
    """A cell can send markers itself (it holds the kernel's session). It can only misfile
    its own outputs: the run still ends, every cell runs once, counts stay ints or None."""
    nb = notebook([FORGE, "a = 41", "a + 1"])

    async def go():
        kernel = SandboxedKernel(nb, LIMITS)
        try:
            return await kernel.run_notebook()
        finally:
            await kernel.close()
    log = run(go())
    assert log.finished and log.restarts == 0 and log.issues == []
    assert all(c.execution_count is None or type(c.execution_count) is int for c in nb.cells)
    assert any(o.get("data", {}).get("text/plain") == "42" for c in nb.cells for o in c.outputs)
