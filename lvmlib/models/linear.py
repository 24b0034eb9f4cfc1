"""The linear-Gaussian model (probabilistic PCA): z ~ N(0, I), x = W z + b + noise, p(x) = N(b, W W^T + sigma^2 I)."""

from __future__ import annotations

import torch
from torch.distributions import (
    Independent,
    MultivariateNormal,
    Normal,
)

from lvmlib.models._base import (
    _check_x,
    _LatentVariableModel,
    _standard_normal,
    _tensor,
)

__all__ = ["LinearGaussian"]


class LinearGaussian(_LatentVariableModel):
    """Probabilistic PCA: z ~ N(0, I_Dz), x | z ~ N(W z + b, sigma^2 I_Dx).

    Everything is Gaussian, so p(x) = N(x; b, W W^T + sigma^2 I) and
    p(z | x) = N(M^-1 W^T (x - b), sigma^2 M^-1) with M = W^T W + sigma^2 I_Dz
    (Tipping and Bishop 1999).

    Args:
        W: [Dx, Dz].
        b: [Dx] (default zeros).
        sigma: noise standard deviation, a positive scalar.
        dtype, device: default: those of ``W``.

    Taught in notebook 04 (Naive Monte Carlo); also used in 05, 06 and 09.
    """

    def __init__(self, W, b=None, sigma=1.0, *, dtype=None, device=None):
        super().__init__()
        W = _tensor(W, dtype, device)
        if W.dim() != 2:
            raise ValueError(f"W must have shape [Dx, Dz], got {tuple(W.shape)}")
        Dx, Dz = W.shape
        b = torch.zeros(Dx, dtype=W.dtype, device=W.device) if b is None else _tensor(b, W.dtype, W.device)
        if b.shape != (Dx,):
            raise ValueError(f"b must have shape [Dx] = [{Dx}], got {tuple(b.shape)}")
        sigma = _tensor(sigma, W.dtype, W.device)
        if sigma.dim() != 0 or not bool(sigma > 0):
            raise ValueError(f"sigma must be a positive scalar, got {sigma}")
        self.data_dim, self.latent_dim = int(Dx), int(Dz)
        self.register_buffer("W", W)
        self.register_buffer("b", b)
        self.register_buffer("sigma", sigma)

    def prior(self) -> Independent:
        """p(z) = N(0, I_Dz), event shape [Dz]."""
        return _standard_normal(self.latent_dim, self.W)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z) = N(W z + b, sigma^2 I): z [..., Dz] -> batch [...], event [Dx]."""
        loc = z @ self.W.mT + self.b  # [..., Dx]
        return Independent(Normal(loc, self.sigma.expand_as(loc)), 1)

    def marginal(self) -> MultivariateNormal:
        """p(x) = N(b, W W^T + sigma^2 I), event shape [Dx]."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return MultivariateNormal(self.b, covariance_matrix=self.W @ self.W.mT + self.sigma**2 * eye)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) = log N(x; b, W W^T + sigma^2 I).

        Args:
            x: shape [B, Dx].

        Returns:
            tensor of shape [B].
        """
        _check_x(x, self.data_dim)
        return self.marginal().log_prob(x)

    def posterior(self, x: torch.Tensor) -> MultivariateNormal:
        """p(z | x) = N(M^-1 W^T (x - b), sigma^2 M^-1), M = W^T W + sigma^2 I.

        Args:
            x: shape [B, Dx].

        Returns:
            ``MultivariateNormal`` with batch shape [B], event shape [Dz].
        """
        _check_x(x, self.data_dim)
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        L_M = torch.linalg.cholesky(self.W.mT @ self.W + self.sigma**2 * eye)  # [Dz, Dz]
        rhs = ((x - self.b) @ self.W).unsqueeze(-1)  # [B, Dz, 1]
        loc = torch.cholesky_solve(rhs, L_M).squeeze(-1)  # [B, Dz]
        cov = self.sigma**2 * torch.cholesky_inverse(L_M)  # [Dz, Dz], shared by every x
        return MultivariateNormal(loc, scale_tril=torch.linalg.cholesky(cov))  # batch [B]

