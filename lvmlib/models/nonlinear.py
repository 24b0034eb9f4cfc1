"""A nonlinear latent variable model with a 1-D or 2-D latent: an MLP decoder, p(x) by quadrature."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Independent,
    Normal,
)

from lvmlib.models._base import _LatentVariableModel, _standard_normal
from lvmlib.models.linear import LinearGaussian
from lvmlib.models.quadrature import GridPosterior, grid_log_marginal, grid_posterior
from lvmlib.nets import mlp

__all__ = ["NonlinearLVM"]


class NonlinearLVM(_LatentVariableModel):
    """A neural decoder with a 1-D or 2-D latent: p(x) is an infinite mixture.

    z ~ N(0, I_Dz), x | z ~ N(f(z), sigma^2 I) (or Bernoulli(logits = f(z))), f an MLP.
    p(x) has no closed form, but with Dz <= 2 a grid over z gives it to any accuracy:
    ``log_marginal(x, resolution)`` converges as ``resolution`` grows.

    Args:
        latent_dim: 1 or 2.
        data_dim: Dx.
        hidden: hidden layer sizes of the MLP.
        sigma: the fixed noise standard deviation of a Gaussian likelihood.
        likelihood: "gaussian" or "bernoulli" (f(z) are then logits).
        linear: identity activations, so f(z) = A z + c and the model is a
            ``LinearGaussian`` (see :meth:`as_linear_gaussian`), for checking.
        decoder: a module mapping [..., Dz] -> [..., Dx] to use instead of a random MLP.
        gain: scale of the random weights (larger: a more curved f).
        generator: draws the random weights (the global generator is never seeded).  They
            are fixed (``requires_grad=False``); ``model.requires_grad_(True)`` makes them
            learnable.  A given ``decoder`` is used as it is.
        dtype, device: of the weights (default float32, CPU, or the given decoder's).

    Taught in notebook 03 (Marginalization); also used in 06.
    """

    def __init__(
        self,
        latent_dim: int = 1,
        data_dim: int = 2,
        hidden: Sequence[int] = (32,),
        sigma: float = 0.1,
        likelihood: str = "gaussian",
        *,
        linear: bool = False,
        decoder: nn.Module | None = None,
        gain: float = 2.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device=None,
    ):
        super().__init__()
        if latent_dim not in (1, 2):
            raise ValueError(f"latent_dim must be 1 or 2 (so that a grid can integrate over z), got {latent_dim}")
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")
        if decoder is None:  # a fixed random decoder: its weights do not require gradients
            activation = nn.Identity if linear else nn.Tanh
            decoder = mlp([latent_dim, *hidden, data_dim], activation, generator=generator, gain=gain,
                          dtype=dtype or torch.float32).requires_grad_(False)
        if device is not None or dtype is not None:
            decoder = decoder.to(device=device, dtype=dtype)
        self.decoder = decoder
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.likelihood_type, self.linear = likelihood, bool(linear)
        ref = next(decoder.parameters())
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.register_buffer("sigma", torch.tensor(float(sigma), dtype=ref.dtype, device=ref.device))

    def prior(self) -> Independent:
        """p(z) = N(0, I_Dz), event shape [Dz]."""
        return _standard_normal(self.latent_dim, self.sigma)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z): z [..., Dz] -> batch [...], event [Dx]."""
        out = self.decoder(z)  # [..., Dx]
        if self.likelihood_type == "bernoulli":
            return Independent(Bernoulli(logits=out), 1)
        return Independent(Normal(out, self.sigma.expand_as(out)), 1)

    def log_marginal(self, x: torch.Tensor, resolution: int | None = None, bound: float = 7.0) -> torch.Tensor:
        """log p(x) by quadrature on a grid (see :func:`grid_log_marginal`).

        Args:
            x: shape [B, Dx].
            resolution: cells per axis (default 2001 for 1-D, 301 for 2-D).

        Returns:
            tensor of shape [B].
        """
        return grid_log_marginal(x, self, resolution, bound)

    def grid_posterior(self, x: torch.Tensor, resolution: int | None = None, bound: float = 7.0) -> GridPosterior:
        """The posterior on a grid, for pictures (see :func:`grid_posterior`)."""
        return grid_posterior(x, self, resolution, bound)

    @torch.no_grad()
    def as_linear_gaussian(self) -> LinearGaussian:
        """The same model as a ``LinearGaussian`` (only for ``linear=True``, Gaussian)."""
        if not self.linear or self.likelihood_type != "gaussian":
            raise ValueError("as_linear_gaussian needs linear=True and a Gaussian likelihood")
        eye = torch.eye(self.latent_dim, dtype=self.sigma.dtype, device=self.sigma.device)
        b = self.decoder(torch.zeros_like(eye[:1]))[0]  # [Dx]
        W = (self.decoder(eye) - b).mT  # [Dx, Dz]
        return LinearGaussian(W, b, self.sigma)

    @property
    def dtype(self) -> torch.dtype:
        return self.sigma.dtype

    @property
    def device(self) -> torch.device:
        return self.sigma.device

