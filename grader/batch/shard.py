"""`--shard i/n`: a deterministic slice of a batch, so a CI matrix can split it.

Submissions are ordered by id and dealt round-robin: shard i of n takes
every n-th one starting at the i-th. The slices are disjoint, cover the
batch, differ in size by at most one, and do not depend on the order the
paths were given in. `grader merge` joins their outputs.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from grader.errors import InputError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int    # 1-based, as CI matrices count
    count: int

    def select(self, items: t.Sequence, key: t.Callable[[t.Any], str]) -> list:
        ordered = sorted(items, key=key)
        return ordered[self.index - 1::self.count]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    match = _SHARD.match(text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise InputError("--shard", f"expected I/N with 1 <= I <= N (e.g. 2/4), got '{text}'")
    return Shard(int(match[1]), int(match[2]))
