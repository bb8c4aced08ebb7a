"""CPython 3.11's `ast.parse` keeps its depth counter in per-interpreter state: two threads in it
at once fail with "SystemError: AST constructor recursion depth mismatch". A batch parses each
notebook on the event loop while its report writer imports matplotlib (which parses its settings
with `ast.literal_eval`); a submission was once lost to an "internal grader error" that way. Every
`ast.parse` of the grader's process takes one lock (grader/checks/static.py)."""

from __future__ import annotations

import ast
import threading

from grader.checks import static


def _waits_for_the_lock(parse_something) -> bool:
    started, done = threading.Event(), threading.Event()

    def other():
        started.set()
        parse_something()
        done.set()

    with static._PARSE_LOCK:
        thread = threading.Thread(target=other)
        thread.start()
        started.wait(5)
        waited = not done.wait(0.3)
    finished = done.wait(10)
    thread.join()
    return waited and finished


def test_every_parse_of_the_process_takes_the_lock():
    assert ast.parse.grader_lock is static._PARSE_LOCK
    assert _waits_for_the_lock(lambda: ast.parse("x = 1"))
    assert _waits_for_the_lock(lambda: ast.literal_eval("[1, 2]"))     # matplotlib's settings


def test_a_parse_holds_off_the_garbage_collector_and_gives_it_back():
    """No collection inside a parse (its finalizers could wait on another thread's locks while
    this one holds the parse lock); seen from a warning the parser itself raises."""
    import gc
    import warnings
    during = []
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda *args, **kwargs: during.append(gc.isenabled())
        assert gc.isenabled()
        ast.parse("x = '\\d'")          # an invalid escape: the parser warns
    assert during == [False] and gc.isenabled()
