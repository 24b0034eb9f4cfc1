"""Quadrature on a grid over a 1-D or 2-D latent: exact-enough p(x) and p(z | x) for pictures.

For any model in the protocol (``lvmlib.models.LatentVariableModel``) with a standard
normal prior on a 1-D or 2-D z: the midpoint rule over [-bound, bound]^Dz, decoding each grid
point once, chunked so memory stays bounded.  ``lvmlib.models.NonlinearLVM`` uses it for its
``log_marginal``; notebooks 03 and 06 draw its posteriors.  On the same grids: the KL of a
Gaussian q to the posterior (:func:`grid_kl`) and the best Gaussian of a grid of them
(:func:`best_gaussian`), and the exact moments of one importance weight (:func:`weight_moments`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch.distributions import Normal

from lvmlib._util import check_x, chunk_length, chunks
from lvmlib.device import one_thread

__all__ = ["GridPosterior", "grid_log_marginal", "grid_posterior", "grid_kl", "best_gaussian", "weight_moments"]


# ----------------------------------------------------------------------------------------
# quadrature on a grid over a 1-D or 2-D latent
# ----------------------------------------------------------------------------------------


class GridPosterior(NamedTuple):
    """The posterior of a model with a 1-D or 2-D latent, evaluated on a grid.

    Attributes:
        axes: Dz tensors of shape [R], the grid along each latent axis.
        grid: [G, Dz] with G = R^Dz, ``meshgrid(..., indexing="ij")`` order.
        log_joint: [B, R] (Dz = 1) or [B, R, R] (Dz = 2): log p(x, z) on the grid, the
            unnormalized log posterior.
        log_posterior: same shape: log p(z | x) = log p(x, z) - log p(x), a log density
            (its exp sums to 1 / cell_volume over the grid).
        log_marginal: [B], log p(x) by quadrature.
        cell_volume: the area (length) of one grid cell.
    """

    axes: tuple
    grid: torch.Tensor
    log_joint: torch.Tensor
    log_posterior: torch.Tensor
    log_marginal: torch.Tensor
    cell_volume: float


def _grid(latent_dim: int, resolution: int, bound: float, like: torch.Tensor):
    """Midpoints of ``resolution`` equal cells on [-bound, bound] per axis."""
    if latent_dim not in (1, 2):
        raise ValueError(f"quadrature on a grid needs a 1-D or 2-D latent, got latent_dim={latent_dim}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    if not bound > 0:
        raise ValueError(f"bound must be positive, got {bound}")
    h = 2.0 * bound / resolution
    axis = -bound + h * (torch.arange(resolution, dtype=like.dtype, device=like.device) + 0.5)  # [R]
    axes = (axis,) * latent_dim
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, latent_dim)  # [G, Dz]
    return axes, grid, h**latent_dim


def _grid_log_joint(x: torch.Tensor, model, grid: torch.Tensor) -> torch.Tensor:
    """log p(x, z_j) for every grid point, [G, B]; the decoder runs once per grid point."""
    prior = model.prior()
    step = chunk_length(grid.shape[0], x.shape[0] * max(1, x.shape[-1]))
    pieces = []
    for part in chunks(grid.shape[0], step):
        zc = grid[part]  # [c, Dz]
        lik = model.likelihood(zc.unsqueeze(1))  # batch [c, 1]
        pieces.append(prior.log_prob(zc).unsqueeze(1) + lik.log_prob(x))  # [c, B]
    return torch.cat(pieces, dim=0)  # [G, B]


def _default_resolution(latent_dim: int) -> int:
    return 2001 if latent_dim == 1 else 301


def grid_log_marginal(
    x: torch.Tensor, model, resolution: int | None = None, bound: float = 7.0
) -> torch.Tensor:
    """log p(x) = log integral p(x | z) p(z) dz by the midpoint rule on a grid.

    log p(x) ~= logsumexp_j [log p(z_j) + log p(x | z_j)] + log(cell volume), over R^Dz
    cells covering [-bound, bound]^Dz.  Works for any model in the protocol with a
    standard normal prior on a 1-D or 2-D z (a 2-D VAE too).  The rule converges fast
    (exponentially for a smooth integrand) once cells are narrower than the posterior;
    the prior mass outside the box (about 3e-12 per axis for bound = 7) is dropped.

    Args:
        x: shape [B, Dx].
        model: follows the model protocol, latent_dim in {1, 2}.
        resolution: R, cells per axis (default 2001 for 1-D, 301 for 2-D).
        bound: half-width of the box.

    Returns:
        tensor of shape [B].
    """
    return grid_posterior(x, model, resolution, bound).log_marginal


def grid_posterior(x: torch.Tensor, model, resolution: int | None = None, bound: float = 7.0) -> GridPosterior:
    """The (un)normalized posterior p(z | x) on a grid over a 1-D or 2-D latent, for pictures.

    Args:
        x: shape [B, Dx].
        model: follows the model protocol, latent_dim in {1, 2}.
        resolution: R, cells per axis (default 2001 for 1-D, 301 for 2-D).
        bound: the grid covers [-bound, bound]^Dz.

    Returns:
        a :class:`GridPosterior` (log_joint / log_posterior of shape [B, R] or [B, R, R]).

    Taught in notebook 03 (Marginalization); also used in 06.
    """
    data_dim = getattr(model, "data_dim", x.shape[-1])
    check_x(x, int(data_dim), nan=False)
    latent_dim = int(model.prior().event_shape[0]) if model.prior().event_shape else 0
    resolution = _default_resolution(latent_dim) if resolution is None else resolution
    axes, grid, volume = _grid(latent_dim, resolution, bound, x)
    log_joint = _grid_log_joint(x, model, grid).mT  # [B, G]
    log_marginal = torch.logsumexp(log_joint, dim=-1) + math.log(volume)  # [B]
    shape = (x.shape[0],) + (resolution,) * latent_dim
    log_joint = log_joint.reshape(shape)  # [B, R] or [B, R, R]
    log_post = log_joint - log_marginal.reshape((-1,) + (1,) * latent_dim)
    return GridPosterior(axes, grid, log_joint, log_post, log_marginal, volume)


def grid_kl(q: Normal, gp) -> torch.Tensor:
    """KL(q || p(z | x)) = sum_j q(z_j) [log q(z_j) - log p(z_j | x)] h, on the grid of ``gp``.

    Args:
        q: a ``Normal`` over the 1-D latent with any batch shape S (loc, scale of shape S).
        gp: a :class:`lvmlib.models.GridPosterior` for one point (log_posterior [1, R]).

    Returns:
        tensor of shape S.

    Taught in notebook 06 (The ELBO and its gap).
    """
    z = gp.axes[0]  # [R]
    log_q = q.log_prob(z.reshape((-1,) + (1,) * len(q.batch_shape)))  # [R, *S]
    log_post = gp.log_posterior[0].reshape((-1,) + (1,) * len(q.batch_shape))  # [R, 1...]
    return (torch.exp(log_q) * (log_q - log_post)).sum(0) * gp.cell_volume



def best_gaussian(gp, means, scales) -> tuple[float, float, float]:
    """The Gaussian q = N(mean, scale^2) of the given grid with the smallest KL(q || p(z | x)),
    i.e. the largest ELBO (log p(x) - ELBO(q) = KL(q || p(z | x))), by :func:`grid_kl`.

    Args:
        gp: a :class:`GridPosterior` for one point and a 1-D latent.
        means: [M] candidate means; scales: [S] candidate scales.

    Returns:
        (mean, scale, KL) of the best pair, floats.

    Taught in notebook 06 (The ELBO and its gap).
    """
    m = torch.as_tensor(np.asarray(means, dtype=float), dtype=gp.grid.dtype, device=gp.grid.device)
    s = torch.as_tensor(np.asarray(scales, dtype=float), dtype=gp.grid.dtype, device=gp.grid.device)
    with torch.no_grad(), one_thread():
        kl = torch.stack([grid_kl(Normal(mi, s, validate_args=False), gp) for mi in m])  # [M, S], a mean at a time
    i, j = divmod(int(kl.argmin()), kl.shape[1])
    return float(m[i]), float(s[j]), float(kl[i, j])


def weight_moments(x: torch.Tensor, model, proposal=None, *, low: float = -10.0, high: float = 10.0,
                   resolution: int = 20001) -> tuple[float, float]:
    """Exact first and second moments of one weight w = p(x, z) / q(z), z ~ q, for a 1-D latent.

    E_q[w] = integral over q's support of p(x, z) dz (= p(x) when q covers the posterior) and
    E_q[w^2] = integral of p(x, z)^2 / q(z) dz, both by the midpoint rule on [low, high]
    (pass q's support for a uniform box).  For q = the prior, w = p(x | z).

    Args:
        x: one point, shape [1, Dx].
        model: follows the model protocol, latent_dim 1.
        proposal: a Distribution over z (event shape [1]); None for the prior.

    Returns:
        (log E[w], log E[w^2]) as floats.

    Taught in notebook 04 (Naive Monte Carlo).
    """
    q = model.prior() if proposal is None else proposal
    h = (high - low) / resolution
    z = low + h * (torch.arange(resolution, dtype=x.dtype, device=x.device) + 0.5)[:, None]  # [R, 1]
    with torch.no_grad():
        log_joint = model.prior().log_prob(z) + model.likelihood(z).log_prob(x)  # [R]
        log_q = q.log_prob(z)  # [R]
    m1 = torch.logsumexp(log_joint, 0) + math.log(h)
    m2 = torch.logsumexp(2 * log_joint - log_q, 0) + math.log(h)
    return float(m1), float(m2)
