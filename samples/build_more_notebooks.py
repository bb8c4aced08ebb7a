"""Build the `numerical_diff`, `torch_autograd` and `lagrange` notebooks (EXERCISES.md §2, §5, §6).

    python samples/build_more_notebooks.py

writes, deterministically (same bytes on every run):

    solutions/numerical_diff.ipynb        assignments/numerical_diff.ipynb
    solutions/torch_autograd.ipynb        assignments/torch_autograd.ipynb
    solutions/lagrange.ipynb              assignments/lagrange.ipynb
    samples/numerical_diff/*.ipynb        samples/numerical_diff/README.md
    samples/torch_autograd/*.ipynb        samples/torch_autograd/README.md
    samples/lagrange/*.ipynb              samples/lagrange/README.md

House style (as `solutions/matrix_calculus.ipynb` and
`samples/build_autodiff_notebooks.py`, whose plumbing is repeated here so that
the two generators do not depend on each other): nbformat 4.5, cell ids
"cell-01", ..., no outputs, kernelspec python3, metadata `grader.assignment`.
Solution code sits between `# BEGIN SOLUTION` and `# END SOLUTION` lines
inside function bodies; the assignment is the solution with each such region
replaced by `raise NotImplementedError` (same indentation). A sample
submission is the solution with the markers removed and one planted change,
made here by exact text replacement (each replacement must match exactly the
expected number of times, so an edit of the solution that a sample depends on
fails loudly instead of silently producing a sample without its bug).
"""

from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_kit import md, code, number, Sample, build_assignments, main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent



# ==========================================================================
# numerical_diff (EXERCISES.md §2)

ND_FORWARD = r'''
def forward_difference(f, x, h):
    """(f(x + h) - f(x)) / h: the forward-difference estimate of f'(x), error O(h)."""
    # BEGIN SOLUTION
    return (f(x + h) - f(x)) / h
    # END SOLUTION
'''

ND_CENTRAL = r'''
def central_difference(f, x, h):
    """(f(x + h) - f(x - h)) / (2 h): the central-difference estimate of f'(x), error O(h^2)."""
    # BEGIN SOLUTION
    return (f(x + h) - f(x - h)) / (2 * h)
    # END SOLUTION
'''

ND_GRADIENT = r'''
def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function f at x (shape (n,)), from 2n calls of f.

    Returns a tensor of shape (n,) with x's dtype and device; x itself is not modified.
    """
    # BEGIN SOLUTION
    base = x.detach()                       # never write into x: perturb copies of it
    grad = torch.empty_like(base)
    for i in range(base.shape[0]):
        step = torch.zeros_like(base)
        step[i] = h                         # h e_i
        up = f(base + step)                 # f(x + h e_i)
        down = f(base - step)               # f(x - h e_i)
        grad[i] = float(up - down) / (2 * h)
    return grad
    # END SOLUTION
'''

ND_CHECK = r'''
# Quick checks in float64 on the course's example and on one function of 3 variables.
_X, _EXACT = 1.5, 5.25          # f'(1.5) = 9 * 1.5**2 - 10 * 1.5


def _report(name, run):
    try:
        problems = run()
    except NotImplementedError:
        print(f"{name:20} not implemented yet")
        return
    except Exception as exc:
        print(f"{name:20} raised {type(exc).__name__}: {exc}")
        return
    print(f"{name:20} {'; '.join(problems) if problems else 'ok'}")


def _f(x):                      # the course's example
    return 3 * x ** 3 - 5 * x ** 2


def _order(errors, hs):
    """Slope of log(error) against log(h) between the first and last step: the order."""
    if min(errors) == 0:
        return float("inf")
    return math.log(errors[0] / errors[-1]) / math.log(hs[0] / hs[-1])


def _check_scalar(method, h, tol, want_order):
    problems = []
    got = method(_f, _X, h)
    if abs(got - _EXACT) > tol:
        problems.append(f"{got!r} at h = {h}, expected {_EXACT} within {tol}")
    hs = (1e-1, 1e-2, 1e-3)
    order = _order([abs(method(_f, _X, s) - _EXACT) for s in hs], hs)
    if abs(order - want_order) > 0.3:
        problems.append(f"error shrinks like h^{order:.2f}, expected h^{want_order}")
    return problems


def _g(x):                      # R^3 -> R
    return torch.sin(x[0]) * x[1] ** 2 + torch.exp(x[2] * x[0])


def _grad_g(x):
    e = torch.exp(x[2] * x[0])
    return torch.stack([torch.cos(x[0]) * x[1] ** 2 + x[2] * e, 2 * torch.sin(x[0]) * x[1], x[0] * e])


def _check_gradient():
    x = torch.tensor([0.3, -1.2, 0.7], dtype=torch.float64)
    before = x.clone()
    want = _grad_g(x)
    calls = []

    def counted(v):
        calls.append(1)
        return _g(v)

    got = numerical_gradient(counted, x)
    problems = []
    if not torch.equal(x, before):
        problems.append("modified x")
    if len(calls) != 6:
        problems.append(f"called f {len(calls)} times, expected 2n = 6")
    if not isinstance(got, torch.Tensor):
        return problems + [f"returned {type(got).__name__}, expected a torch.Tensor"]
    if got.shape != x.shape or got.dtype != x.dtype:
        return problems + [f"shape {tuple(got.shape)} {got.dtype}, expected {tuple(x.shape)} {x.dtype}"]
    err = (got - want).abs().max().item()
    if err > 1e-8:
        problems.append(f"wrong values (max abs error {err:.1e} at h = 1e-5)")
    hs = (1e-2, 1e-3)
    order = _order([(numerical_gradient(_g, x, s) - want).abs().max().item() for s in hs], hs)
    if abs(order - 2) > 0.3:
        problems.append(f"error shrinks like h^{order:.2f}, expected h^2")
    return problems


_report("forward_difference", lambda: _check_scalar(forward_difference, 1e-6, 1e-4, 1))
_report("central_difference", lambda: _check_scalar(central_difference, 1e-4, 1e-6, 2))
_report("numerical_gradient", _check_gradient)
'''

