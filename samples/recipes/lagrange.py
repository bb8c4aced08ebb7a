"""The `lagrange` samples: how each is made and the verdict it must get (keys: samples/sample_table.py).

`rewrite=True`: the sample's rewritten cells are in samples/recipes/lagrange/<sample>.py.
Rebuild with `python samples/build.py lagrange`.
"""

INTRO = """\
# Sample batch: `lagrange`

Four synthetic student submissions for `lagrange` (EXERCISES.md §6), built
from `solutions/lagrange.ipynb` with the solution markers removed and one
planted change each, by `samples/build.py` from the table in
`samples/recipes/lagrange.py` (edit that table, not the notebooks). No
outputs, as handed in; every notebook has
`metadata.grader.assignment = lagrange` and executes without a failing cell.
Everything not listed is identical to the solution, so it is correct.

In the solution, `lagrangian_gradient` differentiates `lagrangian` with
`torch.autograd.grad`, and `solve_constrained` runs Newton's method on
`z = (x, lam)` with `torch.autograd.functional.jacobian` / `hessian` of
`lagrangian` (it does **not** call `lagrangian_gradient`), in float64, from
`(x0, lam0)`: a bug in `lagrangian` reaches all three functions, a bug in
`lagrangian_gradient` only that one. Reference problems used below: the
circle (maximise `x + y` subject to `x^2 + y^2 - 1 = 0`; from `x0 = (0.6, 0.8)`,
`lam0 = (1.0,)` the solution converges to `x* = (1/sqrt2, 1/sqrt2)`,
`lam* = 1/sqrt2`) and quadratics `0.5 x^T Q x + c^T x` (Q SPD) with linear
constraints `A x = b` (one Newton step).
"""


SAMPLES = {
    'student01_correct': dict(
        wrong=('nothing: all correct, written differently (`torch.sum(lam * g(x))`; '
               '`lagrangian_gradient` with `torch.func.grad(..., argnums=(0, 1))` on detached '
               'inputs; `solve_constrained` assembles the KKT matrix block by block from `hessian` '
               'of `L` in `x` and `jacobian` of `g`, residual `[grad f - J^T lam, -g]`, float64 via '
               '`.double()`)'),
        breaks='none (full marks)',
        rewrite=True,
        expect={},
    ),
    'student02_opposite_sign': dict(
        wrong=('`lagrangian` uses the opposite sign convention `L = f + lam^T g`; since '
               '`lagrangian_gradient` and `solve_constrained` are built on it, they follow it '
               'consistently'),
        breaks=('`lagrangian`: `f + lam^T g` instead of `f - lam^T g` (wrong wherever `lam^T g(x) != '
               '0`); `lagrangian_gradient`: `[grad f + J^T lam, +g(x)]` (both parts wrong; only '
               'right where `J^T lam = 0` and `g = 0`); `solve_constrained`: `x_star` right, '
               '`lam_star` negated (circle from `(0.6, 0.8)`, `lam0 = 1`: `x* = (1/sqrt2, 1/sqrt2)`,'
               ' `lam* = -1/sqrt2`; quadratic: `x*` right, `lam* = -lam_true`); the KKT residual in '
               "the course's convention is `2 ||J^T lam*||`, not 0. Its Newton iterates are those of"
               ' the correct solver started from `-lam0`, so which stationary point it reaches '
               'follows that start'),
        # L = f + lam^T g; lagrangian_gradient and solve_constrained are built on lagrangian
        replace=[("cell-05", "return f(x).reshape(()) - lam.reshape(-1) @ constraints",
                  "return f(x).reshape(()) + lam.reshape(-1) @ constraints")],
        expect={"*": "failed: your result matches L = f + l",
                "solve_constrained": "failed: lam_star has the opposite sign"},
    ),
    'student03_ignores_constraint': dict(
        wrong=("`solve_constrained` ignores `g`: Newton's method on `grad f = 0` with the Hessian of"
               " `f`, returning `lam0` unchanged (as a tensor of `x0`'s dtype)"),
        breaks=('`solve_constrained` only: circle (linear `f`, zero Hessian) raises '
               '`torch.linalg.LinAlgError` (singular matrix); quadratic: returns the unconstrained '
               'minimiser `-Q^{-1} c` (infeasible) and `lam0`; `lagrangian` and '
               '`lagrangian_gradient` are right'),
        rewrite=True,
        expect={"solve_constrained": "failed: x_star does not satisfy the constraints g(x) = 0"},
    ),
    'student04_gradient_no_lam_part': dict(
        wrong='`lagrangian_gradient` returns only `grad_x L = grad f - J^T lam` (length d)',
        breaks=('`lagrangian_gradient` only: length `d` instead of `d + m` (the `-g(x)` part is '
               'missing; the first `d` entries are right); `lagrangian` and `solve_constrained` are '
               'right'),
        replace=[("cell-07", "return torch.cat([grad_x.reshape(-1), grad_lam.reshape(-1)]).detach()",
                  "return grad_x.reshape(-1).detach()")],
        expect={"lagrangian_gradient": "failed: the gradient in (x, lam) has length d + m"},
    ),
}
