"""One warm kernel's process as the grader sees it: a `Popen` look-alike on the zygote's
connection (`WarmProcess`), which `zygote_handle.ZygoteHandle.launch` returns and
`warm.WarmProvisioner` drives."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from typing import Any


class WarmProcess:
    """The process the zygote forked for a kernel (the kernel itself, or its init with
    layout "init"), as the grader sees it: a tiny `Popen` look-alike.

    The connection to the zygote is the liveness channel: the zygote writes
    `{"exit": code}` when it has reaped the process (or SIGKILLed it on our
    request), and closes it. EOF without that means the zygote itself died,
    and its kernels with it (PDEATHSIG).
    """

    def __init__(self, sock: socket.socket, pid: int, buffered: bytes = b""):
        self.sock = sock
        self.pid = pid
        self.returncode: int | None = None
        self._buf = buffered
        self._readable: asyncio.Future | None = None
        self._parse()

    def _parse(self) -> None:
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "exit" in msg and self.returncode is None:
                self.returncode = int(msg["exit"])

    def poll(self) -> int | None:
        while self.returncode is None and self.sock is not None:
            try:
                data = self.sock.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            except OSError:
                data = b""
            if not data:
                self.returncode = -signal.SIGKILL    # the zygote is gone, and the kernel with it
                break
            self._buf += data
            self._parse()
        return self.returncode

    async def wait(self) -> int:
        """Wait for the exit report without polling (a reader on the socket)."""
        while self.poll() is None:
            loop = asyncio.get_running_loop()
            fut = self._readable
            if fut is None or fut.done() or fut.get_loop() is not loop:
                fut = self._readable = loop.create_future()
                fd = self.sock.fileno()

                def ready(fut=fut, fd=fd, loop=loop):
                    loop.remove_reader(fd)
                    if not fut.done():
                        fut.set_result(None)
                loop.add_reader(fd, ready)
            await asyncio.shield(fut)
        assert self.returncode is not None
        return self.returncode

    def _request(self, msg: dict) -> None:
        if self.sock is None or self.poll() is not None:
            return
        try:
            self.sock.send((json.dumps(msg) + "\n").encode(), socket.MSG_DONTWAIT)
        except OSError:
            pass        # the zygote is gone: so is the kernel

    def send_signal(self, signum: int) -> None:
        """Signal the kernel's process group (an init ignores SIGINT, forwards SIGTERM)."""
        self._request({"op": "signal", "signum": int(signum)})

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the process and everything below it (SIGSTOP first, then SIGKILL)."""
        self._request({"op": "kill"})

    def close(self) -> None:
        """Let go: a kernel still running is killed by the zygote when we hang up."""
        if self.sock is not None:
            if self._readable is not None and not self._readable.done():
                try:
                    self._readable.get_loop().remove_reader(self.sock.fileno())
                except Exception:  # noqa: BLE001 - loop already closed
                    pass
                self._readable.cancel()
            self.sock.close()
            self.sock = None
            if self.returncode is None:
                self.returncode = -signal.SIGKILL


def as_fd(stream: Any, default: int) -> tuple[int, bool]:
    """(descriptor, whether we opened it) for a Popen-style stdin/stdout/stderr argument."""
    if stream is None:
        return default, False
    if stream in (subprocess.DEVNULL, subprocess.PIPE):   # no pipes back to us: discard
        return os.open(os.devnull, os.O_RDWR), True
    if isinstance(stream, int):
        return stream, False
    return stream.fileno(), False
