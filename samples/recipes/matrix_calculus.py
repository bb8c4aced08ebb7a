"""The `matrix_calculus` samples, written by hand: what is wrong in each and the verdict it must get
(keys: samples/sample_table.py). `python samples/build.py matrix_calculus` writes their README."""

INTRO = """\
# Sample batch: `matrix_calculus`

Twelve synthetic student submissions for `matrix_calculus`, built from
`assignments/matrix_calculus.ipynb` with the stubs filled in (no outputs, as
handed in). Every notebook has `metadata.grader.assignment = matrix_calculus`.
Each partly wrong notebook has exactly the mistake(s) listed; everything else
in it is correct. All notebooks execute; only `student12_lena` has failing
cells.
"""


COLUMNS = ('what is wrong', 'question(s) that should lose points')
HANDMADE = True

SAMPLES = {
    'student01_alice': dict(
        wrong='nothing: all correct',
        breaks='none (full marks)',
        expect={},
    ),
    'student02_bob': dict(
        wrong=('nothing: all correct, written differently (helpers `residual`/`sq_norm`, two '
               'functions in one cell, cells moved, an early wrong draft of `grad_quadratic_form` '
               'redefined correctly later, `torch.linalg.solve` for `grad_log_abs_det`, a float32 '
               'scratch cell)'),
        breaks='none (full marks)',
        expect={},
    ),
    'student03_carla': dict(
        wrong=('`grad_linear_map` returns `A` (Jacobian, numerator layout) instead of `A^T`: wrong '
               'shape (m, n)'),
        breaks='`grad_linear_map`',
        expect={"grad_linear_map": "failed: wrong shape [4, 3], expected [3, 4]: returned the Jacobian"},
    ),
    'student04_dmitri': dict(
        wrong='`grad_quadratic_form` returns `2 A x` (assumes symmetric `A`)',
        breaks='`grad_quadratic_form`',
        expect={"grad_quadratic_form": "failed: You returned 2 A x, which is the gradient only when A is symmetric"},
    ),
    'student05_elena': dict(
        wrong='`grad_weighted_residual_s` misses the factor 2: `-A^T W (x - A s)`',
        breaks='`grad_weighted_residual_s`',
        expect={"grad_weighted_residual_s": "failed: off by a factor 2"},
    ),
    'student06_farid': dict(
        wrong='`grad_weighted_residual_x` has the sign flipped: `-2 W (x - A s)`',
        breaks='`grad_weighted_residual_x`',
        expect={"grad_weighted_residual_x": "failed: sign flipped: your result is minus the gradient"},
    ),
    'student07_grace': dict(
        wrong=('`grad_chain_rule` casts to float32 (`.float()`): float64 inputs come back as float32'
               ' (float32 inputs are fine)'),
        breaks='`grad_chain_rule` (dtype)',
        expect={"grad_chain_rule": "failed: returned float32 for float64 inputs"},
    ),
    'student08_hiroshi': dict(
        wrong='`grad_log_abs_det` returns `inv(A)` instead of `inv(A)^T`',
        breaks='`grad_log_abs_det`',
        expect={"grad_log_abs_det": "failed: returned the transpose of the gradient"},
    ),
    'student09_ines': dict(
        wrong=('`grad_trace_product` returns `B` instead of `B^T` (wrong shape unless square); '
               '`grad_inner` zeroes its argument `x` in place (`x.zero_()`), although its return '
               'value is right'),
        breaks='`grad_trace_product` and `grad_inner` (modifies argument)',
        expect={"grad_trace_product": "failed: returned the transpose of the gradient",
                "grad_inner": "failed: modified its argument `x` in place"},
    ),
    'student10_jonas': dict(
        wrong=('`grad_inner` returns a numpy array (`a.numpy()`), not a tensor (fails outright on '
               'GPU)'),
        breaks='`grad_inner`',
        expect={"grad_inner": "failed: returned a numpy.ndarray"},
    ),
    'student11_kwame': dict(
        wrong=('`grad_quadratic_form` uses `torch.autograd.grad` inside: values right, but autograd '
               'is forbidden'),
        breaks='`grad_quadratic_form` (autograd use flagged)',
        expect={"grad_quadratic_form": "forbidden: uses torch autograd"},
    ),
    'student12_lena': dict(
        wrong=('broken: an early cell raises `NameError` (`np` not imported); the `grad_log_abs_det`'
               ' cell has a syntax error (missing `)`), so it is never defined; all other functions '
               'are correct and defined in later cells'),
        breaks='`grad_log_abs_det` (not defined); all others full marks',
        expect={"grad_log_abs_det": "missing: `grad_log_abs_det` is not defined in the notebook"},
    ),
}
