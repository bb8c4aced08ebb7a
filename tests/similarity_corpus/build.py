"""Write a corpus: independent students plus disguised copies of some of them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .disguise import disguise
from .variants import student_notebook


@dataclass(frozen=True)
class Corpus:
    paths: dict[str, Path]          # submission id (the file's stem) -> notebook
    copies: dict[str, str]          # copy's id -> the id of the notebook it was copied from

    def is_copy(self, a: str, b: str) -> bool:
        return self.copies.get(a) == b or self.copies.get(b) == a


def corpus(folder: Path, n: int, copies: int, seed: int = 0, rewrite: int = 0) -> Corpus:
    """`n` notebooks in `folder`: `n - copies` written independently, `copies` disguised copies
    of as many different ones (`rewrite`: each also with that many functions written again);
    ids are shuffled, so a copy's name says nothing."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"student{i:03d}" for i in range(n)]
    rng.shuffle(ids)
    originals = {sid: student_notebook(rng) for sid in ids[:n - copies]}
    sources = rng.sample(sorted(originals), copies)
    copied = {sid: src for sid, src in zip(ids[n - copies:], sources)}
    notebooks = {**originals, **{sid: disguise(originals[src], rng, rewrite) for sid, src in copied.items()}}
    paths = {}
    for sid, nb in sorted(notebooks.items()):
        paths[sid] = folder / f"{sid}.ipynb"
        nbformat.write(nb, paths[sid])
    return Corpus(paths, copied)