ND_SOLUTION = number([
    md(r"""
    # Numerical differentiation: finite differences

    In this assignment you approximate derivatives from function values alone,
    with **finite differences**, and see how the step size $h$ controls the error.
    Finite differences are how gradients computed by automatic differentiation are
    tested ("gradient checking"), so they come first.

    Rules:

    - `forward_difference` and `central_difference` take a function of one float
      and a float `x`; they return a float.
    - `numerical_gradient` takes a function of a `torch.Tensor` of shape $(n,)$
      (float32 or float64, any device) that returns a scalar tensor. Return a
      tensor of shape $(n,)$ with the **same dtype and device** as `x`, and **never
      modify `x`**: build perturbed copies.
    - Use function values only: no autograd. Keep the names exactly as given: the
      grader calls them by name.
    """),
    md(r"""
    ## Forward and central differences

    Taylor's theorem around $x$:

    $$f(x \pm h) = f(x) \pm h\,f'(x) + \frac{h^2}{2} f''(x) \pm \frac{h^3}{6} f'''(x) + O(h^4).$$

    **Forward difference.** Keep the $+$ expansion and divide by $h$:

    $$\frac{f(x + h) - f(x)}{h} = f'(x) + \frac{h}{2} f''(x) + O(h^2).$$

    The truncation error is proportional to $h$: the method has **order 1**.
    Halving $h$ halves the error.

    **Central difference.** Subtract the two expansions: the even terms cancel,

    $$\frac{f(x + h) - f(x - h)}{2h} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4).$$

    The truncation error is proportional to $h^2$: **order 2**. Halving $h$ quarters
    the error. The price: where $f(x)$ is known anyway, forward differences need one
    new evaluation per derivative and central differences two (for a gradient in
    $\mathbb{R}^n$: $n + 1$ calls against $2n$).

    **The course's example.** $f(x) = 3x^3 - 5x^2$, so $f'(x) = 9x^2 - 10x$,
    $f''(x) = 18x - 10$, $f'''(x) = 18$, and at $x = 1.5$:
    $f'(1.5) = 20.25 - 15 = 5.25$. For a cubic the expansions above are exact:
    the forward difference is $5.25 + 8.5\,h + 3h^2$, the central difference
    $5.25 + 3h^2$.

    | $h$ | forward difference | error | central difference | error |
    | --- | --- | --- | --- | --- |
    | 0.1 | 6.13 | 0.88 | 5.28 | 0.03 |
    | 0.01 | 5.3353 | 0.0853 | 5.2503 | 0.0003 |
    | 0.001 | 5.258503 | 0.008503 | 5.250003 | 0.000003 |

    On a log-log plot of error against $h$ the forward error is a line of slope 1,
    the central error a line of slope 2.

    ## Truncation versus round-off

    The error does not keep shrinking as $h \to 0$. Each value of $f$ carries a
    relative rounding error of about $\varepsilon$ (machine epsilon: $2.2 \times
    10^{-16}$ in float64, $1.2 \times 10^{-7}$ in float32), and the difference
    $f(x + h) - f(x)$ of two nearly equal numbers keeps that absolute error while
    the true difference shrinks with $h$ (cancellation). Dividing by $h$ gives a
    round-off error of about $\varepsilon\,\lvert f\rvert / h$, which **grows** as
    $h$ shrinks. The total error is roughly

    $$\text{forward: } \frac{h}{2}\lvert f''\rvert + \frac{2\varepsilon\lvert f\rvert}{h},
    \qquad
    \text{central: } \frac{h^2}{6}\lvert f'''\rvert + \frac{\varepsilon\lvert f\rvert}{h},$$

    smallest near $h \approx \sqrt{\varepsilon} \approx 10^{-8}$ (forward) and
    $h \approx \varepsilon^{1/3} \approx 10^{-5}$ (central) in float64, with
    errors of about $10^{-8}$ and $10^{-10}$ respectively (for $f$ and its
    derivatives of size about 1). Smaller steps make things worse, not better; in
    float32 the best central step is near $10^{-2}$ to $10^{-3}$, and the best
    achievable error is only about $10^{-5}$.
    """),
    code(r'''
    import math

    import torch
    '''),
    md(r"""
    ## 1. `forward_difference(f, x, h)`

    Return $\dfrac{f(x + h) - f(x)}{h}$ for a function `f` of one float.
    """),
    code(ND_FORWARD),
    md(r"""
    ## 2. `central_difference(f, x, h)`

    Return $\dfrac{f(x + h) - f(x - h)}{2h}$.
    """),
    code(ND_CENTRAL),
    md(r"""
    ## 3. `numerical_gradient(f, x, h=1e-5)`

    Now `f` maps a tensor $x \in \mathbb{R}^n$ (shape $(n,)$) to a scalar tensor.
    Component $i$ of the gradient is a central difference along the unit vector
    $e_i$:

    $$\frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}.$$

    That is **exactly $2n$ calls** of `f`: one step up and one step down per
    coordinate, nothing else. The default $h = 10^{-5}$ is the float64 sweet spot
    from above.

    - Do not modify `x` in place (no `x[i] += h`): build perturbed copies. A
      function that changes its argument, even temporarily, breaks callers that
      still use it, and in-place changes to a tensor that requires grad raise.
    - Each difference is a scalar tensor: turn it into a plain number
      (`float(...)`) and store it in the result.
    - Return a tensor of shape $(n,)$ with `x`'s dtype and device
      (`torch.empty_like(x)`, `torch.zeros_like(x)`).
    """),
    code(ND_GRADIENT),
    md(r"""
    ## Check your work

    The cell below compares your functions with the exact derivatives of the
    course's example and of a function of three variables, in float64, and
    estimates the order of the error from two or three step sizes. It also counts
    the calls of `f`. Parts you have not implemented yet are reported as such.
    Passing here is a good sign, not a grade: the grader also uses other
    functions, points, step sizes and dtypes.
    """),
    code(ND_CHECK),
])


# --- numerical_diff samples ------------------------------------------------
# Cell ids in ND_SOLUTION: 03 imports, 05 forward, 07 central, 09 gradient, 11 check.

ND_STUDENT01 = {
    "cell-05": '''
        def forward_difference(f, x, h):
            fx = f(x)
            fxh = f(x + h)
            return (fxh - fx) / h
    ''',
    "cell-07": '''
        def central_difference(f, x, h):
            right, left = f(x + h), f(x - h)
            return (right - left) / h / 2
    ''',
    "cell-09": '''
        def numerical_gradient(f, x, h=1e-5):
            # row i of h * I is the step h e_i
            x0 = x.detach()
            steps = h * torch.eye(x0.shape[0], dtype=x0.dtype, device=x0.device)
            diffs = [(float(f(x0 + e)) - float(f(x0 - e))) / (2 * h) for e in steps]
            return torch.tensor(diffs, dtype=x0.dtype, device=x0.device)
    ''',
}


def nd_samples() -> dict[str, Sample]:
    S = lambda: Sample(ND_SOLUTION)
    samples = {}

    s = S()
    for cell_id, source in ND_STUDENT01.items():
        s.set(cell_id, source)
    samples["student01_correct"] = s

    samples["student02_two_h_forward"] = S().replace(
        "cell-05", "return (f(x + h) - f(x)) / h", "return (f(x + h) - f(x)) / (2 * h)")

    samples["student03_three_n_calls"] = S().replace(
        "cell-09",
        "        step[i] = h                         # h e_i\n",
        "        step[i] = h                         # h e_i\n"
        "        center = f(base)                    # f(x), for comparison\n")

    samples["student04_one_sided_gradient"] = S().replace(
        "cell-09",
        "        down = f(base - step)               # f(x - h e_i)\n"
        "        grad[i] = float(up - down) / (2 * h)",
        "        down = f(base)                      # f(x)\n"
        "        grad[i] = float(up - down) / h")

    samples["student05_central_is_forward"] = S().replace(
        "cell-07", "return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / h")
    return samples


