"""Build the `dual_numbers` and `backward_engine` notebooks (EXERCISES.md §3, §4).

    python samples/build_autodiff_notebooks.py

writes, deterministically (same bytes on every run):

    solutions/dual_numbers.ipynb          assignments/dual_numbers.ipynb
    solutions/backward_engine.ipynb       assignments/backward_engine.ipynb
    samples/dual_numbers/*.ipynb          samples/dual_numbers/README.md
    samples/backward_engine/*.ipynb       samples/backward_engine/README.md

House style (as `solutions/matrix_calculus.ipynb`): nbformat 4.5, cell ids
"cell-01", ..., no outputs, kernelspec python3, metadata
`grader.assignment`. Solution code sits between `# BEGIN SOLUTION` and
`# END SOLUTION` lines inside function and method bodies; the assignment is
the solution with each such region replaced by `raise NotImplementedError`
(same indentation). A sample submission is the solution with the markers
removed and one planted change, made here by exact text replacement (each
replacement must match exactly the expected number of times, so an edit of
the solution that a sample depends on fails loudly instead of silently
producing a sample without its bug).
"""

from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_kit import _src, md, code, number, strip_markers, Sample, build_assignments, main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent



# ==========================================================================
# dual_numbers (EXERCISES.md §3)

DUAL_CLASS = r'''
class Dual:
    """The dual number `real + dual * eps`, where eps * eps = 0.

    Seed `dual = 1` at the input: every result then carries its value in
    `real` and its derivative with respect to that input in `dual`. A plain
    number c (int or float) on either side of an operator is the constant
    c + 0 eps.
    """

    def __init__(self, real, dual=0.0):
        self.real = real
        self.dual = dual

    def __repr__(self):
        return f"Dual(real={self.real!r}, dual={self.dual!r})"

    # Each method: the forward rule (real part) next to its derivative rule (dual part).

    def __add__(self, other):
        # (a + a' eps) + (b + b' eps) = (a + b) + (a' + b') eps
        # BEGIN SOLUTION
        if isinstance(other, Dual):
            return Dual(self.real + other.real, self.dual + other.dual)
        return Dual(self.real + other, self.dual)
        # END SOLUTION

    def __radd__(self, other):
        # c + (a + a' eps) = (c + a) + a' eps
        # BEGIN SOLUTION
        return Dual(other + self.real, self.dual)
        # END SOLUTION

    def __sub__(self, other):
        # (a + a' eps) - (b + b' eps) = (a - b) + (a' - b') eps
        # BEGIN SOLUTION
        if isinstance(other, Dual):
            return Dual(self.real - other.real, self.dual - other.dual)
        return Dual(self.real - other, self.dual)
        # END SOLUTION

    def __rsub__(self, other):
        # c - (a + a' eps) = (c - a) - a' eps
        # BEGIN SOLUTION
        return Dual(other - self.real, -self.dual)
        # END SOLUTION

    def __mul__(self, other):
        # (a + a' eps)(b + b' eps) = ab + (a'b + ab') eps      (the a'b' eps^2 term vanishes)
        # BEGIN SOLUTION
        if isinstance(other, Dual):
            return Dual(self.real * other.real, self.dual * other.real + self.real * other.dual)
        return Dual(self.real * other, self.dual * other)
        # END SOLUTION

    def __rmul__(self, other):
        # c (a + a' eps) = ca + c a' eps
        # BEGIN SOLUTION
        return Dual(other * self.real, other * self.dual)
        # END SOLUTION

    def __truediv__(self, other):
        # (a + a' eps) / (b + b' eps) = a/b + (a'b - ab') / b^2 eps      (quotient rule)
        # BEGIN SOLUTION
        if isinstance(other, Dual):
            b = other.real
            return Dual(self.real / b, (self.dual * b - self.real * other.dual) / (b * b))
        return Dual(self.real / other, self.dual / other)
        # END SOLUTION

    def __rtruediv__(self, other):
        # c / (a + a' eps) = c/a - c a' / a^2 eps
        # BEGIN SOLUTION
        a = self.real
        return Dual(other / a, -other * self.dual / (a * a))
        # END SOLUTION

    def __pow__(self, n):
        # (a + a' eps) ** n = a^n + n a^(n-1) a' eps      (n an int or float)
        # BEGIN SOLUTION
        if not isinstance(n, (int, float)):
            return NotImplemented
        return Dual(self.real ** n, n * self.real ** (n - 1) * self.dual)
        # END SOLUTION

    def __neg__(self):
        # -(a + a' eps) = -a - a' eps
        # BEGIN SOLUTION
        return Dual(-self.real, -self.dual)
        # END SOLUTION

    def sin(self):
        # sin(a + a' eps) = sin(a) + cos(a) a' eps
        # BEGIN SOLUTION
        return Dual(math.sin(self.real), math.cos(self.real) * self.dual)
        # END SOLUTION

    def cos(self):
        # cos(a + a' eps) = cos(a) - sin(a) a' eps
        # BEGIN SOLUTION
        return Dual(math.cos(self.real), -math.sin(self.real) * self.dual)
        # END SOLUTION

    def exp(self):
        # exp(a + a' eps) = e^a + e^a a' eps
        # BEGIN SOLUTION
        e = math.exp(self.real)
        return Dual(e, e * self.dual)
        # END SOLUTION

    def log(self):
        # log(a + a' eps) = ln(a) + a'/a eps      (a > 0)
        # BEGIN SOLUTION
        return Dual(math.log(self.real), self.dual / self.real)
        # END SOLUTION

    def tanh(self):
        # tanh(a + a' eps) = tanh(a) + (1 - tanh(a)^2) a' eps
        # BEGIN SOLUTION
        t = math.tanh(self.real)
        return Dual(t, (1 - t * t) * self.dual)
        # END SOLUTION
'''

DUAL_DERIVATIVE = r'''
def derivative(f, x):
    """f'(x) for f: Dual -> Dual and a float x, from one forward pass f(Dual(x, 1))."""
    # BEGIN SOLUTION
    y = f(Dual(x, 1.0))
    return float(y.dual) if isinstance(y, Dual) else 0.0   # a constant f returns a plain number
    # END SOLUTION
'''

DUAL_JVP = r'''
def jvp(f, x, v):
    """(f(x), J v) as two lists of floats, from one forward pass seeded with v.

    f maps a list of n Duals to a list of m Duals; x and v are lists of n floats.
    """
    # BEGIN SOLUTION
    ys = f([Dual(xi, vi) for xi, vi in zip(x, v)])
    values = [float(y.real) if isinstance(y, Dual) else float(y) for y in ys]
    tangents = [float(y.dual) if isinstance(y, Dual) else 0.0 for y in ys]
    return values, tangents
    # END SOLUTION
'''

