"""The corpus as data: per assignment, per graded name, correct implementations.

Each source is one code cell. Implementation k of every name goes into style
notebook k of its assignment (build.py), after settings cell k (modulo their
number) and before the assignment's extra cells for k.
"""

# Cells a student puts first: IPython settings and magics, display options,
# printoptions, warnings filters, the student's own seed. None is tampering.
SETTINGS = [
    '''
%matplotlib inline
%config InlineBackend.figure_format = "retina"
import math
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.ast_node_interactivity = "all"
import warnings
warnings.filterwarnings("ignore")
import numpy as np
import torch
np.set_printoptions(precision=4, suppress=True)
torch.set_printoptions(precision=4, sci_mode=False)
torch.manual_seed(1234)
np.random.seed(1234)
''',
    '''
%load_ext autoreload
%autoreload 2
%precision 3
get_ipython().ast_node_interactivity = "last_expr_or_assign"
import math, random
import numpy as np
import torch
random.seed(7)
torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
warnings = __import__("warnings")
warnings.simplefilter("ignore", category=UserWarning)
''',
    '''
%config InteractiveShell.ast_node_interactivity = "none"
%pprint
import math
import numpy as np
import torch
import IPython
IPython.display.display(IPython.display.Markdown("**my notebook**"))
get_ipython().display_formatter.formatters["text/plain"].for_type(float, lambda x, p, c: p.text(f"{x:.3f}"))
torch.set_printoptions(linewidth=120)
torch.use_deterministic_algorithms(False)
g = torch.Generator().manual_seed(0)
''',
]

_MATRIX = {
    "grad_inner": [
        '''
def grad_inner(x, a):
    grad = a * torch.ones_like(x)          # a local name that shadows torch.func.grad
    return grad
''',
        '''
def grad_inner(x, a):
    return torch.tensor([float(v) for v in a], dtype=a.dtype, device=a.device)
''',
        '''
def grad_inner(x, a):
    print("debug: grad_inner", tuple(x.shape))
    return a + 0 * x
''',
    ],
    "grad_linear_map": [
        '''
def grad_linear_map(A, x):
    return torch.stack([row for row in A], dim=1)
''',
        '''
class LinearMap:
    def __init__(self, A):
        self.A = A

    def grad(self, x):                     # a method called grad
        return self.A.t().clone()


def grad_linear_map(A, x):
    return LinearMap(A).grad(x)
''',
        '''
def grad_linear_map(A, x):
    return A.permute(1, 0).contiguous()
''',
    ],
    "grad_quadratic_form": [
        '''
def _symmetric_part_times_two(M):
    return M + M.transpose(0, 1)


def grad_quadratic_form(A, x):
    return _symmetric_part_times_two(A) @ x
''',
        '''
def grad_quadratic_form(A, x):
    M = A.detach().cpu().numpy()
    v = x.detach().cpu().numpy()
    g = (M + M.T) @ v                       # numpy arrays
    return torch.from_numpy(np.ascontiguousarray(g)).to(dtype=x.dtype, device=x.device)
''',
        '''
def grad_quadratic_form(A, x):
    out = torch.zeros_like(x)
    for i in range(x.shape[0]):             # one entry at a time
        out[i] = A[i] @ x + A[:, i] @ x
    return out
''',
    ],
    "grad_weighted_residual_s": [
        '''
def grad_weighted_residual_s(x, A, s, W):
    jacobian = -A                           # the Jacobian of the residual, by hand
    residual = x - A @ s
    return 2 * jacobian.T @ W @ residual
''',
        '''
def grad_weighted_residual_s(x, A, s, W):
    r = x - torch.einsum("ij,j->i", A, s)
    return -2 * torch.einsum("ji,jk,k->i", A, W, r)
''',
        '''
def grad_weighted_residual_s(x, A, s, W):
    terms = [A.T @ W @ x, -(A.T @ W @ A @ s)]
    total = torch.zeros_like(s)
    for grad in terms:                      # a loop variable called grad
        total = total + grad
    return -2 * total
''',
    ],
    "grad_weighted_residual_x": [
        '''
def grad_weighted_residual_x(x, A, s, W):
    vjp = lambda r: 2 * W @ r               # a lambda called vjp
    return vjp(x - A @ s)
''',
        '''
def grad_weighted_residual_x(x, A, s, W):
    r = x - A @ s
    return W @ r + W.T @ r
''',
        '''
def grad_weighted_residual_x(x, A, s, W, jacobian=None):
    jacobian = 2 * W if jacobian is None else jacobian   # a parameter called jacobian
    return jacobian @ (x - A @ s)
''',
    ],
    "grad_log_abs_det": [
        '''
def grad_log_abs_det(A):
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    return torch.linalg.solve(A, eye).T
''',
        '''
def grad_log_abs_det(A):
    return torch.inverse(A).mT
''',
        '''
def grad_log_abs_det(A):
    return torch.linalg.inv(A.T)
''',
    ],
    "grad_trace_product": [
        '''
def grad_trace_product(A, B):
    return B.transpose(-1, -2).contiguous()
''',
        '''
def grad_trace_product(A, B):
    return torch.stack([B[:, j] for j in range(B.shape[1])])
''',
        '''
def grad_trace_product(A, B):
    return B.T + torch.zeros_like(A)
''',
    ],
    "grad_chain_rule": [
        '''
def grad_chain_rule(x, A):
    y = A @ x
    denominator = 1.0 + float((y ** 2).sum())   # a Python float
    return 2 * A.T @ y / denominator
''',
        '''
def _outer_derivative(t):
    return 1.0 / (1.0 + t)


def _inner_gradient(x, A):
    return 2 * (A.T @ (A @ x))


def grad_chain_rule(x, A):
    y = A @ x
    return _outer_derivative(y @ y) * _inner_gradient(x, A)
''',
        '''
def _norm_squared(v, i=0):
    """Recursive on purpose."""
    return 0.0 if i == v.shape[0] else v[i] * v[i] + _norm_squared(v, i + 1)


def grad_chain_rule(x, A):
    y = A @ x
    return 2 * A.T @ y / (1 + _norm_squared(y))
''',
    ],
}