ND_README = """\
# Sample batch: `numerical_diff`

Five synthetic student submissions for `numerical_diff` (EXERCISES.md §2),
built from `solutions/numerical_diff.ipynb` with the solution markers removed
and one planted change each, by `samples/build_more_notebooks.py` (edit that
script, not the notebooks). No outputs, as handed in; every notebook has
`metadata.grader.assignment = numerical_diff` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct.

The solution's `numerical_gradient` perturbs copies of `x.detach()`, calls `f`
exactly `2 n` times (`f(x + h e_i)`, then `f(x - h e_i)`, for i = 0, ..., n-1)
and stores `float(f(x + h e_i) - f(x - h e_i)) / (2 h)` in a tensor of `x`'s
shape, dtype and device.

| file | what is wrong | which behaviour breaks |
| --- | --- | --- |
| `student01_correct.ipynb` | nothing: all correct, written differently (named intermediate values, `/ h / 2`, `numerical_gradient` from the rows of `h * torch.eye(n)` and `torch.tensor` of a list of floats; `f(x + h e_i)` and `f(x - h e_i)` converted to floats separately before subtracting, 2 n calls) | none (full marks) |
| `student02_two_h_forward.ipynb` | `forward_difference` divides by `2 h`: `(f(x + h) - f(x)) / (2 h)` | `forward_difference` only: values about half the derivative (`2.625...` for the course's example at x = 1.5), and the error no longer shrinks with `h` (order about 0, wherever f' is nonzero); `central_difference` and `numerical_gradient` are right |
| `student03_three_n_calls.ipynb` | `numerical_gradient` also evaluates `f(x)` once per coordinate (unused): `3 n` calls of `f` | `numerical_gradient`: the call count only (3 n instead of exactly 2 n); values, order 2, shape, dtype, device and `x` untouched are all right; the scalar functions are right |
| `student04_one_sided_gradient.ipynb` | `numerical_gradient` uses the one-sided difference `(f(x + h e_i) - f(x)) / h`, calling `f(x)` inside the loop so that it still makes exactly `2 n` calls | `numerical_gradient`: order 1 instead of 2 (error about `h/2 |d2f/dx_i^2|`, about `1e-5` at the default `h`, i.e. wrong values at a tight tolerance; exact only where f is linear along e_i); call count (2 n), shape, dtype, device and `x` untouched are right; the scalar functions are right |
| `student05_central_is_forward.ipynb` | `central_difference` computes the forward difference `(f(x + h) - f(x)) / h` | `central_difference` only: order 1 instead of 2 (course's example: `5.25 + 8.5 h + 3 h^2` instead of `5.25 + 3 h^2`); `forward_difference` and `numerical_gradient` are right (the solution's `numerical_gradient` does not call `central_difference`) |
"""


# ==========================================================================
# torch_autograd (EXERCISES.md §5)

TA_MEAN_SQUARE = r'''
def mean_square_grad(x):
    """d out / dx for out = mean(3 (x + 2)^2), computed by autograd; x is left as it came in."""
    # BEGIN SOLUTION
    xc = x.detach().clone().requires_grad_(True)    # a fresh leaf: x keeps its flags and its .grad
    out = (3 * (xc + 2) ** 2).mean()
    out.backward()
    return xc.grad.detach()
    # END SOLUTION
'''

TA_DOUBLING = r'''
def doubling_vjp(x, v):
    """y = 2x, doubled until ||y|| >= 1000; the gradient of x after y.backward(v)."""
    # BEGIN SOLUTION
    xc = x.detach().clone().requires_grad_(True)
    y = xc * 2
    while y.norm() < 1000:          # y = 2^k x for the first k with ||2^k x|| >= 1000
        y = y * 2
    y.backward(v)                   # y is not a scalar: backward needs v, and gives J^T v
    return xc.grad.detach()
    # END SOLUTION
'''

TA_UNTRACKED = r'''
def untracked_square(x):
    """x ** 2, computed without recording history: the result does not require grad."""
    # BEGIN SOLUTION
    with torch.no_grad():           # nothing in this block is recorded
        return x ** 2
    # END SOLUTION
'''

TA_DETACHED = r'''
def detached_copy(x):
    """A tensor with x's values that does not require grad and shares no history with x."""
    # BEGIN SOLUTION
    return x.detach().clone()       # detach: cut from the graph; clone: its own memory
    # END SOLUTION
'''

TA_ACCUMULATED = r'''
def accumulated_grad(x, k):
    """The gradient of x after k backward calls of sum(x^2), without zeroing in between: 2 k x."""
    # BEGIN SOLUTION
    xc = x.detach().clone().requires_grad_(True)
    for _ in range(k):
        (xc ** 2).sum().backward()      # a new graph each time; xc.grad += 2 xc
    if xc.grad is None:                 # k = 0: no backward call, no gradient yet
        return torch.zeros_like(xc)
    return xc.grad.detach()
    # END SOLUTION
'''

TA_CHECK = r'''
# Quick checks in float64, on inputs that do and do not require grad.
_V = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float64)


def _report(name, run):
    try:
        problems = run()
    except NotImplementedError:
        print(f"{name:18} not implemented yet")
        return
    except Exception as exc:
        print(f"{name:18} raised {type(exc).__name__}: {exc}")
        return
    print(f"{name:18} {'; '.join(problems) if problems else 'ok'}")


def _input(requires_grad, shape=(3,)):
    torch.manual_seed(0)
    return torch.randn(*shape, dtype=torch.float64).requires_grad_(requires_grad)


def _argument(x, values, requires_grad):
    """What the call did to the caller's leaf tensor x."""
    problems = []
    if x.grad is not None:
        problems.append("set x.grad on the argument")
    if x.requires_grad != requires_grad:
        problems.append(f"changed x.requires_grad to {x.requires_grad}")
    if not torch.equal(x.detach(), values):
        problems.append("modified x")
    return problems


def _plain(got, want, what="result"):
    """got: a plain tensor (no history) equal to want."""
    if not isinstance(got, torch.Tensor):
        return [f"returned {type(got).__name__}, expected a torch.Tensor"]
    problems = []
    if got.requires_grad or got.grad_fn is not None:
        history = type(got.grad_fn).__name__ if got.grad_fn is not None else None
        problems.append(f"{what} has history (requires_grad={got.requires_grad}, grad_fn={history})")
    if got.shape != want.shape or got.dtype != want.dtype:
        problems.append(f"{what} {tuple(got.shape)} {got.dtype}, expected {tuple(want.shape)} {want.dtype}")
    elif not torch.allclose(got.detach(), want, rtol=1e-12, atol=1e-12):
        problems.append(f"{what} {got.detach().tolist()}, expected {want.tolist()}")
    return problems


def _run(fn, make_want, shape=(3,), args=()):
    problems = []
    for rg in (False, True):
        x = _input(rg, shape)
        values = x.detach().clone()
        got = fn(x, *args)
        found = _plain(got, make_want(values)) + _argument(x, values, rg)
        problems += [f"{p} (x.requires_grad={rg})" for p in found]
    return problems


def _check_mean_square():
    problems = _plain(mean_square_grad(torch.ones(2, 2, dtype=torch.float64)),
                      torch.full((2, 2), 4.5, dtype=torch.float64), "at x = ones(2, 2)")
    return problems + _run(mean_square_grad, lambda x: 6 * (x + 2) / x.numel())


def _doubling_want(x):
    factor = 2.0
    while (factor * x).norm() < 1000:
        factor *= 2
    return factor * _V


def _check_untracked():
    problems = []
    for rg in (False, True):
        x = _input(rg)
        values = x.detach().clone()
        got = untracked_square(x)
        if not isinstance(got, torch.Tensor):
            return [f"returned {type(got).__name__}, expected a torch.Tensor"]
        found = _plain(got, values ** 2) + _argument(x, values, rg)
        problems += [f"{p} (x.requires_grad={rg})" for p in found]
    return problems


def _check_detached():
    problems = _run(detached_copy, lambda x: x)
    a = _input(True)
    x = a * 2                                   # not a leaf: it has history
    got = detached_copy(x)
    problems += [f"{p} (x = a * 2)" for p in _plain(got, (a * 2).detach())]
    return problems


_report("mean_square_grad", _check_mean_square)
_report("doubling_vjp", lambda: _run(doubling_vjp, _doubling_want, args=(_V,)))
_report("untracked_square", _check_untracked)
_report("detached_copy", _check_detached)
_report("accumulated_grad", lambda: _run(accumulated_grad, lambda x: 2 * 3 * x, args=(3,)))
'''

