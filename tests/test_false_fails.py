"""Issue 16's classes of false fails, each pinned down without grading a whole corpus:
the static autograd scan resolves names per scope; tampering is decided by what the
probe relies on, in the kernel; numbers of the numeric tower cross the boundary."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import torch

import helpers
from grader.checks.static import NotebookCode, evidence
from grader.expr import KERNEL_INTERP_FACTORY, KERNEL_INTERP_SOURCE, Builder
from grader.probe.session import KERNEL_SOURCE, pack_request
from grader.probe.values import Value, as_numbers, decode_value, encode_plain


def _code(*sources: str) -> NotebookCode:
    return NotebookCode(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]))


CHECKING_CELL = "import torch\nfrom torch.func import grad, jacrev as jacobian, vjp\n"


@pytest.mark.parametrize("source", [
    "def f(x, grad):\n    return grad * x\n",                              # a parameter
    "def f(x):\n    grad = x * 2\n    return grad\n",                        # a local
    "def f(xs):\n    for grad in xs:\n        pass\n    return grad\n",      # a loop variable
    "def f(x):\n    return [grad for grad in x]\n",                          # a comprehension's
    "def f(x):\n    jacobian = [[1.0]]\n    vjp = lambda v: v\n    return vjp(jacobian)\n",
    "def f(x):\n    with open('p') as grad:\n        return grad\n",        # a with target
    "def f(x):\n    try:\n        pass\n    except Exception as grad:\n        pass\n    return x\n",
    "def f(x):\n    return torch.func.vmap(torch.sin)(x)\n",                  # vmap is not autograd
    "class M:\n    def grad(self, x):\n        return x\ndef f(x):\n    return M().grad(x)\n",
    "def f(x):\n    def inner(grad):\n        return grad\n    return inner(x)\n",
])
def test_a_local_name_is_not_the_imported_autograd(source):
    assert _code(CHECKING_CELL, source).autograd_uses("f") == []
    assert _code(source, CHECKING_CELL).autograd_uses("f") == []   # order of cells does not matter


@pytest.mark.parametrize("source, what", [
    ("def f(x):\n    return grad(lambda v: v.sum())(x)\n", "grad"),             # the module's grad
    ("import torch.autograd as ag\ndef f(x):\n    return ag.grad(x, x)\n", "ag.grad"),
    ("def f(x):\n    g = torch.autograd\n    return g.grad(x, x)\n", "g.grad"),  # an alias in the function
    ("def f(x):\n    from torch.func import grad as G\n    return G(x)\n", "G"),
    ("def helper(x):\n    return torch.func.jacrev(torch.sin)(x)\ndef f(x):\n    return helper(x)\n",
     "torch.func.jacrev"),
    ("def f(x):\n    global grad\n    grad = 1\n    return grad(x)\n", None),   # global: rebinds the module's
    ("class C:\n    def run(self, x):\n        x.backward()\ndef f(x):\n    return C().run(x)\n", "x.backward"),
    ("def f(x):\n    return torch.zeros(3, requires_grad=True)\n", "requires_grad=True"),
    ("def f(x):\n    def inner(v):\n        return grad(torch.sin)(v)\n    return inner(x)\n", "grad"),
])
def test_autograd_reached_through_scopes_still_counts(source, what):
    found = _code(CHECKING_CELL, source).autograd_uses("f")
    if what is None:   # `global grad; grad = 1` makes the module's grad an int: nothing to find
        assert found == []
    else:
        assert found and found[0].what == what, found


@pytest.mark.parametrize("cells", [
    # a layer's own backward (the name proves nothing when a notebook class defines it)
    ("class Step:\n    def backward(self, g):\n        return g.clone()\n",
     "def f(x):\n    return Step().backward(x)\n"),
    # the last definition sits in a cell whose loop body is a magic alone
    ("def f(x):\n    return torch.func.jacrev(torch.sin)(x)\n",
     "def f(x):\n    return x.cos()\nfor _ in range(2):\n    %time f(1.0)\n"),
    ("def f(x):\n    return torch.func.jacrev(torch.sin)(x)\n", "%%time\ndef f(x):\n    return x.cos()\n"),
    # a draft replaced by rebinding the name to another function
    ("def f(x):\n    return torch.func.jacrev(torch.sin)(x)\n",
     "def by_hand(x):\n    return x.cos()\nf = by_hand\n"),
    # autograd switched off is not autograd used
    ("@torch.autograd.no_grad()\ndef f(x):\n    with torch.autograd.set_grad_enabled(False):\n        return x * 2\n",),
])
def test_what_only_looks_like_autograd_is_not_flagged(cells):
    assert _code(CHECKING_CELL, *cells).autograd_uses("f") == []


@pytest.mark.parametrize("cells, what", [
    (("f = lambda x: torch.func.grad(torch.sin)(x)\n",), "torch.func.grad"),        # bound by assignment
    (("def f(x):\n    return torch.func.grad(torch.sin)(x)\n", "f = torch.no_grad()(f)\n"), "torch.func.grad"),
    # a %%writefile cell is text for a file: the def before it is the one that runs
    (("def f(x):\n    return torch.func.grad(torch.sin)(x)\n", "%%writefile f.py\ndef f(x):\n    return x.cos()\n"),
     "torch.func.grad"),
    (("class Layer:\n    def forward(self, x):\n        return x\n", "def f(x):\n    x.backward()\n"), "x.backward"),
])
def test_autograd_bound_in_other_ways_is_still_found(cells, what):
    found = _code(CHECKING_CELL, *cells).autograd_uses("f")
    assert [x.what for x in found] == [what], found


@pytest.mark.parametrize("cells", [
    # a namedtuple's field called backward: the name is all the scan sees
    ("from collections import namedtuple\nLayer = namedtuple('Layer', ['forward', 'backward'])\n",
     "def f(A, x):\n    lin = Layer(forward=lambda v: A @ v, backward=lambda g: A.T @ g)\n"
     "    return lin.backward(x)\n"),
    # two definitions in the branches of an if: which one ran is not in the text
    ("CLOSED_FORM = True\nif CLOSED_FORM:\n    def f(x):\n        return 2 * x\nelse:\n"
     "    def f(x):\n        return torch.autograd.grad((x * x).sum(), x)[0]\n",),
])
def test_what_the_scan_cannot_be_sure_of_is_evidence_only_with_the_count(cells):
    found = _code(CHECKING_CELL, *cells).autograd_uses("f")
    assert found and not any(f.sure for f in found), found
    assert evidence(found, False, "counted") is None                      # alone: nothing is proven
    assert evidence(found, True, "counted") == f"{found[0]}; counted"    # with the count: where


def test_the_last_module_binding_wins():
    assert _code(CHECKING_CELL, "def f(x):\n    return grad(x)\n", "grad = len\n").autograd_uses("f") == []
    assert _code("grad = len\n", CHECKING_CELL, "def f(x):\n    return grad(x)\n").autograd_uses("f")


# -- the numeric tower, on the kernel's side of the boundary --------------------

def _kernel_namespace() -> dict:
    ns: dict = {}
    exec(compile(KERNEL_INTERP_SOURCE + "\n" + KERNEL_SOURCE, "<probe>", "exec"), ns)   # noqa: S102
    ns["interp"] = ns[KERNEL_INTERP_FACTORY]()
    ns["probe"] = ns["_grader_probe_factory"](ns["interp"])
    return ns


@pytest.fixture(scope="module")
def kernel_ns():
    return _kernel_namespace()


@pytest.mark.parametrize("x", [np.float64(0.7), np.float32(0.7), np.asarray(0.7), np.int64(1), 1, True,
                               0.7, torch.tensor(0.7, dtype=torch.float64)])
def test_functions_handed_over_take_any_real_number(kernel_ns, x):
    b = Builder(["x"])
    out = b.op("add", b.op("tanh", b.op("exp", b.op("sin", "x"))), b.op("relu", "x"))
    f = kernel_ns["interp"].scalar_function(b.build([out]).to_json())
    v = float(x)
    assert float(f(x)) == pytest.approx(np.tanh(np.exp(np.sin(v))) + max(v, 0.0), rel=1e-6)


def test_a_number_with_its_own_methods_keeps_them(kernel_ns):
    class Dual(float):   # a student's Dual may subclass float: its sin() is the one to call
        def __new__(cls, real, dual):
            obj = super().__new__(cls, real)
            obj.dual = dual
            return obj

        def sin(self):
            return Dual(np.sin(float(self)), np.cos(float(self)) * self.dual)

    b = Builder(["x"])
    f = kernel_ns["interp"].scalar_function(b.build([b.op("sin", "x")]).to_json())
    assert f(Dual(0.5, 1.0)).dual == pytest.approx(np.cos(0.5))


def _ask(kernel_ns, fn, args=()) -> Value:
    request = {"fn": "fn", "calls": [{"args": [encode_plain(a) for a in args]}]}
    reply = kernel_ns["probe"].call(pack_request(request), {"fn": fn})
    result = json.loads(base64.b64decode(reply))["results"][0]
    assert result["status"] == "ok", result
    return decode_value(result["value"])


@pytest.mark.parametrize("returned, kind, numbers", [
    (np.float64(1.5), "float", 1.5), (np.float32(1.5), "float", 1.5), (np.int64(3), "int", 3.0),
    (np.bool_(True), "bool", 1.0), (True, "bool", 1.0), (np.asarray(2.5), "ndarray", 2.5),
    (torch.tensor(2.5), "tensor", 2.5), ((np.float64(1.0), [np.int64(2)]), "tuple", [1.0, [2.0]]),
    (np.array([[1.0, 2.0], [3.0, 4.0]]), "ndarray", [[1.0, 2.0], [3.0, 4.0]]),
])
def test_returned_numbers_keep_their_value(kernel_ns, returned, kind, numbers):
    got = _ask(kernel_ns, lambda: returned)
    assert got.kind == kind and as_numbers(got) == numbers


def test_arguments_of_the_numeric_tower_are_sent_as_numbers():
    assert encode_plain(np.int64(3)) == {"t": "int", "v": 3}
    assert encode_plain(np.float64(0.5)) == {"t": "float", "v": 0.5}
    assert encode_plain(torch.tensor(0.5)) == {"t": "float", "v": 0.5}
    with pytest.raises(TypeError):
        encode_plain(True)


def test_the_probe_reports_what_it_relies_on_when_replaced(kernel_ns):
    reply = _raw(kernel_ns, lambda: 1.0)
    assert reply["tampered"] == []
    original = json.loads

    def swap():   # a call that replaces what the report passes through
        json.loads = lambda *a, **k: original(*a, **k)
        return 1.0
    try:
        assert "json.loads" in _raw(kernel_ns, swap)["tampered"]
    finally:
        json.loads = original
    assert _raw(kernel_ns, lambda: 1.0)["tampered"] == []


def _raw(kernel_ns, fn) -> dict:
    request = {"fn": "fn", "watch_autograd": True, "calls": [{"args": []}]}
    reply = kernel_ns["probe"].call(pack_request(request), {"fn": fn})
    return json.loads(base64.b64decode(reply))["results"][0]


# -- in a kernel: settings are no tampering, replacements are --------------------

SETTINGS = """\
%matplotlib inline
%config InlineBackend.figure_format = "retina"
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.ast_node_interactivity = "all"
get_ipython().display_formatter.formatters["text/plain"].for_type(float, lambda x, p, c: p.text(f"{x:.2f}"))
import warnings, numpy as np, torch
warnings.filterwarnings("ignore")
np.set_printoptions(precision=3)
torch.set_printoptions(precision=3)
torch.manual_seed(0)"""

# the counter restored to the original during the call: autograd then goes uncounted
# (names built from strings: the static scan cannot see it, only the probe can)
UNCOUNTED = """\
import importlib, torch
_ag = getattr(torch, "auto" + "grad")
_graph = importlib.import_module("torch." + "auto" + "grad.graph")
def grad_quadratic_form(A, x):
    name = "_engine_run_" + "backward"
    setattr(_ag, name, getattr(_graph, name))
    v = x.detach().clone()
    getattr(v, "requires" + "_grad_")(True)
    (g,) = _ag.grad(v @ A @ v, [v])
    return g.detach()"""

WRAPPED_DUMPS = """\
import functools, json
json.dumps = functools.wraps(json.dumps)(functools.partial(json.dumps))"""

# a cell that starts with blank lines (IPython drops them before compiling the cell)
BLANK_TOP = """\


