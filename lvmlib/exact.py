"""Exact quantities the lessons check against: the EM bound, a KL on a grid, aggregate-posterior moments.

Each is an algorithm or a closed form the notebooks use to make a claim checkable (the EM
bound never decreases and is tight after the E-step; log p(x) - ELBO = KL(q || p(z | x));
the aggregate posterior's moments).  The apps that draw them live in ``lvmlib.widgets``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import MultivariateNormal, Normal

from lvmlib.device import one_thread

__all__ = ["em_bound", "grid_kl", "aggregate_posterior"]

F64 = torch.float64


def em_bound(x: torch.Tensor, weights, means, covariances, resp, *, device=None) -> float:
    """The EM lower bound L(q, theta) for q(z_n = k) = resp[n, k], per data point:

    (1/N) sum_n sum_k q_nk [log pi_k + log N(x_n; mu_k, Sigma_k) - log q_nk]  <=  (1/N) sum_n log p(x_n),

    with equality when q is the posterior under theta (Bishop, PRML eq. 9.70-9.72).

    Args:
        x: (N, D).  weights: (K,).  means: (K, D).  covariances: full, (K, D, D).  resp: (N, K).
        device: where to compute (default: x's device when x is a tensor, else the CPU).

    Returns:
        a float.
    """
    device = (x.device if isinstance(x, torch.Tensor) else None) if device is None else device
    x = torch.as_tensor(x, dtype=F64, device=device)
    weights, means, cov, resp = (torch.as_tensor(a, dtype=F64, device=device)
                                 for a in (weights, means, covariances, resp))
    with one_thread():
        components = MultivariateNormal(means, scale_tril=torch.linalg.cholesky(cov), validate_args=False)
        log_joint = torch.log(weights) + components.log_prob(x[:, None, :])  # [N, K]
        terms = torch.where(resp > 0, resp * log_joint, torch.zeros_like(log_joint)) - torch.special.xlogy(resp, resp)
        return float(terms.sum(1).mean())


def grid_kl(q: Normal, gp) -> torch.Tensor:
    """KL(q || p(z | x)) = sum_j q(z_j) [log q(z_j) - log p(z_j | x)] h, on the grid of ``gp``.

    Args:
        q: a ``Normal`` over the 1-D latent with any batch shape S (loc, scale of shape S).
        gp: a :class:`lvmlib.models.GridPosterior` for one point (log_posterior [1, R]).

    Returns:
        tensor of shape S.
    """
    z = gp.axes[0]  # [R]
    log_q = q.log_prob(z.reshape((-1,) + (1,) * len(q.batch_shape)))  # [R, *S]
    log_post = gp.log_posterior[0].reshape((-1,) + (1,) * len(q.batch_shape))  # [R, 1...]
    return (torch.exp(log_q) * (log_q - log_post)).sum(0) * gp.cell_volume


@torch.no_grad()
def aggregate_posterior(model, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of q(z) = (1/N) sum_n q(z | x_n), exactly (a mixture's moments), for a
    model with a Gaussian ``encoder(x)`` (a VAE):

        E[z] = (1/N) sum_n mu_n,   Cov[z] = (1/N) sum_n diag(sigma_n^2) + (1/N) sum_n (mu_n - E z)(mu_n - E z)^T.

    Returns:
        (mean of shape (Dz,), covariance of shape (Dz, Dz)), float64 NumPy arrays.
    """
    q = model.encoder(x)
    mu, var = q.mean.double(), q.variance.double()  # [N, Dz] each
    mean = mu.mean(0)
    centred = mu - mean
    cov = torch.diag(var.mean(0)) + centred.T @ centred / mu.shape[0]
    return mean.cpu().numpy(), cov.cpu().numpy()