TA_SOLUTION = number([
    md(r"""
    # PyTorch's autograd

    In this assignment you use PyTorch's reverse-mode automatic differentiation:
    how it records computations, how `backward()` fills in gradients, and how to
    compute **without** recording.

    Rules for every function below:

    - Arguments are `torch.Tensor`s of dtype float32 or float64 on any device, and
      they may or may not require grad. Return tensors of the **same dtype and
      device**.
    - **Leave the argument `x` as it came in**: its values, its `requires_grad`
      flag and its `.grad` (which must stay `None` if it was). Where you need a
      graph, work on a fresh leaf copy `x.detach().clone().requires_grad_(True)`.
    - Returned gradients are plain tensors, without history (`grad_fn` is `None`).
    - Keep the names exactly as given: the grader calls them by name.
    """),
    md(r"""
    ## Graphs, `grad_fn` and `backward`

    A tensor created with `requires_grad=True` (or switched on with
    `x.requires_grad_(True)`) is a **leaf** whose gradient autograd will compute.
    Every operation on tensors that require grad is **recorded**: its result
    requires grad too, and its `grad_fn` names the operation that made it and
    links back to its inputs.

    ```python
    x = torch.ones(2, 2, requires_grad=True)   # a leaf: x.grad_fn is None
    y = x + 2                                   # y.grad_fn: <AddBackward0>
    z = y * y * 3                               # <MulBackward0>
    out = z.mean()                              # <MeanBackward0>, a scalar
    out.backward()                              # d out / dx, into x.grad
    ```

    `out.backward()` walks the recorded graph from `out` back to the leaves
    (reverse mode) and stores $\partial\,\mathrm{out} / \partial x$ in `x.grad`,
    a tensor of `x`'s shape. Here $\mathrm{out} = \frac{1}{4}\sum_i 3 (x_i + 2)^2$,
    so $\frac{\partial\,\mathrm{out}}{\partial x_i} = \frac{6 (x_i + 2)}{4} = 4.5$
    at $x_i = 1$. Only leaves get `.grad`; intermediate results do not keep theirs
    (unless you ask with `.retain_grad()`).

    **Non-scalar outputs.** For a vector `y`, "the gradient" is a Jacobian $J$,
    which autograd never builds. `y.backward(v)` instead computes the
    **vector-Jacobian product**: `x.grad` receives $J^\top v$, the gradient of the
    scalar $v^\top y$. `v` has the shape of `y`; a scalar output uses $v = 1$.

    **`retain_graph`.** To save memory, `backward()` frees the graph's saved
    intermediate values as it goes. A second `backward()` through the same graph
    raises an error unless the first one was called with `retain_graph=True`.
    Recomputing the forward pass builds a new graph and needs no such flag.

    **Accumulation.** `backward()` **adds** into `.grad`; it never overwrites it.
    Two backward calls without zeroing in between leave the sum of both gradients.
    That is what lets gradients from several losses or mini-batches be summed, and
    why training loops zero the gradients (`x.grad = None`, `x.grad.zero_()`,
    `optimizer.zero_grad()`) before each step.

    **Turning tracking off.**

    - `with torch.no_grad():` nothing computed inside the block is recorded:
      results have `requires_grad=False` and no `grad_fn`, even from inputs that
      require grad. Use it for evaluation, and for parameter updates.
    - `x.detach()` returns a new tensor, cut off from the graph (no `grad_fn`,
      `requires_grad=False`), that **shares memory** with `x`; writing into it
      writes into `x`. `x.detach().clone()` gives an independent copy.
    - `x.data` is the older way to get at the values without tracking. Like
      `detach()` it shares memory, but autograd cannot see in-place changes made
      through it, so it can silently corrupt gradients; prefer `detach()`.
    - `x.clone()` alone is **recorded** (`grad_fn=<CloneBackward0>`): the copy
      still requires grad and stays connected to `x`'s graph.
    """),
    code("import torch"),
    md(r"""
    ## 1. `mean_square_grad(x)`

    With $\mathrm{out} = \mathrm{mean}\big(3 (x + 2)^2\big)$ (the mean over all
    entries of `x`), return $\frac{\partial\,\mathrm{out}}{\partial x}$, computed
    with autograd. For `x = torch.ones(2, 2)` that is 4.5 in every entry. Work on a
    fresh leaf copy of `x`, not on `x`: `x.requires_grad_(True)` followed by
    `backward()` would change the caller's tensor and leave its `.grad` set.
    """),
    code(TA_MEAN_SQUARE),
    md(r"""
    ## 2. `doubling_vjp(x, v)`

    Starting from $y = 2x$, keep doubling $y$ while $\lVert y\rVert < 1000$, then call
    `y.backward(v)` and return the gradient of (a leaf copy of) `x`. With $y = 2^k x$
    the Jacobian is $2^k I$, so the answer is $2^k v$, where $k$ is however many
    doublings it took: autograd records the loop as it ran. (`x` must be nonzero,
    or the loop never ends.)
    """),
    code(TA_DOUBLING),
    md(r"""
    ## 3. `untracked_square(x)`

    Return $x^2$ (elementwise) computed **without tracking history**: the result
    must have `requires_grad=False` even when `x` requires grad.
    """),
    code(TA_UNTRACKED),
    md(r"""
    ## 4. `detached_copy(x)`

    Return a tensor with `x`'s values that does not require grad and shares no
    history with `x` (no `grad_fn`), whether or not `x` requires grad and whether
    or not `x` is a leaf.
    """),
    code(TA_DETACHED),
    md(r"""
    ## 5. `accumulated_grad(x, k)`

    On a leaf copy of `x`, call `(x ** 2).sum().backward()` $k$ times **without
    zeroing** the gradient in between (recompute `(x ** 2).sum()` each time: a new
    graph, so no `retain_graph` is needed). Each call adds $2x$, so return the
    accumulated gradient $2kx$. For $k = 0$ there has been no backward call and the
    gradient is still `None`: return zeros, which is $2 \cdot 0 \cdot x$.
    """),
    code(TA_ACCUMULATED),
    md(r"""
    ## Check your work

    The cell below calls each function on float64 inputs that do and do not
    require grad, compares the results with the closed forms ($6(x + 2)/n$, $2^k v$,
    $x^2$, $x$, $2kx$), and checks that the results carry no history and that the
    argument was left as it came in. Parts you have not implemented yet are
    reported as such. Passing here is a good sign, not a grade: the grader also
    uses other inputs, float32 and other devices.
    """),
    code(TA_CHECK),
])


