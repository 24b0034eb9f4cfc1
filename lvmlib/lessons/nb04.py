"""Notebook 04, naive Monte Carlo: p(x) = E_{z ~ p(z)}[p(x | z)], estimated by an average.

Two apps, each fed by a precomputation that draws every sample once:

- :func:`num_samples_app` (from ``lvmlib.inference.repeated_estimates`` + :func:`num_samples_precompute`):
  the histogram of many repeated estimates p-hat_N against the exact p(x), and the relative
  error against N with the 1 / sqrt(N) line from the exact variance of one weight.
- :func:`peaked_app` (from :func:`peaked_precompute`): as the likelihood gets peaked (small
  noise sigma, more latent dimensions d) the weight concentrates on a vanishing fraction of
  the samples and most estimates are near zero, with rare huge ones.

All estimates go through ``lvmlib.inference.log_weights`` (the prior, or a uniform box, as
the proposal); the statistics (``repeated_estimates``, ``weight_shares``, ``fraction_carrying``,
``relative_std_one_sample``) are ``lvmlib.inference``'s, the exact moments of one weight
``lvmlib.models.weight_moments``; the helpers here only histogram and draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import ipywidgets as W
import numpy as np
import torch

from lvmlib.inference import (
    effective_sample_size,
    log_mean_exp,
    fraction_carrying,
    log_weights,
    relative_std_one_sample,
    repeated_estimates,
    run_estimates,
    weight_shares,
)
from lvmlib.models import LinearGaussian
from lvmlib.plotting import new_figure
from lvmlib.widgets.app import SliderApp, log_slider

F64 = torch.float64

#: the number-of-samples slider's grid: 10^1, 10^1.25, ..., 10^5
N_GRID = tuple(int(round(10**e)) for e in np.arange(1.0, 5.0 + 1e-9, 0.25))


@dataclass(frozen=True)
class NumSamplesPrecompute:
    """Repeated naive Monte Carlo estimates summarised for :func:`num_samples_app` (numpy arrays, nN values of N).

    Attributes:
        n_values: [nN] the sample sizes N.  p: the exact p(x).
        edges: [bins + 1] histogram edges of p-hat / p.  shares: [nN, bins] share of the runs per bin.
        beyond: [nN] runs past the last edge (counted in the last bin).
        mean, std, se: [nN] of p-hat (se = std / sqrt(repetitions)).  rel_std: [nN] std / p.
        repetitions: runs per N.  rel_std_one: sqrt(Var[w]) / p(x) of one weight (the theory line).
    """

    n_values: np.ndarray
    p: float
    edges: np.ndarray
    shares: np.ndarray
    beyond: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    rel_std: np.ndarray
    se: np.ndarray
    repetitions: int
    rel_std_one: float


@dataclass(frozen=True)
class PeakedSetting:
    """Naive Monte Carlo at one (sigma, d) of :func:`peaked_precompute`.

    Attributes:
        fraction99: fraction of the pooled samples that carry 99% of the weight.
        ess: effective sample size of the pooled weights.
        curve: [F] share of the weight on the heaviest fraction of samples, at the ``fraction_grid``.
        ratio_shares: [bins] share of runs per log10(p-hat / p) bin (the first bin holds everything below).
        median, mean, max: of p-hat / p over the runs.  below: share of runs under 1% of p.  log_p: exact.
    """

    fraction99: float
    ess: float
    curve: np.ndarray
    ratio_shares: np.ndarray
    median: float
    mean: float
    max: float
    below: float
    log_p: float


@dataclass(frozen=True)
class PeakedPrecompute:
    """Every (sigma, d) the sliders of :func:`peaked_app` offer: ``settings[(sigma, d)]`` is a
    :class:`PeakedSetting`; the rest are the grids and sizes they share (``x`` is the point, [max(dims)])."""

    sigmas: tuple
    dims: tuple
    ratio_edges: np.ndarray
    fraction_grid: np.ndarray
    x: np.ndarray
    num_samples: int
    repetitions: int
    settings: dict


# ----------------------------------------------------------------------------------------
# the model and its exact answers
# ----------------------------------------------------------------------------------------


def demo_model(*, device=None) -> LinearGaussian:
    """The notebook's model: z ~ N(0, 1), x | z ~ N(1.5 z, 0.3^2), so that p(x) = N(x; 0, 2.34)
    is known exactly (float64, on ``device``, default CPU)."""
    return LinearGaussian(torch.tensor([[1.5]], dtype=F64, device=device), torch.zeros(1, dtype=F64, device=device),
                          0.3)


def num_samples_precompute(log_p_hat: np.ndarray, n_values: Sequence[int], log_p: float, rel_std_one: float, *,
                           bins: int = 90, x_max: float = 3.0) -> NumSamplesPrecompute:
    """Histograms and error summaries of repeated estimates, for :func:`num_samples_app`.

    Args:
        log_p_hat: [len(n_values), repetitions] from ``lvmlib.inference.repeated_estimates``.
        log_p: the exact log p(x).
        rel_std_one: sqrt(Var[w]) / p(x) of one weight (the theory line).
        bins, x_max: histogram of p-hat / p on [0, x_max] (values beyond go to the last bin).

    Returns:
        a :class:`NumSamplesPrecompute` (histogram edges in units of p(x)).
    """
    ratio = np.exp(log_p_hat - log_p)  # [nN, reps] p-hat / p
    reps = ratio.shape[1]
    edges = np.linspace(0.0, x_max, bins + 1)
    shares = np.stack([np.histogram(np.minimum(r, x_max * (1 - 1e-12)), edges)[0] for r in ratio]) / reps
    p = math.exp(log_p)
    std = ratio.std(1, ddof=1) * p
    return NumSamplesPrecompute(n_values=np.asarray(n_values), p=p, edges=edges, shares=shares,
                                beyond=(ratio >= x_max).sum(1), mean=ratio.mean(1) * p, std=std, rel_std=std / p,
                                se=std / math.sqrt(reps), repetitions=reps, rel_std_one=rel_std_one)


def _sqrt_yaxis(ax, top: float = 1.0) -> None:
    ax.set_yscale("function", functions=(lambda v: np.sqrt(np.maximum(v, 0)), lambda v: v**2))
    ax.set_ylim(0, top)
    ax.set_yticks([t for t in (0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0) if t <= top])


def num_samples_app(pre: NumSamplesPrecompute, *, num_samples: int = 100, name: str = "04_num_samples") -> SliderApp:
    """Left: histogram of the repeated estimates p-hat_N (in units of the exact p(x), marked at
    1) for the chosen N.  Right: relative error std(p-hat_N) / p(x) against N, log-log, with the
    exact sqrt(Var[w]) / (p sqrt(N)) line and the chosen N.  Slider: N (log scale)."""
    ns = [int(n) for n in pre.n_values]
    step = float(np.diff(np.log10(ns)).mean())
    controls = {"num_samples": log_slider("samples N", num_samples, math.log10(ns[0]), math.log10(ns[-1]),
                                          step=round(step, 6), readout_format=",.0f")}
    fig = new_figure(9.4, 3.6)
    ax_h, ax_e = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1.0]})
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
    edges = pre.edges
    ax_h.set(xlim=(edges[0], edges[-1]), xlabel=r"estimate $\hat p_N(x)\ /\ p(x)$",
             ylabel="share of the runs (sqrt scale)",
             title=f"{pre.repetitions} runs of naive Monte Carlo")
    _sqrt_yaxis(ax_h)
    ax_h.axvline(1.0, color="C3", lw=1.5, label=f"exact p(x) = {pre.p:.4f}")
    ax_h.legend(loc="upper right", fontsize=8)
    hist = ax_h.stairs(pre.shares[0], edges, fill=True, color="C0", alpha=0.8, animated=True)
    mean_line = ax_h.axvline(1.0, color="k", lw=1.2, ls="--", animated=True)

    n_arr = np.asarray(ns, dtype=float)
    ax_e.plot(n_arr, pre.rel_std_one / np.sqrt(n_arr), "C3-", lw=1.4,
              label=r"$\sqrt{\mathrm{Var}[w]}\ /\ (p(x)\sqrt{N})$")
    ax_e.plot(n_arr, pre.rel_std, "o", color="C0", ms=4, label="measured over the runs")
    lo = min(pre.rel_std.min(), pre.rel_std_one / math.sqrt(ns[-1]))
    hi = max(pre.rel_std.max(), pre.rel_std_one / math.sqrt(ns[0]))
    ax_e.set(xscale="log", yscale="log", xlim=(ns[0] / 1.6, ns[-1] * 1.6), ylim=(lo / 2, hi * 2), xlabel="samples N",
             ylabel=r"relative error std$(\hat p_N)\,/\,p(x)$", title=r"error falls as $1/\sqrt{N}$")
    ax_e.legend(loc="lower left", fontsize=8)
    dot, = ax_e.plot([], [], "o", color="k", ms=10, mfc="none", mew=2, animated=True)

    def redraw(num_samples: float) -> str:
        i = int(np.abs(np.log10(ns) - math.log10(num_samples)).argmin())
        hist.set_data(pre.shares[i], edges)
        m = pre.mean[i] / pre.p
        mean_line.set_xdata([m, m])
        dot.set_data([ns[i]], [pre.rel_std[i]])
        beyond = f"; {pre.beyond[i]} runs beyond {edges[-1]:g} p(x) (in the last bin)" if pre.beyond[i] else ""
        return (f"N = {ns[i]:,}: mean of the {pre.repetitions} estimates = {pre.mean[i]:.4f} "
                f"(&plusmn; {pre.se[i]:.4f} standard error), exact p(x) = {pre.p:.4f}; relative error "
                f"{pre.rel_std[i]:.3f} measured, {pre.rel_std_one / math.sqrt(ns[i]):.3f} from Var[w] / N"
                + beyond)

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# why it fails: a peaked likelihood
# ----------------------------------------------------------------------------------------


def peaked_model(dim: int, sigma: float, *, device=None) -> LinearGaussian:
    """z ~ N(0, I_d), x | z ~ N(z, sigma^2 I_d): the likelihood is a bump of width sigma around
    x in every latent direction (p(x) = N(0, (1 + sigma^2) I) exactly); on ``device``."""
    return LinearGaussian(torch.eye(dim, dtype=F64, device=device), torch.zeros(dim, dtype=F64, device=device), sigma)


#: the point x of the peaked-likelihood app (its first d coordinates): a typical draw of N(0, I)
PEAKED_X = (-0.6, 0.8, 0.3, -1.1, 0.5, -0.2, 1.0, -0.7)
#: the noise slider's grid (sigma) and the dimension slider's choices (d)
SIGMAS = tuple(float(s) for s in np.round(10 ** np.linspace(-2, 0, 9), 4))
DIMS = (1, 2, 3, 4, 6, 8)


@torch.no_grad()
def peaked_precompute(x_full=PEAKED_X, *, sigmas: Sequence[float] = SIGMAS, dims: Sequence[int] = DIMS,
                      num_samples: int = 100, repetitions: int = 400, generator: torch.Generator | None = None,
                      ratio_bins=None, fraction_grid=None, device=None) -> PeakedPrecompute:
    """Naive Monte Carlo on :func:`peaked_model` for every (sigma, d) the sliders offer.

    For each setting: ``repetitions`` runs of N = ``num_samples`` prior samples for the point
    x = x_full[:d]; the pooled weights (repetitions * N of them) give the share of the weight
    carried by the heaviest samples; the runs give the spread of p-hat / p.

    Args:
        x_full: one point of the largest dimension, shape [max(dims)] (default ``PEAKED_X``).
        device: where the models and samples live (default: x_full's device if a tensor, else CPU).

    Returns:
        a :class:`PeakedPrecompute`: ``settings[(sigma, d)]`` is a :class:`PeakedSetting`.
    """
    x_full = torch.as_tensor(x_full, dtype=F64, device=device)
    if x_full.shape != (max(dims),):
        raise ValueError(f"x_full must have shape [{max(dims)}] (the largest d), got {tuple(x_full.shape)}")
    ratio_edges = np.arange(-12.0, 3.0 + 1e-9, 0.25) if ratio_bins is None else np.asarray(ratio_bins)
    k_total = num_samples * repetitions
    fraction_grid = np.logspace(math.log10(1.0 / k_total), 0, 121) if fraction_grid is None else fraction_grid
    settings = {}
    ks = np.clip(np.ceil(fraction_grid * k_total).astype(int), 1, k_total) - 1
    for d in dims:
        x = x_full[:d][None]  # [1, d]
        for s in sigmas:
            model = peaked_model(d, s, device=x_full.device)
            log_p = float(model.log_marginal(x))
            log_w = log_weights(x.expand(repetitions, -1), model, model.prior(), num_samples, generator=generator)
            # [N, reps]: column r is run r
            log_p_hat = run_estimates(log_w.T.unsqueeze(-1)).log_estimate[:, 0]  # [reps]: one estimate per run
            log_ratio = (log_p_hat - log_p).cpu().numpy() / math.log(10)
            flat = log_w.reshape(-1)
            shares = weight_shares(flat)  # [N * reps]
            counts = np.histogram(np.clip(log_ratio, ratio_edges[0], ratio_edges[-1] - 1e-9), ratio_edges)[0]
            ratio = 10.0**log_ratio
            settings[(s, d)] = PeakedSetting(
                fraction99=fraction_carrying(flat, shares=shares),
                ess=float(effective_sample_size(flat[:, None])), curve=shares.cpu().numpy()[ks],
                ratio_shares=counts / repetitions, median=float(np.median(ratio)),
                mean=float(ratio.mean()), max=float(ratio.max()), below=float((ratio < 0.01).mean()),
                log_p=log_p,
            )
    return PeakedPrecompute(sigmas=tuple(sigmas), dims=tuple(dims), ratio_edges=ratio_edges,
                            fraction_grid=fraction_grid, x=x_full.cpu().numpy(), num_samples=num_samples,
                            repetitions=repetitions, settings=settings)


def peaked_app(pre: PeakedPrecompute, *, sigma: float = 0.1, dim: int = 2, name: str = "04_peaked") -> SliderApp:
    """Left: one latent coordinate, the prior p(z_1) and the likelihood's bump around x_1 (width
    sigma); the prior rarely lands under it.  Middle: share of the total weight carried by the
    heaviest fraction of the samples (99% marked).  Right: histogram of log10(p-hat / p) over
    the runs.  Sliders: noise sigma (log scale), latent dimension d."""
    sigmas, dims = pre.sigmas, pre.dims
    lo, hi = math.log10(sigmas[0]), math.log10(sigmas[-1])
    step = (hi - lo) / (len(sigmas) - 1)
    controls = {
        "sigma": log_slider("noise σ", sigma, lo, hi, step=round(step, 6), readout_format=".3f"),
        "dim": W.SelectionSlider(options=list(dims), value=dim, description="latent dim d"),
    }
    fig = new_figure(11.0, 3.6)
    ax_z, ax_c, ax_r = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.0, 1.0, 1.15]})
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.15, top=0.88, wspace=0.28)

    z = np.linspace(-3.5, 3.5, 701)
    x1 = float(pre.x[0])
    ax_z.plot(z, np.exp(-0.5 * z**2), color="0.5", lw=1.5, label=r"prior $p(z_1)$ (peak 1)")
    rug = np.random.default_rng(0).standard_normal(60)  # illustration only: where prior samples fall
    ax_z.plot(rug, np.full_like(rug, 0.03), "|", color="0.3", ms=8, label="samples from the prior")
    ax_z.set(xlim=(z[0], z[-1]), ylim=(0, 1.55), xlabel=r"$z_1$", yticks=[],
             title=f"one coordinate: x$_1$ = {x1:.2f}")
    lik_line, = ax_z.plot([], [], "C3-", lw=1.6, animated=True, label=r"$p(x_1 \mid z_1)$ (peak 1)")
    ax_z.legend(loc="upper left", fontsize=7, ncol=1, frameon=False)

    fg = pre.fraction_grid
    ax_c.set(xscale="log", xlim=(fg[0], 1.0), ylim=(0, 1.02), xlabel="fraction of the samples (heaviest first)",
             ylabel="share of the total weight",
             title=f"{pre.num_samples * pre.repetitions:,} weights $p(x \\mid z_k)$")
    ax_c.axhline(0.99, color="0.6", lw=0.8, ls="--")
    ax_c.plot(fg, np.minimum(fg, 1.0), color="0.6", lw=0.8, ls=":", label="equal weights")
    ax_c.legend(loc="lower right", fontsize=7)
    curve, = ax_c.plot([], [], "C0-", lw=1.8, animated=True)
    mark, = ax_c.plot([], [], "o", color="C3", ms=7, animated=True)

    edges = pre.ratio_edges
    ax_r.set(xlim=(edges[0], edges[-1]),
             xlabel=r"$\log_{10}\ \hat p_N(x)\,/\,p(x)$" + f"  (first bar: all $\\leq 10^{{{edges[0]:.0f}}}$)",
             ylabel="share of the runs (sqrt scale)",
             title=f"{pre.repetitions} estimates, N = {pre.num_samples} each")
    _sqrt_yaxis(ax_r)
    ax_r.axvline(0.0, color="C3", lw=1.5, label="exact p(x)")
    ax_r.legend(loc="upper right", fontsize=7)
    hist = ax_r.stairs(np.zeros(len(edges) - 1), edges, fill=True, color="C0", alpha=0.8, animated=True)

    def redraw(sigma: float, dim: int) -> str:
        s = sigmas[int(np.abs(np.log10(sigmas) - math.log10(sigma)).argmin())]
        st = pre.settings[(s, int(dim))]
        lik_line.set_data(z, np.exp(-0.5 * ((x1 - z) / s) ** 2))
        curve.set_data(fg, st.curve)
        mark.set_data([st.fraction99], [0.99])
        hist.set_data(st.ratio_shares, edges)
        k = pre.num_samples * pre.repetitions
        return (f"σ = {s:.3g}, d = {dim}: 99% of the weight sits on {100 * st.fraction99:.3g}% of the {k:,} "
                f"samples (effective sample size {st.ess:.3g}); estimates p&#770;/p: median {st.median:.2g}, "
                f"{100 * st.below:.0f}% below 0.01, largest {st.max:.3g}, mean {st.mean:.3g}")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# the apps as the notebook builds them
# ----------------------------------------------------------------------------------------

#: the point x of the number-of-samples app
DEMO_X = 1.0


def examples():
    """The apps as notebook 04 builds them (for tests and the slider benchmark); fewer runs
    than the notebook (its 200 at every N take a few seconds more), same builders."""
    g = torch.Generator().manual_seed(0)
    model = demo_model()
    x = torch.tensor([[DEMO_X]], dtype=F64)
    log_p = float(model.log_marginal(x))
    log_p_hat = repeated_estimates(x, model, N_GRID, 40, generator=g)
    yield "num_samples", num_samples_app(num_samples_precompute(log_p_hat, N_GRID, log_p,
                                                                relative_std_one_sample(x, model)))
    yield "peaked", peaked_app(peaked_precompute(repetitions=100, generator=g))


def naive_mc(log_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """lvmlib's version of exercise 4.1: log_w [N, B] -> (log p-hat [B], relative standard error [B]).

    log p-hat = logsumexp_k log w_k - log N (``lvmlib.inference.log_mean_exp``); the relative standard
    error std(w / p-hat) / sqrt(N) from the ratios exp(log w - log p-hat), which never underflow.
    """
    log_p_hat = log_mean_exp(log_w, 0)  # [B]
    return log_p_hat, torch.exp(log_w - log_p_hat).std(dim=0) / math.sqrt(log_w.shape[0])
