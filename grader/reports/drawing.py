"""The summary's histograms, and the helper processes that draw them while the batch ends.

Drawing is the batch's last step: matplotlib's import and first figure take about 0.75 s and
each histogram about 60 ms more, all after the last result, on one core, in the process that
also serves the kernels. So a batch that writes a summary starts `HELPERS` helper processes at
its start (`start`, the summary format's warm-up). Each is this module run as a script: it
lowers its own priority (nice 19: it takes the cores the kernels leave idle), imports
matplotlib, draws one throwaway figure, says it is ready and waits. At the end `draw` hands
the ready helpers the histograms, one at a time each, and the batch's end kills them (`stop`).

The protocol, over the helper's stdin and stdout: the helper writes `ready` once; then, for
each JSON line it reads ({"counts": [...], "max_score": x, "title": "...", "size": [w, h]}),
the PNG's length as 8 big-endian bytes and the PNG. EOF on stdin (the grader closed it, or
is gone): the helper exits. A helper that is not ready when the summary is written, or fails,
costs nothing but time: what it did not draw is drawn here, by the same function, so the
files are the same bytes whoever drew them.
"""

from __future__ import annotations

import collections
import io
import json
import os
import select
import subprocess
import sys
import threading
import time
import typing as t

HELPERS = 2
READY = b"ready\n"
WARMING_S = 60.0    # the longest the summary waits for a helper still warming up (it is niced)
ANSWER_S = 30.0     # the longest a helper may take over one histogram before it is given up
# the helper's command: this file run as a script, with nothing prepended to sys.path
RUN = "import runpy, sys; del sys.path[0]; runpy.run_path(sys.argv[1], run_name='__main__')"

Job = t.Tuple[t.List[int], float, str, t.Tuple[float, float]]    # counts, max score, title, size


def histogram_png(counts: list[int], max_score: float, title: str, *, size: tuple[float, float]) -> bytes:
    """A bar chart of `summary.histogram` counts, as PNG bytes with no version or date stamp."""
    # Figure without pyplot: no global figure registry, no backend to select, safe beside the
    # batch's threads; matplotlib is imported only when a summary is drawn.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    steps = len(counts) - 1
    width = max_score / steps if steps and max_score > 0 else 1.0
    centers = [k * width for k in range(steps + 1)]
    fig = Figure(figsize=size, dpi=100)
    ax = fig.add_subplot()
    ax.bar(centers, counts, width=width * 0.85, color="#0969da")
    ax.set_xlim(-width / 2, max_score + width / 2)
    if steps <= 20:
        ax.set_xticks(centers, [f"{c:g}" for c in centers])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("score")
    ax.set_ylabel("submissions")
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})   # no version stamp (PNG has no date)
    return buf.getvalue()


def warm_up() -> None:
    """Draw one throwaway histogram: the import and the first figure (fonts found and loaded,
    text metrics cached) are most of a summary's drawing time. Later figures are the same bytes."""
    histogram_png([0, 1, 0], 1.0, "warm-up", size=(3.8, 2.6))


def _draw_one(job: Job) -> bytes:
    counts, max_score, title, size = job
    return histogram_png(list(counts), max_score, title, size=(size[0], size[1]))


# -- the grader's side ---------------------------------------------------------------------------

