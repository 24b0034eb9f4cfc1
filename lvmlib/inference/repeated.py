"""Repeated-run statistics: many independent estimates of log p(x) from one stream of log-weights.

:func:`run_estimates` reduces log-weights of R runs of N samples ([R, N, B]) to one estimate and one
effective sample size per run; :func:`block_estimates` draws one long stream per proposal and cuts
it into disjoint runs for every N of a list; :func:`repeated_estimates` gives nested estimates (the
first N samples of each run) for every N.  :func:`weight_shares` / :func:`fraction_carrying` say how
few samples carry the weight, :func:`relative_std_one_sample` the exact spread of one weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
import torch
from torch.distributions import (
    Distribution,
)

from lvmlib.inference import estimators as est
from lvmlib.inference.estimators import effective_sample_size, log_mean_exp
from lvmlib.models import weight_moments

__all__ = ["RunEstimates", "run_estimates", "BlockEstimates", "block_estimates", "repeated_estimates",
           "weight_shares", "fraction_carrying", "relative_std_one_sample"]


@dataclass
class RunEstimates:
    """Importance-sampling estimates of R independent runs of N samples each, per point.

    Attributes:
        log_estimate: [R, B] log p-hat_N = logsumexp_k log w_k - log N of each run.
        ess: [R, B] effective sample size of each run, in [1, N].
        num_samples: N, the samples per run.
    """

    log_estimate: torch.Tensor
    ess: torch.Tensor
    num_samples: int

    @property
    def runs(self) -> int:
        """R, the number of runs."""
        return int(self.log_estimate.shape[0])


def _per_run(fn, log_w: torch.Tensor) -> torch.Tensor:
    """``fn`` (a [K, B'] -> [B'] reduction, e.g. a student's) applied to every run of log_w [R, N, B]: [R, B]."""
    R, N, B = log_w.shape
    return fn(log_w.transpose(0, 1).reshape(N, R * B)).reshape(R, B)


def run_estimates(log_w: torch.Tensor, *, log_p_hat=None, ess=None) -> RunEstimates:
    """Reduce the log weights of R runs of N samples to one estimate and one ESS per run.

    log p-hat_r = logsumexp_k log w_rk - log N (as :func:`importance_sampling`) and
    ESS_r = exp(-logsumexp_k 2 log w_bar_rk) (as :func:`effective_sample_size`), both in log
    space: no underflow when every weight of a run is tiny.

    Args:
        log_w: log weights of shape [R, N, B] (R runs, N samples each, B points or proposals),
            e.g. ``log_weights(x, model, q, R * N).reshape(R, N, B)``.

        log_p_hat, ess: optional reductions [K, B] -> [B] used instead of lvmlib's (a notebook passes
            the student's functions once their checks passed).

    Returns:
        a :class:`RunEstimates` with ``log_estimate`` and ``ess`` of shape [R, B].

    Taught in notebook 04 (Naive Monte Carlo).
    """
    if not isinstance(log_w, torch.Tensor) or log_w.dim() != 3:
        shape = tuple(log_w.shape) if isinstance(log_w, torch.Tensor) else type(log_w).__name__
        raise ValueError(f"log_w must have shape [R, N, B] (R runs of N samples), got {shape}")
    if log_w.shape[1] < 1:
        raise ValueError("each run needs at least one sample (N >= 1)")
    log_estimate = log_mean_exp(log_w, 1) if log_p_hat is None else _per_run(log_p_hat, log_w)
    run_ess = effective_sample_size(log_w, dim=1) if ess is None else _per_run(ess, log_w)
    return RunEstimates(log_estimate, run_ess, int(log_w.shape[1]))


@dataclass
class BlockEstimates:
    """Statistics of R_N = total // N independent runs of N samples, for every N and proposal.

    Arrays of shape [n, B] (n = len(counts), B proposals) unless said.  ``bundle["name"]``
    reads a field too (the notebooks' older spelling).

    Taught in notebook 05 (Importance sampling).
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
def block_estimates(x: torch.Tensor, model, proposal: Distribution, counts, total: int = 100_000, *,
                    log_p: float | None = None, bin_width: float = 0.05, ratio_max: float = 3.0, keep: int = 0,
                    generator: torch.Generator | None = None, log_weights=None, log_p_hat=None,
                    ess=None) -> "BlockEstimates":
    """Many independent importance-sampling estimates of p(x), for every N and every proposal.

    For each proposal q_b of the batch, ``total`` samples z ~ q_b are drawn once with
    :func:`lvmlib.inference.log_weights`; for each N in ``counts`` the stream is cut into
    R_N = total // N disjoint runs of N samples, and each run gives one estimate
    log p-hat_N and its effective sample size, both from :func:`lvmlib.inference.run_estimates`
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
        log_weights: optional ``log_weights(x, model, q, K, generator=...) -> [K, B]`` used instead of
            lvmlib's for the statistics (it returns no samples, so the ``keep`` samples shown are a
            separate draw of lvmlib's, with their log weights);
        log_p_hat, ess: optional reductions [K, B] -> [B] (see :func:`run_estimates`).

    Returns:
        a :class:`BlockEstimates` (NumPy arrays).

    Taught in notebook 05 (Importance sampling); also used in 06.
    """
    counts = [int(n) for n in counts]
    reductions = dict(log_p_hat=log_p_hat, ess=ess)  # (the loop below reuses the names for its tensors)
    if total < max(counts):
        raise ValueError(f"total ({total}) must be at least the largest N ({max(counts)})")
    B = proposal.batch_shape[0]
    xb = x.expand(B, -1)  # [B, Dx]: one copy of the point per proposal
    if log_weights is None:
        log_w, z = est.log_weights(xb, model, proposal, total, generator=generator, return_samples=True)  # [T, B]
    else:
        log_w = log_weights(xb, model, proposal, total, generator=generator)  # [T, B]
        z = None
    out = {k: np.zeros((len(counts), B)) for k in ("log_mean", "log_sd", "ess_mean")}
    out["runs"] = np.array([total // n for n in counts])
    bins = int(round(ratio_max / bin_width)) + 1
    if log_p is not None:
        for k in ("ratio_mean", "ratio_sd", "ratio_median", "overflow"):
            out[k] = np.zeros((len(counts), B))
        out["hist"] = np.zeros((len(counts), B, bins))
    for i, n in enumerate(counts):
        R = total // n
        runs = run_estimates(log_w[: R * n].reshape(R, n, B), **reductions)  # R disjoint runs
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
        kept_w = log_w
        if z is None:  # a function that returns no samples: the shown samples are lvmlib's own draw
            kept_w, z = est.log_weights(xb, model, proposal, keep, generator=generator, return_samples=True)
        out["z"] = z[:keep, :, 0].cpu().numpy()
        out["log_w"] = kept_w[:keep].cpu().numpy()
    return BlockEstimates(**out)



@torch.no_grad()
def repeated_estimates(x: torch.Tensor, model, n_values: Sequence[int], repetitions: int, *, proposal=None,
                       generator: torch.Generator | None = None, block: int = 20, estimate=None) -> np.ndarray:
    """log p-hat_N for ``repetitions`` independent runs at every N in ``n_values``.

    Each run r draws max(N) samples z ~ q once (``log_weights`` on ``repetitions`` copies of x,
    so every copy has its own samples) and the estimate at N averages its first N weights:
    p-hat_N = (1/N) sum_{k <= N} w_k, reduced by :func:`run_estimates` (log space).  Runs are
    independent; the estimates of one run at different N share samples (nested), which is how
    one would grow N in practice.

    Args:
        x: one point, shape [1, Dx].
        n_values: increasing sample sizes.
        repetitions: independent runs.
        proposal: None for the prior (naive Monte Carlo), or e.g. ``uniform_box(...)``.
        block: runs drawn per call (bounds memory to block * max(N) weights).
        estimate: ``estimate(log_w [N, runs]) -> log p-hat [runs]`` (or a tuple whose first entry it
            is, e.g. exercise 4.1's ``(log_p_hat, rel_se)``) reduces each run's first N log-weights;
            default :func:`run_estimates` (logsumexp - log N).  The samples are the same either way.

    Returns:
        array of shape [len(n_values), repetitions].

    Taught in notebook 04 (Naive Monte Carlo).
    """
    n_values = [int(n) for n in n_values]
    if any(b <= a for a, b in zip(n_values, n_values[1:])):
        raise ValueError("n_values must be increasing")
    q = model.prior() if proposal is None else proposal
    out = np.empty((len(n_values), repetitions))
    for start in range(0, repetitions, block):
        b = min(block, repetitions - start)
        log_w = est.log_weights(x[:1].expand(b, -1), model, q, n_values[-1], generator=generator)  # [Nmax, b]
        runs = log_w.T.unsqueeze(-1)  # [b runs, Nmax samples, 1 point]
        for i, n in enumerate(n_values):
            if estimate is None:
                out[i, start:start + b] = run_estimates(runs[:, :n]).log_estimate[:, 0].cpu().numpy()  # first n weights
            else:
                got = estimate(log_w[:n])  # [n samples, b runs] -> [b]
                got = got[0] if isinstance(got, (tuple, list)) else got
                out[i, start:start + b] = torch.as_tensor(got).detach().reshape(b).cpu().numpy()
    return out


def weight_shares(log_w: torch.Tensor) -> torch.Tensor:
    """Share of the total weight carried by the k heaviest samples, for k = 1..K.

    Args:
        log_w: log weights, any shape (flattened to K).

    Returns:
        tensor of shape [K], increasing to 1.

    Taught in notebook 04 (Naive Monte Carlo).
    """
    lw = log_w.reshape(-1)
    return torch.cumsum(torch.sort(lw - torch.logsumexp(lw, 0), descending=True).values.exp(), 0)


def fraction_carrying(log_w: torch.Tensor, share: float = 0.99, *, shares: torch.Tensor | None = None) -> float:
    """The smallest fraction of the samples whose weights add up to ``share`` of the total.

    Args:
        log_w: log weights, any shape (flattened).
        shares: :func:`weight_shares` of ``log_w`` if already computed.

    Returns:
        a float in (0, 1]: ~``share`` for equal weights, 1/K when one sample holds it all.

    Taught in notebook 04 (Naive Monte Carlo).
    """
    shares = weight_shares(log_w) if shares is None else shares
    k = int(torch.searchsorted(shares, torch.tensor([share], dtype=shares.dtype, device=shares.device))) + 1
    return min(k, shares.numel()) / shares.numel()


def relative_std_one_sample(x: torch.Tensor, model, proposal=None, **kwargs) -> float:
    """sqrt(Var_q[w]) / p(x) for one weight w = p(x, z) / q(z), from the exact moments of
    :func:`lvmlib.models.weight_moments` (``kwargs``: its grid): the relative error of p-hat_N
    is this / sqrt(N).

    Taught in notebook 04 (Naive Monte Carlo).
    """
    m1, m2 = weight_moments(x, model, proposal, **kwargs)
    return math.sqrt(math.expm1(m2 - 2 * m1))