DUAL_JACOBIAN = r'''
def jacobian(f, x):
    """The m x n Jacobian of f at x as a list of m rows, from n forward passes."""
    # BEGIN SOLUTION
    n = len(x)
    columns = []                 # columns[j] = J e_j: seed input j with 1, the others with 0
    for j in range(n):
        ys = f([Dual(x[i], 1.0 if i == j else 0.0) for i in range(n)])
        columns.append([float(y.dual) if isinstance(y, Dual) else 0.0 for y in ys])
    m = len(columns[0]) if columns else 0
    return [[columns[j][i] for j in range(n)] for i in range(m)]
    # END SOLUTION
'''

DUAL_CHECK = r'''
# Compare with central finite differences. Pure Python: no torch, no numpy.
_H, _TOL = 1e-6, 1e-6


def _close(got, want):
    return isinstance(got, (int, float)) and abs(got - want) <= _TOL * (1 + abs(want))


def _report(name, run):
    try:
        problems = run()
    except NotImplementedError:
        print(f"{name:22} not implemented yet")
        return
    except Exception as exc:
        print(f"{name:22} raised {type(exc).__name__}: {exc}")
        return
    print(f"{name:22} {'; '.join(problems) if problems else 'ok'}")


def _check_op(f_dual, f_float, xs, seeds):
    """f on Duals seeded with `seeds` against f_float and its central difference along `seeds`."""
    out = f_dual(*[Dual(x, s) for x, s in zip(xs, seeds)])
    if not isinstance(out, Dual):
        return [f"returned {type(out).__name__}, expected a Dual"]
    value = f_float(*xs)
    slope = (f_float(*[x + _H * s for x, s in zip(xs, seeds)])
             - f_float(*[x - _H * s for x, s in zip(xs, seeds)])) / (2 * _H)
    problems = []
    if not _close(out.real, value):
        problems.append(f"real part {out.real!r}, expected {value!r}")
    if not _close(out.dual, slope):
        problems.append(f"dual part {out.dual!r}, expected {slope!r}")
    return problems


_a, _b = 0.7, -1.3
_same = lambda f: (f, f)    # the same lambda works on floats and on Duals
_OPS = {
    "a + b": _same(lambda a, b: a + b), "a - b": _same(lambda a, b: a - b),
    "a * b": _same(lambda a, b: a * b), "a / b": _same(lambda a, b: a / b),
    "a + 2.5": _same(lambda a, b: a + 2.5), "2.5 + a": _same(lambda a, b: 2.5 + a),
    "a - 2.5": _same(lambda a, b: a - 2.5), "2.5 - a": _same(lambda a, b: 2.5 - a),
    "a * 2.5": _same(lambda a, b: a * 2.5), "2.5 * a": _same(lambda a, b: 2.5 * a),
    "a / 2.5": _same(lambda a, b: a / 2.5), "2.5 / a": _same(lambda a, b: 2.5 / a),
    "-a": _same(lambda a, b: -a), "a ** 3": _same(lambda a, b: a ** 3),
    "b ** -2": _same(lambda a, b: b ** -2), "a ** 0.5": _same(lambda a, b: a ** 0.5),
    "a.sin()": (lambda a, b: a.sin(), lambda a, b: math.sin(a)),
    "a.cos()": (lambda a, b: a.cos(), lambda a, b: math.cos(a)),
    "a.exp()": (lambda a, b: a.exp(), lambda a, b: math.exp(a)),
    "a.log()": (lambda a, b: a.log(), lambda a, b: math.log(a)),
    "b.tanh()": (lambda a, b: b.tanh(), lambda a, b: math.tanh(b)),
}
for _name, (_fd, _ff) in _OPS.items():
    # seeds (1, 0.5): the derivative along the direction (1, 0.5) in the (a, b) plane
    _report(_name, lambda: _check_op(_fd, _ff, (_a, _b), (1.0, 0.5)))


def _g(x):     # R^2 -> R^3, arithmetic only, so it runs on floats and on Duals
    return [x[0] * x[1], x[0] - 1 / x[1], 2 * x[0] + x[1] * x[1]]


def _fd_column(f, x, j):
    up = [xi + (_H if i == j else 0.0) for i, xi in enumerate(x)]
    down = [xi - (_H if i == j else 0.0) for i, xi in enumerate(x)]
    return [(p - q) / (2 * _H) for p, q in zip(f(up), f(down))]


_x, _v = [0.7, -1.3], [1.0, 0.5]
_J = [list(row) for row in zip(*[_fd_column(_g, _x, j) for j in range(2)])]    # 3 x 2


def _check_derivative():
    f = lambda x: (3 * x * x - 1) / (x + 2.0)
    got = derivative(f, 0.7)
    want = (f(0.7 + _H) - f(0.7 - _H)) / (2 * _H)
    return [] if _close(got, want) and isinstance(got, float) else [f"got {got!r}, expected {want!r} (a float)"]


def _check_jvp():
    values, tangents = jvp(_g, list(_x), list(_v))
    want_values = _g(_x)
    want_tangents = [sum(Jij * vj for Jij, vj in zip(row, _v)) for row in _J]
    problems = []
    if len(values) != 3 or not all(_close(g, w) for g, w in zip(values, want_values)):
        problems.append(f"values {values!r}, expected {want_values!r}")
    if len(tangents) != 3 or not all(_close(g, w) for g, w in zip(tangents, want_tangents)):
        problems.append(f"J v {tangents!r}, expected {want_tangents!r}")
    return problems


def _check_jacobian():
    got = jacobian(_g, list(_x))
    if len(got) != 3 or any(len(row) != 2 for row in got):
        return [f"shape {len(got)} x {len(got[0]) if got else 0}, expected 3 x 2 (m rows of n)"]
    ok = all(_close(g, w) for grow, wrow in zip(got, _J) for g, w in zip(grow, wrow))
    return [] if ok else [f"got {got!r}, expected {_J!r}"]


_report("derivative", _check_derivative)
_report("jvp", _check_jvp)
_report("jacobian", _check_jacobian)
'''

