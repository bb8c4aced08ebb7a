"""The zygote's server loop: accept the grader's requests, fork a kernel per launch, reap.

Loaded by path by `zygote.py` (stdlib only; never imported through the grader
package), which starts `ZygoteServer.serve` once its imports are done. The
protocol is described in zygote.py. The loop is one `select` over the listening
socket, a self-pipe woken by SIGCHLD, the grader's stdin (EOF: the grader is gone)
and one connection per live kernel, on which the grader signals or kills it and
the server reports its exit. Signals and kills go through the server on purpose:
it is the parent of every kernel and reaps it, so a pid it signals can never have
been reused. What a forked child does before it is a kernel is zygote_child.py's.
"""

import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback

# Siblings handed over by `zygote._load` before this runs (loaded by path, not
# importable by name: see zygote.py): launcher.py's module and zygote_child.py's.
launcher = globals()["launcher"]
child = globals()["child"]

SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)
MAX_FDS = 8                     # stdin, stdout, stderr and the kernel's cgroup.procs files
IDLE_S = 0.05                   # no request for this long: the zygote is idle


CLONE_NEWNS = 0x00020000


def log(*parts) -> None:
    print(f"[zygote {os.getpid()}]", *parts, file=sys.stderr, flush=True)


def _send(conn: socket.socket, msg: dict) -> None:
    try:
        conn.sendall((json.dumps(msg) + "\n").encode())
    except OSError:
        pass


def _peer_pid(conn: socket.socket) -> int:
    pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, 12))
    return pid


class ZygoteServer:
    """The zygote's serving state: its kernels and their connections to the grader."""

    def __init__(self, listen: socket.socket, parent: int, keep: set, uid_per_kernel: bool = False,
                 idle: tuple = ()):
        self.uid_per_kernel = uid_per_kernel
        # set-ups run once the zygote has had nothing to do for IDLE_S (`_when_idle`), not before
        # the ready line, where the batch's first kernels would wait for them
        self.idle = list(idle)
        self.listen = listen
        self.parent = parent
        self.keep = keep
        self.kernels: dict = {}          # init pid -> connection to the grader
        self.by_fd: dict = {}            # connection fd -> init pid
        self.buffers: dict = {}          # connection fd -> partial line
        self.sweep_until = 0.0
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        launcher._libc().prctl(launcher.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        while True:
            conns = list(self.kernels.values())
            sweeping = time.monotonic() < self.sweep_until
            timeout = IDLE_S if self.idle else 0.2 if sweeping else None
            try:
                ready, _, _ = select.select([self.listen, self.wake_r, 0, *conns], [], [], timeout)
            except InterruptedError:
                continue
            if 0 in ready and not os.read(0, 4096):
                log("grader gone (stdin closed): killing", len(self.kernels), "kernels")
                self.shutdown()
                return
            try:
                if not ready and self.idle:
                    self._when_idle()
                self.step(ready, conns, swept=sweeping)
            except Exception:  # noqa: BLE001 - keep serving the other kernels; say what broke
                log("error while serving:\n" + traceback.format_exc())

    def _when_idle(self) -> None:
        """Run the set-ups kernels forked from now on inherit, once; then freeze what they made,
        as the start froze the imports (no collection of a child walks it)."""
        todo, self.idle = self.idle, []
        for setup in todo:
            setup()
        gc.collect()
        gc.freeze()

    def step(self, ready: list, conns: list, swept: bool) -> None:
        if self.wake_r in ready:
            try:
                while os.read(self.wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        self.reap()
        for conn in conns:
            if conn in ready and conn.fileno() != -1:
                self.from_grader(conn)
        if self.listen in ready:
            self.accept()
        if swept:
            self.sweep_orphans()

    def shutdown(self) -> None:
        """Kill every kernel tree and orphan, and reap them, before the zygote exits."""
        for pid in list(self.kernels):
            launcher.kill_tree(pid)
        self.sweep_orphans()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    time.sleep(0.01)
                    self.sweep_orphans()
            except ChildProcessError:
                break

    def reap(self) -> None:
        reaped = False      # report every exit first, then look for orphans
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reaped = True
            conn = self.kernels.pop(pid, None)
            if conn is not None:
                _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
                self._forget(conn)
        if reaped:
            # An init killed before its subtree leaves orphans; they come to us.
            self.sweep_orphans()
            self.sweep_until = time.monotonic() + 2.0

    def sweep_orphans(self) -> None:
        for pid in launcher.children_of(os.getpid()):
            if pid not in self.kernels:
                launcher.kill_tree(pid)

    def kill(self, pid: int) -> None:
        """Kill a kernel's tree and report it dead at once: after SIGKILL it runs no more
        code, and waiting for its memory to be torn down would only delay the grader."""
        launcher.kill_tree(pid)
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped, status = 0, 0
        code = os.waitstatus_to_exitcode(status) if reaped else -signal.SIGKILL
        conn = self.kernels.pop(pid)
        _send(conn, {"exit": code})
        self._forget(conn)
        self.sweep_until = time.monotonic() + 2.0

    def _forget(self, conn: socket.socket) -> None:
        self.by_fd.pop(conn.fileno(), None)
        self.buffers.pop(conn.fileno(), None)
        conn.close()

    def from_grader(self, conn: socket.socket) -> None:
        pid = self.by_fd.get(conn.fileno())
        try:
            data = conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:                    # the grader let go of this kernel: kill it
            if pid is not None and pid in self.kernels:
                self.kill(pid)
            else:
                self._forget(conn)
            return
        buf = self.buffers.get(conn.fileno(), b"") + data
        *lines, self.buffers[conn.fileno()] = buf.split(b"\n")
        for line in lines:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if pid is None or pid not in self.kernels:
                return
            if msg.get("op") == "signal":
                try:
                    os.killpg(pid, int(msg["signum"]))
                except OSError:
                    try:
                        os.kill(pid, int(msg["signum"]))
                    except OSError:
                        pass
            elif msg.get("op") == "kill":
                self.kill(pid)
                return

    def accept(self) -> None:
        try:
            conn, _ = self.listen.accept()
        except OSError:
            return
        fds = []
        try:
            if _peer_pid(conn) != self.parent:
                log("refused a connection from pid", _peer_pid(conn))
                conn.close()
                return
            conn.settimeout(5)
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, MAX_FDS)
            while not data.endswith(b"\n"):
                more = conn.recv(1 << 20)
                if not more:
                    raise ValueError("request cut short")
                data += more
            req = json.loads(data)
        except (OSError, ValueError) as exc:
            log("bad request:", exc)
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        op = req.get("op")
        if op == "ping":
            _send(conn, {"pong": os.getpid(), "kernels": len(self.kernels), "idle_setups": len(self.idle)})
            conn.close()
        elif op == "launch":
            self.launch(conn, req, fds)
        else:
            _send(conn, {"error": f"unknown op {op!r}"})
            conn.close()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def launch(self, conn: socket.socket, req: dict, fds: list) -> None:
        if len(fds) < 3:
            _send(conn, {"error": "a launch needs 3 descriptors (stdin, stdout, stderr)"})
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        me = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            _send(conn, {"error": f"fork failed: {exc}"})
            conn.close()
            return
        if pid == 0:
            child.run_child(req, fds, self.keep, me, self.uid_per_kernel)
        conn.setblocking(False)
        self.kernels[pid] = conn
        self.by_fd[conn.fileno()] = pid
        _send(conn, {"pid": pid})
