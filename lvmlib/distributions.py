"""Sampling with an explicit ``torch.Generator``, and the proposals the lessons use.

``torch.distributions`` cannot take a generator, so :func:`sample` draws the noise itself and
pushes it through the reparameterization (``loc + scale * eps``); the global generator is never
seeded.  :func:`uniform_box` is the lecture's uniform proposal; :func:`gaussian_proposals` and
:func:`gaussian_mvn` build batches of Gaussian proposals over a grid of means and scales.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Independent,
    MultivariateNormal,
    Normal,
    Uniform,
)

from lvmlib._util import check_generator, noise

__all__ = ["sample", "uniform_box", "gaussian_proposals", "gaussian_mvn"]


def _noise(kind: str, shape: torch.Size, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Standard normal ("randn") or uniform [0, 1) ("rand") noise of ``shape``, drawn from
    ``generator`` on the generator's device, returned on ``like``'s device and dtype."""
    return noise(kind, shape, generator, dtype=like.dtype, device=like.device)






def gaussian_proposals(means, scales, *, dtype=torch.float64, device=None) -> Independent:
    """q_b = N(means[b], scales[b]^2) over a 1-D latent: batch shape [B], event shape [1], on ``device``."""
    loc = torch.as_tensor(np.asarray(means, dtype=float), dtype=dtype, device=device).reshape(-1, 1)  # [B, 1]
    scale = torch.as_tensor(np.asarray(scales, dtype=float), dtype=dtype, device=device).reshape(-1, 1)  # [B, 1]
    loc, scale = torch.broadcast_tensors(loc, scale)
    return Independent(Normal(loc, scale), 1)


def gaussian_mvn(means, scales, *, dtype=torch.float64, device=None) -> MultivariateNormal:
    """q_b = N(means[b], scales[b]^2) over a 1-D latent as a ``MultivariateNormal`` (batch [B],
    event [1]), the type of ``LinearGaussian.posterior``, so ``kl_divergence(q, posterior)``
    applies directly.  The same distributions as :func:`gaussian_proposals`."""
    loc = torch.as_tensor(np.asarray(means, dtype=float), dtype=dtype, device=device).reshape(-1, 1)  # [B, 1]
    scale = torch.as_tensor(np.asarray(scales, dtype=float), dtype=dtype, device=device).reshape(-1, 1, 1)
    loc, scale = torch.broadcast_tensors(loc, scale[..., 0])
    return MultivariateNormal(loc, scale_tril=scale.unsqueeze(-1))


def sample(
    dist: Distribution,
    sample_shape: torch.Size | tuple[int, ...] = torch.Size(),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw ``sample_shape`` samples from ``dist``, reparameterized where possible.

    ``torch.distributions`` cannot take a ``torch.Generator``, so for the families used in
    lvmlib the noise is drawn here from ``generator`` and pushed through the
    reparameterization: Normal / MultivariateNormal (``loc + scale * eps``), Uniform
    (``low + (high - low) * u``), Categorical (``torch.multinomial``), Bernoulli
    (``u < probs``), and ``Independent`` of any of these.  Other families, or
    ``generator=None``, fall back to ``dist.rsample`` (or ``dist.sample`` when the family
    has no reparameterization).  The global generator is never seeded.

    Args:
        dist: any ``torch.distributions.Distribution``.
        sample_shape: leading shape of the samples.
        generator: optional ``torch.Generator`` (on any device: the noise is drawn on its
            device and moved to the distribution's).

    Returns:
        tensor of shape ``sample_shape + dist.batch_shape + dist.event_shape``,
        differentiable w.r.t. the parameters of Normal / MultivariateNormal / Uniform.
    """
    sample_shape = torch.Size(sample_shape)
    check_generator(generator)
    if generator is None:
        return dist.rsample(sample_shape) if dist.has_rsample else dist.sample(sample_shape)
    if type(dist) is Independent:
        return sample(dist.base_dist, sample_shape, generator)
    shape = dist._extended_shape(sample_shape)  # sample_shape + batch + event
    if type(dist) is Normal:
        return torch.addcmul(dist.loc, dist.scale, _noise("randn", shape, dist.loc, generator))
    if type(dist) is MultivariateNormal:
        eps = _noise("randn", shape, dist.loc, generator)  # [..., Dz]
        return dist.loc + torch.matmul(dist._unbroadcasted_scale_tril, eps.unsqueeze(-1)).squeeze(-1)
    if type(dist) in (Uniform, _ClosedUniform):
        return torch.addcmul(dist.low, dist.high - dist.low, _noise("rand", shape, dist.low, generator))
    if type(dist) is Bernoulli:
        with torch.no_grad():
            u = _noise("rand", shape, dist.probs, generator)
            return (u < dist.probs).to(dist.probs.dtype)
    if type(dist) is Categorical:
        with torch.no_grad():
            probs = dist.probs  # [*batch, K]
            flat = probs.reshape(-1, probs.shape[-1]).to(generator.device)  # [N, K]
            n = max(1, math.prod(sample_shape))
            idx = torch.multinomial(flat, n, replacement=True, generator=generator)  # [N, n]
            idx = idx.T.reshape(shape).to(probs.device)  # [*sample_shape, *batch]
            return idx
    return dist.rsample(sample_shape) if dist.has_rsample else dist.sample(sample_shape)


class _ClosedUniform(Uniform):
    """``Uniform(low, high)`` whose density also counts the upper edge: log_prob = -log(high - low)
    on the closed interval [low, high] (torch's ``support``), -inf outside.

    ``low + (high - low) * u`` with u < 1 can round to exactly ``high`` (for u within 4e-6 of 1
    in float32 when low = 100, high = 101), which ``Uniform.log_prob`` counts as outside: log q
    = -inf and a log-weight of +inf.  The edge has probability zero, so counting it changes
    no expectation; it only removes that +inf.
    """

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (value <= self.high)
        return torch.log(inside.type_as(self.low)) - torch.log(self.high - self.low)


def uniform_box(low, high, dim: int | None = None, *, dtype=None, device=None) -> Distribution:
    """The lecture's uniform proposal: z ~ Uniform over the box [low, high]^Dz.

    With this proposal, naive Monte Carlo reads p(x) = |box| * E_{z ~ U(box)}[p(x, z)]
    (the mass of the prior outside the box is ignored, so the box must cover where the
    posterior lives).  For a discrete z with K values, the uniform proposal is
    ``Categorical(logits=torch.zeros(K))``.

    Args:
        low, high: floats or tensors of shape [Dz].
        dim: Dz, needed when ``low`` and ``high`` are floats.

    Returns:
        ``Independent(Uniform(low, high), 1)``, batch shape [], event shape [Dz]; its density
        counts the closed box (a float32 draw rounded onto the upper edge has density
        1 / |box|, not 0), so no log-weight is +inf.
    """
    low = torch.as_tensor(low, dtype=dtype, device=device)
    high = torch.as_tensor(high, dtype=low.dtype if dtype is None else dtype, device=low.device)
    if dim is not None:
        low, high = low.expand(dim).clone(), high.expand(dim).clone()
    if low.dim() != 1 or low.shape != high.shape:
        raise ValueError(
            f"uniform_box needs low and high of shape [Dz] (or floats with dim=Dz); got "
            f"{tuple(low.shape)} and {tuple(high.shape)}"
        )
    if not bool((high > low).all()):
        raise ValueError("uniform_box needs high > low in every coordinate")
    return Independent(_ClosedUniform(low, high), 1)