# --- torch_autograd samples ------------------------------------------------
# Cell ids in TA_SOLUTION: 03 import, 05 mean_square_grad, 07 doubling_vjp,
# 09 untracked_square, 11 detached_copy, 13 accumulated_grad, 15 check.

TA_STUDENT01 = {
    "cell-05": '''
        def mean_square_grad(x):
            leaf = x.detach().clone()
            leaf.requires_grad = True
            out = torch.mean(3 * (leaf + 2) * (leaf + 2))
            (grad,) = torch.autograd.grad(out, leaf)
            return grad
    ''',
    "cell-07": '''
        def doubling_vjp(x, v):
            leaf = x.detach().requires_grad_()     # a new leaf sharing x's memory (never written)
            y = leaf * 2
            while y.data.norm() < 1000:
                y = y * 2
            y.backward(v)
            return leaf.grad
    ''',
    "cell-09": '''
        @torch.no_grad()
        def untracked_square(x):
            return x * x
    ''',
    "cell-11": '''
        def detached_copy(x):
            return x.clone().detach()
    ''',
    "cell-13": '''
        def accumulated_grad(x, k):
            leaf = x.detach().clone().requires_grad_(True)
            leaf.grad = torch.zeros_like(leaf)       # start from zero, so that k = 0 works too
            for _ in range(k):
                loss = (leaf * leaf).sum()
                loss.backward()
            return leaf.grad
    ''',
}


def ta_samples() -> dict[str, Sample]:
    S = lambda: Sample(TA_SOLUTION)
    samples = {}

    s = S()
    for cell_id, source in TA_STUDENT01.items():
        s.set(cell_id, source)
    samples["student01_correct"] = s

    samples["student02_untracked_with_tracking"] = S().replace(
        "cell-09",
        "    with torch.no_grad():           # nothing in this block is recorded\n"
        "        return x ** 2",
        "    return x ** 2")

    samples["student03_accumulate_zeroes"] = S().replace(
        "cell-13",
        "    for _ in range(k):\n"
        "        (xc ** 2).sum().backward()      # a new graph each time; xc.grad += 2 xc\n",
        "    for _ in range(k):\n"
        "        xc.grad = None                  # start each backward from a clean gradient\n"
        "        (xc ** 2).sum().backward()\n")

    samples["student04_clone_keeps_history"] = S().replace(
        "cell-11",
        "return x.detach().clone()       # detach: cut from the graph; clone: its own memory",
        "return x.clone()                # a copy with its own memory")

    samples["student05_modifies_x_grad"] = S().replace(
        "cell-05",
        "    xc = x.detach().clone().requires_grad_(True)    # a fresh leaf: x keeps its flags and its .grad\n"
        "    out = (3 * (xc + 2) ** 2).mean()\n"
        "    out.backward()\n"
        "    return xc.grad.detach()",
        "    x.requires_grad_(True)\n"
        "    out = (3 * (x + 2) ** 2).mean()\n"
        "    out.backward()\n"
        "    return x.grad")
    return samples


TA_README = """\
# Sample batch: `torch_autograd`

Five synthetic student submissions for `torch_autograd` (EXERCISES.md §5),
built from `solutions/torch_autograd.ipynb` with the solution markers removed
and one planted change each, by `samples/build_more_notebooks.py` (edit that
script, not the notebooks). No outputs, as handed in; every notebook has
`metadata.grader.assignment = torch_autograd` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct.

The solution works on a fresh leaf `x.detach().clone().requires_grad_(True)`
wherever it needs a graph and returns `.grad.detach()`, so the caller's `x`
(values, `requires_grad`, `.grad`) is never touched. Note on the course's
example: `mean_square_grad` is `6 (x + 2) / n` with `n = x.numel()`, so 4.5 is
its value at `x = torch.ones(2, 2)` (n = 4); at `torch.tensor([1.])` it is 18.
`doubling_vjp` loops forever for `x = 0` (the norm never grows), in every
submission that follows the contract: do not probe it with a zero tensor.

| file | what is wrong | which behaviour breaks |
| --- | --- | --- |
| `student01_correct.ipynb` | nothing: all correct, written differently (`torch.autograd.grad` instead of `backward` in `mean_square_grad`; `doubling_vjp` on `x.detach().requires_grad_()` without `clone` (shares memory with `x`, never written) and `y.data.norm()` in the loop test; `@torch.no_grad()` as a decorator and `x * x`; `x.clone().detach()`; `accumulated_grad` starting from `leaf.grad = zeros_like(leaf)`) | none (full marks) |
| `student02_untracked_with_tracking.ipynb` | `untracked_square` returns `x ** 2` without `torch.no_grad()` | `untracked_square` only, and only when `x` requires grad: the result then requires grad and has `grad_fn=<PowBackward0>`; values right; right for an `x` that does not require grad |
| `student03_accumulate_zeroes.ipynb` | `accumulated_grad` sets `xc.grad = None` before each backward call | `accumulated_grad` only: returns `2 x` instead of `2 k x` for every `k >= 2` (right for `k = 0` and `k = 1`) |
| `student04_clone_keeps_history.ipynb` | `detached_copy` returns `x.clone()` (no `detach`) | `detached_copy` only, and only when `x` requires grad (a leaf with `requires_grad=True`, or a non-leaf with history): the copy then requires grad and has `grad_fn=<CloneBackward0>`, connected to `x`'s graph; values right; right for an `x` that does not require grad |
| `student05_modifies_x_grad.ipynb` | `mean_square_grad` calls `x.requires_grad_(True)` on the argument itself, runs `backward()` through it and returns `x.grad` | `mean_square_grad` only: the caller's `x` is changed (`x.requires_grad` becomes True, `x.grad` is set); the value returned on the first call on a fresh leaf is right (a plain tensor without `grad_fn`, but it is `x.grad` itself), and a second call on the same tensor returns twice the gradient (accumulation into `x.grad`); for a non-leaf `x` that requires grad it returns `None` (with torch's warning about `.grad` of a non-leaf) and the gradient lands in the leaf `x` was computed from |
"""


# ==========================================================================
# lagrange (EXERCISES.md §6)

