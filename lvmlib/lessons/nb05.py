"""Notebook 05, importance sampling: pick a Gaussian proposal q over a 1-D latent with sliders.

The toy problem is a ``LinearGaussian`` with a 1-D latent and a 1-D observation, and one
observed x chosen so that the exact posterior is p(z | x) = N(1.5, 0.25^2): the integrand
p(x, z) = p(x) p(z | x) is a Gaussian bump, every number has an exact answer, and a
Gaussian q can *be* the posterior (zero variance).

Everything the sliders show is computed before the app is built, by :func:`precompute`:
for every proposal q = N(mean, scale^2) on the slider grid it draws one long stream of
samples with :func:`lvmlib.inference.log_weights` and cuts it into disjoint runs of N
samples, which gives many independent importance-sampling estimates per N
(:func:`block_estimates`).  The app's callback only picks from those arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import ipywidgets as W
import numpy as np
import torch

from lvmlib import inference as est
from lvmlib.device import one_thread
from lvmlib.distributions import gaussian_proposals
from lvmlib.inference import block_estimates

from lvmlib.lessons.toy import COUNTS, LOG2_SCALES, MEANS, proposal_controls
# the toy problem and its exact answers live in lvmlib.models.toy; re-exported for the notebook
from lvmlib.models.toy import second_moment_of_weights, toy_problem
from lvmlib.plotting import describe, new_figure
from lvmlib.widgets.app import SliderApp


@dataclass
class ProposalStats:
    """The repeated-estimate statistics of every q and N of the slider grid.

    Every field has shape [M, S, n] (i_mean, i_scale, i_count; ``hist``: [M, S, n, bins]);
    see :class:`lvmlib.inference.BlockEstimates` for their meaning.  ``stats["name"]`` reads a
    field too (the notebook's older spelling).
    """

    log_mean: np.ndarray
    log_sd: np.ndarray
    ess_mean: np.ndarray
    ratio_mean: np.ndarray
    ratio_sd: np.ndarray
    ratio_median: np.ndarray
    overflow: np.ndarray
    hist: np.ndarray
    run_ess: np.ndarray  # ESS of the first run (the one the app draws)

    def __getitem__(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def items(self):
        return ((f.name, getattr(self, f.name)) for f in fields(self))


@dataclass
class ProposalGrid:
    """Everything the importance-sampling app shows, for every q on the slider grid.

    Arrays indexed [i_mean, i_scale, i_count] (``stats``), [i_mean, i_scale, ...] (samples
    and curves).  Build it with :func:`precompute`.
    """

    means: np.ndarray  # [M]
    log2_scales: np.ndarray  # [S]
    counts: tuple  # the N values
    total: int  # samples per proposal
    log_p: float  # exact log p(x)
    post_mean: float
    post_scale: float
    stats: ProposalStats  # [M, S, n] arrays (hist: [M, S, n, bins])
    z_run: np.ndarray  # [M, S, max N]: the samples of the first run of each q
    log_w_run: np.ndarray  # [M, S, max N]
    z_grid: np.ndarray  # [Z]
    joint: np.ndarray  # [Z]: p(x, z)
    prior: np.ndarray  # [Z]: p(z)
    q_pdf: np.ndarray  # [M, S, Z]: q(z)
    bin_width: float
    ratio_max: float

    @property
    def bins(self) -> int:
        return int(round(self.ratio_max / self.bin_width)) + 1

    @property
    def scales(self) -> np.ndarray:
        return 2.0 ** self.log2_scales

    def index(self, mean: float, scale: float) -> tuple[int, int]:
        """Grid indices of the nearest (mean, scale)."""
        i = int(np.abs(self.means - mean).argmin())
        j = int(np.abs(self.log2_scales - math.log2(scale)).argmin())
        return i, j

    def at(self, mean: float, scale: float, n: int) -> dict:
        """The statistics for q = N(mean, scale^2) and N = n samples per estimate, as floats."""
        i, j = self.index(mean, scale)
        k = self.counts.index(int(n))
        out = {name: v[i, j, k] for name, v in self.stats.items()}
        out["runs"] = self.total // int(n)
        out["second_moment"] = float(second_moment_of_weights(self.means[i], self.scales[j], self.post_mean,
                                                              self.post_scale))
        return out


def precompute(model, x: torch.Tensor, *, means=MEANS, log2_scales=LOG2_SCALES, counts=COUNTS,
               total: int = 100_000, bin_width: float = 0.05, ratio_max: float = 3.0, z_range=(-2.0, 4.5),
               generator: torch.Generator | None = None, log_weights=None, log_p_hat=None,
               ess=None) -> ProposalGrid:
    """Repeated importance-sampling estimates for every q = N(mean, scale^2) of the slider grid.

    One call of :func:`block_estimates` per scale (all means at once): ``total`` samples per
    proposal, cut into total // N runs for each N.  Also the curves the app draws: p(x, z),
    p(z) and every q(z) on a grid of z.

    Args:
        model, x: from :func:`toy_problem` (a 1-D latent with a Gaussian posterior).
        means, log2_scales, counts: the slider grids.
        total: samples per proposal.
        log_weights, log_p_hat, ess: the functions that compute the statistics (default lvmlib's;
            the notebook passes the student's once their checks passed), as in
            :func:`lvmlib.inference.block_estimates`.

    Returns:
        a :class:`ProposalGrid`.
    """
    with one_thread():
        return _precompute(model, x, means, log2_scales, counts, total, bin_width, ratio_max, z_range, generator,
                           dict(log_weights=log_weights, log_p_hat=log_p_hat, ess=ess))


def _precompute(model, x, means, log2_scales, counts, total, bin_width, ratio_max, z_range, generator, fns):
    means, log2_scales = np.asarray(means, dtype=float), np.asarray(log2_scales, dtype=float)
    log_p = float(model.log_marginal(x)[0])
    post = model.posterior(x)
    post_mean, post_scale = float(post.loc[0, 0]), float(post.stddev[0, 0])
    M, S = len(means), len(log2_scales)
    stats: dict = {}
    z_run = np.zeros((M, S, max(counts)))
    log_w_run = np.zeros((M, S, max(counts)))
    for j, v in enumerate(log2_scales):
        q = gaussian_proposals(means, np.full(M, 2.0**v), dtype=x.dtype, device=x.device)  # batch [M]
        row = block_estimates(x, model, q, counts, total, log_p=log_p, bin_width=bin_width, ratio_max=ratio_max,
                              keep=max(counts), generator=generator, **fns)
        for name in row.names():
            value = row[name]
            if name in ("runs",):
                continue
            if name in ("z", "log_w"):
                (z_run if name == "z" else log_w_run)[:, j] = value.T  # [M, N]
                continue
            arr = np.moveaxis(value, 1, 0)  # [M, n] or [M, n, bins]
            stats.setdefault(name, np.zeros((M, S) + arr.shape[1:]))[:, j] = arr
    # ESS of the first run (the one drawn) for every q and N
    runs = torch.as_tensor(log_w_run, device=x.device).reshape(M * S, -1).T  # [max N, M*S]
    ess = fns["ess"] or est.effective_sample_size
    run_ess = np.stack([ess(runs[:c]).reshape(M, S).cpu().numpy() for c in counts], -1)
    stats = ProposalStats(run_ess=run_ess, **stats)  # [M, S, n] each
    z_grid = np.linspace(z_range[0], z_range[1], 651)
    zt = torch.as_tensor(z_grid, dtype=x.dtype, device=x.device)[:, None]  # [Z, 1]
    with torch.no_grad():
        log_joint = model.prior().log_prob(zt) + model.likelihood(zt).log_prob(x)  # [Z]
        q_all = gaussian_proposals(np.repeat(means, S), np.tile(2.0**log2_scales, M), dtype=x.dtype, device=x.device)
        q_pdf = torch.exp(q_all.log_prob(zt[:, None, :])).T.reshape(M, S, -1)  # [M, S, Z]
        prior = torch.exp(model.prior().log_prob(zt))
    return ProposalGrid(means, log2_scales, tuple(int(c) for c in counts), int(total), log_p, post_mean, post_scale,
                        stats, z_run, log_w_run, z_grid, torch.exp(log_joint).cpu().numpy(), prior.cpu().numpy(),
                        q_pdf.cpu().numpy(), bin_width, ratio_max)


# ----------------------------------------------------------------------------------------
# the app
# ----------------------------------------------------------------------------------------


def _fmt_q(mean: float, scale: float) -> str:
    return f"N({mean:.2f}, {scale:.3g}²)"


def proposal_app(grid: ProposalGrid, *, mean: float = 0.0, scale: float = 1.0, samples: int = 100,
                 name: str = "05_importance_sampling") -> SliderApp:
    """Integrand and q, one run's weights, the histogram of repeated estimates, and ESS / N.

    Sliders: q's mean, q's scale (log), samples N per estimate.  The callback picks the
    precomputed arrays of ``grid`` for the nearest grid point and updates artists in place.
    """
    p_x = math.exp(grid.log_p)
    controls = {
        **proposal_controls(grid, mean, scale),
        "samples": W.SelectionSlider(options=list(grid.counts), value=samples, description="samples N"),
    }
    fig = new_figure(10.0, 6.6)
    (ax_int, ax_w), (ax_h, ax_e) = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.07, right=0.96, bottom=0.08, top=0.94, wspace=0.3, hspace=0.45)
    z = grid.z_grid
    lo, hi = z[0], z[-1]

    # integrand p(x, z) and p(x) q(z), with the samples of one run as a rug
    ax_int.fill_between(z, grid.joint, color="0.8", label="p(x, z)  (area = p(x))")
    ax_int.plot(z, grid.joint, color="k", lw=1.2)
    ax_int.plot(z, p_x * grid.prior, color="0.5", ls=":", lw=1, label="p(x) p(z)  (the prior)")
    (q_line,) = ax_int.plot(z, z * 0, color="C0", lw=2, label="p(x) q(z)", animated=True)
    top = 2.0 * grid.joint.max()
    (rug,) = ax_int.plot([], [], "|", color="C0", ms=9, mew=0.8, alpha=0.6, animated=True)
    ax_int.set(xlim=(lo, hi), ylim=(-0.06 * top, top), xlabel="z", title="integrand p(x, z) and proposal q")
    ax_int.legend(loc="upper left", fontsize=8, frameon=False)

    # the weights, relative to p(x): curve w(z) / p(x) and the samples of one run
    ax_w.set_yscale("log")
    ax_w.axhline(1.0, color="k", lw=1, ls="--")
    ax_w.text(hi, 1.15, "w = p(x) ", ha="right", va="bottom", fontsize=8)
    (w_curve,) = ax_w.plot([], [], color="C0", lw=1.2, animated=True)
    (w_dots,) = ax_w.plot([], [], "o", color="C3", ms=3, alpha=0.5, animated=True)
    ax_w.set(xlim=(lo, hi), ylim=(1e-4, 1e4), xlabel="z", ylabel="w(z) / p(x)",
             title="weights: the curve, and the N samples of one run")

    # histogram of the repeated estimates p-hat / p(x)
    edges = (np.arange(grid.bins + 1) - 0.5) * grid.bin_width  # bins centred on 0, w, 2w, ..., ratio_max
    stairs = ax_h.stairs(np.zeros(grid.bins), edges, fill=True, color="C0", alpha=0.6, animated=True)
    ax_h.axvline(1.0, color="k", lw=1.5, label="exact p(x)")
    mean_line = ax_h.axvline(1.0, color="C3", lw=1.5, ls="--", label="mean of the estimates", animated=True)
    ax_h.set(xlim=(edges[0], edges[-1]), ylim=(0, 1.08),
             xlabel=f"estimate p̂ / p(x)  (last bin: ≥ {grid.ratio_max:g})",
             ylabel="runs (scaled to the tallest bin)")
    ax_h.set_yticks([])
    ax_h.legend(loc="upper right", fontsize=8, frameon=False)
    ax_h.set_title("repeated estimates: independent runs of N samples")

    # mean ESS / N over the whole slider grid, for the current N
    dm = grid.means[1] - grid.means[0]
    dv = grid.log2_scales[1] - grid.log2_scales[0]
    extent = (grid.means[0] - dm / 2, grid.means[-1] + dm / 2, grid.log2_scales[0] - dv / 2,
              grid.log2_scales[-1] + dv / 2)
    ess_frac = grid.stats["ess_mean"] / np.asarray(grid.counts, dtype=float)  # [M, S, n]
    image = ax_e.imshow(ess_frac[:, :, 0].T, origin="lower", extent=extent, aspect="auto", vmin=0, vmax=1,
                        cmap="viridis", interpolation="nearest", animated=True)
    cbar = fig.colorbar(image, ax=ax_e, fraction=0.05, pad=0.02)
    cbar.set_label("mean ESS / N")
    # drawn over the (animated) image, so animated too; no text in there (text is slow to draw)
    ax_e.plot([grid.post_mean], [math.log2(grid.post_scale)], "*", color="w", mec="k", ms=13, animated=True)
    ax_e.plot([0.0], [0.0], "s", color="w", mec="k", ms=8, animated=True)
    limit = math.log2(grid.post_scale / math.sqrt(2))
    ax_e.axhline(limit + dv / 2, color="w", lw=1, ls="--", animated=True)
    (marker,) = ax_e.plot([], [], "o", mfc="none", mec="C3", mew=2.5, ms=14, animated=True)
    ax_e.set_yticks(grid.log2_scales[::2], [f"{s:.3g}" for s in grid.scales[::2]])
    ax_e.set(xlabel="q mean   (★ posterior, ■ prior = naive MC)", ylabel="q scale   (Var(w) = ∞ below - - -)",
             title="mean ESS / N for every q, at the current N")

    def redraw(mean: float, scale: float, samples: int) -> str:
        i, j = grid.index(mean, scale)
        k = grid.counts.index(int(samples))
        m, t, n = grid.means[i], grid.scales[j], int(samples)
        s = grid.at(m, t, n)
        q_line.set_ydata(p_x * grid.q_pdf[i, j])
        zs = grid.z_run[i, j, :n]
        rug.set_data(zs, np.full(n, -0.03 * top))
        w_curve.set_data(z, grid.joint / (p_x * np.maximum(grid.q_pdf[i, j], 1e-300)))
        w_dots.set_data(zs, np.exp(grid.log_w_run[i, j, :n] - grid.log_p))
        h = grid.stats["hist"][i, j, k]
        stairs.set_data(h / max(h.max(), 1.0))
        mean_line.set_xdata([min(s["ratio_mean"], grid.ratio_max)] * 2)
        image.set_data(ess_frac[:, :, k].T)
        marker.set_data([m], [grid.log2_scales[j]])
        at_post = abs(m - grid.post_mean) < 1e-9 and abs(t - grid.post_scale) < 1e-9
        exact_sd = math.sqrt(max(s["second_moment"] - 1.0, 0.0) / n) if math.isfinite(s["second_moment"]) \
            else math.inf
        exact = "∞ (q too narrow)" if not math.isfinite(exact_sd) else f"{exact_sd:.3g}"
        tag = " = the posterior" if at_post else (" = the prior (naive Monte Carlo)" if m == 0 and t == 1 else "")
        return (f"<b>q = {_fmt_q(m, t)}{tag}</b>, N = {n} samples per estimate. The run drawn: ESS = "
                f"{s['run_ess']:.1f} of {n}. Over {s['runs']} independent runs: mean p̂/p(x) = "
                f"{s['ratio_mean']:.3f}, sd {s['ratio_sd']:.3g} (exact sd {exact}), median {s['ratio_median']:.3f}; "
                f"E[log p̂] − log p(x) = {s['log_mean'] - grid.log_p:+.4f}; mean ESS = {s['ess_mean']:.1f} of {n}")

    return SliderApp(fig, controls, redraw, name=name)


def examples():
    """The app as notebook 05 builds it (with 20 000 instead of 100 000 samples per proposal)."""
    g = torch.Generator().manual_seed(0)
    model, x = toy_problem()
    yield "proposal", proposal_app(precompute(model, x, total=20_000, generator=g))


# ----------------------------------------------------------------------------------------
# static figures
# ----------------------------------------------------------------------------------------


def jensen_figure(grid: ProposalGrid, cases):
    """Left: mean and median of p-hat / p(x) against N; right: log p(x) - E[log p-hat] against N.

    Args:
        cases: list of (label, mean, scale) on the grid.

    Returns:
        a pyplot figure.
    """
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    n = np.asarray(grid.counts, dtype=float)
    runs = grid.total // n
    for c, (label, m, t) in enumerate(cases):
        i, j = grid.index(m, t)
        name = f"{label}, q = {_fmt_q(grid.means[i], grid.scales[j])}"
        ax0.plot(n, grid.stats["ratio_median"][i, j], "o-", ms=4, color=f"C{c}", label=name)
        ax0.plot(n, grid.stats["ratio_mean"][i, j], "--", color=f"C{c}", lw=1)
        bias = grid.log_p - grid.stats["log_mean"][i, j]
        b_se = grid.stats["log_sd"][i, j] / np.sqrt(runs)
        ok = bias > 2 * b_se  # points whose bias is measured, not noise
        ax1.errorbar(n[ok], bias[ok], yerr=2 * b_se[ok], fmt="o", ms=4, capsize=2, color=f"C{c}")
        chi2 = second_moment_of_weights(grid.means[i], grid.scales[j], grid.post_mean, grid.post_scale) - 1
        if np.isfinite(chi2):
            ax1.plot(n, chi2 / (2 * n), "--", color=f"C{c}", lw=1, label=f"{label}: Var(w/p) / 2N = {chi2:.3g} / 2N")
        else:
            ax1.plot([], [], "o", color=f"C{c}", label=f"{label}: Var(w/p) = ∞")
    ax0.axhline(1, color="k", lw=1)
    ax0.plot([], [], "k--", lw=1, label="dashed: the mean over the runs")
    ax0.set(xscale="log", xlabel="samples per estimate N", ylabel="median of p̂ / p(x) over the runs",
            ylim=(0, 1.3), title="p̂: the mean is p(x), the typical run is below")
    ax0.legend(fontsize=8, loc="lower right")
    ax1.set(xscale="log", yscale="log", xlabel="samples per estimate N",
            ylabel="log p(x) − E[log p̂]   (± 2 se)",
            title="log p̂ is biased low; the bias shrinks about like 1/N")
    ax1.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return describe(fig, "Two panels against the number of samples N (log scale), one line per proposal: naive Monte "
                       "Carlo, a too-wide and a too-narrow q. Left: median and mean of the estimate p-hat / p(x) "
                       "over many runs; the means stay at 1 while the medians fall below it. Right: the bias log "
                       "p(x) - E[log p-hat], which shrinks like 1/N for the proposals with finite variance and far "
                       "more slowly for the too-narrow one.")


def narrow_wide_figure(grid: ProposalGrid, narrow: float, wide: float):
    """A too-narrow and a too-wide q centred on the posterior: densities, weights, variance.

    Args:
        narrow, wide: the two scales (on the grid), e.g. s / 2 and 2 s.

    Returns:
        a pyplot figure.
    """
    import matplotlib.pyplot as plt

    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(12, 3.6))
    z, p_x = grid.z_grid, math.exp(grid.log_p)
    post = grid.joint / p_x
    ax0.plot(z, post, "k", lw=2, label="posterior p(z | x)")
    for c, (label, t) in zip(("C3", "C0"), (("too narrow", narrow), ("too wide", wide))):
        i, j = grid.index(grid.post_mean, t)
        q = grid.q_pdf[i, j]
        ax0.plot(z, q, color=c, lw=1.5, label=f"{label}: q = {_fmt_q(grid.means[i], grid.scales[j])}")
        ax1.plot(z, post / np.maximum(q, 1e-300), color=c, lw=1.5, label=label)
    ax0.set(xlabel="z", title="the posterior and two proposals", xlim=(z[0], z[-1]))
    ax0.legend(fontsize=8)
    ax1.axhline(1, color="k", lw=1, ls="--")
    ax1.set(yscale="log", ylim=(1e-3, 1e5), xlim=(z[0], z[-1]), xlabel="z", ylabel="w(z) / p(x) = p(z | x) / q(z)",
            title="weights: unbounded tails vs bounded")
    ax1.legend(fontsize=8)
    ratio = np.geomspace(0.3, 8, 300)
    second = second_moment_of_weights(grid.post_mean, ratio * grid.post_scale, grid.post_mean, grid.post_scale)
    ax2.plot(ratio, second - 1, "k", lw=1.5, label="exact Var_q(w / p(x))")
    ax2.axvspan(ratio[0], 1 / math.sqrt(2), color="C3", alpha=0.15, label="infinite (scale ≤ s / √2)")
    i = grid.index(grid.post_mean, grid.post_scale)[0]
    emp = grid.stats["ratio_sd"][i, :, 0] ** 2  # N = 1: the sample variance of single weights
    ax2.plot(grid.scales / grid.post_scale, np.maximum(emp, 1e-6), "o", color="C2",
             label=f"sample variance, {grid.total} draws")
    ax2.set(xscale="log", yscale="log", ylim=(1e-3, 1e3), xlabel="q scale / posterior scale",
            ylabel="variance of one weight / p(x)²", title="narrow is worse than wide")
    ax2.set_xticks([0.5, 1, 2, 4], ["1/2", "1", "2", "4"])
    ax2.xaxis.set_minor_formatter(plt.NullFormatter())
    ax2.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return describe(fig, "Three panels. Left: the posterior and a too-narrow and a too-wide proposal q, both "
                       "centred on it. Middle: the weight p(z | x) / q(z) across z (log scale): the narrow q's "
                       "weights explode in the tails, the wide q's stay bounded. Right: the variance of one weight "
                       "against the proposal's width over the posterior's, exact (infinite at or below 1/sqrt(2), "
                       "shaded) and estimated from samples: narrow is worse than wide.")