_NUMDIFF = {
    "forward_difference": [
        '''
def forward_difference(f, x, h):
    x, h = np.float64(x), np.float64(h)     # numpy scalars go into f
    fx = f(x)
    fxh = f(x + h)
    return (fxh - fx) / h
''',
        '''
forward_difference = lambda f, x, h: (f(x + h) - f(x)) / h
''',
        '''
def _rise(f, a, b):
    return f(b) - f(a)


def forward_difference(f, x, h):
    return _rise(f, x, x + h) / h
''',
    ],
    "central_difference": [
        '''
def central_difference(f, x, h):
    up, down = np.asarray(x + h), np.asarray(x - h)   # 0-d arrays go into f
    return float((f(up) - f(down)) / (2 * h))
''',
        '''
class Central:
    def __init__(self, h):
        self.h = h

    def __call__(self, f, x):
        return (f(x + self.h) - f(x - self.h)) / (2 * self.h)


def central_difference(f, x, h):
    return Central(h)(f, x)
''',
        '''
def central_difference(f, x, h):
    h = float(h)
    return 0.5 * (f(x + h) - f(x - h)) / h
''',
    ],
    "numerical_gradient": [
        '''
def numerical_gradient(f, x, h=1e-5):
    steps = torch.eye(x.shape[0], dtype=x.dtype, device=x.device) * h
    return torch.stack([(f(x + e) - f(x - e)) / (2 * h) for e in steps])
''',
        '''
def numerical_gradient(f, x, h=1e-5):
    g = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        up, down = x.detach().clone(), x.detach().clone()
        up[i] += h
        down[i] -= h
        g[i] = (f(up).item() - f(down).item()) / (2 * h)
    return torch.as_tensor(g, dtype=x.dtype, device=x.device)
''',
        '''
def numerical_gradient(f, x, h=1e-5):
    def partials(i):                        # recursive over the coordinates
        if i == x.shape[0]:
            return []
        e = torch.zeros_like(x)
        e[i] = h
        return [(f(x + e) - f(x - e)) / (2 * h)] + partials(i + 1)
    return torch.stack(partials(0)).to(x.dtype)
''',
    ],
}

