"""Functions handed to students' code, as data: one specification, two interpreters.

- `ops`: one record per operator (arity, constant, its one spelling, domain).
- `spec`: the `Graph` specification (versioned, plain JSON, validated).
- `torch_eval`: the trusted interpreter and its float64 autograd references.
- `kernel_interp.py`: the interpreter that runs inside the student's kernel;
  sent as source text (`KERNEL_INTERP_SOURCE`), never imported by the grader.
- `generate`: seeded graphs (random DAGs with reuse, deep chains, the course's
  examples, one-op graphs) with inputs inside every op's domain.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.expr.ops import kernel_table
from grader.expr.spec import OPS, SPEC_VERSION, Builder, Graph, Node, SpecError


def _kernel_source() -> str:
    """kernel_interp.py with the operator table written in (the kernel imports nothing of ours)."""
    table = json.dumps(kernel_table(), separators=(",", ":"))
    assert "'" not in table and "\\" not in table      # it goes inside a '...' literal as it is
    return Path(__file__).with_name("kernel_interp.py").read_text(encoding="utf-8").replace(
        "__GRADER_OP_TABLE__", table)


KERNEL_INTERP_SOURCE = _kernel_source()
KERNEL_INTERP_FACTORY = "_grader_expr_factory"   # the one name the source defines


def kernel_install_code(name: str) -> str:
    """Code that installs the interpreter in a kernel under `name` (pick a
    random one, as ProbeSession.install does) and leaves no other name behind.
    There, `name.function(graph_json)` gives f(xs) -> list and
    `name.scalar_function(graph_json)` gives f(x) -> y."""
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    return f"{KERNEL_INTERP_SOURCE}\n{name} = {KERNEL_INTERP_FACTORY}()\ndel {KERNEL_INTERP_FACTORY}\n"


__all__ = ["OPS", "SPEC_VERSION", "Builder", "Graph", "Node", "SpecError",
           "KERNEL_INTERP_SOURCE", "KERNEL_INTERP_FACTORY", "kernel_install_code"]
