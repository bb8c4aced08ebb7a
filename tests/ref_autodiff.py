"""Reference student classes: forward-mode `Dual` (EXERCISES.md §3) and a
micrograd-style reverse-mode `Value` (§4), written as a good student would.
They stand in for the student's kernel when testing grader.expr in-process.
New objects are made with `type(self)`, so a trimmed copy of a class (say,
without `.tanh`) stays trimmed through the whole graph."""

from __future__ import annotations

import math


class Dual:
    def __init__(self, real, dual=0.0):
        self.real, self.dual = real, dual

    def _lift(self, other):
        return other if isinstance(other, type(self)) else type(self)(other, 0.0)

    def __add__(self, other):
        o = self._lift(other)
        return type(self)(self.real + o.real, self.dual + o.dual)

    def __sub__(self, other):
        o = self._lift(other)
        return type(self)(self.real - o.real, self.dual - o.dual)

    def __mul__(self, other):
        o = self._lift(other)
        return type(self)(self.real * o.real, self.dual * o.real + self.real * o.dual)

    def __truediv__(self, other):
        o = self._lift(other)
        return type(self)(self.real / o.real, (self.dual * o.real - self.real * o.dual) / (o.real * o.real))

    def __radd__(self, other):
        return self._lift(other) + self

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rmul__(self, other):
        return self._lift(other) * self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __neg__(self):
        return type(self)(-self.real, -self.dual)

    def __pow__(self, c):
        assert isinstance(c, (int, float)), "only number exponents"
        return type(self)(self.real ** c, c * self.real ** (c - 1) * self.dual)

    def sin(self):
        return type(self)(math.sin(self.real), math.cos(self.real) * self.dual)

    def cos(self):
        return type(self)(math.cos(self.real), -math.sin(self.real) * self.dual)

    def exp(self):
        e = math.exp(self.real)
        return type(self)(e, e * self.dual)

    def log(self):
        return type(self)(math.log(self.real), self.dual / self.real)

    def tanh(self):
        t = math.tanh(self.real)
        return type(self)(t, (1 - t * t) * self.dual)

    def relu(self):
        return type(self)(self.real, self.dual) if self.real > 0 else type(self)(0.0, 0.0)


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data, self.grad = data, 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)   # a tuple: `a * a` lists a twice, both closures add
        self._op = _op

    def _lift(self, other):
        return other if isinstance(other, type(self)) else type(self)(other)

    def _unary(self, data, local, op):
        out = type(self)(data, (self,), op)

        def _backward():
            self.grad += local * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        o = self._lift(other)
        out = type(self)(self.data + o.data, (self, o), "+")

        def _backward():
            self.grad += out.grad
            o.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        o = self._lift(other)
        out = type(self)(self.data * o.data, (self, o), "*")

        def _backward():
            self.grad += o.data * out.grad
            o.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        o = self._lift(other)
        out = type(self)(self.data / o.data, (self, o), "/")

        def _backward():
            self.grad += out.grad / o.data
            o.grad += -self.data / (o.data * o.data) * out.grad
        out._backward = _backward
        return out

    def __pow__(self, c):
        assert isinstance(c, (int, float)), "only number exponents"
        return self._unary(self.data ** c, c * self.data ** (c - 1), f"**{c}")

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-self._lift(other))

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def sin(self):
        return self._unary(math.sin(self.data), math.cos(self.data), "sin")

    def cos(self):
        return self._unary(math.cos(self.data), -math.sin(self.data), "cos")

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")

    def relu(self):
        return self._unary(max(self.data, 0.0), float(self.data > 0), "relu")

    def backward(self):
        # Iterative post-order DFS: graphs are thousands of nodes deep, far past
        # Python's recursion limit.
        topo, seen, stack = [], set(), [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                topo.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev if child not in seen)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


def without(cls: type, *names: str) -> type:
    """A copy of `cls` (same name) lacking the given methods, like a student's
    class that never implemented them."""
    body = {k: v for k, v in vars(cls).items() if k not in names + ("__dict__", "__weakref__")}
    return type(cls.__name__, (), body)