_DUAL = {
    "Dual": [
        '''
class Dual:
    """Rules through one helper; real parts are numpy scalars."""

    def __init__(self, real, dual=0.0):
        self.real, self.dual = real, dual

    @staticmethod
    def _lift(other):
        return other if isinstance(other, Dual) else Dual(other, 0.0)

    def _chain(self, value, slope):
        return Dual(value, slope * self.dual)

    def __add__(self, other):
        o = Dual._lift(other)
        return Dual(self.real + o.real, self.dual + o.dual)

    __radd__ = __add__

    def __sub__(self, other):
        o = Dual._lift(other)
        return Dual(self.real - o.real, self.dual - o.dual)

    def __rsub__(self, other):
        return Dual._lift(other) - self

    def __mul__(self, other):
        o = Dual._lift(other)
        return Dual(self.real * o.real, self.dual * o.real + self.real * o.dual)

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = Dual._lift(other)
        return Dual(self.real / o.real, (self.dual * o.real - self.real * o.dual) / o.real ** 2)

    def __rtruediv__(self, other):
        return Dual._lift(other) / self

    def __neg__(self):
        return Dual(-self.real, -self.dual)

    def __pow__(self, c):
        return self._chain(self.real ** c, c * self.real ** (c - 1))

    def sin(self):
        return self._chain(np.sin(self.real), np.cos(self.real))

    def cos(self):
        return self._chain(np.cos(self.real), -np.sin(self.real))

    def exp(self):
        e = np.exp(self.real)
        return self._chain(e, e)

    def log(self):
        return self._chain(np.log(self.real), 1.0 / self.real)

    def tanh(self):
        t = np.tanh(self.real)
        return self._chain(t, 1.0 - t * t)
''',
        '''
from dataclasses import dataclass


@dataclass
class Dual:
    """A dataclass; subtraction and division built on the other operators."""
    real: float
    dual: float = 0.0

    def __add__(self, other):
        if isinstance(other, Dual):
            return Dual(self.real + other.real, self.dual + other.dual)
        return Dual(self.real + other, self.dual)

    def __radd__(self, other):
        return self + other

    def __neg__(self):
        return Dual(-self.real, -self.dual)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if isinstance(other, Dual):
            return Dual(self.real * other.real, self.real * other.dual + self.dual * other.real)
        return Dual(self.real * other, self.dual * other)

    def __rmul__(self, other):
        return self * other

    def reciprocal(self):
        return Dual(1.0 / self.real, -self.dual / (self.real * self.real))

    def __truediv__(self, other):
        if isinstance(other, Dual):
            return self * other.reciprocal()
        return Dual(self.real / other, self.dual / other)

    def __rtruediv__(self, other):
        return other * self.reciprocal()

    def __pow__(self, exponent):
        return Dual(self.real ** exponent, exponent * self.real ** (exponent - 1) * self.dual)

    def sin(self):
        return Dual(math.sin(self.real), math.cos(self.real) * self.dual)

    def cos(self):
        return Dual(math.cos(self.real), -math.sin(self.real) * self.dual)

    def exp(self):
        return Dual(math.exp(self.real), math.exp(self.real) * self.dual)

    def log(self):
        return Dual(math.log(self.real), self.dual / self.real)

    def tanh(self):
        return Dual(math.tanh(self.real), (1 - math.tanh(self.real) ** 2) * self.dual)
''',
        '''
import math
import operator


class Dual:
    """Operators and elementary functions generated from tables."""

    def __init__(self, real, dual=0.0):
        self.real = real
        self.dual = dual

    def __repr__(self):
        return f"Dual({self.real}, {self.dual})"


def _as_dual(v):
    return v if isinstance(v, Dual) else Dual(v)


_BINARY = {   # name -> (value, d/da, d/db)
    "add": (operator.add, lambda a, b: 1.0, lambda a, b: 1.0),
    "sub": (operator.sub, lambda a, b: 1.0, lambda a, b: -1.0),
    "mul": (operator.mul, lambda a, b: b, lambda a, b: a),
    "truediv": (operator.truediv, lambda a, b: 1.0 / b, lambda a, b: -a / (b * b)),
}


def _binary(value, da, db, reflected):
    def op(self, other):
        a, b = (_as_dual(other), self) if reflected else (self, _as_dual(other))
        return Dual(value(a.real, b.real), da(a.real, b.real) * a.dual + db(a.real, b.real) * b.dual)
    return op


for _name, (_value, _da, _db) in _BINARY.items():
    setattr(Dual, f"__{_name}__", _binary(_value, _da, _db, False))
    setattr(Dual, f"__r{_name}__", _binary(_value, _da, _db, True))

_UNARY = {
    "sin": (math.sin, math.cos),
    "cos": (math.cos, lambda a: -math.sin(a)),
    "exp": (math.exp, math.exp),
    "log": (math.log, lambda a: 1.0 / a),
    "tanh": (math.tanh, lambda a: 1.0 - math.tanh(a) ** 2),
    "__neg__": (operator.neg, lambda a: -1.0),
}


def _unary(value, slope):
    return lambda self: Dual(value(self.real), slope(self.real) * self.dual)


for _name, (_value, _slope) in _UNARY.items():
    setattr(Dual, _name, _unary(_value, _slope))
Dual.__pow__ = lambda self, c: Dual(self.real ** c, c * self.real ** (c - 1) * self.dual)
''',
    ],
    "derivative": [
        '''
def derivative(f, x):
    return f(Dual(x, 1.0)).dual
''',
        '''
def derivative(f, x):
    y = f(Dual(float(x), 1))
    return getattr(y, "dual", 0.0)
''',
        '''
derivative = lambda f, x: f(Dual(x, 1)).dual
''',
    ],
    "jvp": [
        '''
def jvp(f, x, v):
    ys = f([Dual(a, b) for a, b in zip(x, v)])
    return np.array([y.real for y in ys]), np.array([y.dual for y in ys])   # numpy arrays
''',
        '''
def jvp(f, x, v):
    out = f(list(map(Dual, x, v)))
    return [o.real for o in out], [o.dual for o in out]
''',
        '''
def jvp(f, x, v):
    pairs = [(y.real, y.dual) for y in f([Dual(a, b) for a, b in zip(x, v)])]
    values, tangents = zip(*pairs)
    return list(values), list(tangents)
''',
    ],
    "jacobian": [
        '''
def jacobian(f, x):
    n = len(x)
    columns = [jvp(f, x, [1.0 if i == j else 0.0 for i in range(n)])[1] for j in range(n)]
    return [list(row) for row in zip(*columns)]
''',
        '''
def jacobian(f, x):
    columns = []
    for j in range(len(x)):
        seeds = np.zeros(len(x))
        seeds[j] = 1.0
        columns.append([y.dual for y in f([Dual(a, s) for a, s in zip(x, seeds)])])
    return np.array(columns).T             # a numpy array, m x n
''',
        '''
def jacobian(f, x):
    def columns(j):                         # recursive over the inputs
        if j == len(x):
            return []
        ys = f([Dual(xi, float(i == j)) for i, xi in enumerate(x)])
        return [[y.dual for y in ys]] + columns(j + 1)
    return [list(row) for row in zip(*columns(0))]
''',
    ],
}