DUAL_SOLUTION = number([
    md(r'''
    # Dual numbers: forward-mode automatic differentiation

    In this assignment you build forward-mode automatic differentiation from
    scratch, with **dual numbers**, and use it to compute derivatives,
    Jacobian-vector products and Jacobians.

    Rules:

    - Pure Python and the `math` module only: no `torch`, no `numpy`.
    - Inputs are plain Python floats (and ints, where a number appears in an
      expression such as `2 * x`); the functions below return plain floats.
    - Keep the names exactly as given: the grader calls them by name.
    '''),
    md(r'''
    ## Dual numbers

    A dual number is $a + a'\varepsilon$ with a new symbol $\varepsilon$ that is
    not zero but squares to zero: $\varepsilon^2 = 0$. Arithmetic works as usual,
    dropping every $\varepsilon^2$:

    $$(a + a'\varepsilon)(b + b'\varepsilon) = ab + (a'b + ab')\,\varepsilon + a'b'\varepsilon^2 = ab + (a'b + ab')\,\varepsilon.$$

    The dual part is the product rule. This is no accident: for a smooth $f$,
    Taylor's theorem gives $f(a + a'\varepsilon) = f(a) + f'(a)\,a'\,\varepsilon$
    (all higher terms contain $\varepsilon^2$). So if every operation follows its
    rule, evaluating $f$ at $x + 1\cdot\varepsilon$ returns $f(x) + f'(x)\,\varepsilon$:
    the **value** in the real part and the **derivative** in the dual part, in one
    forward pass, exactly (no step size, no truncation error).

    With several inputs, seed input $i$ with dual part $v_i$: every output then
    carries $\sum_i \frac{\partial y_j}{\partial x_i} v_i = (Jv)_j$, a
    Jacobian-vector product.
    '''),
    code("import math"),
    md(r'''
    ## 1. `class Dual`

    `Dual(real, dual=0.0)` stores the two parts in `.real` and `.dual`. Implement
    each operator's **forward rule** (the real part) and, right beside it, its
    **derivative rule** (the dual part). A plain number $c$ is the dual number
    $c + 0\varepsilon$, on either side: `x * 2.0` calls `x.__mul__(2.0)`, and
    `2.0 * x` calls `x.__rmul__(2.0)`.

    | expression | real part | dual part |
    | --- | --- | --- |
    | `a + b` | $a + b$ | $a' + b'$ |
    | `a - b` | $a - b$ | $a' - b'$ |
    | `a * b` | $ab$ | $a'b + ab'$ |
    | `a / b` | $a / b$ | $(a'b - ab') / b^2$ |
    | `a ** n` (int or float $n$) | $a^n$ | $n\,a^{n-1}\,a'$ |
    | `-a` | $-a$ | $-a'$ |
    | `a.sin()` | $\sin a$ | $\cos(a)\,a'$ |
    | `a.cos()` | $\cos a$ | $-\sin(a)\,a'$ |
    | `a.exp()` | $e^a$ | $e^a\,a'$ |
    | `a.log()` | $\ln a$ | $a' / a$ |
    | `a.tanh()` | $\tanh a$ | $(1 - \tanh^2 a)\,a'$ |
    '''),
    code(DUAL_CLASS),
    md(r'''
    ## 2. `derivative(f, x)`

    `f` takes one `Dual` and returns one `Dual` (written with the operators and
    methods above, e.g. `lambda x: x.sin() * x ** 3 / (1 + x)`); `x` is a float.
    Seed the input with dual part 1 and read the derivative off the output:
    $f'(x)$ = `f(Dual(x, 1)).dual`. Return a float.
    '''),
    code(DUAL_DERIVATIVE),
    md(r'''
    ## 3. `jvp(f, x, v)`: Jacobian-vector product

    Now `f` maps a list of $n$ Duals to a list of $m$ Duals, and `x`, `v` are lists
    of $n$ floats. Seed input $i$ with `Dual(x[i], v[i])`; one forward pass gives
    the values $f(x)$ (real parts) and $Jv$ (dual parts), where
    $J_{ji} = \frac{\partial f_j}{\partial x_i}$ is the $m \times n$ Jacobian.
    Return the pair `(values, Jv)`, two lists of $m$ floats.
    '''),
    code(DUAL_JVP),
    md(r'''
    ## 4. `jacobian(f, x)`

    Column $i$ of $J$ is $J e_i$: seed input $i$ with 1 and every other input with 0.
    $n$ forward passes give the $n$ columns. Return the $m \times n$ Jacobian as a
    list of $m$ rows (row $j$ holds $\frac{\partial f_j}{\partial x_1}, \dots,
    \frac{\partial f_j}{\partial x_n}$): **rows are outputs**, columns are inputs.
    '''),
    code(DUAL_JACOBIAN),
    md(r'''
    ## Check your work

    The cell below compares every operator and function with central finite
    differences at a few points. Parts you have not implemented yet are reported
    as such. Passing here is a good sign, not a grade: the grader also uses hidden
    inputs and larger random expressions.
    '''),
    code(DUAL_CHECK),
])


# --- dual_numbers samples --------------------------------------------------
# Cell ids in DUAL_SOLUTION: 05 class, 07 derivative, 09 jvp, 11 jacobian, 13 check.

DUAL_STUDENT01_CLASS = r'''
def _lift(x):
    """A plain number c becomes the constant c + 0 eps."""
    return x if isinstance(x, Dual) else Dual(x, 0.0)


class Dual:
    def __init__(self, real, dual=0.0):
        self.real, self.dual = real, dual

    def __repr__(self):
        return f"{self.real} + {self.dual}eps"

    def __add__(self, other):
        o = _lift(other)
        return Dual(self.real + o.real, self.dual + o.dual)

    __radd__ = __add__          # addition commutes

    def __sub__(self, other):
        return self + (-_lift(other))

    def __rsub__(self, other):
        return _lift(other) - self

    def __mul__(self, other):
        o = _lift(other)
        return Dual(self.real * o.real, self.real * o.dual + o.real * self.dual)

    __rmul__ = __mul__          # so does multiplication

    def __truediv__(self, other):
        o = _lift(other)
        # a/b = a * (1/b), and (1/b)' = -b'/b^2
        inv = Dual(1.0 / o.real, -o.dual / o.real ** 2)
        return self * inv

    def __rtruediv__(self, other):
        return _lift(other) / self

    def __neg__(self):
        return Dual(-self.real, -self.dual)

    def __pow__(self, p):
        assert isinstance(p, (int, float)), "exponent must be a number"
        return Dual(self.real ** p, p * self.real ** (p - 1) * self.dual)

    def _chain(self, value, slope):
        """g(a + a' eps) = g(a) + g'(a) a' eps"""
        return Dual(value, slope * self.dual)

    def sin(self):
        return self._chain(math.sin(self.real), math.cos(self.real))

    def cos(self):
        return self._chain(math.cos(self.real), -math.sin(self.real))

    def exp(self):
        return self._chain(math.exp(self.real), math.exp(self.real))

    def log(self):
        return self._chain(math.log(self.real), 1.0 / self.real)

    def tanh(self):
        t = math.tanh(self.real)
        return self._chain(t, 1.0 - t ** 2)
'''

