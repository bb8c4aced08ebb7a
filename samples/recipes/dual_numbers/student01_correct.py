# %% cell-05
def _lift(x):
    """A plain number c becomes the constant c + 0 eps."""
    return x if isinstance(x, Dual) else Dual(x, 0.0)


class Dual:
    def __init__(self, real, dual=0.0):
        self.real, self.dual = real, dual

    def __repr__(self):
        return f"{self.real} + {self.dual}eps"

    def __add__(self, other):
        o = _lift(other)
        return Dual(self.real + o.real, self.dual + o.dual)

    __radd__ = __add__          # addition commutes

    def __sub__(self, other):
        return self + (-_lift(other))

    def __rsub__(self, other):
        return _lift(other) - self

    def __mul__(self, other):
        o = _lift(other)
        return Dual(self.real * o.real, self.real * o.dual + o.real * self.dual)

    __rmul__ = __mul__          # so does multiplication

    def __truediv__(self, other):
        o = _lift(other)
        # a/b = a * (1/b), and (1/b)' = -b'/b^2
        inv = Dual(1.0 / o.real, -o.dual / o.real ** 2)
        return self * inv

    def __rtruediv__(self, other):
        return _lift(other) / self

    def __neg__(self):
        return Dual(-self.real, -self.dual)

    def __pow__(self, p):
        assert isinstance(p, (int, float)), "exponent must be a number"
        return Dual(self.real ** p, p * self.real ** (p - 1) * self.dual)

    def _chain(self, value, slope):
        """g(a + a' eps) = g(a) + g'(a) a' eps"""
        return Dual(value, slope * self.dual)

    def sin(self):
        return self._chain(math.sin(self.real), math.cos(self.real))

    def cos(self):
        return self._chain(math.cos(self.real), -math.sin(self.real))

    def exp(self):
        return self._chain(math.exp(self.real), math.exp(self.real))

    def log(self):
        return self._chain(math.log(self.real), 1.0 / self.real)

    def tanh(self):
        t = math.tanh(self.real)
        return self._chain(t, 1.0 - t ** 2)


# %% cell-07
def derivative(f, x):
    return float(f(Dual(x, 1)).dual)


# %% cell-14 after cell-07
# trying it out: d/dx x^2 sin x at 1 = 2 sin 1 + cos 1
print(derivative(lambda x: x ** 2 * x.sin(), 1.0), 2 * math.sin(1.0) + math.cos(1.0))


# %% cell-09
def jvp(f, x, v):
    out = f([Dual(a, b) for a, b in zip(x, v)])
    return [float(o.real) for o in out], [float(o.dual) for o in out]


# %% cell-11
def jacobian(f, x):
    n = len(x)
    cols = [jvp(f, x, [float(i == j) for i in range(n)])[1] for j in range(n)]
    return [list(row) for row in zip(*cols)]     # transpose: columns -> rows