_VALUE = {
    "Value": [
        '''
class Value:
    """micrograd-like, with an explicit stack for the topological order."""

    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = _children

    @staticmethod
    def _wrap(other):
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other):
        other = Value._wrap(other)
        out = Value(self.data + other.data, (self, other))
        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Value._wrap(other)
        out = Value(self.data * other.data, (self, other))
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, c):
        out = Value(self.data ** c, (self,))
        def _backward():
            self.grad += c * self.data ** (c - 1) * out.grad
        out._backward = _backward
        return out

    def _unary(self, value, slope):
        out = Value(value, (self,))
        def _backward():
            self.grad += slope * out.grad
        out._backward = _backward
        return out

    def relu(self):
        return self._unary(max(self.data, 0.0), 1.0 if self.data > 0 else 0.0)

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t)

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e)

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data)

    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other ** -1
    def __rtruediv__(self, other): return other * self ** -1

    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
''',
        '''
class Value:
    """A tape of (parent, local derivative) pairs recorded at forward time."""

    def __init__(self, data, parents=()):
        self.data = float(data)
        self.grad = 0.0
        self.parents = list(parents)

    def __repr__(self):
        return f"Value({self.data}, grad={self.grad})"

    def __add__(self, other):
        if not isinstance(other, Value):
            return Value(self.data + other, [(self, 1.0)])
        return Value(self.data + other.data, [(self, 1.0), (other, 1.0)])

    def __sub__(self, other):
        if not isinstance(other, Value):
            return Value(self.data - other, [(self, 1.0)])
        return Value(self.data - other.data, [(self, 1.0), (other, -1.0)])

    def __mul__(self, other):
        if not isinstance(other, Value):
            return Value(self.data * other, [(self, float(other))])
        return Value(self.data * other.data, [(self, other.data), (other, self.data)])

    def __truediv__(self, other):
        if not isinstance(other, Value):
            return Value(self.data / other, [(self, 1.0 / other)])
        return Value(self.data / other.data,
                     [(self, 1.0 / other.data), (other, -self.data / other.data ** 2)])

    def __radd__(self, other): return Value(other + self.data, [(self, 1.0)])
    def __rsub__(self, other): return Value(other - self.data, [(self, -1.0)])
    def __rmul__(self, other): return Value(other * self.data, [(self, float(other))])
    def __rtruediv__(self, other): return Value(other / self.data, [(self, -other / self.data ** 2)])
    def __neg__(self): return Value(-self.data, [(self, -1.0)])
    def __pow__(self, c): return Value(self.data ** c, [(self, c * self.data ** (c - 1))])
    def relu(self): return Value(max(0.0, self.data), [(self, float(self.data > 0))])
    def exp(self): return Value(math.exp(self.data), [(self, math.exp(self.data))])
    def log(self): return Value(math.log(self.data), [(self, 1.0 / self.data)])

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, [(self, 1.0 - t ** 2)])

    def backward(self):
        order, visited = [], {id(self)}
        stack = [(self, iter(self.parents))]
        while stack:                        # iterative depth-first post-order
            node, parents = stack[-1]
            for parent, _ in parents:
                if id(parent) not in visited:
                    visited.add(id(parent))
                    stack.append((parent, iter(parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                parent.grad += local * node.grad
''',
        '''
import math
from collections import deque


class Value:
    """Kahn's algorithm (in-degrees) instead of a depth-first search."""

    def __init__(self, data, children=(), rule=None):
        self.data, self.grad = data, 0.0
        self.children, self.rule = tuple(children), rule   # rule(out) adds to the children's grads

    def _make(self, other, value, rule):
        other = other if isinstance(other, Value) else Value(other)
        return Value(value(self.data, other.data), (self, other), rule)

    def __add__(self, o):
        return self._make(o, lambda a, b: a + b, lambda out: out._push(out.grad, out.grad))

    def __mul__(self, o):
        return self._make(o, lambda a, b: a * b,
                          lambda out: out._push(out.children[1].data * out.grad, out.children[0].data * out.grad))

    def __truediv__(self, o):
        def rule(out):
            a, b = out.children[0].data, out.children[1].data
            out._push(out.grad / b, -a * out.grad / (b * b))
        return self._make(o, lambda a, b: a / b, rule)

    def __sub__(self, o):
        return self._make(o, lambda a, b: a - b, lambda out: out._push(out.grad, -out.grad))

    def __radd__(self, o): return Value(o) + self
    def __rsub__(self, o): return Value(o) - self
    def __rmul__(self, o): return Value(o) * self
    def __rtruediv__(self, o): return Value(o) / self
    def __neg__(self): return self * -1.0

    def _unary(self, value, slope):
        return Value(value, (self,), lambda out: out._push(slope * out.grad))

    def __pow__(self, c): return self._unary(self.data ** c, c * self.data ** (c - 1))
    def relu(self): return self._unary(self.data if self.data > 0 else 0.0, 1.0 if self.data > 0 else 0.0)
    def tanh(self): return self._unary(math.tanh(self.data), 1 - math.tanh(self.data) ** 2)
    def exp(self): return self._unary(math.exp(self.data), math.exp(self.data))
    def log(self): return self._unary(math.log(self.data), 1 / self.data)

    def _push(self, *grads):
        for child, g in zip(self.children, grads):
            child.grad += g

    def backward(self):
        indegree, queue, seen = {}, deque([self]), {id(self)}
        while queue:                        # count each node's parents in this graph
            node = queue.popleft()
            for child in node.children:
                indegree[id(child)] = indegree.get(id(child), 0) + 1
                if id(child) not in seen:
                    seen.add(id(child))
                    queue.append(child)
        self.grad = 1.0
        ready = deque([self])
        while ready:                        # a node goes once all its parents are done
            node = ready.popleft()
            if node.rule is not None:
                node.rule(node)
            for child in node.children:
                indegree[id(child)] -= 1
                if indegree[id(child)] == 0:
                    ready.append(child)
''',
    ],
    "vjp": [
        '''
def vjp(f, xs, v):
    leaves = [Value(x) for x in xs]
    total = sum(vi * yi for vi, yi in zip(v, f(leaves)))   # sum() starts from 0 + Value
    total.backward()
    return [leaf.grad for leaf in leaves]
''',
        '''
def vjp(f, xs, v):
    leaves = list(map(Value, xs))
    ys = f(leaves)
    total = ys[0] * v[0]
    for yi, vi in zip(ys[1:], v[1:]):
        total = total + yi * vi
    total.backward()
    return np.array([leaf.grad for leaf in leaves])        # a numpy array
''',
        '''
import functools
import operator


def vjp(f, xs, v):
    leaves = [Value(float(x)) for x in xs]
    weighted = [yi * vi for yi, vi in zip(f(leaves), v)]
    functools.reduce(operator.add, weighted).backward()
    return [float(leaf.grad) for leaf in leaves]
''',
    ],
}

