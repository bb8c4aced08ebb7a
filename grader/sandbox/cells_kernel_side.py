"""In a warm kernel: run a notebook's code cells on one message, `grader_cells_request`
(`one_request.py` sends it; `install` adds its handler to the kernel's shell handlers).

Loaded by path in the zygote (stdlib only at module level; see `zygote._load`) and installed
by `zygote_child` in each kernel it forks, after the kernel's start.

Each cell runs through `kernel.do_execute(source, silent=False, store_history=True)`, what
ipykernel's own `execute_request` calls, from a handler that stands where that request's
handler stands (`run_cells` where `IPythonKernel.execute_request`, `one_cell` where
`Kernel.execute_request`): a cell runs at the same stack depth, with the same execution
count, `In`/`Out`/`_`, magics, top-level `await`, `post_execute` (inline figures), error
output and reply as in a request of its own. Around it, on IOPub under this message's
header, a ``grader_cell`` message says where the cell starts and where it ends (with what
its reply said), so the grader files every output under its cell. Stdout and stderr are
flushed before each end, as ipykernel flushes them before a reply.

What a request of its own would have given a cell, kept here by hand:
- the cell's time limit: a POSIX timer, armed just before the cell and disarmed right after
  it, sends this process a SIGINT at the limit: the grader's interrupt, at the same moment,
  to whatever handler the cell left (a cell that ignores SIGINT runs on, and the grader then
  kills the kernel as before). Sent from here it cannot hit the next cell, as an interrupt
  sent from outside at the limit could. Where no timer can be made, no cell runs here;
- SIGINT: the default handler while a cell runs, ignored between cells (ipykernel's
  `pre_handler_hook` / `post_handler_hook` around a request);
- `exit()`: the cells after it are not run here (the grader sends each its own request,
  as it would have).

Also here, for the zygote to set once (`faster_cell_names`): ipykernel names every cell's code
by a murmur2 hash of its text, computed in pure Python, a byte at a time: 4 ms for the
probe's 31 KB install request, about 6 ms of each kernel's CPU in all. The same hash,
the same names, with numpy doing the per-block part: 0.9 ms.
"""

import functools
import os
import signal
import sys
import time

MSG_TYPE = "grader_cells_request"
MARK = "grader_cell"
AT_FILE = "grader-cell-at"      # in the kernel's runtime folder: where the cells are, written first


def install(kernel, runtime: str) -> None:
    """Handle `grader_cells_request` in this kernel (a handler is called (stream, idents, msg)).
    `runtime`: the kernel's runtime folder (its connection file's), which the grader reads."""
    kernel.shell_handlers[MSG_TYPE] = functools.partial(run_cells, kernel, os.path.join(runtime, AT_FILE))