DUAL_STUDENT04_CLASS = r'''
class Dual:
    # only what I needed for polynomials and rational functions
    def __init__(self, real, dual=0.0):
        self.real = real
        self.dual = dual

    def __add__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real + o.real, self.dual + o.dual)

    def __radd__(self, o):
        return self + o

    def __sub__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real - o.real, self.dual - o.dual)

    def __rsub__(self, o):
        return Dual(o) - self

    def __mul__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real * o.real, self.dual * o.real + self.real * o.dual)

    def __rmul__(self, o):
        return self * o

    def __truediv__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real / o.real, (self.dual * o.real - self.real * o.dual) / o.real ** 2)

    def __rtruediv__(self, o):
        return Dual(o) / self

    def __neg__(self):
        return Dual(-self.real, -self.dual)
'''


def dual_samples() -> dict[str, Sample]:
    S = lambda: Sample(DUAL_SOLUTION)
    samples = {}

    samples["student01_correct"] = (
        S().set("cell-05", DUAL_STUDENT01_CLASS)
        .set("cell-07", '''
            def derivative(f, x):
                return float(f(Dual(x, 1)).dual)
        ''')
        .set("cell-09", '''
            def jvp(f, x, v):
                out = f([Dual(a, b) for a, b in zip(x, v)])
                return [float(o.real) for o in out], [float(o.dual) for o in out]
        ''')
        .set("cell-11", '''
            def jacobian(f, x):
                n = len(x)
                cols = [jvp(f, x, [float(i == j) for i in range(n)])[1] for j in range(n)]
                return [list(row) for row in zip(*cols)]     # transpose: columns -> rows
        ''')
        .insert_after("cell-07", "cell-14", "code", '''
            # trying it out: d/dx x^2 sin x at 1 = 2 sin 1 + cos 1
            print(derivative(lambda x: x ** 2 * x.sin(), 1.0), 2 * math.sin(1.0) + math.cos(1.0))
        ''')
    )

    samples["student02_quotient_rule"] = S().replace(
        "cell-05",
        "return Dual(self.real / b, (self.dual * b - self.real * other.dual) / (b * b))",
        "return Dual(self.real / b, (self.dual * b + self.real * other.dual) / (b * b))")

    samples["student03_pow_ignores_dual"] = S().replace(
        "cell-05",
        "return Dual(self.real ** n, n * self.real ** (n - 1) * self.dual)",
        "return Dual(self.real ** n, self.dual)")

    samples["student04_minimal"] = S().set("cell-05", DUAL_STUDENT04_CLASS)

    samples["student05_tanh_wrong"] = S().replace(
        "cell-05", "return Dual(t, (1 - t * t) * self.dual)", "return Dual(t, (1 + t * t) * self.dual)")

    samples["student06_jacobian_transposed"] = S().replace(
        "cell-11", "return [[columns[j][i] for j in range(n)] for i in range(m)]", "return columns")

    samples["student07_blank_jvp"] = S().set("cell-09", '''
        def jvp(f, x, v):
            """(f(x), J v) as two lists of floats, from one forward pass seeded with v.

            f maps a list of n Duals to a list of m Duals; x and v are lists of n floats.
            """
            raise NotImplementedError
    ''')
    return samples


DUAL_README = """\
# Sample batch: `dual_numbers`

Seven synthetic student submissions for `dual_numbers` (EXERCISES.md §3),
built from `solutions/dual_numbers.ipynb` with the solution markers removed
and one planted change each, by `samples/build_autodiff_notebooks.py` (edit
that script, not the notebooks). No outputs, as handed in; every notebook has
`metadata.grader.assignment = dual_numbers` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct.

| file | what is wrong | which behaviour breaks |
| --- | --- | --- |
| `student01_correct.ipynb` | nothing: all correct, written differently (module-level helper `_lift` for numbers, `__radd__ = __add__` and `__rmul__ = __mul__`, division as multiplication by `1/b`, `-` via negation, a `_chain` helper for the elementary functions, `jacobian` built on `jvp` by transposing columns, a scratch cell after `derivative`) | none (full marks) |
| `student02_quotient_rule.ipynb` | `Dual / Dual` uses `(a'b + ab') / b^2` (sign error in the quotient rule); division by a number (`a / 2.5`) and `2.5 / a` (`__rtruediv__`) are still right | every expression with `a / b` where the divisor carries a nonzero dual part and `a` is nonzero: the dual part of `/` (so `derivative`, `jvp`, `jacobian` of such functions); the real part (value) is right |
| `student03_pow_ignores_dual.ipynb` | `a ** n` returns `Dual(a^n, a')`: the dual part is passed through unchanged instead of `n a^(n-1) a'` | `**`: every dual part through a power is wrong, except where `n a^(n-1) = 1` (e.g. `x ** 1`); values are right |
| `student04_minimal.ipynb` | a minimal `Dual`: only `+ - * /` (with reflected variants) and unary `-`; no `**`, no `sin`/`cos`/`exp`/`log`/`tanh`, no `__repr__`; `derivative`, `jvp`, `jacobian` correct | `**` raises `TypeError` (unsupported operand), the five methods raise `AttributeError`: any expression using them is an unsupported operation; expressions with `+ - * /` and unary `-` only are right, including through `derivative`, `jvp`, `jacobian` |
| `student05_tanh_wrong.ipynb` | `tanh` derivative uses `1 + tanh^2` instead of `1 - tanh^2` | `.tanh()`: dual part wrong (value right); everything without tanh is right |
| `student06_jacobian_transposed.ipynb` | `jacobian` returns the n x m transpose (its list of columns) | `jacobian` only: wrong shape when m != n, transposed values when m = n (right only for a symmetric Jacobian); `jvp` and `derivative` are right |
| `student07_blank_jvp.ipynb` | `jvp` left as the stub: raises `NotImplementedError` | `jvp` only (not implemented); `jacobian` does its own forward passes and is right |
"""


# ==========================================================================
# backward_engine (EXERCISES.md §4)