_TORCH = {
    "mean_square_grad": [
        '''
from torch.func import grad


def mean_square_grad(x):
    return grad(lambda t: (3 * (t + 2) ** 2).mean())(x.detach())
''',
        '''
class Objective:
    def __call__(self, t):
        return torch.mean(3 * torch.square(t + 2))


def mean_square_grad(x):
    leaf = x.detach().requires_grad_()
    Objective()(leaf).backward()
    return leaf.grad
''',
        '''
def mean_square_grad(x):
    leaf = x.clone().detach().requires_grad_(True)
    loss = ((leaf + 2) ** 2 * 3).sum() / leaf.numel()
    (g,) = torch.autograd.grad(loss, [leaf])
    return g
''',
    ],
    "doubling_vjp": [
        '''
def _double_until_large(y):
    return y if y.norm() >= 1000 else _double_until_large(2 * y)   # recursion


def doubling_vjp(x, v):
    leaf = x.detach().clone().requires_grad_(True)
    y = _double_until_large(2 * leaf)
    (g,) = torch.autograd.grad(y, leaf, grad_outputs=v)
    return g
''',
        '''
def doubling_vjp(x, v):
    leaf = x.detach().clone().requires_grad_(True)
    y = leaf * 2
    while y.norm() < 1000:
        y = y * 2
    torch.autograd.backward(y, grad_tensors=v)
    return leaf.grad.detach()
''',
        '''
def doubling_vjp(x, v):
    leaf = x.detach().clone()
    leaf.requires_grad = True
    y = leaf + leaf
    while y.norm() < 1000:
        y = y + y
    y.backward(v)
    print("debug: doubled to", float(y.norm()))
    return leaf.grad.clone()
''',
    ],
    "untracked_square": [
        '''
def untracked_square(x):
    return x.detach() ** 2
''',
        '''
def untracked_square(x):
    with torch.set_grad_enabled(False):
        y = torch.pow(x, 2)
    return y
''',
        '''
@torch.no_grad()
def untracked_square(x):
    return x.pow(2)
''',
    ],
    "detached_copy": [
        '''
def detached_copy(x):
    return torch.tensor(x.tolist(), dtype=x.dtype, device=x.device)
''',
        '''
def detached_copy(x):
    return torch.empty_like(x).copy_(x.detach())
''',
        '''
def detached_copy(x):
    return x.data.clone()
''',
    ],
    "accumulated_grad": [
        '''
def accumulated_grad(x, k):
    leaf = x.detach().clone().requires_grad_(True)
    [(leaf ** 2).sum().backward() for _ in range(k)]      # a comprehension for its effect
    return torch.zeros_like(x) if leaf.grad is None else leaf.grad.detach()
''',
        '''
def accumulated_grad(x, k):
    total = torch.zeros_like(x.detach())
    for _ in np.arange(k):                  # numpy.int64 counters
        total = total + grad(lambda t: (t ** 2).sum())(x.detach())
    return total
''',
        '''
def accumulated_grad(x, k):
    leaf = x.detach().clone()
    leaf.requires_grad = True
    for _ in range(int(k)):
        loss = leaf.pow(2).sum()
        loss.backward()
    return torch.zeros_like(leaf.detach()) if leaf.grad is None else leaf.grad.clone()
''',
    ],
}

