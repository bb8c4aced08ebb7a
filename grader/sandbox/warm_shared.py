"""This grader process's zygotes: one per thread count and sandbox, started on first use.

`shared_zygote` is what `warm.WarmProvisioner` asks for a kernel; the CLI starts
one early (`prestart`) and, when leaving, tells the exit handler not to wait for
them (`leave_without_waiting`).
"""

from __future__ import annotations

import atexit
import threading

from grader.sandbox.warm_env import WarmUnavailable, ZygoteSandbox, remove_kernels_dir
from grader.sandbox.zygote_handle import ZygoteHandle

_ZygoteKey = tuple[int, "ZygoteSandbox | None"]
_shared: dict[_ZygoteKey, ZygoteHandle] = {}
_failed: dict[_ZygoteKey, WarmUnavailable] = {}
_shared_lock = threading.Lock()
_plotting = True        # whether a shared zygote started from now on preloads matplotlib (`prestart`)
_cotangents = False     # and what torch imports for a backward pass handed a cotangent (`prestart`)


def shared_zygote(threads: int = 1, sandbox: ZygoteSandbox | None = None) -> ZygoteHandle:
    """This process's zygote for `threads` torch threads (in bubblewrap as `sandbox` says,
    or not at all), started on first use (blocking).

    Raises `WarmUnavailable` (the reason in the message) where it cannot run,
    and from then on at once, without trying again; the caller then uses fresh
    kernels. A zygote that died is restarted.
    """
    key = (threads, sandbox)
    with _shared_lock:
        if key in _failed:
            raise _failed[key]
        zygote = _shared.get(key)
        if zygote is None:
            zygote = _shared[key] = ZygoteHandle(threads=threads, sandbox=sandbox, plotting=_plotting,
                                                 cotangents=_cotangents)
    try:
        return zygote.start()
    except WarmUnavailable as exc:
        with _shared_lock:
            _failed[key] = exc
        raise


def prestart(threads: int = 1, sandbox: ZygoteSandbox | None = None, *, plotting: bool = True,
             cotangents: bool = False) -> None:
    """Start the shared zygote in the background (it takes seconds), so that the
    first warm kernel need not wait for it; a failure shows at the first launch.
    `plotting=False`: no notebook of the batch plots, matplotlib is not preloaded.
    `cotangents=True`: a notebook may hand a backward pass a cotangent (zygote.py COTANGENTS)."""
    global _plotting, _cotangents
    _plotting, _cotangents = plotting, cotangents
    def start() -> None:
        try:
            shared_zygote(threads, sandbox)
        except WarmUnavailable:
            pass
    threading.Thread(target=start, name="grader-zygote-start", daemon=True).start()


def warm_available(threads: int = 1, sandbox: ZygoteSandbox | None = None) -> tuple[bool, str]:
    """(True, "") if warm kernels can run here, else (False, why). Starts the zygote."""
    try:
        shared_zygote(threads, sandbox)
    except WarmUnavailable as exc:
        return False, str(exc)
    return True, ""


_leaving = False     # set by `leave_without_waiting`


def leave_without_waiting() -> None:
    """From now on the exit handler below waits for no zygote (`ZygoteHandle.abandon`): for a
    command that ends with `os._exit` once its last result is written (`grader.cli.main.main`)."""
    global _leaving
    _leaving = True


@atexit.register
def stop_shared_zygotes() -> None:
    with _shared_lock:
        zygotes = list(_shared.values())
        _shared.clear()
    for zygote in zygotes:
        if _leaving:
            zygote.abandon()
        else:
            zygote.stop()
    remove_kernels_dir()
