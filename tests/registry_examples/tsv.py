"""A throwaway report format (tests/test_registries.py puts it into a copy of the package as
grader/reports/formats/tsv.py, with one line in grader/formats.py): scores.tsv, a line per
submission."""

from grader.files import write_atomic
from grader.reports.formats import Format


def _write(out, results, rubric, opts):
    write_atomic(out / "scores.tsv", "".join(f"{r.submission}\t{r.score:g}\n" for r in results))


FORMAT = Format("tsv", per_batch=_write)
