"""The `dual_numbers` samples: how each is made and the verdict it must get (keys: samples/sample_table.py).

`rewrite=True`: the sample's rewritten cells are in samples/recipes/dual_numbers/<sample>.py.
Rebuild with `python samples/build.py dual_numbers`.
"""

INTRO = """\
# Sample batch: `dual_numbers`

Seven synthetic student submissions for `dual_numbers` (EXERCISES.md §3),
built from `solutions/dual_numbers.ipynb` with the solution markers removed
and one planted change each, by `samples/build.py` from the table in
`samples/recipes/dual_numbers.py` (edit that table, not the notebooks). No
outputs, as handed in; every notebook has
`metadata.grader.assignment = dual_numbers` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct."""


SAMPLES = {
    'student01_correct': dict(
        wrong=('nothing: all correct, written differently (module-level helper `_lift` for numbers, '
               '`__radd__ = __add__` and `__rmul__ = __mul__`, division as multiplication by `1/b`, '
               '`-` via negation, a `_chain` helper for the elementary functions, `jacobian` built '
               'on `jvp` by transposing columns, a scratch cell after `derivative`)'),
        breaks='none (full marks)',
        rewrite=True,
        expect={},
    ),
    'student02_quotient_rule': dict(
        wrong=("`Dual / Dual` uses `(a'b + ab') / b^2` (sign error in the quotient rule); division "
               'by a number (`a / 2.5`) and `2.5 / a` (`__rtruediv__`) are still right'),
        breaks=('every expression with `a / b` where the divisor carries a nonzero dual part and `a` '
               'is nonzero: the dual part of `/` (so `derivative`, `jvp`, `jacobian` of such '
               'functions); the real part (value) is right'),
        replace=[("cell-05",
                  "return Dual(self.real / b, (self.dual * b - self.real * other.dual) / (b * b))",
                  "return Dual(self.real / b, (self.dual * b + self.real * other.dual) / (b * b))")],
        # derivative, jvp and jacobian are tested on graphs of + and * only: a wrong `/` costs
        # the questions whose graphs divide, not the functions built on the class
        expect={"dual_div": "failed: sign error in the derivative of `x / y` with respect to y (quotient rule)",
                "dual_composite_arithmetic": "failed: the smallest failing graph is a single `div`",
                "dual_composite": "failed: the smallest failing graph is a single `div`",
                "dual_deep": "failed: the smallest failing graph is a single `div`"},
    ),
    'student03_pow_ignores_dual': dict(
        wrong=("`a ** n` returns `Dual(a^n, a')`: the dual part is passed through unchanged instead "
               "of `n a^(n-1) a'`"),
        breaks=('`**`: every dual part through a power is wrong, except where `n a^(n-1) = 1` (e.g. '
               '`x ** 1`); values are right'),
        replace=[("cell-05", "return Dual(self.real ** n, n * self.real ** (n - 1) * self.dual)",
                  "return Dual(self.real ** n, self.dual)")],
        expect={"dual_pow": "failed: the derivative rule of `pow` in `Dual.__pow__` is wrong",
                "dual_composite": "failed: the smallest failing graph is a single `pow`"},
    ),
    'student04_minimal': dict(
        wrong=('a minimal `Dual`: only `+ - * /` (with reflected variants) and unary `-`; no `**`, '
               'no `sin`/`cos`/`exp`/`log`/`tanh`, no `__repr__`; `derivative`, `jvp`, `jacobian` '
               'correct'),
        breaks=('`**` raises `TypeError` (unsupported operand), the five methods raise '
               '`AttributeError`: any expression using them is an unsupported operation; expressions'
               ' with `+ - * /` and unary `-` only are right, including through `derivative`, `jvp`,'
               ' `jacobian`'),
        rewrite=True,
        expect={"dual_pow": "error: operation not supported: pow",
                "dual_sin": "error: operation not supported: sin",
                "dual_cos": "error: operation not supported: cos",
                "dual_exp": "error: operation not supported: exp",
                "dual_log": "error: operation not supported: log",
                "dual_tanh": "error: operation not supported: tanh",
                "dual_composite": "error: implement `__pow__` in your `Dual` class"},
    ),
    'student05_tanh_wrong': dict(
        wrong='`tanh` derivative uses `1 + tanh^2` instead of `1 - tanh^2`',
        breaks='`.tanh()`: dual part wrong (value right); everything without tanh is right',
        replace=[("cell-05", "return Dual(t, (1 - t * t) * self.dual)", "return Dual(t, (1 + t * t) * self.dual)")],
        expect={"dual_tanh": "failed: the derivative rule of `tanh` in `Dual.tanh` is wrong",
                "dual_composite": "failed: the smallest failing graph is a single `tanh`"},
    ),
    'student06_jacobian_transposed': dict(
        wrong='`jacobian` returns the n x m transpose (its list of columns)',
        breaks=('`jacobian` only: wrong shape when m != n, transposed values when m = n (right only '
               'for a symmetric Jacobian); `jvp` and `derivative` are right'),
        replace=[("cell-11", "return [[columns[j][i] for j in range(n)] for i in range(m)]", "return columns")],
        expect={"jacobian": "failed: that is the transposed Jacobian"},
    ),
    'student07_blank_jvp': dict(
        wrong='`jvp` left as the stub: raises `NotImplementedError`',
        breaks='`jvp` only (not implemented); `jacobian` does its own forward passes and is right',
        rewrite=True,
        expect={"jvp": "not_implemented: `jvp` is not implemented yet"},
    ),
}
