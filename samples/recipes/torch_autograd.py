"""The `torch_autograd` samples: how each is made and the verdict it must get (keys: samples/sample_table.py).

`rewrite=True`: the sample's rewritten cells are in samples/recipes/torch_autograd/<sample>.py.
Rebuild with `python samples/build.py torch_autograd`.
"""

INTRO = """\
# Sample batch: `torch_autograd`

Five synthetic student submissions for `torch_autograd` (EXERCISES.md §5),
built from `solutions/torch_autograd.ipynb` with the solution markers removed
and one planted change each, by `samples/build.py` from the table in
`samples/recipes/torch_autograd.py` (edit that table, not the notebooks). No
outputs, as handed in; every notebook has
`metadata.grader.assignment = torch_autograd` and executes without a failing
cell. Everything not listed is identical to the solution, so it is correct.

The solution works on a fresh leaf `x.detach().clone().requires_grad_(True)`
wherever it needs a graph and returns `.grad.detach()`, so the caller's `x`
(values, `requires_grad`, `.grad`) is never touched. Note on the course's
example: `mean_square_grad` is `6 (x + 2) / n` with `n = x.numel()`, so 4.5 is
its value at `x = torch.ones(2, 2)` (n = 4); at `torch.tensor([1.])` it is 18.
`doubling_vjp` loops forever for `x = 0` (the norm never grows), in every
submission that follows the contract: do not probe it with a zero tensor.
"""


SAMPLES = {
    'student01_correct': dict(
        wrong=('nothing: all correct, written differently (`torch.autograd.grad` instead of '
               '`backward` in `mean_square_grad`; `doubling_vjp` on `x.detach().requires_grad_()` '
               'without `clone` (shares memory with `x`, never written) and `y.data.norm()` in the '
               'loop test; `@torch.no_grad()` as a decorator and `x * x`; `x.clone().detach()`; '
               '`accumulated_grad` starting from `leaf.grad = zeros_like(leaf)`)'),
        breaks='none (full marks)',
        rewrite=True,
        expect={},
    ),
    'student02_untracked_with_tracking': dict(
        wrong='`untracked_square` returns `x ** 2` without `torch.no_grad()`',
        breaks=('`untracked_square` only, and only when `x` requires grad: the result then requires '
               'grad and has `grad_fn=<PowBackward0>`; values right; right for an `x` that does not '
               'require grad'),
        replace=[("cell-09",
                  "    with torch.no_grad():           # nothing in this block is recorded\n"
                  "        return x ** 2",
                  "    return x ** 2")],
        expect={"untracked_square": "failed: the result still carries autograd history (grad_fn=PowBackward0)"},
    ),
    'student03_accumulate_zeroes': dict(
        wrong='`accumulated_grad` sets `xc.grad = None` before each backward call',
        breaks=('`accumulated_grad` only: returns `2 x` instead of `2 k x` for every `k >= 2` (right '
               'for `k = 0` and `k = 1`)'),
        replace=[("cell-13",
                  "    for _ in range(k):\n"
                  "        (xc ** 2).sum().backward()      # a new graph each time; xc.grad += 2 xc\n",
                  "    for _ in range(k):\n"
                  "        xc.grad = None                  # start each backward from a clean gradient\n"
                  "        (xc ** 2).sum().backward()\n")],
        expect={"accumulated_grad": "failed: .grad was overwritten (or zeroed) between calls"},
    ),
    'student04_clone_keeps_history': dict(
        wrong='`detached_copy` returns `x.clone()` (no `detach`)',
        breaks=('`detached_copy` only, and only when `x` requires grad (a leaf with '
               '`requires_grad=True`, or a non-leaf with history): the copy then requires grad and '
               "has `grad_fn=<CloneBackward0>`, connected to `x`'s graph; values right; right for an"
               ' `x` that does not require grad'),
        replace=[("cell-11",
                  "return x.detach().clone()       # detach: cut from the graph; clone: its own memory",
                  "return x.clone()                # a copy with its own memory")],
        expect={"detached_copy": "failed: the result still carries autograd history (grad_fn=CloneBackward0)"},
    ),
    'student05_modifies_x_grad': dict(
        wrong=('`mean_square_grad` calls `x.requires_grad_(True)` on the argument itself, runs '
               '`backward()` through it and returns `x.grad`'),
        breaks=("`mean_square_grad` only: the caller's `x` is changed (`x.requires_grad` becomes "
               'True, `x.grad` is set); the value returned on the first call on a fresh leaf is '
               'right (a plain tensor without `grad_fn`, but it is `x.grad` itself), and a second '
               'call on the same tensor returns twice the gradient (accumulation into `x.grad`); for'
               " a non-leaf `x` that requires grad it returns `None` (with torch's warning about "
               '`.grad` of a non-leaf) and the gradient lands in the leaf `x` was computed from'),
        replace=[("cell-05",
                  "    xc = x.detach().clone().requires_grad_(True)    # a fresh leaf: x keeps its flags and its .grad\n"
                  "    out = (3 * (xc + 2) ** 2).mean()\n"
                  "    out.backward()\n"
                  "    return xc.grad.detach()",
                  "    x.requires_grad_(True)\n"
                  "    out = (3 * (x + 2) ** 2).mean()\n"
                  "    out.backward()\n"
                  "    return x.grad")],
        expect={"mean_square_grad": "failed: set .grad on your argument `x`"},
    ),
}