_LAGRANGE = {
    "lagrangian": [
        '''
def lagrangian(f, g, x, lam):
    return f(x) - sum(li * gi for li, gi in zip(lam.reshape(-1), g(x).reshape(-1)))
''',
        '''
class Lagrangian:
    def __init__(self, f, g):
        self.f, self.g = f, g

    def __call__(self, x, lam):
        return self.f(x).reshape(()) - lam.reshape(-1) @ self.g(x).reshape(-1)


def lagrangian(f, g, x, lam):
    return Lagrangian(f, g)(x, lam)
''',
        '''
def lagrangian(f, g, x, lam):
    return f(x).squeeze() - torch.einsum("i,i->", lam.reshape(-1), g(x).reshape(-1))
''',
    ],
    "lagrangian_gradient": [
        '''
from torch.func import grad


def lagrangian_gradient(f, g, x, lam):
    gx, gl = grad(lambda a, b: lagrangian(f, g, a, b), argnums=(0, 1))(x.detach(), lam.detach())
    return torch.cat([gx, gl])
''',
        '''
def lagrangian_gradient(f, g, x, lam):
    d = x.shape[0]
    z = torch.cat([x.detach(), lam.detach().reshape(-1)]).requires_grad_(True)
    lagrangian(f, g, z[:d], z[d:]).backward()
    return z.grad
''',
        '''
def lagrangian_gradient(f, g, x, lam):
    d = x.shape[0]
    z = torch.cat([x.detach(), lam.detach().reshape(-1)])
    return torch.autograd.functional.jacobian(lambda w: lagrangian(f, g, w[:d], w[d:]), z)
''',
    ],
    "solve_constrained": [
        '''
from torch.func import hessian, jacrev


def solve_constrained(f, g, x0, lam0, steps=60):
    d = x0.shape[0]
    z = torch.cat([x0.detach(), torch.as_tensor(lam0).detach().reshape(-1)]).to(torch.float64)
    L = lambda w: lagrangian(f, g, w[:d], w[d:])
    for _ in range(steps):
        gradient = jacrev(L)(z)
        if gradient.norm() < 1e-12:
            break
        z = z - torch.linalg.solve(hessian(L)(z), gradient)
    return z[:d].to(x0.dtype), z[d:].to(x0.dtype)
''',
        '''
def _newton_step(F, z):
    J = torch.autograd.functional.jacobian(F, z)
    return z - torch.linalg.lstsq(J, F(z).unsqueeze(1)).solution.squeeze(1)


def solve_constrained(f, g, x0, lam0):
    d = x0.shape[0]
    z = torch.cat([x0.detach(), lam0.detach().reshape(-1)]).double()

    def F(w):   # grad L, differentiable again
        w = w if w.requires_grad else w.requires_grad_(True)
        (gw,) = torch.autograd.grad(lagrangian(f, g, w[:d], w[d:]), w, create_graph=True)
        return gw

    for _ in range(50):
        z = _newton_step(F, z).detach()
    return z[:d].to(x0.dtype), z[d:].to(x0.dtype)
''',
        '''
def solve_constrained(f, g, x0, lam0, max_iter=50):
    x = x0.detach().double().clone()
    lam = lam0.detach().double().reshape(-1).clone()
    d, m = x.shape[0], lam.shape[0]
    AF = torch.autograd.functional
    for it in range(max_iter):              # the KKT system, block by block
        grad_f = AF.jacobian(f, x).reshape(d)
        J = AF.jacobian(g, x).reshape(m, d)
        H = AF.hessian(lambda v: lagrangian(f, g, v, lam), x)
        residual = torch.cat([grad_f - J.T @ lam, -g(x).reshape(m)])
        if residual.norm() < 1e-12:
            break
        K = torch.cat([torch.cat([H, -J.T], 1),
                       torch.cat([-J, torch.zeros(m, m, dtype=x.dtype)], 1)])
        step = torch.linalg.solve(K, -residual)
        x, lam = x + step[:d], lam + step[d:]
    return x.to(x0.dtype), lam.to(x0.dtype)
''',
    ],
}

