# %% cell-05
def forward_difference(f, x, h):
    fx = f(x)
    fxh = f(x + h)
    return (fxh - fx) / h


# %% cell-07
def central_difference(f, x, h):
    right, left = f(x + h), f(x - h)
    return (right - left) / h / 2


# %% cell-09
def numerical_gradient(f, x, h=1e-5):
    # row i of h * I is the step h e_i
    x0 = x.detach()
    steps = h * torch.eye(x0.shape[0], dtype=x0.dtype, device=x0.device)
    diffs = [(float(f(x0 + e)) - float(f(x0 - e))) / (2 * h) for e in steps]
    return torch.tensor(diffs, dtype=x0.dtype, device=x0.device)