VALUE_CLASS = r'''
class Value:
    """A scalar node of a computation graph, micrograd style.

    `data` is the value, `grad` the derivative of the output that `backward()`
    was called on with respect to this node (it starts at 0.0 and accumulates).
    `_prev` holds the nodes this one was computed from, and `_backward`, set by
    the operation that created the node, adds this node's contribution to
    their gradients.
    """

    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None     # a leaf has nothing to propagate
        self._prev = tuple(_children)     # a tuple: `a * a` lists `a` twice
        self._op = _op                    # the operation that produced this node, for debugging

    def __repr__(self):
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # Each operation: the forward value, and in `_backward` its local derivatives
    # times out.grad, ADDED (+=) to the children's grads.

    def __add__(self, other):
        # out = a + b;  d out/da = 1,  d out/db = 1
        # BEGIN SOLUTION
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __sub__(self, other):
        # out = a - b;  d out/da = 1,  d out/db = -1
        # BEGIN SOLUTION
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data - other.data, (self, other), '-')

        def _backward():
            self.grad += out.grad
            other.grad += -out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __mul__(self, other):
        # out = a * b;  d out/da = b,  d out/db = a
        # BEGIN SOLUTION
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __truediv__(self, other):
        # out = a / b;  d out/da = 1/b,  d out/db = -a/b^2
        # BEGIN SOLUTION
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data / other.data, (self, other), '/')

        def _backward():
            self.grad += out.grad / other.data
            other.grad += -self.data / (other.data * other.data) * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __pow__(self, k):
        # out = a ** k (k an int or float);  d out/da = k a^(k-1)
        # BEGIN SOLUTION
        assert isinstance(k, (int, float)), "only int/float exponents"
        out = Value(self.data ** k, (self,), f'**{k}')

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def __neg__(self):
        # out = -a;  d out/da = -1
        # BEGIN SOLUTION
        out = Value(-self.data, (self,), 'neg')

        def _backward():
            self.grad += -out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    # A number on the left (2.0 + a, 2.0 - a, ...): Python calls the reflected method
    # of the Value on the right; lift the number to a (constant) Value and reuse the above.

    def __radd__(self, other):
        # BEGIN SOLUTION
        return self + other
        # END SOLUTION

    def __rsub__(self, other):
        # BEGIN SOLUTION
        return Value(other) - self
        # END SOLUTION

    def __rmul__(self, other):
        # BEGIN SOLUTION
        return self * other
        # END SOLUTION

    def __rtruediv__(self, other):
        # BEGIN SOLUTION
        return Value(other) / self
        # END SOLUTION

    def relu(self):
        # out = max(a, 0);  d out/da = 1 if a > 0 else 0
        # BEGIN SOLUTION
        out = Value(self.data if self.data > 0 else 0.0, (self,), 'relu')

        def _backward():
            self.grad += (1.0 if out.data > 0 else 0.0) * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def tanh(self):
        # out = tanh(a);  d out/da = 1 - tanh(a)^2
        # BEGIN SOLUTION
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def exp(self):
        # out = e^a;  d out/da = e^a
        # BEGIN SOLUTION
        out = Value(math.exp(self.data), (self,), 'exp')

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out
        # END SOLUTION

    def log(self):
        # out = ln(a);  d out/da = 1/a      (a > 0)
        # BEGIN SOLUTION
        out = Value(math.log(self.data), (self,), 'log')

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out
        # END SOLUTION

    def backward(self):
        """Set self.grad = 1, then run every ancestor's _backward in reverse topological order."""
        # BEGIN SOLUTION
        # Topological order by an iterative depth-first search (graphs can be thousands
        # of nodes deep, far past Python's recursion limit). Each stack entry is a node
        # and an iterator over its children; a node is appended once all its children are.
        topo, visited = [], {self}
        stack = [(self, iter(self._prev))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child._prev)))
                    break
            else:                       # every child done
                stack.pop()
                topo.append(node)

        self.grad = 1.0
        for node in reversed(topo):     # each node after every node that uses it
            node._backward()
        # END SOLUTION
'''

VALUE_VJP = r'''
def vjp(f, xs, v):
    """v^T J as a list of floats: f maps a list of Values to a list of Values."""
    # BEGIN SOLUTION
    leaves = [Value(x) for x in xs]      # fresh leaves: their grads start at 0
    ys = f(leaves)
    total = Value(0.0)                   # the scalar sum_i v_i y_i; its gradient is v^T J
    for vi, yi in zip(v, ys):
        total = total + vi * yi
    total.backward()
    return [float(leaf.grad) for leaf in leaves]
    # END SOLUTION
'''

VALUE_CHECK = r'''
# Compare with central finite differences. Pure Python: no torch, no numpy.
_H, _TOL = 1e-6, 1e-6


def _close(got, want):
    return isinstance(got, (int, float)) and abs(got - want) <= _TOL * (1 + abs(want))


def _report(name, run):
    try:
        problems = run()
    except NotImplementedError:
        print(f"{name:26} not implemented yet")
        return
    except Exception as exc:
        print(f"{name:26} raised {type(exc).__name__}: {exc}")
        return
    print(f"{name:26} {'; '.join(problems) if problems else 'ok'}")


def _fd_grad(f, xs):
    """Central-difference gradient of a float function of len(xs) floats."""
    grads = []
    for i in range(len(xs)):
        up = [x + (_H if j == i else 0.0) for j, x in enumerate(xs)]
        down = [x - (_H if j == i else 0.0) for j, x in enumerate(xs)]
        grads.append((f(*up) - f(*down)) / (2 * _H))
    return grads


def _check_grad(f_value, f_float, xs):
    leaves = [Value(x) for x in xs]
    out = f_value(*leaves)
    if not isinstance(out, Value):
        return [f"returned {type(out).__name__}, expected a Value"]
    out.backward()
    problems = []
    if not _close(out.data, f_float(*xs)):
        problems.append(f"data {out.data!r}, expected {f_float(*xs)!r}")
    want = _fd_grad(f_float, xs)
    got = [leaf.grad for leaf in leaves]
    if not all(_close(g, w) for g, w in zip(got, want)):
        problems.append(f"grads {got!r}, expected {want!r}")
    return problems


_a, _b = 0.7, -1.3
_same = lambda f: (f, f)    # the same lambda works on floats and on Values
_OPS = {
    "a + b": _same(lambda a, b: a + b), "a - b": _same(lambda a, b: a - b),
    "a * b": _same(lambda a, b: a * b), "a / b": _same(lambda a, b: a / b),
    "a + 2.5": _same(lambda a, b: a + 2.5), "2.5 + a": _same(lambda a, b: 2.5 + a),
    "a - 2.5": _same(lambda a, b: a - 2.5), "2.5 - a": _same(lambda a, b: 2.5 - a),
    "a * 2.5": _same(lambda a, b: a * 2.5), "2.5 * a": _same(lambda a, b: 2.5 * a),
    "a / 2.5": _same(lambda a, b: a / 2.5), "2.5 / a": _same(lambda a, b: 2.5 / a),
    "-a": _same(lambda a, b: -a), "a ** 3": _same(lambda a, b: a ** 3),
    "b ** -2": _same(lambda a, b: b ** -2), "a ** 0.5": _same(lambda a, b: a ** 0.5),
    "a.relu() (a > 0)": (lambda a, b: a.relu(), lambda a, b: max(a, 0.0)),
    "b.relu() (b < 0)": (lambda a, b: b.relu(), lambda a, b: max(b, 0.0)),
    "b.tanh()": (lambda a, b: b.tanh(), lambda a, b: math.tanh(b)),
    "a.exp()": (lambda a, b: a.exp(), lambda a, b: math.exp(a)),
    "a.log()": (lambda a, b: a.log(), lambda a, b: math.log(a)),
    # a node used twice must receive both contributions
    "a * (a + b)": _same(lambda a, b: a * (a + b)),
    "s * s + s, s = a + b": _same(lambda a, b: (lambda s: s * s + s)(a + b)),
}
for _name, (_fv, _ff) in _OPS.items():
    _report(_name, lambda: _check_grad(_fv, _ff, (_a, _b)))


def _check_accumulation():
    a = Value(0.7)
    (a * a).backward()          # d/da a^2 = 1.4
    (a * 3.0).backward()        # a second graph: + 3.0, without zeroing in between
    return [] if _close(a.grad, 4.4) else [f"a.grad {a.grad!r} after two backward calls, expected 4.4"]


def _chain(x, depth):           # x <- 2 tanh(x / 2), `depth` times
    for _ in range(depth):
        x = (x * 0.5).tanh() * 2.0
    return x


def _check_deep():
    x = Value(0.1)
    _chain(x, 5000).backward()
    want = _fd_grad(lambda t: _chain_float(t, 5000), [0.1])[0]
    return [] if _close(x.grad, want) else [f"x.grad {x.grad!r}, expected {want!r}"]


def _chain_float(x, depth):
    for _ in range(depth):
        x = math.tanh(x * 0.5) * 2.0
    return x


def _g(x):      # R^2 -> R^3, arithmetic only, so it runs on floats and on Values
    return [x[0] * x[1], x[0] - 1 / x[1], 2 * x[0] + x[1] * x[1]]


def _check_vjp():
    xs, v = [0.7, -1.3], [1.0, -2.0, 0.5]
    got = vjp(_g, list(xs), list(v))
    want = _fd_grad(lambda *x: sum(vi * yi for vi, yi in zip(v, _g(x))), xs)
    ok = len(got) == 2 and all(_close(g, w) for g, w in zip(got, want))
    return [] if ok else [f"got {got!r}, expected {want!r}"]


_report("accumulation", _check_accumulation)
_report("5000-deep graph", _check_deep)
_report("vjp", _check_vjp)
'''

