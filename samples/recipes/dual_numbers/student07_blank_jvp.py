# %% cell-09
def jvp(f, x, v):
    """(f(x), J v) as two lists of floats, from one forward pass seeded with v.

    f maps a list of n Duals to a list of m Duals; x and v are lists of n floats.
    """
    raise NotImplementedError
