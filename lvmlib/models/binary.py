"""n independent binary latents: p(x) is a sum over 2^n configurations (notebook 03 times enumerating them).

Two closed forms check the enumeration: a Gaussian-likelihood model is a mixture of 2^n
Gaussians (:meth:`BinaryLatentModel.as_mixture`), and n latents with the same effect
(:meth:`BinaryLatentModel.equal_effect`) collapse into n + 1 binomially weighted ones
(:func:`binomial_mixture`).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Binomial,
    Independent,
    Normal,
)

from lvmlib._util import chunk_length, chunks, positive_int
from lvmlib.models._base import _check_x, _LatentVariableModel
from lvmlib.models.mixture import MixtureOfGaussians
from lvmlib.nets import mlp

__all__ = ["BinaryLatentModel", "binary_configurations", "binomial_mixture"]

F64 = torch.float64


def binary_configurations(n: int, start: int = 0, stop: int | None = None, *, dtype=torch.float32, device=None):
    """Rows ``start:stop`` of the 2^n binary configurations, shape [stop - start, n].

    Row i holds the bits of i (least significant first).
    """
    stop = 2**n if stop is None else stop
    idx = torch.arange(start, stop, device=device)  # [m]
    bits = torch.arange(n, device=device)  # [n]
    return ((idx.unsqueeze(-1) >> bits) & 1).to(dtype)  # [m, n]


class BinaryLatentModel(_LatentVariableModel):
    """n independent binary latents: z_i ~ Bernoulli(prior_prob), x | z from f(z).

    x | z ~ N(f(z), sigma^2 I) or Bernoulli(logits = f(z)), f linear (``hidden=()``) or an
    MLP.  p(x) = sum over all 2^n configurations of p(z) p(x | z): exact, but the cost
    doubles with every latent (the lecture's reason to sample instead).

    Args:
        n_latents: n.
        data_dim: Dx.
        likelihood: "gaussian" or "bernoulli".
        hidden: hidden layer sizes of f (default (): linear).
        sigma: Gaussian noise standard deviation.
        prior_prob: p(z_i = 1).
        generator: draws f's random weights.
        dtype, device: of the weights (default float32, CPU).

    Taught in notebook 03 (Marginalization).
    """

    def __init__(
        self,
        n_latents: int,
        data_dim: int,
        likelihood: str = "gaussian",
        *,
        hidden: Sequence[int] = (),
        sigma: float = 0.5,
        prior_prob: float = 0.5,
        gain: float = 2.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device=None,
    ):
        super().__init__()
        n_latents = positive_int(n_latents, "n_latents")
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood must be 'gaussian' or 'bernoulli', got {likelihood!r}")
        if not 0 < prior_prob < 1:
            raise ValueError(f"prior_prob must lie in (0, 1), got {prior_prob}")
        dtype = dtype or torch.float32
        self.decoder = mlp([int(n_latents), *hidden, int(data_dim)], nn.Tanh, generator=generator, gain=gain,
                           dtype=dtype).to(device=device).requires_grad_(False)
        self.latent_dim, self.data_dim = int(n_latents), int(data_dim)
        self.likelihood_type = likelihood
        self.register_buffer("prior_probs", torch.full((int(n_latents),), float(prior_prob), dtype=dtype, device=device))
        self.register_buffer("sigma", torch.tensor(float(sigma), dtype=dtype, device=device))

    def prior(self) -> Independent:
        """p(z) = prod_i Bernoulli(z_i; prior_prob), event shape [n]."""
        return Independent(Bernoulli(probs=self.prior_probs), 1)

    def likelihood(self, z: torch.Tensor) -> Independent:
        """p(x | z): z [..., n] in {0, 1} -> batch [...], event [Dx]."""
        out = self.decoder(z.to(self.sigma.dtype))  # [..., Dx]
        if self.likelihood_type == "bernoulli":
            return Independent(Bernoulli(logits=out), 1)
        return Independent(Normal(out, self.sigma.expand_as(out)), 1)

    def configurations(self) -> torch.Tensor:
        """All 2^n configurations, shape [2^n, n]."""
        return binary_configurations(self.latent_dim, dtype=self.sigma.dtype, device=self.sigma.device)

    def log_marginal(self, x: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Exact log p(x) = logsumexp over the 2^n configurations of log p(z) + log p(x | z).

        Configurations are generated and summed in chunks (a running logsumexp), so memory
        stays bounded while time grows as 2^n.

        Args:
            x: shape [B, Dx].
            chunk_size: configurations per chunk (default: ``lvmlib._util.chunk_length``'s).

        Returns:
            tensor of shape [B].
        """
        _check_x(x, self.data_dim)
        n, prior = self.latent_dim, self.prior()
        total = 2**n
        step = chunk_length(total, x.shape[0] * max(self.data_dim, n), chunk_size)
        acc = torch.full((x.shape[0],), -math.inf, dtype=x.dtype, device=x.device)  # [B]
        for part in chunks(total, step):
            z = binary_configurations(n, part.start, part.stop, dtype=self.sigma.dtype,
                                      device=self.sigma.device)  # [c, n]
            log_joint = prior.log_prob(z).unsqueeze(1) + self.likelihood(z.unsqueeze(1)).log_prob(x)  # [c, B]
            acc = torch.logaddexp(acc, torch.logsumexp(log_joint, dim=0))
        return acc

    @classmethod
    def equal_effect(cls, n: int, effect, offset, *, sigma: float = 0.5, prior_prob: float = 0.5,
                     device=None) -> "BinaryLatentModel":
        """n latents that all have the same effect (float64, linear, no gradients):
        x | z ~ N(offset + (sum_i z_i) * effect, sigma^2 I), a linear decoder with equal columns.
        Its closed form is :func:`binomial_mixture`.

        Args:
            effect, offset: [Dx].
            device: where the model lives (default CPU).
        """
        effect = torch.as_tensor(effect, dtype=F64, device=device)
        offset = torch.as_tensor(offset, dtype=F64, device=device)
        model = cls(n, effect.shape[0], hidden=(), sigma=sigma, prior_prob=prior_prob, dtype=F64).to(device)
        with torch.no_grad():
            model.decoder[0].weight.copy_(effect[:, None].expand(-1, n))
            model.decoder[0].bias.copy_(offset)
        return model.requires_grad_(False)

    def as_mixture(self) -> MixtureOfGaussians:
        """A Gaussian-likelihood model written as an explicit mixture of 2^n Gaussians: weight p(z)
        and mean f(z) for every configuration z, covariance sigma^2 I (feasible for small n)."""
        if self.likelihood_type != "gaussian":
            raise ValueError("as_mixture needs a Gaussian likelihood (a Bernoulli one is a mixture of Bernoullis)")
        with torch.no_grad():
            z = self.configurations()  # [2^n, n]
            weights = self.prior().log_prob(z).exp()  # [2^n]
            means = self.likelihood(z).mean  # [2^n, Dx]
        var = torch.full((z.shape[0],), float(self.sigma) ** 2, dtype=means.dtype, device=means.device)
        return MixtureOfGaussians(weights / weights.sum(), means, var, "spherical")

    @property
    def dtype(self) -> torch.dtype:
        return self.sigma.dtype

    @property
    def device(self) -> torch.device:
        return self.sigma.device


def binomial_mixture(n: int, effect, offset, *, sigma: float = 0.5, prior_prob: float = 0.5,
                     device=None) -> MixtureOfGaussians:
    """The closed form of :meth:`BinaryLatentModel.equal_effect`: only the count k = sum_i z_i
    matters, k ~ Binomial(n, prior_prob), so

        p(x) = sum_{k=0}^n Binom(k; n, p) N(x; offset + k effect, sigma^2 I),

    a mixture of n + 1 Gaussians instead of a sum of 2^n terms (float64).

    Args:
        effect, offset: [Dx].

    Taught in notebook 03 (Marginalization).
    """
    effect = torch.as_tensor(effect, dtype=F64, device=device)
    offset = torch.as_tensor(offset, dtype=F64, device=device)
    k = torch.arange(n + 1, dtype=F64, device=device)
    weights = Binomial(n, probs=torch.tensor(prior_prob, dtype=F64, device=device)).log_prob(k).exp()  # [n + 1]
    means = offset + k[:, None] * effect  # [n + 1, Dx]
    var = torch.full((n + 1,), sigma**2, dtype=F64, device=device)
    return MixtureOfGaussians(weights / weights.sum(), means, var, "spherical")