async def run_cells(kernel, at_path, stream, idents, parent) -> None:
    cells = parent["content"]["cells"]         # [index, source, seconds] each

    def mark(content):
        kernel.session.send(kernel.iopub_socket, MARK, content, parent=parent, ident=kernel._topic(MARK))

    timer = None
    try:
        timer = CellTimer()
        at = os.open(at_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except (OSError, AttributeError):
        if timer is not None:
            timer.close()
        if cells:
            mark({"stop": cells[0][0]})
        return
    # what execute_request passes on to do_execute, for a request with this message's metadata
    accepted = getattr(kernel, "_do_exec_accepted_params", {})
    meta = parent.get("metadata") or {}
    extra = {**({"cell_meta": meta} if accepted.get("cell_meta") else {}),
             **({"cell_id": meta.get("cellId")} if accepted.get("cell_id") else {})}
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # dispatch's post_handler_hook restores its own
    try:
        for index, source, seconds in cells:
            if kernel.shell.exit_now:
                mark({"stop": index})
                return
            # Before the marker: written at once, the file outlives a kernel that dies with
            # markers its IOPub thread had not sent yet (one_request.py)
            os.pwrite(at, f"start {index}\n".ljust(32).encode(), 0)
            mark({"start": index, "execution_count": kernel.shell.execution_count})
            end = await one_cell(kernel, source, seconds, timer, extra)
            os.pwrite(at, f"end {index}\n".ljust(32).encode(), 0)
            mark({"end": index, **end})
    finally:
        timer.close()
        os.close(at)


async def one_cell(kernel, source, seconds, timer, extra) -> dict:
    """Run one cell as `Kernel.execute_request` would; what its reply says, and whether the
    timer fired."""
    began = time.monotonic()
    end = {}
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        timer.arm(seconds)
        reply = await kernel.do_execute(source, False, store_history=True, user_expressions={},
                                        allow_stdin=False, **extra)
        left = timer.disarm()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        end.update(status=reply.get("status"), ename=reply.get("ename"), evalue=reply.get("evalue"))
    except BaseException as exc:  # noqa: BLE001 - an interrupt outside the cell's own code
        left = timer.disarm()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        end.update(status="error", ename=type(exc).__name__, evalue=_text(exc))
    end["alarm"] = left == 0 and time.monotonic() - began >= seconds
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a stream a cell put there; the marker still goes
            pass
    return end


MURMUR_M = 0x5BD1E995


def murmur2_x86(data: str, seed: int) -> int:
    """ipykernel.compiler.murmur2_x86, equal for every text (tests/test_one_request.py)."""
    import numpy

    raw = data.encode("utf8")
    h = seed ^ len(raw)
    end = len(raw) & ~3
    k = numpy.frombuffer(raw, dtype="<u4", count=end // 4).astype(numpy.uint64)
    k = (k * MURMUR_M) & 0xFFFFFFFF
    k ^= k >> 24
    k = (k * MURMUR_M) & 0xFFFFFFFF
    for block in k.tolist():            # each step needs the one before: no vector for this
        h = ((h * MURMUR_M) & 0xFFFFFFFF) ^ block
    if end < len(raw):
        h = ((h ^ int.from_bytes(raw[end:], "little")) * MURMUR_M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * MURMUR_M) & 0xFFFFFFFF
    return h ^ (h >> 15)


def faster_cell_names() -> None:
    """In the zygote, once: ipykernel names cells with `murmur2_x86` above (where numpy is)."""
    try:
        import numpy  # noqa: F401 - what the faster hash needs
        from ipykernel import compiler
    except ImportError:
        return
    compiler.murmur2_x86 = murmur2_x86


def _text(exc) -> str:
    try:
        return str(exc)
    except BaseException:  # noqa: BLE001 - a notebook's exception whose str() fails
        return "<unprintable>"


class CellTimer:
    """A POSIX timer (CLOCK_MONOTONIC) that sends this process SIGINT when it runs out."""

    def __init__(self):
        import ctypes

        class Timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        class Itimerspec(ctypes.Structure):
            _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]

        class Sigevent(ctypes.Structure):       # Linux: sigval, signo, notify, a 48-byte union
            _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int),
                        ("sigev_notify", ctypes.c_int), ("_rest", ctypes.c_int * 12)]

        self.ctypes, self.spec = ctypes, Itimerspec
        self.libc = ctypes.CDLL(None, use_errno=True)
        if not hasattr(self.libc, "timer_create"):         # glibc before 2.34: in librt
            self.libc = ctypes.CDLL("librt.so.1", use_errno=True)
        event = Sigevent(sigev_signo=int(signal.SIGINT), sigev_notify=0)     # SIGEV_SIGNAL
        self.timer = ctypes.c_void_p()
        if self.libc.timer_create(1, ctypes.byref(event), ctypes.byref(self.timer)) != 0:   # CLOCK_MONOTONIC
            raise OSError(ctypes.get_errno(), "timer_create")

    def arm(self, seconds: float) -> None:
        spec = self.spec()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = int(seconds), int(seconds % 1 * 1e9)
        self.libc.timer_settime(self.timer, 0, self.ctypes.byref(spec), None)

    def disarm(self) -> float:
        """Stop it; the seconds it had left (0 once it has fired)."""
        old = self.spec()
        self.libc.timer_settime(self.timer, 0, self.ctypes.byref(self.spec()), self.ctypes.byref(old))
        return old.it_value.tv_sec + old.it_value.tv_nsec / 1e9

    def close(self) -> None:
        self.disarm()
        self.libc.timer_delete(self.timer)
