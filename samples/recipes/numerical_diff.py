"""The `numerical_diff` samples: how each is made and the verdict it must get (keys: samples/sample_table.py).

`rewrite=True`: the sample's rewritten cells are in samples/recipes/numerical_diff/<sample>.py.
Rebuild with `python samples/build.py numerical_diff`.
"""

INTRO = """\
# Sample batch: `numerical_diff`

Five synthetic student submissions for `numerical_diff` (EXERCISES.md §2),
built from `solutions/numerical_diff.ipynb` with the solution markers removed
and one planted change each, by `samples/build.py` from the table in
`samples/recipes/numerical_diff.py` (edit that table, not the notebooks). No
outputs, as handed in; every notebook has
`metadata.grader.assignment = numerical_diff` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct.

The solution's `numerical_gradient` perturbs copies of `x.detach()`, calls `f`
exactly `2 n` times (`f(x + h e_i)`, then `f(x - h e_i)`, for i = 0, ..., n-1)
and stores `float(f(x + h e_i) - f(x - h e_i)) / (2 h)` in a tensor of `x`'s
shape, dtype and device.
"""


SAMPLES = {
    'student01_correct': dict(
        wrong=('nothing: all correct, written differently (named intermediate values, `/ h / 2`, '
               '`numerical_gradient` from the rows of `h * torch.eye(n)` and `torch.tensor` of a '
               'list of floats; `f(x + h e_i)` and `f(x - h e_i)` converted to floats separately '
               'before subtracting, 2 n calls)'),
        breaks='none (full marks)',
        rewrite=True,
        expect={},
    ),
    'student02_two_h_forward': dict(
        wrong='`forward_difference` divides by `2 h`: `(f(x + h) - f(x)) / (2 h)`',
        breaks=('`forward_difference` only: values about half the derivative (`2.625...` for the '
               "course's example at x = 1.5), and the error no longer shrinks with `h` (order about "
               "0, wherever f' is nonzero); `central_difference` and `numerical_gradient` are right"),
        replace=[("cell-05", "return (f(x + h) - f(x)) / h", "return (f(x + h) - f(x)) / (2 * h)")],
        expect={"forward_difference": "failed: your result is half the forward difference"},
    ),
    'student03_three_n_calls': dict(
        wrong=('`numerical_gradient` also evaluates `f(x)` once per coordinate (unused): `3 n` calls'
               ' of `f`'),
        breaks=('`numerical_gradient`: the call count only (3 n instead of exactly 2 n); values, '
               'order 2, shape, dtype, device and `x` untouched are all right; the scalar functions '
               'are right'),
        replace=[("cell-09",
                  "        step[i] = h                         # h e_i\n",
                  "        step[i] = h                         # h e_i\n"
                  "        center = f(base)                    # f(x), for comparison\n")],
        expect={"numerical_gradient": "failed: called f 15 times for n = 5, expected exactly 10 (2n)"},
    ),
    'student04_one_sided_gradient': dict(
        wrong=('`numerical_gradient` uses the one-sided difference `(f(x + h e_i) - f(x)) / h`, '
               'calling `f(x)` inside the loop so that it still makes exactly `2 n` calls'),
        breaks=('`numerical_gradient`: order 1 instead of 2 (error about `h/2 |d2f/dx_i^2|`, about '
               '`1e-5` at the default `h`, i.e. wrong values at a tight tolerance; exact only where '
               'f is linear along e_i); call count (2 n), shape, dtype, device and `x` untouched are'
               ' right; the scalar functions are right'),
        replace=[("cell-09",
                  "        down = f(base - step)               # f(x - h e_i)\n"
                  "        grad[i] = float(up - down) / (2 * h)",
                  "        down = f(base)                      # f(x)\n"
                  "        grad[i] = float(up - down) / h")],
        expect={"numerical_gradient": "failed: one-sided differences (f(x + h e_i) - f(x)) / h are only order 1"},
    ),
    'student05_central_is_forward': dict(
        wrong='`central_difference` computes the forward difference `(f(x + h) - f(x)) / h`',
        breaks=("`central_difference` only: order 1 instead of 2 (course's example: `5.25 + 8.5 h + 3"
               ' h^2` instead of `5.25 + 3 h^2`); `forward_difference` and `numerical_gradient` are '
               "right (the solution's `numerical_gradient` does not call `central_difference`)"),
        replace=[("cell-07", "return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / h")],
        expect={"central_difference": "failed: that is the forward difference; the error shrinks like h^1.0"},
    ),
}
