# %% cell-03
import math
import torch


# %% cell-05
class Value:
    """A scalar backed by a float64 torch tensor; torch autograd does the backward pass."""

    def __init__(self, data, _children=(), _op='', _tensor=None):
        if _tensor is None:      # a leaf
            _tensor = torch.tensor(float(data), dtype=torch.float64, requires_grad=True)
        else:                    # an intermediate result: keep its grad too
            _tensor.retain_grad()
        self._t = _tensor
        self.data = _tensor.item()
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Value) else Value(x)

    def _new(self, tensor, children, op):
        return Value(None, children, op, _tensor=tensor)

    def __add__(self, other):
        other = Value._lift(other)
        return self._new(self._t + other._t, (self, other), '+')

    def __sub__(self, other):
        other = Value._lift(other)
        return self._new(self._t - other._t, (self, other), '-')

    def __mul__(self, other):
        other = Value._lift(other)
        return self._new(self._t * other._t, (self, other), '*')

    def __truediv__(self, other):
        other = Value._lift(other)
        return self._new(self._t / other._t, (self, other), '/')

    def __pow__(self, k):
        assert isinstance(k, (int, float))
        return self._new(self._t ** k, (self,), f'**{k}')

    def __neg__(self):
        return self._new(-self._t, (self,), 'neg')

    def __radd__(self, other):
        return Value._lift(other) + self

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __rmul__(self, other):
        return Value._lift(other) * self

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    def relu(self):
        return self._new(torch.relu(self._t), (self,), 'relu')

    def tanh(self):
        return self._new(torch.tanh(self._t), (self,), 'tanh')

    def exp(self):
        return self._new(torch.exp(self._t), (self,), 'exp')

    def log(self):
        return self._new(torch.log(self._t), (self,), 'log')

    def backward(self):
        # let torch do the work, then copy its gradients onto every node of the graph
        self._t.backward(retain_graph=True)
        seen, stack = {self}, [self]
        while stack:
            node = stack.pop()
            if node._t.grad is not None:
                node.grad += node._t.grad.item()
                node._t.grad = None
            for child in node._prev:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        self.grad = 1.0