VALUE_SOLUTION = number([
    md(r'''
    # A backward engine: reverse-mode automatic differentiation

    In this assignment you build a tiny reverse-mode autograd engine for scalars,
    in the style of Andrej Karpathy's *micrograd*, and use it to compute
    vector-Jacobian products.

    Rules:

    - Pure Python and the `math` module only: no `torch`, no `numpy`.
    - Values are plain Python floats (and ints, where a number appears in an
      expression such as `2 * x`).
    - Keep the names exactly as given: the grader calls them by name. The API is
      the one of micrograd's `Value`.
    '''),
    md(r'''
    ## Reverse mode

    Every arithmetic operation on `Value`s creates a new `Value` node that remembers
    its inputs (its *children*, in `_prev`) and how to push a gradient back to them
    (its `_backward` closure). A finished expression is a graph whose leaves are the
    inputs and whose root is the output $L$.

    `L.backward()` computes $\frac{\partial L}{\partial n}$ for every node $n$ and
    stores it in `n.grad`:

    1. `L.grad = 1` ($\frac{\partial L}{\partial L} = 1$).
    2. Visit the nodes in **reverse topological order**: a node only after every
       node that uses it, so its `grad` is complete when it is visited. At each
       node `out` computed from children `a`, `b`, run `out._backward()`, which
       applies the chain rule:
       $$\texttt{a.grad} \mathrel{+}= \frac{\partial\,\texttt{out}}{\partial a}\cdot\texttt{out.grad}.$$

    **Why `+=`.** If a node is used twice, as `a` in $d = a\,(a + b)$, $L$ depends on
    it along two paths, and the multivariable chain rule *sums* the contributions:
    $\frac{\partial d}{\partial a} = (a + b) + a$. Assigning with `=` would keep only
    the last one. The same `+=` makes gradients **accumulate across backward calls**,
    as in PyTorch: two separate graphs built from the same leaf `x`, each followed by
    `backward()`, leave the sum of both gradients in `x.grad`. Reset it yourself
    (`x.grad = 0.0`) when you want a fresh one.

    **Why no recursion.** The textbook topological sort is a recursive depth-first
    search. Python's recursion limit (1000 frames by default, 3000 in a Jupyter
    kernel) makes it crash with `RecursionError` on a chain of a few thousand
    operations, a perfectly ordinary graph (think of an unrolled loop). Build the order **iteratively**, with an
    explicit stack and a visited set, so that `backward()` works on graphs thousands
    of nodes deep.
    '''),
    code("import math"),
    md(r'''
    ## 1. `class Value`

    `Value(data)` is a leaf with `.data` (a float) and `.grad` (starting at 0.0);
    operations pass their children and a label (`_children`, `_op`). Implement each
    operation's **forward value** and, right beside it in a `_backward` closure, its
    **local derivatives** times `out.grad`, added to the children's grads. Numbers
    (int or float) may appear on either side of every binary operator: lift them to
    constant `Value`s (`2.0 * a` calls `a.__rmul__(2.0)`).

    | expression | `out.data` | `_backward` adds |
    | --- | --- | --- |
    | `a + b` | $a + b$ | `a.grad += out.grad`, `b.grad += out.grad` |
    | `a - b` | $a - b$ | `a.grad += out.grad`, `b.grad += -out.grad` |
    | `a * b` | $ab$ | `a.grad += b * out.grad`, `b.grad += a * out.grad` |
    | `a / b` | $a / b$ | `a.grad += out.grad / b`, `b.grad += -a / b**2 * out.grad` |
    | `a ** k` (int or float $k$) | $a^k$ | `a.grad += k * a**(k-1) * out.grad` |
    | `-a` | $-a$ | `a.grad += -out.grad` |
    | `a.relu()` | $\max(a, 0)$ | `a.grad += (a > 0) * out.grad` |
    | `a.tanh()` | $t = \tanh a$ | `a.grad += (1 - t**2) * out.grad` |
    | `a.exp()` | $e^a$ | `a.grad += e**a * out.grad` |
    | `a.log()` | $\ln a$ | `a.grad += out.grad / a` |

    Then `backward()`: build the topological order iteratively, set `self.grad = 1`,
    and call `_backward` on every node in reverse order.
    '''),
    code(VALUE_CLASS),
    md(r'''
    ## 2. `vjp(f, xs, v)`: vector-Jacobian product

    `f` maps a list of $n$ `Value`s to a list of $m$ `Value`s; `xs` (length $n$) and
    `v` (length $m$) are lists of floats. Return $v^\top J$ as a list of $n$ floats,
    where $J_{ji} = \frac{\partial f_j}{\partial x_i}$.

    One backward pass suffices, whatever $m$: make fresh leaves `Value(x)` for `xs`,
    build the scalar $s = \sum_j v_j\,f_j(x)$, call `s.backward()`; then
    $\frac{\partial s}{\partial x_i} = \sum_j v_j J_{ji} = (v^\top J)_i$ is in the
    leaves' grads.
    '''),
    code(VALUE_VJP),
    md(r'''
    ## Check your work

    The cell below compares every operation, a node used twice, gradient
    accumulation, a 5000-deep graph and `vjp` with central finite differences.
    Parts you have not implemented yet are reported as such. Passing here is a good
    sign, not a grade: the grader also uses hidden inputs and larger random graphs.
    '''),
    code(VALUE_CHECK),
])