LG_LAGRANGIAN = r'''
def lagrangian(f, g, x, lam):
    """L(x, lam) = f(x) - lam^T g(x), a scalar tensor (differentiable in x and lam)."""
    # BEGIN SOLUTION
    constraints = g(x).reshape(-1)          # a single constraint may come back as a 0-d tensor
    return f(x).reshape(()) - lam.reshape(-1) @ constraints
    # END SOLUTION
'''

LG_GRADIENT = r'''
def lagrangian_gradient(f, g, x, lam):
    """grad L = [grad_x L, grad_lam L] = [grad f - J_g^T lam, -g(x)], one tensor of length d + m."""
    # BEGIN SOLUTION
    x = x.detach().clone().requires_grad_(True)        # fresh leaves: the caller's tensors stay as they are
    lam = lam.detach().clone().requires_grad_(True)
    grad_x, grad_lam = torch.autograd.grad(lagrangian(f, g, x, lam), (x, lam), allow_unused=True)
    if grad_x is None:                                  # L does not depend on x at all
        grad_x = torch.zeros_like(x)
    if grad_lam is None:
        grad_lam = torch.zeros_like(lam)
    return torch.cat([grad_x.reshape(-1), grad_lam.reshape(-1)]).detach()
    # END SOLUTION
'''

LG_SOLVE = r'''
def solve_constrained(f, g, x0, lam0, max_iter=50, tol=1e-10):
    """A stationary point (x_star, lam_star) of L, by Newton's method on grad L = 0.

    Computes in float64; returns detached tensors with x0's dtype and device.
    """
    # BEGIN SOLUTION
    d = x0.shape[0]
    x = x0.detach().to(torch.float64)
    lam = torch.as_tensor(lam0).detach().to(dtype=torch.float64, device=x.device).reshape(-1)
    z = torch.cat([x, lam])                 # the unknowns z = (x, lam) of grad L(z) = 0

    def L(z):
        return lagrangian(f, g, z[:d], z[d:])

    for _ in range(max_iter):
        grad = torch.autograd.functional.jacobian(L, z)     # grad L(z), shape (d + m,)
        if grad.norm() < tol:
            break
        hess = torch.autograd.functional.hessian(L, z)      # the KKT matrix, (d + m, d + m)
        z = z - torch.linalg.solve(hess, grad)              # the Newton step
    return z[:d].to(x0.dtype), z[d:].to(x0.dtype)
    # END SOLUTION
'''

LG_CHECK = r'''
# Quick checks in float64: the circle example, a random quadratic with two linear
# constraints, and the KKT residual of what solve_constrained returns.
_dt = torch.float64
_r = 1 / math.sqrt(2)


def _report(name, run):
    try:
        problems = run()
    except NotImplementedError:
        print(f"{name:20} not implemented yet")
        return
    except Exception as exc:
        print(f"{name:20} raised {type(exc).__name__}: {exc}")
        return
    print(f"{name:20} {'; '.join(problems) if problems else 'ok'}")


def _compare(what, got, want, tol=1e-8):
    if not isinstance(got, torch.Tensor):
        return [f"{what}: {type(got).__name__}, expected a torch.Tensor"]
    if got.shape != want.shape or got.dtype != want.dtype:
        return [f"{what}: {tuple(got.shape)} {got.dtype}, expected {tuple(want.shape)} {want.dtype}"]
    if got.requires_grad:
        return [f"{what}: requires grad, expected a detached tensor"]
    err = (got - want).abs().max().item()
    return [] if err <= tol else [f"{what}: {got.tolist()}, expected {want.tolist()}"]


def _circle_f(x):                       # maximise x + y ...
    return x[0] + x[1]


def _circle_g(x):                       # ... subject to x^2 + y^2 - 1 = 0
    return (x @ x - 1).reshape(1)


torch.manual_seed(0)
_d, _m = 4, 2
_B = torch.randn(_d, _d, dtype=_dt)
_Q = _B @ _B.T + _d * torch.eye(_d, dtype=_dt)            # symmetric positive definite
_c = torch.randn(_d, dtype=_dt)
_A = torch.randn(_m, _d, dtype=_dt)
_b = torch.randn(_m, dtype=_dt)
_quad_f = lambda x: 0.5 * x @ _Q @ x + _c @ x
_quad_g = lambda x: _A @ x - _b
# grad L = 0:  Q x + c - A^T lam = 0  and  -(A x - b) = 0
_K = torch.cat([torch.cat([_Q, -_A.T], 1), torch.cat([-_A, torch.zeros(_m, _m, dtype=_dt)], 1)], 0)
_quad_star = torch.linalg.solve(_K, torch.cat([-_c, -_b]))


def _kkt_residual(f, g, x, lam):
    """|| [grad f(x) - J_g(x)^T lam, g(x)] ||, from autograd, independently of your code."""
    grad_f = torch.autograd.functional.jacobian(f, x)
    J = torch.autograd.functional.jacobian(g, x)
    return torch.cat([grad_f - J.T @ lam, g(x)]).norm().item()


def _check_lagrangian():
    x, lam = torch.tensor([0.5, 1.0], dtype=_dt), torch.tensor([2.0], dtype=_dt)
    got = lagrangian(_circle_f, _circle_g, x, lam)      # 1.5 - 2 * 0.25
    return _compare("L((0.5, 1), 2)", torch.as_tensor(got).detach(), torch.tensor(1.0, dtype=_dt))


def _check_gradient():
    x, lam = torch.tensor([0.5, 1.0], dtype=_dt), torch.tensor([2.0], dtype=_dt)
    before = (x.clone(), lam.clone())
    got = lagrangian_gradient(_circle_f, _circle_g, x, lam)
    # [1 - 2 lam x, 1 - 2 lam y, -(x^2 + y^2 - 1)]
    problems = _compare("grad L((0.5, 1), 2)", got, torch.tensor([-1.0, -3.0, -0.25], dtype=_dt))
    if not (torch.equal(x, before[0]) and torch.equal(lam, before[1])):
        problems.append("modified x or lam")
    return problems


def _check_solve(f, g, x0, lam0, x_want, lam_want):
    x_star, lam_star = solve_constrained(f, g, x0, lam0)
    problems = _compare("x_star", x_star, x_want) + _compare("lam_star", lam_star, lam_want)
    if isinstance(x_star, torch.Tensor) and isinstance(lam_star, torch.Tensor) and not problems:
        res = _kkt_residual(f, g, x_star.detach(), lam_star.detach())
        if res > 1e-8:
            problems.append(f"KKT residual {res:.1e}")
    return problems


_report("lagrangian", _check_lagrangian)
_report("lagrangian_gradient", _check_gradient)
_report("solve (circle)", lambda: _check_solve(
    _circle_f, _circle_g, torch.tensor([0.6, 0.8], dtype=_dt), torch.tensor([1.0], dtype=_dt),
    torch.tensor([_r, _r], dtype=_dt), torch.tensor([_r], dtype=_dt)))
_report("solve (quadratic)", lambda: _check_solve(
    _quad_f, _quad_g, torch.zeros(_d, dtype=_dt), torch.zeros(_m, dtype=_dt),
    _quad_star[:_d], _quad_star[_d:]))
'''