IMPLEMENTATIONS = {
    "matrix_calculus": _MATRIX,
    "numerical_diff": _NUMDIFF,
    "dual_numbers": _DUAL,
    "backward_engine": _VALUE,
    "torch_autograd": _TORCH,
    "lagrange": _LAGRANGE,
}

# Cells after the implementations: a checking cell with torch.func (style 1 of
# matrix_calculus: `grad` is then torch.func.grad at module level, which the
# functions above shadow locally), plots, `__main__` blocks, print debugging.
_CHECK_WITH_AUTOGRAD = '''
from torch.func import grad, jacrev, vjp
import torch.autograd as ag

x0 = torch.randn(4, dtype=torch.float64)
a0 = torch.randn(4, dtype=torch.float64)
A0 = torch.randn(3, 4, dtype=torch.float64)
print("inner ok:", torch.allclose(grad(lambda v: v @ a0)(x0), grad_inner(x0, a0)))
print("linear map ok:", torch.allclose(jacrev(lambda v: A0 @ v)(x0).T, grad_linear_map(A0, x0)))
(g0,) = ag.grad((x0.clone().requires_grad_() ** 2).sum(), [x0.clone().requires_grad_()], allow_unused=True)
'''

_PLOT = '''
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4, 3))
hs = np.logspace(-6, -1, 20)
ax.loglog(hs, hs, label="O(h)")
ax.loglog(hs, hs ** 2, label="O(h^2)")
ax.legend()
plt.show()
'''

