"""One student's matrix_calculus notebook, written from their own random choices.

Students differ the way real ones do: each picks how to transpose, multiply
and copy (most keep to one habit, some mix), one of several ways to write
each function (plus the style corpus's unusual ones), keeps or drops the
docstrings and the starter's checking cell, and adds test cells, prints and
helpers of their own with their own sizes and seeds. Every variant is
correct, so every notebook scores full marks.
"""

from __future__ import annotations

import random
from pathlib import Path

import nbformat
from style_corpus.styles import IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parents[2]

STARTER = ROOT / "assignments" / "matrix_calculus.ipynb"
GRADED = tuple(IMPLEMENTATIONS["matrix_calculus"])
SIGNATURES = {"grad_inner": "x, a", "grad_linear_map": "A, x", "grad_quadratic_form": "A, x",
              "grad_weighted_residual_s": "x, A, s, W", "grad_weighted_residual_x": "x, A, s, W",
              "grad_log_abs_det": "A", "grad_trace_product": "A, B", "grad_chain_rule": "x, A"}


class Habits:
    """How one student writes a transpose, a product and a copy."""

    TRANSPOSE = ("{}.T", "{}.t()", "{}.transpose(0, 1)", "torch.transpose({}, 0, 1)", "{}.mT",
                 "{}.permute(1, 0)", "{}.transpose(-1, -2)")
    PRODUCT = ("{} @ {}", "torch.matmul({}, {})", "{}.matmul({})", "torch.mv({}, {})", "{}.mv({})")
    COPY = ("{}.clone()", "{}.detach().clone()", "torch.clone({})", "{} + 0", "{} * 1", "{}.clone().detach()")

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.fixed = rng.random() < 0.7     # most students keep to one habit
        self.t, self.p, self.c = (rng.choice(self.TRANSPOSE), rng.choice(self.PRODUCT), rng.choice(self.COPY))

    def _pick(self, mine: str, options: tuple[str, ...]) -> str:
        return mine if self.fixed else self.rng.choice(options)

    def T(self, m: str) -> str:
        form = self._pick(self.t, self.TRANSPOSE)
        return form.format(f"({m})" if " " in m and not form.startswith("torch") else m)

    def P(self, a: str, b: str) -> str:
        form = self._pick(self.p, self.PRODUCT)
        if form.startswith("torch"):
            return form.format(a, b)
        par = (lambda e: f"({e})" if " " in e else e)
        return form.format(par(a), par(b) if "@" in form else b)

    def C(self, e: str) -> str:
        form = self._pick(self.c, self.COPY)
        return form.format(f"({e})" if " " in e and not form.startswith("torch") else e)


