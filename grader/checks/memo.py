"""Per-process caches of what depends only on a question, never on a submission.

Inputs are seeded per question and case, not per student, so every submission
of a batch gets the same cases, the same encoded call arguments and the same
references: they are made once per grader process. A question is part of the
key by identity; its entry holds the question, so that id cannot pass to
another question while the entry lives. What is cached is only read.
"""

from __future__ import annotations

import collections
import typing as t

T = t.TypeVar("T")


class PerQuestion(t.Generic[T]):
    def __init__(self, limit: int = 8192):
        self._entries: collections.OrderedDict[tuple, tuple[object, T]] = collections.OrderedDict()
        self._limit = limit

    def get(self, question: object, key: tuple, make: t.Callable[[], T]) -> T:
        full = (id(question), *key)
        hit = self._entries.get(full)
        if hit is not None:
            return hit[1]
        value = make()
        self._entries[full] = (question, value)
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return value