# --- backward_engine samples -------------------------------------------------
# Cell ids in VALUE_SOLUTION: 03 imports, 05 class, 07 vjp, 09 check.

VALUE_STUDENT01_CLASS = r'''
class Value:
    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = list(_children)
        self._op = _op

    def __repr__(self):
        return f"Value({self.data:.4g}, grad={self.grad:.4g})"

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Value) else Value(x)

    def _unary(self, data, local, op):
        """A one-child node whose local derivative is the number `local`."""
        out = Value(data, (self,), op)

        def _backward():
            self.grad += local * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            return NotImplemented
        return self._unary(self.data ** k, k * self.data ** (k - 1), f'**{k}')

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Value._lift(other))

    def __rsub__(self, other):
        return Value._lift(other) + (-self)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * Value._lift(other) ** -1

    def __rtruediv__(self, other):
        return Value._lift(other) * self ** -1

    def relu(self):
        return self._unary(max(self.data, 0.0), 1.0 if self.data > 0 else 0.0, 'relu')

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t ** 2, 'tanh')

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, 'exp')

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data, 'log')

    def backward(self):
        # topological sort with an explicit stack: (node, children_done) pairs
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            for child in node._prev:
                if child not in seen:
                    stack.append((child, False))
        self.grad = 1.0
        for node in order[::-1]:
            node._backward()
'''

VALUE_STUDENT01_VJP = r'''
def vjp(f, xs, v):
    inputs = [Value(float(x)) for x in xs]
    outputs = f(inputs)
    s = sum((w * y for w, y in zip(v, outputs)), Value(0.0))
    s.backward()
    return [p.grad for p in inputs]
'''

VALUE_STUDENT05_CLASS = r'''
# Written after the public micrograd engine (same API and behaviour): only + * ** relu are
# primitive, everything else is built from them; grad starts at the int 0.
class Value:
    """A scalar and its gradient."""

    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "int/float powers only"
        out = Value(self.data ** other, (self,), f'**{other}')

        def _backward():
            self.grad += (other * self.data ** (other - 1)) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(0 if self.data < 0 else self.data, (self,), 'ReLU')

        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        # topological order of everything reachable from self
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)

        # chain rule, one node at a time, output first
        self.grad = 1
        for v in reversed(topo):
            v._backward()

    def __neg__(self):              # -self
        return self * -1

    def __radd__(self, other):      # other + self
        return self + other

    def __sub__(self, other):       # self - other
        return self + (-other)

    def __rsub__(self, other):      # other - self
        return other + (-self)

    def __rmul__(self, other):      # other * self
        return self * other

    def __truediv__(self, other):   # self / other
        return self * other ** -1

    def __rtruediv__(self, other):  # other / self
        return other * self ** -1

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
'''

VALUE_STUDENT06_CLASS = r'''
class Value:
    """A scalar backed by a float64 torch tensor; torch autograd does the backward pass."""

    def __init__(self, data, _children=(), _op='', _tensor=None):
        if _tensor is None:      # a leaf
            _tensor = torch.tensor(float(data), dtype=torch.float64, requires_grad=True)
        else:                    # an intermediate result: keep its grad too
            _tensor.retain_grad()
        self._t = _tensor
        self.data = _tensor.item()
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Value) else Value(x)

    def _new(self, tensor, children, op):
        return Value(None, children, op, _tensor=tensor)

    def __add__(self, other):
        other = Value._lift(other)
        return self._new(self._t + other._t, (self, other), '+')

    def __sub__(self, other):
        other = Value._lift(other)
        return self._new(self._t - other._t, (self, other), '-')

    def __mul__(self, other):
        other = Value._lift(other)
        return self._new(self._t * other._t, (self, other), '*')

    def __truediv__(self, other):
        other = Value._lift(other)
        return self._new(self._t / other._t, (self, other), '/')

    def __pow__(self, k):
        assert isinstance(k, (int, float))
        return self._new(self._t ** k, (self,), f'**{k}')

    def __neg__(self):
        return self._new(-self._t, (self,), 'neg')

    def __radd__(self, other):
        return Value._lift(other) + self

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __rmul__(self, other):
        return Value._lift(other) * self

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    def relu(self):
        return self._new(torch.relu(self._t), (self,), 'relu')

    def tanh(self):
        return self._new(torch.tanh(self._t), (self,), 'tanh')

    def exp(self):
        return self._new(torch.exp(self._t), (self,), 'exp')

    def log(self):
        return self._new(torch.log(self._t), (self,), 'log')

    def backward(self):
        # let torch do the work, then copy its gradients onto every node of the graph
        self._t.backward(retain_graph=True)
        seen, stack = {self}, [self]
        while stack:
            node = stack.pop()
            if node._t.grad is not None:
                node.grad += node._t.grad.item()
                node._t.grad = None
            for child in node._prev:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        self.grad = 1.0
'''

VALUE_RECURSIVE_BACKWARD = r'''
    def backward(self):
        """Set self.grad = 1, then run every ancestor's _backward in reverse topological order."""
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
'''

VALUE_VISITS_TWICE_BACKWARD = r'''
    def backward(self):
        """Set self.grad = 1, then run every ancestor's _backward in reverse topological order."""
        # post-order DFS with an explicit stack (no recursion limit problems)
        topo = []
        stack = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                topo.append(node)
            else:
                stack.append((node, True))
                for child in node._prev:
                    stack.append((child, False))

        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
'''


def _solution_backward() -> str:
    """The solution's `backward` method (markers removed), as the samples replace it."""
    src = strip_markers(_src(VALUE_CLASS))
    start = src.index("    def backward(self):")
    return src[start:]