def _bodies(name: str, h: Habits) -> list[str]:
    """Ways to write the body of `name` (lines joined with newlines, no indentation)."""
    T, P, C = h.T, h.P, h.C
    eye = "torch.eye({}, dtype=A.dtype, device=A.device)"
    return {
        "grad_inner": [
            f"return {C('a')}", f"g = {C('a')}\nreturn g", "return a + torch.zeros_like(x)",
            "return a + 0 * x", "return torch.tensor(a.tolist(), dtype=a.dtype, device=a.device)",
            "return torch.ones_like(x) * a", "out = torch.empty_like(a)\nout.copy_(a)\nreturn out"],
        "grad_linear_map": [
            f"return {C(T('A'))}", f"J = {T('A')}\nreturn {C('J')}",
            "m, n = A.shape\nout = torch.empty(n, m, dtype=A.dtype, device=A.device)\n"
            "for i in range(n):\n    out[i] = A[:, i]\nreturn out",
            f"return {eye.format('A.shape[1]')} @ {T('A')}",
            "cols = [A[:, j] for j in range(A.shape[1])]\nreturn torch.stack(cols)"],
        "grad_quadratic_form": [
            f"return {P('A + ' + T('A'), 'x')}", f"return {P('A', 'x')} + {P(T('A'), 'x')}",
            f"S = A + {T('A')}\nreturn {P('S', 'x')}",
            f"left = {P('A', 'x')}\nright = {P(T('A'), 'x')}\nreturn left + right",
            f"return x @ {T('A')} + x @ A", f"return {P('A', 'x')} + x @ A"],
        "grad_weighted_residual_s": [
            f"r = x - {P('A', 's')}\nreturn -2 * {P(T('A'), P('W', 'r'))}",
            f"r = x - {P('A', 's')}\nreturn -2.0 * ({P(T('A'), P('W', 'r'))})",
            f"return 2 * {P(T('A'), P('W', P('A', 's') + ' - x'))}",
            f"r = {P('A', 's')} - x\ng = {P('W', 'r')}\nreturn 2 * {P(T('A'), 'g')}",
            f"res = x - {P('A', 's')}\nreturn -{P(T('A'), P('W + ' + T('W'), 'res'))}",
            f"return -2 * {T('A')} @ W @ (x - A @ s)"],
        "grad_weighted_residual_x": [
            f"return 2 * {P('W', 'x - ' + P('A', 's'))}", f"r = x - {P('A', 's')}\nreturn 2 * {P('W', 'r')}",
            f"return {P('W + ' + T('W'), 'x - ' + P('A', 's'))}",
            f"return -2 * {P('W', P('A', 's') + ' - x')}",
            f"r = x - {P('A', 's')}\nreturn {P('W', 'r')} * 2",
            f"return 2.0 * {P('W', 'x')} - 2.0 * {P('W', P('A', 's'))}"],
        "grad_log_abs_det": [
            f"return {T('torch.linalg.inv(A)')}", f"return torch.linalg.inv({T('A')})",
            f"return {T('torch.inverse(A)')}",
            f"I = {eye.format('A.shape[0]')}\nreturn torch.linalg.solve({T('A')}, I)",
            f"inv = torch.linalg.inv(A)\nreturn {C(T('inv'))}", "return torch.linalg.inv(A).mT"],
        "grad_trace_product": [
            f"return {C(T('B'))}", f"G = {T('B')}\nreturn {C('G')}", f"return {T('B')} + torch.zeros_like(A)",
            "return torch.stack([row for row in B], dim=1)", f"return {T('B')} * torch.ones_like(A)"],
        "grad_chain_rule": [
            f"y = {P('A', 'x')}\nreturn 2 * {P(T('A'), 'y')} / (1 + y @ y)",
            f"y = {P('A', 'x')}\nu = torch.dot(y, y)\nreturn 2 * {P(T('A'), 'y')} / (1 + u)",
            f"Ax = {P('A', 'x')}\nreturn 2 * {P(T('A'), 'Ax')} / (1 + (Ax ** 2).sum())",
            f"y = {P('A', 'x')}\nreturn {P(T('A'), '2 * y')} / (1.0 + torch.sum(y * y))",
            f"y = {P('A', 'x')}\nn2 = torch.linalg.norm(y) ** 2\nreturn 2 * {P(T('A'), 'y')} / (1 + n2)",
            f"y = {P('A', 'x')}\nscale = 2.0 / (1.0 + y.pow(2).sum())\nreturn scale * {P(T('A'), 'y')}"],
    }[name]


COMMENTS = ("# denominator layout", "# closed form", "# derived on paper", "# see the notes above",
            "# no autograd here", "# new tensor, not a view", "# TODO tidy up", "# chain rule")


def function_cell(name: str, h: Habits, docstring: str, rng: random.Random) -> str:
    """`name` written by this student: one of the ways, or the style corpus's (about 1 in 5)."""
    if rng.random() < 0.2:
        return rng.choice(IMPLEMENTATIONS["matrix_calculus"][name]).strip("\n")
    lines = rng.choice(_bodies(name, h)).split("\n")
    first = SIGNATURES[name].split(", ")[0]
    if rng.random() < 0.12:
        lines.insert(0, f"assert {first}.dim() >= 1, 'expected a tensor'")
    if rng.random() < 0.08:
        lines.insert(0, f"print('{name}', tuple({first}.shape))")
    if rng.random() < 0.3:
        lines.insert(0, rng.choice(COMMENTS))
    head = [f"def {name}({SIGNATURES[name]}):"] + ([f"    {docstring}"] if docstring and rng.random() < 0.85 else [])
    return "\n".join(head + ["    " + line if line else line for line in "\n".join(lines).split("\n")])


