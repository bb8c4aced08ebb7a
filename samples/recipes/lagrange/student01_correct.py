# %% cell-05
def lagrangian(f, g, x, lam):
    return f(x) - torch.sum(lam * g(x))


# %% cell-07
def lagrangian_gradient(f, g, x, lam):
    grad_x, grad_lam = torch.func.grad(lambda a, b: lagrangian(f, g, a, b), argnums=(0, 1))(
        x.detach(), lam.detach())
    return torch.cat([grad_x, grad_lam])


# %% cell-09
def solve_constrained(f, g, x0, lam0):
    # Newton on the KKT system, assembled block by block:
    # [[H_xx, -J^T], [-J, 0]] [dx, dlam] = -[grad f - J^T lam, -g]
    x = x0.detach().double()
    lam = torch.as_tensor(lam0).detach().to(x).reshape(-1)
    d, m = x.numel(), lam.numel()
    for it in range(50):
        J = torch.autograd.functional.jacobian(g, x).reshape(m, d)
        grad_f = torch.autograd.functional.jacobian(f, x).reshape(d)
        r = torch.cat([grad_f - J.T @ lam, -g(x).reshape(m)])
        if torch.linalg.norm(r) < 1e-10:
            break
        H = torch.autograd.functional.hessian(lambda v: lagrangian(f, g, v, lam), x)
        K = torch.zeros(d + m, d + m, dtype=x.dtype, device=x.device)
        K[:d, :d] = H
        K[:d, d:] = -J.T
        K[d:, :d] = -J
        step = torch.linalg.solve(K, -r)
        x = x + step[:d]
        lam = lam + step[d:]
    return x.to(x0.dtype), lam.to(x0.dtype)