_MAIN = '''
if __name__ == "__main__":
    print("running my own checks")
    for grad in range(2):                  # a module-level loop variable called grad
        print("pass", grad)
'''

EXTRAS = {
    "matrix_calculus": {0: [_CHECK_WITH_AUTOGRAD, _PLOT], 1: [_MAIN], 2: [_PLOT, _MAIN]},
    "numerical_diff": {0: [_PLOT, 'print(forward_difference(lambda t: 3 * t ** 3 - 5 * t ** 2, 1.5, 1e-6))'],
                       1: [_MAIN], 2: ['print(central_difference(math.sin, 0.0, 1e-3))']},
    "dual_numbers": {0: ['print(derivative(lambda d: d * d + 3 * d, 2.0))', _PLOT],
                     1: [_MAIN, 'import math'], 2: ['jacobian(lambda xs: [xs[0] * xs[1]], [1.0, 2.0])']},
    "backward_engine": {0: ['a = Value(2.0); b = Value(-3.0); d = a * (a + b); d.backward(); print(a.grad, b.grad)'],
                        1: ['import math', _MAIN], 2: [_PLOT]},
    "torch_autograd": {0: [_PLOT], 1: [_MAIN, 'from torch.func import grad'],
                       2: ['print(mean_square_grad(torch.ones(2, dtype=torch.float64)))']},
    "lagrange": {0: ['print(lagrangian(lambda x: x.sum(), lambda x: (x @ x - 1).reshape(1), '
                     'torch.ones(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64)))'],
                 1: [_MAIN], 2: [_PLOT]},
}