def _args(name: str, rng: random.Random, dt: str) -> tuple[list[str], list[str]]:
    """Setup lines and the call's arguments for a test of `name` at the student's own sizes."""
    m, n = rng.randint(2, 9), rng.randint(2, 9)
    make = {"x": f"torch.randn({n}{dt})", "a": f"torch.randn({n}{dt})", "s": f"torch.randn({n}{dt})",
            "A": f"torch.randn({m}, {n}{dt})", "B": f"torch.randn({n}, {m}{dt})",
            "W": f"torch.eye({m}{dt}) * {rng.randint(1, 5)}"}
    params = SIGNATURES[name].split(", ")
    if name in ("grad_quadratic_form", "grad_log_abs_det"):
        make["A"] = f"torch.randn({n}, {n}{dt}) + {rng.randint(2, 6)} * torch.eye({n}{dt})"
    if name.startswith("grad_weighted") or name == "grad_chain_rule":
        make["x"] = f"torch.randn({m}{dt})" if name.startswith("grad_weighted") else make["x"]
    return [f"{p} = {make[p]}" for p in params], params


def scratch_cell(rng: random.Random) -> str:
    """A cell of the student's own: a test call, an autograd comparison or a numerical helper."""
    name = rng.choice(GRADED)
    dt = rng.choice(("", ", dtype=torch.float64", ", dtype=torch.float32"))
    kind = rng.random()
    lines = [f"torch.manual_seed({rng.randint(0, 99999)})"] if rng.random() < 0.6 else []
    if kind < 0.5:
        setup, params = _args(name, rng, dt)
        call = f"{name}({', '.join(params)})"
        show = rng.choice((f"print({call})", f"print({call}.shape)", call,
                           f"out = {call}\nprint(out.dtype, out.shape)"))
        return "\n".join(lines + setup + [show])
    if kind < 0.75:
        n = rng.randint(2, 9)
        return "\n".join(lines + [
            f"A = torch.randn({n}, {n}, dtype=torch.float64)",
            f"x = torch.randn({n}, dtype=torch.float64, requires_grad=True)",
            "f = x @ A @ x", "f.backward()",
            rng.choice(("print(torch.allclose(x.grad, grad_quadratic_form(A, x.detach())))",
                        "print((x.grad - grad_quadratic_form(A, x.detach())).abs().max())"))])
    h = rng.choice(("1e-4", "1e-5", "1e-6", "1e-7", "2e-6", "5e-5"))
    helper = rng.choice(("num_grad", "fd_grad", "numerical_gradient", "finite_diff", "approx_grad"))
    loop = rng.random() < 0.5
    body = ([f"def {helper}(f, v, h={h}):", "    g = torch.zeros_like(v)", "    for i in range(v.numel()):",
             "        e = torch.zeros_like(v)", "        e.view(-1)[i] = h",
             rng.choice(("        g.view(-1)[i] = (f(v + e) - f(v - e)) / (2 * h)",
                         "        g.view(-1)[i] = (f(v + e) - f(v)) / h")), "    return g"]
            if loop else
            [f"def {helper}(f, v, h={h}):", f"    E = torch.eye(v.numel(), dtype=v.dtype) * h",
             "    return torch.stack([(f(v + e) - f(v - e)) / (2 * h) for e in E])"])
    n = rng.randint(2, 9)
    return "\n".join(body + ["", "", *lines, f"a = torch.randn({n}, dtype=torch.float64)",
                             f"x = torch.randn({n}, dtype=torch.float64)",
                             f"print({helper}(lambda v: v @ a, x) - grad_inner(x, a))"])


def student_notebook(rng: random.Random) -> nbformat.NotebookNode:
    """The starter notebook as one student fills it in."""
    nb = nbformat.read(STARTER, as_version=4)
    h = Habits(rng)
    cells = []
    for cell in nb.cells:
        name = next((g for g in GRADED if cell.source.startswith(f"def {g}(")), None)
        if name is not None:
            doc = cell.source.split("\n")[1].strip() if '"""' in cell.source else ""
            cell.source = function_cell(name, h, doc, rng)
        elif cell.cell_type == "code" and "_check(" in cell.source and rng.random() < 0.15:
            continue                                   # some students delete the starter's checks
        cells.append(cell)
    last = max(i for i, c in enumerate(cells) if c.source.startswith("def grad_") or "def grad_" in c.source)
    for _ in range(rng.randint(1, 3)):                 # everyone tries their functions, after writing them
        cells.insert(rng.randint(last + 1, len(cells)), nbformat.v4.new_code_cell(scratch_cell(rng)))
    if any("np." in c.source for c in cells):         # the style corpus's numpy variants
        first = next(c for c in cells if c.cell_type == "code")
        first.source = "import numpy as np\n" + first.source
    nb.cells = cells
    return nb
