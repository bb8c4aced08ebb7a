# %% cell-05
class Value:
    def __init__(self, data, _children=(), _op=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = list(_children)
        self._op = _op

    def __repr__(self):
        return f"Value({self.data:.4g}, grad={self.grad:.4g})"

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Value) else Value(x)

    def _unary(self, data, local, op):
        """A one-child node whose local derivative is the number `local`."""
        out = Value(data, (self,), op)

        def _backward():
            self.grad += local * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = Value._lift(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Value._lift(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            return NotImplemented
        return self._unary(self.data ** k, k * self.data ** (k - 1), f'**{k}')

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-Value._lift(other))

    def __rsub__(self, other):
        return Value._lift(other) + (-self)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * Value._lift(other) ** -1

    def __rtruediv__(self, other):
        return Value._lift(other) * self ** -1

    def relu(self):
        return self._unary(max(self.data, 0.0), 1.0 if self.data > 0 else 0.0, 'relu')

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1.0 - t ** 2, 'tanh')

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, 'exp')

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data, 'log')

    def backward(self):
        # topological sort with an explicit stack: (node, children_done) pairs
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            for child in node._prev:
                if child not in seen:
                    stack.append((child, False))
        self.grad = 1.0
        for node in order[::-1]:
            node._backward()


# %% cell-07
def vjp(f, xs, v):
    inputs = [Value(float(x)) for x in xs]
    outputs = f(inputs)
    s = sum((w * y for w, y in zip(v, outputs)), Value(0.0))
    s.backward()
    return [p.grad for p in inputs]
