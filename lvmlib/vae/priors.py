"""Learned priors for a VAE: a mixture of Gaussians in place of N(0, I).

The ELBO's KL term, averaged over the data, splits as (Hoffman and Johnson 2016, "ELBO surgery")

    (1/N) sum_n KL(q(z | x_n) || p(z)) = I_q(x; z) + KL(q(z) || p(z)),   q(z) = (1/N) sum_n q(z | x_n),

so for a fixed encoder the best prior is the aggregate posterior q(z) itself.  A standard normal
cannot follow q(z) when the codes form clusters with empty space between them; a learned mixture

    p(z) = sum_k pi_k N(z; m_k, diag s_k^2),   log p(z) = logsumexp_k [log pi_k + log N(z; m_k, s_k^2)]

can (Tomczak and Welling 2018, "VAE with a VampPrior", compare such a mixture with their prior
of encoded pseudo-inputs; Dilokthanakul et al. 2016 put the mixture in the model).
The mixture is a ``torch.distributions.MixtureSameFamily``; its parameters are ``nn.Parameter`` s,
trained with the rest of the VAE by the same ELBO (the KL is then estimated by sampling, as
:mod:`lvmlib.inference` always does).  Plug it in with ``VAE(..., prior=MixturePrior(K, Dz))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from lvmlib._util import check_generator, noise, positive_int

__all__ = ["MixturePrior", "from_config", "aggregate_posterior", "aggregate_moments", "sample_aggregate",
           "PriorCoverage", "prior_coverage"]

#: smallest standard deviation of a learned prior component (coarser than ``lvmlib.nets.MIN_SCALE``)
MIN_PRIOR_SCALE = 1e-4


class MixturePrior(nn.Module):
    """p(z) = sum_k pi_k N(z; m_k, diag s_k^2), K components in Dz dimensions, all learned.

    Args:
        num_components: K.
        latent_dim: Dz.
        init_scale: the components' means start as N(0, init_scale^2) draws and their scales at 1
            - a spread-out copy of N(0, I), so the untrained mixture is close to the usual prior.
        generator: optional CPU ``torch.Generator`` for the initial means.

    Parameters: ``logits`` [K] (pi = softmax), ``loc`` [K, Dz], ``raw_scale`` [K, Dz] (s = softplus + 1e-4).
    Calling the module (``prior()``) returns the ``MixtureSameFamily``: batch shape [], event shape [Dz].

    Taught in notebook 10 (Priors and labels).
    """

    def __init__(self, num_components: int, latent_dim: int, *, init_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        for value, name in ((num_components, "num_components"), (latent_dim, "latent_dim")):
            positive_int(value, name)
        if not (init_scale >= 0 and math.isfinite(init_scale)):
            raise ValueError(f"init_scale must be a non-negative number, got {init_scale!r}")
        self.num_components, self.latent_dim, self.init_scale = num_components, latent_dim, float(init_scale)
        self.logits = nn.Parameter(torch.zeros(num_components))
        self.loc = nn.Parameter(torch.randn(num_components, latent_dim, generator=generator) * init_scale)
        self.raw_scale = nn.Parameter(torch.full((num_components, latent_dim), math.log(math.expm1(1.0 - MIN_PRIOR_SCALE))))

    @property
    def config(self) -> dict:
        return {"kind": "mixture", "num_components": self.num_components, "latent_dim": self.latent_dim,
                "init_scale": self.init_scale}

    def scale(self) -> torch.Tensor:
        """s [K, Dz]."""
        return F.softplus(self.raw_scale) + MIN_PRIOR_SCALE

    def weights(self) -> torch.Tensor:
        """pi [K]."""
        return torch.softmax(self.logits, -1)

    def forward(self) -> MixtureSameFamily:
        comps = Independent(Normal(self.loc, self.scale(), validate_args=False), 1)  # batch [K], event [Dz]
        return MixtureSameFamily(Categorical(logits=self.logits, validate_args=False), comps, validate_args=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for z [..., Dz]: [...]."""
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have last dimension {self.latent_dim}, got shape {tuple(z.shape)}")
        return self().log_prob(z)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws [n, Dz]: a component k ~ pi, then m_k + s_k * eps (noise from ``generator``)."""
        positive_int(n, "n")
        check_generator(generator)
        g_dev = generator.device if generator is not None else self.loc.device
        k = torch.multinomial(self.weights().to(g_dev), n, replacement=True, generator=generator).to(self.loc.device)
        eps = noise("randn", (n, self.latent_dim), generator, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc[k] + self.scale()[k] * eps  # [n, Dz]


def from_config(config: dict | None) -> MixturePrior | None:
    """Rebuild a prior from its ``config`` (what :meth:`lvmlib.vae.VAE.save` stores); None -> None."""
    if config is None:
        return None
    if not isinstance(config, dict) or config.get("kind") != "mixture":
        raise ValueError(f"unknown prior config {config!r}; known kinds: 'mixture'")
    kw = {k: v for k, v in config.items() if k != "kind"}
    return MixturePrior(kw.pop("num_components"), kw.pop("latent_dim"), **kw)


def aggregate_posterior(q: Independent) -> MixtureSameFamily:
    """q(z) = (1/N) sum_n q(z | x_n): the encoder's Gaussians [N] pooled with equal weights.

    Args:
        q: the encoder's output for N points, an ``Independent(Normal)`` with batch shape [N], event [Dz].

    Returns:
        a ``MixtureSameFamily`` with batch shape [], event shape [Dz] (exact density, by logsumexp over N).

    Taught in notebook 10 (Priors and labels).
    """
    if not isinstance(q, Independent) or not isinstance(q.base_dist, Normal) or len(q.batch_shape) != 1:
        raise ValueError("q must be a diagonal Gaussian Independent(Normal) with batch shape [N] (an encoder's output)")
    n = q.batch_shape[0]
    if n == 0:
        raise ValueError("q holds no points: the aggregate posterior of an empty data set is undefined")
    mean = q.base_dist.loc
    mix = Categorical(logits=torch.zeros(n, dtype=mean.dtype, device=mean.device), validate_args=False)
    return MixtureSameFamily(mix, q, validate_args=False)


@torch.no_grad()
def aggregate_moments(model, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of q(z) = (1/N) sum_n q(z | x_n), exactly (a mixture's moments), for a
    model with a Gaussian ``encoder(x)`` (a VAE):

        E[z] = (1/N) sum_n mu_n,   Cov[z] = (1/N) sum_n diag(sigma_n^2) + (1/N) sum_n (mu_n - E z)(mu_n - E z)^T.

    Returns:
        (mean of shape (Dz,), covariance of shape (Dz, Dz)), float64 NumPy arrays.

    Taught in notebook 08 (Walking the latent space).
    """
    q = model.encoder(x)
    mu, var = q.mean.double(), q.variance.double()  # [N, Dz] each
    mean = mu.mean(0)
    centred = mu - mean
    cov = torch.diag(var.mean(0)) + centred.T @ centred / mu.shape[0]
    return mean.cpu().numpy(), cov.cpu().numpy()