LG_SOLUTION = number([
    md(r"""
    # Equality-constrained optimisation: Lagrange multipliers

    In this assignment you write the Lagrangian of an equality-constrained problem,
    compute its gradient with autograd, and find its stationary points with
    Newton's method, using autograd Hessians.

    Rules:

    - `f` is a scalar function of $x$ (a tensor of shape $(d,)$) and `g` maps $x$
      to the vector of constraint values $(g_1(x), \dots, g_m(x))$, shape $(m,)$;
      both are written with torch operations, so autograd can differentiate them.
      `lam` has shape $(m,)$.
    - Use torch autograd (`torch.autograd.grad`, `torch.autograd.functional`,
      `torch.func`) for every derivative: no hand-derived gradients.
    - Never modify the arguments. Return tensors **without history** (detached).
    - Keep the names exactly as given, and the **sign convention** below: the
      grader checks the multipliers too.
    """),
    md(r"""
    ## The Lagrangian and the KKT conditions

    We want to optimise (minimise or maximise) $f(x)$ over $x \in \mathbb{R}^d$
    subject to $m$ equality constraints $g_i(x) = 0$. The course's sign convention
    for the **Lagrangian** is

    $$L(x, \lambda) = f(x) - \sum_{i=1}^m \lambda_i\, g_i(x) = f(x) - \lambda^\top g(x).$$

    At a constrained optimum $x^\star$ (where the constraint gradients
    $\nabla g_i(x^\star)$ are linearly independent), $\nabla f$ is a combination of
    the constraint gradients: there is a $\lambda^\star$ with

    $$\nabla f(x^\star) = \sum_i \lambda^\star_i\, \nabla g_i(x^\star) = J_g(x^\star)^\top \lambda^\star,$$

    where $J_g$ is the $m \times d$ Jacobian of $g$. Together with feasibility these
    are the first-order (KKT) conditions for equality constraints, and they say
    exactly that $(x^\star, \lambda^\star)$ is a **stationary point of $L$**:

    $$\nabla L(x, \lambda) =
    \begin{pmatrix} \nabla_x L \\ \nabla_\lambda L \end{pmatrix} =
    \begin{pmatrix} \nabla f(x) - J_g(x)^\top \lambda \\ -g(x) \end{pmatrix} = 0.$$

    Stationarity does not tell minima from maxima: $(x^\star, \lambda^\star)$ is a
    **saddle point** of $L$, and minima and maxima of $f$ on the constraint set both
    satisfy it. With the opposite convention $L = f + \lambda^\top g$ the same
    points come out with **negated** multipliers. $\lambda^\star_i$ is the
    sensitivity of the optimal value to the constraint level: changing the
    constraint to $g_i(x) = \varepsilon$ changes the optimal $f$ by about
    $\lambda^\star_i\,\varepsilon$.

    **The course's example.** Maximise $f(x, y) = x + y$ subject to
    $g(x, y) = x^2 + y^2 - 1 = 0$ (the unit circle). Stationarity:
    $(1, 1) = \lambda\,(2x, 2y)$, so $x = y = \frac{1}{2\lambda}$, and the constraint
    gives $\frac{2}{4\lambda^2} = 1$, $\lambda = \pm\frac{1}{\sqrt 2}$. The maximum is
    $x^\star = y^\star = \frac{1}{\sqrt 2}$ with $\lambda^\star = \frac{1}{\sqrt 2}$
    (and $f^\star = \sqrt 2$); $\lambda = -\frac{1}{\sqrt 2}$ gives the minimum at
    $(-\frac{1}{\sqrt 2}, -\frac{1}{\sqrt 2})$.

    ## Newton's method on $\nabla L = 0$

    Write $z = (x, \lambda) \in \mathbb{R}^{d + m}$ and $F(z) = \nabla L(z)$. Newton's
    method for $F(z) = 0$ linearises $F$ at the current $z$ and solves the linear
    system:

    $$z \leftarrow z - H(z)^{-1} \nabla L(z), \qquad
    H = \nabla^2 L = \begin{pmatrix} \nabla^2_{xx} L & -J_g^\top \\ -J_g & 0 \end{pmatrix},$$

    the Hessian of $L$ in $(x, \lambda)$ (the **KKT matrix**), symmetric and
    indefinite. Autograd gives both $\nabla L$ and $H$ from the scalar function
    $L(z)$: `torch.autograd.functional.jacobian` / `hessian`, or `torch.func.grad` /
    `torch.func.hessian`. Solve with `torch.linalg.solve` (never form the inverse).
    Near a stationary point where $H$ is invertible, Newton converges
    quadratically: the number of correct digits doubles with every step. Newton
    finds stationary points, not minima, so it converges to whichever one is near
    the start (here the maximum from $(0.6, 0.8)$, $\lambda = 1$).

    For a quadratic $f(x) = \frac{1}{2}x^\top Q x + c^\top x$ with linear constraints
    $g(x) = Ax - b$, $\nabla L$ is affine in $z$ and $H$ is constant:
    **one Newton step** lands exactly on the solution of

    $$\begin{pmatrix} Q & -A^\top \\ -A & 0 \end{pmatrix}
    \begin{pmatrix} x \\ \lambda \end{pmatrix} =
    \begin{pmatrix} -c \\ -b \end{pmatrix}.$$
    """),
    code(r'''
    import math

    import torch
    '''),
    md(r"""
    ## 1. `lagrangian(f, g, x, lam)`

    Return $L(x, \lambda) = f(x) - \lambda^\top g(x)$ as a scalar (0-dimensional)
    tensor. Keep it differentiable: when `x` or `lam` require grad, so does the result.
    """),
    code(LG_LAGRANGIAN),
    md(r"""
    ## 2. `lagrangian_gradient(f, g, x, lam)`

    Return $\nabla L = \big(\nabla_x L, \nabla_\lambda L\big) =
    \big(\nabla f(x) - J_g(x)^\top \lambda,\; -g(x)\big)$ as **one** tensor of length
    $d + m$, computed with autograd from `lagrangian`. Differentiate with respect to
    fresh leaf copies of `x` and `lam` (`.detach().clone().requires_grad_(True)`), so
    that the caller's tensors are not touched, and return the result detached.
    """),
    code(LG_GRADIENT),
    md(r"""
    ## 3. `solve_constrained(f, g, x0, lam0)`

    Starting from $z_0 = (x_0, \lambda_0)$, run Newton's method on $\nabla L = 0$ with
    the Hessian of $L$ in $(x, \lambda)$ from autograd: at most 50 iterations,
    stopping as soon as $\lVert \nabla L \rVert < 10^{-10}$. Compute in **float64**
    throughout (convert `x0` and `lam0`; `f` and `g` must accept float64 tensors),
    whatever the dtype of `x0`, and return `(x_star, lam_star)`: detached tensors of
    shapes $(d,)$ and $(m,)$ with `x0`'s dtype and device.
    """),
    code(LG_SOLVE),
    md(r"""
    ## Check your work

    The cell below checks `lagrangian` and `lagrangian_gradient` at a point of the
    circle example, then `solve_constrained` on the circle (from $(0.6, 0.8)$,
    $\lambda_0 = 1$) and on a random quadratic with two linear constraints, whose
    solution comes from the KKT system above; for both it also computes the KKT
    residual $\lVert(\nabla f - J_g^\top \lambda, g)\rVert$ of your answer. Parts you
    have not implemented yet are reported as such. Passing here is a good sign,
    not a grade: the grader also uses other problems and starting points.
    """),
    code(LG_CHECK),
])