class Helper:
    """One helper process (see the module doc)."""

    def __init__(self) -> None:
        # this file by path, not `-m grader.reports.drawing`: it imports nothing of the grader,
        # and no folder of the grader's (nor the working directory) is put on its sys.path
        self.proc = subprocess.Popen([sys.executable, "-c", RUN, __file__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self._ready = False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ready(self, timeout: float = 0.0) -> bool:
        """Whether it said `ready` (waiting at most `timeout` seconds for it)."""
        if not self._ready and self.alive() and _readable(self.proc.stdout, timeout):
            self._ready = _read_exactly(self.proc.stdout, len(READY), 0) == READY
        return self._ready and self.alive()

    def send(self, job: Job) -> None:
        counts, max_score, title, size = job
        line = json.dumps({"counts": counts, "max_score": max_score, "title": title, "size": size})
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self) -> bytes:
        size = int.from_bytes(_read_exactly(self.proc.stdout, 8, ANSWER_S), "big")
        return _read_exactly(self.proc.stdout, size, ANSWER_S)

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()      # EOF on its stdin: it exits
            except OSError:
                pass


def _readable(stream: t.BinaryIO, timeout: float) -> bool:
    return bool(select.select([stream], [], [], timeout)[0])


def _read_exactly(stream: t.BinaryIO, n: int, timeout: float) -> bytes:
    """n bytes from the helper's (unbuffered) stdout; EOFError if it stops or goes silent."""
    data = b""
    while len(data) < n:
        if timeout and not _readable(stream, timeout):
            raise EOFError(f"the drawing helper said nothing for {timeout:g} s")
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError("the drawing helper stopped")
        data += chunk
    return data


_helpers: list[Helper] = []
_lock = threading.Lock()
#: how many of the last `draw`'s PNGs the helpers drew (the rest were drawn here)
drawn_by_helpers = 0


def start(n: int = HELPERS) -> None:
    """Start the helpers (a batch's start; those still running are kept)."""
    with _lock:
        _helpers[:] = [h for h in _helpers if h.alive()]
        while len(_helpers) < n:
            try:
                _helpers.append(Helper())
            except OSError:         # no process to spare: the summary is drawn here, as it always could be
                return


def _ready_helpers() -> list[Helper]:
    """The helpers that are ready; none yet: wait for the first of those still warming up
    (it is closer to ready than this process, which has not imported matplotlib)."""
    ready = [h for h in _helpers if h.ready()]
    deadline = time.monotonic() + WARMING_S
    while not ready and any(h.alive() for h in _helpers) and time.monotonic() < deadline:
        ready = [h for h in _helpers if h.ready(timeout=0.01)]
    return ready


def _give_up(helper: Helper) -> None:
    helper.close()
    helper.proc.kill()
    _helpers.remove(helper)


def draw(jobs: list[Job]) -> list[bytes]:
    """Every job's PNG, in order. Each ready helper has one job at a time (a pipe never fills,
    a faster helper takes more); what no helper drew is drawn here."""
    global drawn_by_helpers
    with _lock:
        pngs: list[bytes | None] = [None] * len(jobs)
        todo = collections.deque(range(len(jobs)))
        busy: dict[Helper, int] = {}

        def give(helper: Helper) -> None:
            if todo:
                i = todo.popleft()
                try:
                    helper.send(jobs[i])
                    busy[helper] = i
                except OSError:
                    todo.appendleft(i)
                    _give_up(helper)

        ready = _ready_helpers()
        while True:
            for helper in ready:        # every idle one still here: a job given back is taken again
                if helper not in busy and helper in _helpers:
                    give(helper)
            if not busy:
                break
            streams = {h.proc.stdout: h for h in busy}
            # none answers within ANSWER_S: each is asked for its answer, and given up on failing
            answered = [streams[s] for s in select.select(list(streams), [], [], ANSWER_S)[0]] or list(busy)
            for helper in answered:
                i = busy.pop(helper)
                try:
                    pngs[i] = helper.receive()
                except (OSError, EOFError, ValueError):
                    todo.appendleft(i)
                    _give_up(helper)
        drawn_by_helpers = sum(png is not None for png in pngs)
        return [png if png is not None else _draw_one(job) for png, job in zip(pngs, jobs)]


def stop() -> None:
    """Kill and reap every helper, at the batch's end: its CPU is then counted with the
    grader's (`RUSAGE_CHILDREN`), and none outlives the batch."""
    with _lock:
        for helper in _helpers:
            helper.close()
            helper.proc.kill()
            helper.proc.wait()
        _helpers.clear()


# -- the helper's side ---------------------------------------------------------------------------

def _serve() -> None:
    try:
        os.nice(19)
    except OSError:
        pass
    warm_up()
    out = sys.stdout.buffer
    out.write(READY)
    out.flush()
    for line in sys.stdin.buffer:
        job = json.loads(line)
        png = _draw_one((job["counts"], job["max_score"], job["title"], job["size"]))
        out.write(len(png).to_bytes(8, "big") + png)
        out.flush()


if __name__ == "__main__":
    _serve()
