"""A table whose lines name their records as text, "module:attribute" (the form of a package's
entry points), each record loaded when first looked up: how a low floor lists what a higher floor
implements without importing it. The report formats (grader/formats.py, read by
grader/reports/formats/) and the check kinds (grader/rubric/kinds.py) are two such tables;
grader/layers.py (LOADED_FROM_BELOW) says which floor may load which records."""

from __future__ import annotations

import collections.abc
import functools
import typing as t
from importlib.metadata import EntryPoint


class Registry(collections.abc.Mapping):
    """name -> its record, in the order of `lines()` (read at every lookup: a test may add a
    line); a record that does not carry the name its line gives is refused."""

    def __init__(self, noun: str, listed_in: str, lines: t.Callable[[], t.Mapping[str, str]]):
        self.noun, self.listed_in, self.lines = noun, listed_in, lines

    def __getitem__(self, name: str) -> t.Any:
        return _load(self.noun, self.listed_in, name, self.lines()[name])

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.lines())

    def __len__(self) -> int:
        return len(self.lines())


@functools.lru_cache(maxsize=None)
def _load(noun: str, listed_in: str, name: str, where: str) -> t.Any:
    record = EntryPoint(name, where, f"grader.{noun.replace(' ', '_')}").load()
    if getattr(record, "name", None) != name:
        raise TypeError(f"{where}: the record of {noun} '{name}' names itself "
                        f"'{getattr(record, 'name', None)}' ({listed_in})")
    return record
