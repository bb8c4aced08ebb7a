"""Plots beside the feedback: the student's error against h next to the reference's."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402

from grader.files import write_atomic_bytes  # noqa: E402
from grader.results import QuestionResult  # noqa: E402


def loglog_png(q: QuestionResult) -> bytes:
    """The question's error-against-h plot; drawn once for the Markdown and the HTML feedback."""
    return _loglog_png(q.id, json.dumps(q.plot or {}, sort_keys=True))


@functools.lru_cache(maxsize=32)
def _loglog_png(qid: str, plot_json: str) -> bytes:
    plot = json.loads(plot_json)
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    ax.loglog(plot["h"], plot["reference"], "o-", label=f"reference (slope {plot['reference_slope']:.2f})")
    ax.loglog(plot["h"], plot["student"], "s--", label=f"yours (slope {plot['student_slope']:.2f})")
    ax.set_xlabel("h")
    ax.set_ylabel("|error|")
    ax.set_title(plot.get("title", qid))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})   # no version stamp: same bytes each run
    plt.close(fig)
    return buf.getvalue()


def write_plots(result_questions: list[QuestionResult], folder: Path, stem: str) -> dict[str, str]:
    """Write one PNG per question that has a plot; return {question id: file name}."""
    names = {}
    for q in result_questions:
        if q.plot and q.plot.get("kind") == "loglog_error":
            name = f"{stem}.{q.id}.png"
            write_atomic_bytes(folder / name, loglog_png(q))
            names[q.id] = name
    return names
