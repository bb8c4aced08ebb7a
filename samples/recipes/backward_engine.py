"""The `backward_engine` samples: how each is made and the verdict it must get (keys: samples/sample_table.py).

`rewrite=True`: the sample's rewritten cells are in samples/recipes/backward_engine/<sample>.py.
Rebuild with `python samples/build.py backward_engine`.
"""

INTRO = """\
# Sample batch: `backward_engine`

Eight synthetic student submissions for `backward_engine` (EXERCISES.md §4),
built from `solutions/backward_engine.ipynb` with the solution markers removed
and one planted change each, by `samples/build.py` from the table in
`samples/recipes/backward_engine.py` (edit that table, not the notebooks). No
outputs, as handed in; every notebook has
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
"""


SAMPLES = {
    'student01_correct': dict(
        wrong=('nothing: all correct, written differently (a `_lift` helper, a `_unary` helper for '
               'one-child nodes, `-` and unary `-` built from `+` and `* -1`, `/` as `* b ** -1`, '
               '`_prev` a list, topological sort with an explicit stack of `(node, children_done)` '
               'pairs and a visited set, `vjp` with `sum(..., Value(0.0))`)'),
        breaks='none (full marks)',
        rewrite=True,
        expect={},
    ),
    'student02_overwrite_grad': dict(
        wrong=('every `+=` in the `_backward` closures replaced by `=`: gradients are overwritten '
               'instead of accumulated'),
        breaks=('any node that receives more than one contribution: a node used twice (`a * (a + b)`,'
               ' `a * a`, `s * s + s`, shared subexpressions, an input used at every step of a deep '
               'chain, most `vjp` maps whose outputs share an input), and leaves across two backward'
               ' calls or two graphs (the second overwrites the first); single operations and graphs'
               ' in which every node is used once, with one backward call, are right'),
        # every `+=` inside the _backward closures becomes `=` (10 closures, 14 lines); every
        # operation's public cases use its operand again (`x.exp() + x`), so each fails
        replace=[("cell-05", ".grad += ", ".grad = ", 14)],
        expect={"*": "failed: .grad overwritten",
                "value_exp": "failed: the backward step of `Value.exp` overwrites `.grad`",
                "value_number_left": "failed: `radd` fails because `add` fails"},
    ),
    'student03_tanh_wrong': dict(
        wrong='tanh local derivative `1 + t^2` instead of `1 - t^2`',
        breaks='gradients through `.tanh()` (data right); everything without tanh is right',
        replace=[("cell-05", "self.grad += (1 - t * t) * out.grad", "self.grad += (1 + t * t) * out.grad")],
        expect={"value_tanh": "failed: the derivative rule of `tanh` in `Value.tanh` is wrong",
                "value_composite": "failed: the smallest failing graph is a single `tanh`"},
    ),
    'student04_recursive_topo': dict(
        wrong='textbook recursive `build_topo` in `backward`',
        breaks=('deep graphs only: `RecursionError` once the longest path is longer than the '
               'recursion limit allows (in a Jupyter kernel, whose limit is 3000, about 2970 nodes; '
               "in plain Python about 1000), e.g. the check cell's 5000-step chain; every shallower "
               'graph is right'),
        rewrite=True,
        expect={"value_deep": "error: a recursive graph walk fails on graphs thousands of nodes deep"},
    ),
    'student05_micrograd_api': dict(
        wrong=("the public micrograd engine (`Value(data, _children=(), _op='')`, `+ * **` "
               '(int/float exponent) `relu`, and `__neg__ __sub__ __rsub__ __radd__ __rmul__ '
               '__truediv__ __rtruediv__` built from them; `grad` starts at int `0`, `relu` of a '
               'negative gives int `0`, `_prev` is a set, recursive topological sort); no `tanh`, '
               '`exp`, `log`; `vjp` as in the solution'),
        breaks=('must grade as correct for every operation it has (EXERCISES.md §4); `.tanh()`, '
               '`.exp()`, `.log()` raise `AttributeError` (unsupported operation); deep graphs '
               '(longest path beyond about 2970 nodes in a Jupyter kernel) raise `RecursionError`, '
               'as in micrograd itself'),
        rewrite=True,
        # the public micrograd engine: full marks wherever it has the operation; the deep
        # graph fails on its recursive topological sort, by design
        expect={"value_tanh": "error: operation not supported: tanh",
                "value_exp": "error: operation not supported: exp",
                "value_log": "error: operation not supported: log",
                "value_composite": "error: implement `exp` in your `Value` class",
                "value_deep": "error: exceeded Python's recursion limit"},
    ),
    'student06_uses_torch': dict(
        wrong=('`Value` wraps a float64 torch tensor with `requires_grad` and `backward()` calls '
               "torch's `backward`, copying the gradients back: numerically right, but it is torch "
               'autograd, not an engine'),
        breaks=('values and gradients right for every operation, deep graphs and accumulation; should'
               ' be flagged for using torch autograd'),
        rewrite=True,
        expect={"*": "forbidden: uses torch (`torch.tensor` in Value (cell 5, line 6))"},
    ),
    'student07_visits_twice': dict(
        wrong=('the topological order is a post-order DFS without a visited set: a node reached '
               'along k paths appears k times, so its `_backward` runs k times'),
        breaks=('any graph in which a non-leaf node is used more than once (`s * s + s` with `s = a +'
               ' b`, shared subexpressions, `vjp` maps whose outputs share an intermediate node): '
               'its `_backward` runs once per path, adding extra contributions: wrong gradients; '
               'time exponential in the number of stacked reuses (a deep chain of `y = y * y`-style '
               'nodes does not finish); reuse of leaves only (`a * (a + b)`) and graphs without '
               'reuse are right, including deep chains'),
        rewrite=True,
        expect={"value_composite_arithmetic": "failed: a node's backward step runs more than once",
                "value_composite": "failed: a node's backward step runs more than once",
                "value_reuse": "failed: a node's backward step runs more than once",
                "vjp": "failed: this function builds on your class, which fails value_composite_arithmetic"},
    ),
    'student08_mul_sign': dict(
        wrong=('product rule with a sign error for the right operand of `a * b`: `other.grad -= '
               'self.data * out.grad`'),
        breaks=('gradients through `a * b` into the right operand `b` (negated; `a * a` gives 0 '
               'instead of `2a`), when `b` is a `Value` (constants lifted from numbers are right '
               'operands of `a * 2.5` and `2.5 * a` but their grads are never read, so those are '
               "right); `vjp` forms `v_i * y_i` as `y_i * v_i`, so only `f`'s own products matter; "
               'every other operation is right'),
        replace=[("cell-05", "other.grad += self.data * out.grad", "other.grad -= self.data * out.grad")],
        expect={"value_mul": "failed: sign error in the derivative of `x * y` with respect to y (product rule)",
                "value_composite_arithmetic": "failed: the smallest failing graph is a single `mul`",
                "value_composite": "failed: the smallest failing graph is a single `mul`",
                "value_reuse": "failed: the smallest failing graph is a single `mul`",
                "value_accumulate": "failed: the smallest failing graph is a single `mul`",
                "value_deep": "failed: the smallest failing graph is a single `mul`",
                "vjp": "failed: the smallest failing graph is a single `mul`"},
    ),
}
