"""The 1-D toy problems of notebooks 05 and 06, their exact answers, and repeated estimates.

The toy problem is a ``LinearGaussian`` with a 1-D latent and a 1-D observation, and one
observed x chosen so that the exact posterior is p(z | x) = N(1.5, 0.25^2): the integrand
p(x, z) = p(x) p(z | x) is a Gaussian bump, every number has an exact answer
(:func:`second_moment_of_weights`), and a Gaussian q can *be* the posterior (zero variance).

:func:`block_estimates` draws one long stream of samples per proposal with
:func:`lvmlib.estimators.log_weights` and cuts it into disjoint runs of N samples, reduced by
:func:`lvmlib.estimators.run_estimates`: many independent importance-sampling estimates per N
from one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from lvmlib import estimators as est
from lvmlib.models import LinearGaussian

__all__ = ["POSTERIOR_MEAN", "POSTERIOR_SCALE", "COUNTS", "toy_problem", "gaussian_proposals", "gaussian_mvn",
           "second_moment_of_weights", "BlockEstimates", "block_estimates"]

#: numbers of samples per estimate (the samples slider of notebook 05).
COUNTS = (1, 3, 10, 30, 100, 300, 1000)

POSTERIOR_MEAN, POSTERIOR_SCALE = 1.5, 0.25


# ----------------------------------------------------------------------------------------
# the toy problem
# ----------------------------------------------------------------------------------------


def toy_problem(post_mean: float = POSTERIOR_MEAN, post_scale: float = POSTERIOR_SCALE, sigma: float = 0.5,
                *, dtype=torch.float64, device=None) -> tuple[LinearGaussian, torch.Tensor]:
    """A 1-D linear Gaussian model and one observation whose posterior is N(post_mean, post_scale^2).

    z ~ N(0, 1), x | z ~ N(w z, sigma^2).  The posterior of a linear Gaussian model is
    N(w x / (w^2 + sigma^2), sigma^2 / (w^2 + sigma^2)), so w = sigma sqrt(1 / s^2 - 1) and
    x = m (w^2 + sigma^2) / w give the posterior N(m, s^2) (it needs s < 1, narrower than
    the prior).

    Returns:
        (model, x): a ``LinearGaussian`` with W of shape [1, 1], and x of shape [1, 1], on ``device``.
    """
    if not 0 < post_scale < 1:
        raise ValueError(f"post_scale must lie in (0, 1) (narrower than the prior), got {post_scale}")
    w = sigma * math.sqrt(1.0 / post_scale**2 - 1.0)
    x = post_mean * (w**2 + sigma**2) / w
    model = LinearGaussian(torch.tensor([[w]], dtype=dtype, device=device), None, sigma)
    return model, torch.tensor([[x]], dtype=dtype, device=device)


def gaussian_proposals(means, scales, *, dtype=torch.float64, device=None) -> Independent:
    """q_b = N(means[b], scales[b]^2) over a 1-D latent: batch shape [B], event shape [1], on ``device``."""
    loc = torch.as_tensor(np.asarray(means, dtype=float), dtype=dtype, device=device).reshape(-1, 1)  # [B, 1]
    scale = torch.as_tensor(np.asarray(scales, dtype=float), dtype=dtype, device=device).reshape(-1, 1)  # [B, 1]
    loc, scale = torch.broadcast_tensors(loc, scale)
    return Independent(Normal(loc, scale), 1)


def second_moment_of_weights(mean, scale, post_mean: float = POSTERIOR_MEAN, post_scale: float = POSTERIOR_SCALE):
    """E_q[(w / p(x))^2] for q = N(mean, scale^2) and a Gaussian posterior N(m, s^2), exactly.

    With w = p(x, z) / q(z) = p(x) p(z | x) / q(z):
    E_q[(w / p(x))^2] = integral of p(z | x)^2 / q(z) dz
                      = t^2 / (s sqrt(2 t^2 - s^2)) exp((m - mean)^2 / (2 t^2 - s^2))  (t = scale),
    finite only when 2 t^2 > s^2: a q narrower than s / sqrt(2) gives weights of infinite
    variance.  Var(p-hat / p(x)) = (this - 1) / N, and ESS / N -> 1 / this as N grows.

    Returns:
        a float or an array shaped like the broadcast of mean and scale (``inf`` where infinite).
    """
    mean, t = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(scale, dtype=float))
    d = 2 * t**2 - post_scale**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        finite = t**2 / (post_scale * np.sqrt(np.abs(d))) * np.exp((post_mean - mean) ** 2 / np.abs(d))
        out = np.where(d > 1e-9 * post_scale**2, finite, np.inf)
    return out if out.ndim else float(out)


# ----------------------------------------------------------------------------------------
# repeated estimates, from one stream of samples per proposal
# ----------------------------------------------------------------------------------------




@dataclass
class BlockEstimates:
    """Statistics of R_N = total // N independent runs of N samples, for every N and proposal.

    Arrays of shape [n, B] (n = len(counts), B proposals) unless said.  ``bundle["name"]``
    reads a field too (the notebooks' older spelling).
    """

    runs: np.ndarray  # [n]: R_N, the number of runs per N
    log_mean: np.ndarray  # mean of log p-hat_N over the runs (estimates the IWAE bound L_N)
    log_sd: np.ndarray  # its standard deviation over the runs (NaN when R_N = 1)
    ess_mean: np.ndarray  # mean effective sample size of a run, in [1, N]
    ratio_mean: np.ndarray | None = None  # with log_p: mean of p-hat / p(x)
    ratio_sd: np.ndarray | None = None  # with log_p: its sd over the runs
    ratio_median: np.ndarray | None = None  # with log_p: its median
    overflow: np.ndarray | None = None  # with log_p: share of runs with p-hat / p(x) >= ratio_max
    hist: np.ndarray | None = None  # with log_p: [n, B, bins] runs per bin of p-hat / p(x)
    z: np.ndarray | None = None  # with keep: [keep, B] the first samples of every stream
    log_w: np.ndarray | None = None  # with keep: [keep, B] their log weights

    def __getitem__(self, name: str):
        return getattr(self, name)

    def names(self) -> list[str]:
        """The fields that hold arrays (the ones computed)."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]



@torch.no_grad()
def block_estimates(x: torch.Tensor, model, proposal: Distribution, counts=COUNTS, total: int = 100_000, *,
                    log_p: float | None = None, bin_width: float = 0.05, ratio_max: float = 3.0, keep: int = 0,
                    generator: torch.Generator | None = None) -> "BlockEstimates":
    """Many independent importance-sampling estimates of p(x), for every N and every proposal.

    For each proposal q_b of the batch, ``total`` samples z ~ q_b are drawn once with
    :func:`lvmlib.estimators.log_weights`; for each N in ``counts`` the stream is cut into
    R_N = total // N disjoint runs of N samples, and each run gives one estimate
    log p-hat_N and its effective sample size, both from :func:`lvmlib.estimators.run_estimates`
    (the library's log-space reduction: finite even when every weight of a run underflows).  The mean of
    log p-hat_N over the runs estimates E[log p-hat_N], the IWAE bound L_N (L_1 = the ELBO).

    Args:
        x: one data point, shape [1, Dx].
        model: follows the model protocol.
        proposal: a Distribution over z with batch shape [B].
        counts: the N values.
        total: samples per proposal (at least max(counts)).
        log_p: the exact log p(x); with it, statistics of the ratio p-hat / p(x) and its
            histogram: bins of width ``bin_width`` centred on 0, bin_width, ..., ratio_max
            (larger values in the last bin).
        keep: also return the first ``keep`` samples and log weights of every stream.
        generator: a ``torch.Generator``.

    Returns:
        a :class:`BlockEstimates` (NumPy arrays).
    """
    counts = [int(n) for n in counts]
    if total < max(counts):
        raise ValueError(f"total ({total}) must be at least the largest N ({max(counts)})")
    B = proposal.batch_shape[0]
    xb = x.expand(B, -1)  # [B, Dx]: one copy of the point per proposal
    log_w, z = est.log_weights(xb, model, proposal, total, generator=generator, return_samples=True)  # [T, B]
    out = {k: np.zeros((len(counts), B)) for k in ("log_mean", "log_sd", "ess_mean")}
    out["runs"] = np.array([total // n for n in counts])
    bins = int(round(ratio_max / bin_width)) + 1
    if log_p is not None:
        for k in ("ratio_mean", "ratio_sd", "ratio_median", "overflow"):
            out[k] = np.zeros((len(counts), B))
        out["hist"] = np.zeros((len(counts), B, bins))
    for i, n in enumerate(counts):
        R = total // n
        runs = est.run_estimates(log_w[: R * n].reshape(R, n, B))  # R disjoint runs of N samples per proposal
        log_p_hat, ess = runs.log_estimate, runs.ess  # [R, B] each
        out["log_mean"][i] = log_p_hat.mean(0).cpu().numpy()
        out["log_sd"][i] = log_p_hat.std(0).cpu().numpy() if R > 1 else np.nan
        out["ess_mean"][i] = ess.mean(0).cpu().numpy()
        if log_p is not None:
            ratio = torch.exp(log_p_hat - log_p)  # [R, B], p-hat / p(x)
            out["ratio_mean"][i] = ratio.mean(0).cpu().numpy()
            out["ratio_sd"][i] = ratio.std(0).cpu().numpy() if R > 1 else np.nan
            out["ratio_median"][i] = ratio.median(0).values.cpu().numpy()
            out["overflow"][i] = (ratio >= ratio_max).double().mean(0).cpu().numpy()
            idx = (ratio / bin_width + 0.5).floor().clamp(0, bins - 1).long()  # [R, B]
            hist = torch.zeros(B, bins, dtype=torch.float64, device=idx.device)
            hist.scatter_add_(1, idx.T, torch.ones(B, R, dtype=torch.float64, device=idx.device))
            out["hist"][i] = hist.cpu().numpy()
    if keep:
        out["z"] = z[:keep, :, 0].cpu().numpy()
        out["log_w"] = log_w[:keep].cpu().numpy()
    return BlockEstimates(**out)


def gaussian_mvn(means, scales, *, dtype=torch.float64, device=None) -> MultivariateNormal:
    """q_b = N(means[b], scales[b]^2) over a 1-D latent as a ``MultivariateNormal`` (batch [B],
    event [1]), the type of ``LinearGaussian.posterior``, so ``kl_divergence(q, posterior)``
    applies directly.  The same distributions as :func:`gaussian_proposals`."""
    loc = torch.as_tensor(np.asarray(means, dtype=float), dtype=dtype, device=device).reshape(-1, 1)  # [B, 1]
    scale = torch.as_tensor(np.asarray(scales, dtype=float), dtype=dtype, device=device).reshape(-1, 1, 1)
    loc, scale = torch.broadcast_tensors(loc, scale[..., 0])
    return MultivariateNormal(loc, scale_tril=scale.unsqueeze(-1))