# --- lagrange samples --------------------------------------------------------
# Cell ids in LG_SOLUTION: 03 imports, 05 lagrangian, 07 lagrangian_gradient,
# 09 solve_constrained, 11 check.

LG_STUDENT01 = {
    "cell-05": '''
        def lagrangian(f, g, x, lam):
            return f(x) - torch.sum(lam * g(x))
    ''',
    "cell-07": '''
        def lagrangian_gradient(f, g, x, lam):
            grad_x, grad_lam = torch.func.grad(lambda a, b: lagrangian(f, g, a, b), argnums=(0, 1))(
                x.detach(), lam.detach())
            return torch.cat([grad_x, grad_lam])
    ''',
    "cell-09": '''
        def solve_constrained(f, g, x0, lam0):
            # Newton on the KKT system, assembled block by block:
            # [[H_xx, -J^T], [-J, 0]] [dx, dlam] = -[grad f - J^T lam, -g]
            x = x0.detach().double()
            lam = torch.as_tensor(lam0).detach().to(x).reshape(-1)
            d, m = x.numel(), lam.numel()
            for it in range(50):
                J = torch.autograd.functional.jacobian(g, x).reshape(m, d)
                grad_f = torch.autograd.functional.jacobian(f, x).reshape(d)
                r = torch.cat([grad_f - J.T @ lam, -g(x).reshape(m)])
                if torch.linalg.norm(r) < 1e-10:
                    break
                H = torch.autograd.functional.hessian(lambda v: lagrangian(f, g, v, lam), x)
                K = torch.zeros(d + m, d + m, dtype=x.dtype, device=x.device)
                K[:d, :d] = H
                K[:d, d:] = -J.T
                K[d:, :d] = -J
                step = torch.linalg.solve(K, -r)
                x = x + step[:d]
                lam = lam + step[d:]
            return x.to(x0.dtype), lam.to(x0.dtype)
    ''',
}

LG_STUDENT03_SOLVE = '''
    def solve_constrained(f, g, x0, lam0, max_iter=50, tol=1e-10):
        """A stationary point (x_star, lam_star) of L, by Newton's method on grad L = 0.

        Computes in float64; returns detached tensors with x0's dtype and device.
        """
        x = x0.detach().to(torch.float64)
        for _ in range(max_iter):
            grad = torch.autograd.functional.jacobian(f, x)     # grad f(x)
            if grad.norm() < tol:
                break
            hess = torch.autograd.functional.hessian(f, x)
            x = x - torch.linalg.solve(hess, grad)
        lam = torch.as_tensor(lam0).detach().clone().to(dtype=x0.dtype, device=x0.device).reshape(-1)
        return x.to(x0.dtype), lam
'''


def lg_samples() -> dict[str, Sample]:
    S = lambda: Sample(LG_SOLUTION)
    samples = {}

    s = S()
    for cell_id, source in LG_STUDENT01.items():
        s.set(cell_id, source)
    samples["student01_correct"] = s

    # L = f + lam^T g; lagrangian_gradient and solve_constrained are built on lagrangian
    samples["student02_opposite_sign"] = S().replace(
        "cell-05",
        "return f(x).reshape(()) - lam.reshape(-1) @ constraints",
        "return f(x).reshape(()) + lam.reshape(-1) @ constraints")

    samples["student03_ignores_constraint"] = S().set("cell-09", LG_STUDENT03_SOLVE)

    samples["student04_gradient_no_lam_part"] = S().replace(
        "cell-07",
        "return torch.cat([grad_x.reshape(-1), grad_lam.reshape(-1)]).detach()",
        "return grad_x.reshape(-1).detach()")
    return samples


LG_README = """\
# Sample batch: `lagrange`

Four synthetic student submissions for `lagrange` (EXERCISES.md §6), built
from `solutions/lagrange.ipynb` with the solution markers removed and one
planted change each, by `samples/build_more_notebooks.py` (edit that script,
not the notebooks). No outputs, as handed in; every notebook has
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

| file | what is wrong | which behaviour breaks |
| --- | --- | --- |
| `student01_correct.ipynb` | nothing: all correct, written differently (`torch.sum(lam * g(x))`; `lagrangian_gradient` with `torch.func.grad(..., argnums=(0, 1))` on detached inputs; `solve_constrained` assembles the KKT matrix block by block from `hessian` of `L` in `x` and `jacobian` of `g`, residual `[grad f - J^T lam, -g]`, float64 via `.double()`) | none (full marks) |
| `student02_opposite_sign.ipynb` | `lagrangian` uses the opposite sign convention `L = f + lam^T g`; since `lagrangian_gradient` and `solve_constrained` are built on it, they follow it consistently | `lagrangian`: `f + lam^T g` instead of `f - lam^T g` (wrong wherever `lam^T g(x) != 0`); `lagrangian_gradient`: `[grad f + J^T lam, +g(x)]` (both parts wrong; only right where `J^T lam = 0` and `g = 0`); `solve_constrained`: `x_star` right, `lam_star` negated (circle from `(0.6, 0.8)`, `lam0 = 1`: `x* = (1/sqrt2, 1/sqrt2)`, `lam* = -1/sqrt2`; quadratic: `x*` right, `lam* = -lam_true`); the KKT residual in the course's convention is `2 ||J^T lam*||`, not 0. Its Newton iterates are those of the correct solver started from `-lam0`, so which stationary point it reaches follows that start |
| `student03_ignores_constraint.ipynb` | `solve_constrained` ignores `g`: Newton's method on `grad f = 0` with the Hessian of `f`, returning `lam0` unchanged (as a tensor of `x0`'s dtype) | `solve_constrained` only: circle (linear `f`, zero Hessian) raises `torch.linalg.LinAlgError` (singular matrix); quadratic: returns the unconstrained minimiser `-Q^{-1} c` (infeasible) and `lam0`; `lagrangian` and `lagrangian_gradient` are right |
| `student04_gradient_no_lam_part.ipynb` | `lagrangian_gradient` returns only `grad_x L = grad f - J^T lam` (length d) | `lagrangian_gradient` only: length `d` instead of `d + m` (the `-g(x)` part is missing; the first `d` entries are right); `lagrangian` and `solve_constrained` are right |
"""


# ==========================================================================

def build(root: Path = ROOT) -> list[Path]:
    return build_assignments(root, (
        ("numerical_diff", ND_SOLUTION, nd_samples(), ND_README),
        ("torch_autograd", TA_SOLUTION, ta_samples(), TA_README),
        ("lagrange", LG_SOLUTION, lg_samples(), LG_README),
    ))


if __name__ == "__main__":
    main(build, ROOT)
