# %% cell-05
class Dual:
    # only what I needed for polynomials and rational functions
    def __init__(self, real, dual=0.0):
        self.real = real
        self.dual = dual

    def __add__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real + o.real, self.dual + o.dual)

    def __radd__(self, o):
        return self + o

    def __sub__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real - o.real, self.dual - o.dual)

    def __rsub__(self, o):
        return Dual(o) - self

    def __mul__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real * o.real, self.dual * o.real + self.real * o.dual)

    def __rmul__(self, o):
        return self * o

    def __truediv__(self, o):
        if not isinstance(o, Dual):
            o = Dual(o)
        return Dual(self.real / o.real, (self.dual * o.real - self.real * o.dual) / o.real ** 2)

    def __rtruediv__(self, o):
        return Dual(o) / self

    def __neg__(self):
        return Dual(-self.real, -self.dual)