def value_samples() -> dict[str, Sample]:
    S = lambda: Sample(VALUE_SOLUTION)
    samples = {}

    samples["student01_correct"] = (
        S().set("cell-05", VALUE_STUDENT01_CLASS)
        .set("cell-07", VALUE_STUDENT01_VJP)
    )

    # every `+=` inside the _backward closures becomes `=` (10 closures, 14 lines)
    samples["student02_overwrite_grad"] = S().replace("cell-05", ".grad += ", ".grad = ", count=14)

    samples["student03_tanh_wrong"] = S().replace(
        "cell-05", "self.grad += (1 - t * t) * out.grad", "self.grad += (1 + t * t) * out.grad")

    samples["student04_recursive_topo"] = S().replace(
        "cell-05", _solution_backward(), VALUE_RECURSIVE_BACKWARD.strip("\n"))

    samples["student05_micrograd_api"] = S().set("cell-05", VALUE_STUDENT05_CLASS)

    samples["student06_uses_torch"] = (
        S().set("cell-03", "import math\nimport torch")
        .set("cell-05", VALUE_STUDENT06_CLASS)
    )

    samples["student07_visits_twice"] = S().replace(
        "cell-05", _solution_backward(), VALUE_VISITS_TWICE_BACKWARD.strip("\n"))

    samples["student08_mul_sign"] = S().replace(
        "cell-05", "other.grad += self.data * out.grad", "other.grad -= self.data * out.grad")
    return samples


VALUE_README = """\
# Sample batch: `backward_engine`

Eight synthetic student submissions for `backward_engine` (EXERCISES.md §4),
built from `solutions/backward_engine.ipynb` with the solution markers removed
and one planted change each, by `samples/build_autodiff_notebooks.py` (edit
that script, not the notebooks). No outputs, as handed in; every notebook has
`metadata.grader.assignment = backward_engine` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct.

In the solution, `-`, `/`, unary `-` and the reflected operators are their
own nodes (`__rsub__` and `__rtruediv__` lift the number and call `-` and `/`;
`__radd__` and `__rmul__` call `self + c`, `self * c`), so a bug planted in
one closure shows up only through that operation.

`backward()` follows micrograd: it sets `self.grad = 1` and adds into every
node's `grad`, interior nodes included, without resetting them. Leaves
therefore accumulate across separate graphs and backward calls exactly as
torch leaves do, but calling `backward()` twice on the *same* graph with
interior nodes leaves `g + 2g` in the leaves below them (the interior grads
still hold the first call's values), where torch (`retain_graph=True`) gives
`2g`. The solution, `student01_correct` and the micrograd engine all behave
this way (only `student06_uses_torch` gives `2g`), so a test of that case
would fail them; accumulation is meant to be tested across separate graphs
built on the same leaves, or with graphs whose leaves feed the output
directly (`d = a * b` twice gives `2g` everywhere).

| file | what is wrong | which behaviour breaks |
| --- | --- | --- |
| `student01_correct.ipynb` | nothing: all correct, written differently (a `_lift` helper, a `_unary` helper for one-child nodes, `-` and unary `-` built from `+` and `* -1`, `/` as `* b ** -1`, `_prev` a list, topological sort with an explicit stack of `(node, children_done)` pairs and a visited set, `vjp` with `sum(..., Value(0.0))`) | none (full marks) |
| `student02_overwrite_grad.ipynb` | every `+=` in the `_backward` closures replaced by `=`: gradients are overwritten instead of accumulated | any node that receives more than one contribution: a node used twice (`a * (a + b)`, `a * a`, `s * s + s`, shared subexpressions, an input used at every step of a deep chain, most `vjp` maps whose outputs share an input), and leaves across two backward calls or two graphs (the second overwrites the first); single operations and graphs in which every node is used once, with one backward call, are right |
| `student03_tanh_wrong.ipynb` | tanh local derivative `1 + t^2` instead of `1 - t^2` | gradients through `.tanh()` (data right); everything without tanh is right |
| `student04_recursive_topo.ipynb` | textbook recursive `build_topo` in `backward` | deep graphs only: `RecursionError` once the longest path is longer than the recursion limit allows (in a Jupyter kernel, whose limit is 3000, about 2970 nodes; in plain Python about 1000), e.g. the check cell's 5000-step chain; every shallower graph is right |
| `student05_micrograd_api.ipynb` | the public micrograd engine (`Value(data, _children=(), _op='')`, `+ * **` (int/float exponent) `relu`, and `__neg__ __sub__ __rsub__ __radd__ __rmul__ __truediv__ __rtruediv__` built from them; `grad` starts at int `0`, `relu` of a negative gives int `0`, `_prev` is a set, recursive topological sort); no `tanh`, `exp`, `log`; `vjp` as in the solution | must grade as correct for every operation it has (EXERCISES.md §4); `.tanh()`, `.exp()`, `.log()` raise `AttributeError` (unsupported operation); deep graphs (longest path beyond about 2970 nodes in a Jupyter kernel) raise `RecursionError`, as in micrograd itself |
| `student06_uses_torch.ipynb` | `Value` wraps a float64 torch tensor with `requires_grad` and `backward()` calls torch's `backward`, copying the gradients back: numerically right, but it is torch autograd, not an engine | values and gradients right for every operation, deep graphs and accumulation; should be flagged for using torch autograd |
| `student07_visits_twice.ipynb` | the topological order is a post-order DFS without a visited set: a node reached along k paths appears k times, so its `_backward` runs k times | any graph in which a non-leaf node is used more than once (`s * s + s` with `s = a + b`, shared subexpressions, `vjp` maps whose outputs share an intermediate node): its `_backward` runs once per path, adding extra contributions: wrong gradients; time exponential in the number of stacked reuses (a deep chain of `y = y * y`-style nodes does not finish); reuse of leaves only (`a * (a + b)`) and graphs without reuse are right, including deep chains |
| `student08_mul_sign.ipynb` | product rule with a sign error for the right operand of `a * b`: `other.grad -= self.data * out.grad` | gradients through `a * b` into the right operand `b` (negated; `a * a` gives 0 instead of `2a`), when `b` is a `Value` (constants lifted from numbers are right operands of `a * 2.5` and `2.5 * a` but their grads are never read, so those are right); `vjp` forms `v_i * y_i` as `y_i * v_i`, so only `f`'s own products matter; every other operation is right |
"""


# ==========================================================================

def build(root: Path = ROOT) -> list[Path]:
    return build_assignments(root, (
        ("dual_numbers", DUAL_SOLUTION, dual_samples(), DUAL_README),
        ("backward_engine", VALUE_SOLUTION, value_samples(), VALUE_README),
    ))


if __name__ == "__main__":
    main(build, ROOT)