def sample_aggregate(q: Independent, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws [n, Dz] from q(z) = (1/N) sum_n q(z | x_n): a point uniformly, then its Gaussian.

    Args:
        q: the encoder's output for N points, ``Independent(Normal)`` with batch shape [N], event [Dz].
        generator: optional ``torch.Generator`` (any device) for the index and the noise.
    """
    loc, scale = q.base_dist.loc, q.base_dist.scale  # [N, Dz]
    g_dev = generator.device if generator is not None else loc.device
    i = torch.randint(loc.shape[0], (positive_int(n, "n"),), generator=generator, device=g_dev).to(loc.device)
    eps = noise("randn", (n, loc.shape[1]), generator, dtype=loc.dtype, device=loc.device)
    return loc[i] + scale[i] * eps


@dataclass
class PriorCoverage:
    """How well a VAE's prior p(z) and its aggregate posterior q(z) cover each other (Monte Carlo).

    Attributes:
        hole_mass: P_{z ~ p}[q(z) < p(z) / hole_ratio], the prior's mass where no code lies.
        kl_aggregate: KL(q(z) || p(z)), z drawn from q(z).
        kl_prior: KL(p(z) || q(z)), z drawn from p(z): large when the prior has mass in holes.
        hole_ratio: the threshold of a hole.
        num_samples: Monte Carlo samples of each estimate.
    """

    hole_mass: float
    kl_aggregate: float
    kl_prior: float
    hole_ratio: float
    num_samples: int


@torch.no_grad()
def prior_coverage(model, x: torch.Tensor, num_samples: int = 20000, *, hole_ratio: float = 2.0,
                   generator: torch.Generator | None = None) -> PriorCoverage:
    """Holes and both KLs between a VAE's prior p(z) and q(z) = (1/N) sum_n q(z | x_n) (Hoffman and
    Johnson 2016: the best prior for a fixed encoder is q(z) itself).

    Draws ``num_samples`` z ~ p (the model's ``prior_net`` or N(0, I)), then as many z ~ q(z)
    (:func:`sample_aggregate`); both densities are exact (q(z) by a logsumexp over the N points).

    Args:
        model: a VAE (``prior()``, ``prior_net``, ``encoder(x)``, ``latent_dim``).
        x: the points whose codes make q(z), [N, Dx].

    Returns:
        a :class:`PriorCoverage`.

    Taught in notebook 10 (Priors and labels).
    """
    num_samples = positive_int(num_samples, "num_samples")
    dev = model.prior_loc.device
    prior, agg = model.prior(), aggregate_posterior(model.encoder(x))
    zp = model.prior_net.sample(num_samples, generator=generator) if model.prior_net is not None else \
        noise("randn", (num_samples, model.latent_dim), generator, device=dev)
    log_ratio = prior.log_prob(zp) - agg.log_prob(zp)  # [mc] log p(z) / q(z), z ~ p
    zq = sample_aggregate(model.encoder(x), num_samples, generator)
    kl_aggregate = float((agg.log_prob(zq) - prior.log_prob(zq)).mean())
    return PriorCoverage(float((log_ratio > math.log(hole_ratio)).double().mean()), kl_aggregate,
                         float(log_ratio.mean()), float(hole_ratio), num_samples)