# the grader names line 6 of this cell, as the notebook shows it
def grad_inner(x, a):
    y = a.clone()
    raise ValueError("not yet")"""


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tamper")
    notebooks = {"settings": [SETTINGS], "uncounted": [UNCOUNTED], "wrapped_dumps": [WRAPPED_DUMPS],
                 "blank_top": [BLANK_TOP]}
    paths = [helpers.write(helpers.notebook_with(helpers.SOLUTION, cells), folder, name)
             for name, cells in notebooks.items()]
    broken = helpers.notebook_with(helpers.SOLUTION, [])     # grad_inner's own cell does not parse
    cell = next(c for c in broken.cells if "def grad_inner" in c.source)
    cell.source = "\n" + cell.source.replace("def grad_inner(x, a):", "def grad_inner(x, a)", 1)
    paths.append(helpers.write(broken, folder, "syntax_error"))
    return helpers.grade(paths, folder / "out", cfg=helpers.config(kernel="warm"))


def test_settings_are_not_tampering(kernel_run):
    result = kernel_run["settings"]
    assert result.score == result.max_score, [(q.id, q.feedback) for q in result.questions if q.score < q.max_score]


def test_a_counter_replaced_during_the_call_is_tampering(kernel_run):
    lost = {q.id: q.feedback for q in kernel_run["uncounted"].questions if q.score < q.max_score}
    assert list(lost) == ["grad_quadratic_form"], lost
    assert "torch.autograd._engine_run_backward (during the call)" in lost["grad_quadratic_form"]


def test_a_replaced_encoder_loses_every_question_that_forbids_autograd(kernel_run):
    result = kernel_run["wrapped_dumps"]
    assert result.score == 0, [(q.id, q.status) for q in result.questions]
    feedback = result.questions[0].feedback
    assert "patches what the grader's probe reports through (`json.dumps = ...` in the notebook" in feedback


def test_an_error_names_the_line_as_the_cell_shows_it(kernel_run):
    [q] = [q for q in kernel_run["blank_top"].questions if q.score < q.max_score]
    assert q.id == "grad_inner" and q.status == "error", (q.id, q.status)
    assert 'at line 6: raise ValueError("not yet")' in q.feedback, q.feedback


def test_a_function_whose_cell_failed_says_which_cell_and_line(kernel_run):
    """Not only "`grad_inner` is not defined": the cell that should have defined it, and why it
    failed, in the cell's own line numbers (not IPython's compiled file)."""
    result = kernel_run["syntax_error"]
    lost = {q.id: q for q in result.questions if q.score < q.max_score}
    assert list(lost) == ["grad_inner"] and lost["grad_inner"].status == "missing"
    [issue] = result.notebook_issues
    cell, _, why = issue.partition(": ")
    assert why == "SyntaxError: expected ':' (line 2)", issue    # line 1 of the code, after 1 blank line
    assert lost["grad_inner"].feedback == f"`grad_inner` is not defined in the notebook: its cell ({cell}) failed: {why}"


# Cells Python cannot parse: IPython's transformation makes the first ones run (the scan must
# see what they define), and cannot change the others (a plain syntax error), for which the
# scan no longer imports IPython (0.3 s on the grader's event loop).
IPYTHON_SYNTAX = ["    def f(x):\n        return 2 * x\n", ">>> def f(x):\n...     return 2 * x\n",
                  "In [1]: def f(x):\n   ...:     return 2 * x\n", "def f(x):\n    return 2 * x\nf?\n",
                  "x = !ls\ndef f(x):\n    return 2 * x\n", "/print 1\ndef f(x):\n    return 2 * x\n",
                  ",print a b\ndef f(x):\n    return 2 * x\n", "\n\n  def f(x):\n      return 2 * x\n"]
PLAIN_ERRORS = ["def f(x):\n    return torch.linalg.inv(x.T\n", "def f(x)\n    return 2 * x\n",
                "def f(x):\nreturn 2 * x\n", "x = [1, 2\n", "print 'hello'\n", "def f(x):\n    return x..T\n"]


@pytest.mark.parametrize("source", IPYTHON_SYNTAX + PLAIN_ERRORS)
def test_a_cell_is_scanned_exactly_where_ipythons_transformation_makes_it_parse(source):
    from IPython.core.inputtransformer2 import TransformerManager

    from grader.checks import static
    try:
        ast.parse(TransformerManager().transform_cell(source))
        runs = True
    except SyntaxError:
        runs = False
    assert runs == (source in IPYTHON_SYNTAX)
    assert static._ipython_may_change(source) or not runs
    assert (static._parse(source) is not None) == runs
    if runs:
        assert "f" in _code(source).functions


def test_a_plain_syntax_error_is_judged_without_importing_ipython():
    code = ("import sys, nbformat\nfrom grader.checks.static import NotebookCode\n"
            f"cells = [nbformat.v4.new_code_cell(s) for s in {PLAIN_ERRORS!r}]\n"
            "found = NotebookCode(nbformat.v4.new_notebook(cells=cells)).functions\n"
            "print(sorted(found), 'IPython' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["[]", "False"], done.stderr
