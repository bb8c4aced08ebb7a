"""The bundled samples' expected verdicts, read from the tables the samples are built from
(samples/recipes/<assignment>.py, through samples/sample_table.py): a sample and the verdict
it must get sit side by side there, and every test of the samples compares with that
(samples/sample_table.py `mismatches`, `batch_mismatches`)."""

from __future__ import annotations

import importlib.util
import sys

from helpers import ROOT


def _load_sample_table():
    spec = importlib.util.spec_from_file_location("sample_table", ROOT / "samples" / "sample_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sample_table", module)      # dataclasses look their module up
    spec.loader.exec_module(sys.modules["sample_table"])
    return sys.modules["sample_table"]


sample_table = _load_sample_table()


def table(assignment: str):
    """The sample table of `assignment` (sample_table.Table)."""
    return sample_table.load(assignment)


# the comparison lives beside the tables, where the benchmarks find it too
mismatches = sample_table.mismatches
lost = sample_table.lost
batch_mismatches = sample_table.batch_mismatches
