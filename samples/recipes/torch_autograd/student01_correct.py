# %% cell-05
def mean_square_grad(x):
    leaf = x.detach().clone()
    leaf.requires_grad = True
    out = torch.mean(3 * (leaf + 2) * (leaf + 2))
    (grad,) = torch.autograd.grad(out, leaf)
    return grad


# %% cell-07
def doubling_vjp(x, v):
    leaf = x.detach().requires_grad_()     # a new leaf sharing x's memory (never written)
    y = leaf * 2
    while y.data.norm() < 1000:
        y = y * 2
    y.backward(v)
    return leaf.grad


# %% cell-09
@torch.no_grad()
def untracked_square(x):
    return x * x


# %% cell-11
def detached_copy(x):
    return x.clone().detach()


# %% cell-13
def accumulated_grad(x, k):
    leaf = x.detach().clone().requires_grad_(True)
    leaf.grad = torch.zeros_like(leaf)       # start from zero, so that k = 0 works too
    for _ in range(k):
        loss = (leaf * leaf).sum()
        loss.backward()
    return leaf.grad
