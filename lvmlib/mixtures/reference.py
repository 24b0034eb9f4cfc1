"""The textbook EM of a Gaussian mixture, a few readable lines per step (Bishop, PRML 9.2.2).

These are the lines exercises 2.1 and 2.2 ask for, kept beside the fast path of
:class:`lvmlib.mixtures.GaussianMixture` (Cholesky factors, lanes, buffers) and tested equal to it
on random problems: started from the same parameters, one :func:`e_step` + :func:`m_step` gives
the fast path's next parameters.

    E-step:  r_nk = pi_k N(x_n; mu_k, Sigma_k) / sum_j pi_j N(x_n; mu_j, Sigma_j)      (in log space)
    M-step:  N_k = sum_n r_nk,  pi_k = N_k / N,  mu_k = (1/N_k) sum_n r_nk x_n,
             Sigma_k = (1/N_k) sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T + reg_covar I
    loop:    stop when the mean log-likelihood rises by less than ``tol`` (it never falls).

Full covariances only; every tensor follows ``x``'s dtype and device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch.distributions import MultivariateNormal

__all__ = ["log_joint", "e_step", "m_step", "log_likelihood", "em_loop", "with_reg_covar", "em", "EMResult"]


def log_joint(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor) -> torch.Tensor:
    """log pi_k + log N(x_n; mu_k, Sigma_k).

    Args:
        x: [N, D]; weights: [K]; means: [K, D]; covariances: [K, D, D].

    Returns:
        tensor of shape [N, K].
    """
    return torch.log(weights) + MultivariateNormal(means, covariances).log_prob(x[:, None, :])  # [N, K]


def e_step(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor) -> torch.Tensor:
    """Responsibilities r_nk = p(z_n = k given x_n), normalised per point in log space.

    Returns:
        tensor of shape [N, K], each row summing to 1 (no underflow when every density of a point is tiny).
    """
    lj = log_joint(x, weights, means, covariances)  # [N, K]
    return torch.exp(lj - torch.logsumexp(lj, dim=1, keepdim=True))


def m_step(x: torch.Tensor, resp: torch.Tensor, reg_covar: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights, means and covariances that maximize the EM bound for responsibilities ``resp``.

    Args:
        x: [N, D]; resp: [N, K]; reg_covar: added to every covariance's diagonal (scikit-learn's meaning).

    Returns:
        (weights [K], means [K, D], covariances [K, D, D]).
    """
    n_k = resp.sum(0)  # [K]
    weights = n_k / x.shape[0]
    means = resp.T @ x / n_k[:, None]  # [K, D]
    diff = x[None, :, :] - means[:, None, :]  # [K, N, D]
    cov = torch.einsum("nk,kni,knj->kij", resp, diff, diff) / n_k[:, None, None]  # [K, D, D]
    cov = cov + reg_covar * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return weights, means, cov


def log_likelihood(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor) -> float:
    """Mean log p(x_n) = mean_n logsumexp_k (log pi_k + log N(x_n; mu_k, Sigma_k))."""
    return float(torch.logsumexp(log_joint(x, weights, means, covariances), dim=1).mean())


@dataclass
class EMResult:
    """What :func:`em` found: the parameters, whether it converged, and the log-likelihood per iteration."""

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor
    converged: bool
    n_iter: int
    log_likelihood: list[float] = field(default_factory=list)


def with_reg_covar(m_step: Callable, reg_covar: float) -> Callable:
    """``m_step(x, resp)`` with ``reg_covar`` added to the diagonal of every covariance it returns
    (scikit-learn's regularisation, for an M-step written without it, e.g. exercise 2.2's)."""
    def regularised(x, resp):
        weights, means, cov = m_step(x, resp)
        return weights, means, cov + reg_covar * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return regularised


def em_loop(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor,
            e_step: Callable = e_step, m_step: Callable = m_step, *, tol: float = 1e-3,
            max_iter: int = 100) -> tuple[list, list, bool]:
    """The EM loop with its stopping rule on the bound (exercise 2.3), for any E-step and M-step.

    theta_{t+1} = m_step(x, e_step(x, *theta_t)); stop at the first t >= 1 where the mean log-likelihood
    rose by less than ``tol`` (``abs`` of the change: it never falls, up to round-off and ``reg_covar``),
    or after ``max_iter`` iterations.

    Returns:
        (params, log_liks, converged): ``params[t]`` = (weights [K], means [K, D], covariances [K, D, D])
        after t iterations (``params[0]`` the start), ``log_liks[t]`` their mean log-likelihood
        (:func:`log_likelihood`), both of length n_iter + 1; ``converged``: whether the rule stopped it.
    """
    params = [(weights, means, covariances)]
    log_liks = [log_likelihood(x, weights, means, covariances)]
    for _ in range(max_iter):
        params.append(tuple(m_step(x, e_step(x, *params[-1]))))
        log_liks.append(log_likelihood(x, *params[-1]))
        if abs(log_liks[-1] - log_liks[-2]) < tol:
            return params, log_liks, True
    return params, log_liks, False


def em(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, *,
       tol: float = 1e-3, max_iter: int = 100, reg_covar: float = 1e-6) -> EMResult:
    """EM from the given parameters: E-step, M-step, until the log-likelihood rises by less than ``tol``.

    Returns:
        an :class:`EMResult`; ``log_likelihood[t]`` is the mean log-likelihood after t iterations
        (non-decreasing up to round-off: Dempster, Laird and Rubin 1977).
    """
    params, log_liks, converged = em_loop(x, weights, means, covariances, e_step,
                                          lambda x_, r: m_step(x_, r, reg_covar), tol=tol, max_iter=max_iter)
    return EMResult(*params[-1], converged, len(params) - 1, log_liks)
