"""Notebook 06, the ELBO and its gap: log p(x) = ELBO(q) + KL(q || p(z | x)), and the IWAE bound.

The model is notebook 05's toy problem (:func:`lvmlib.models.toy.toy_problem`): a
``LinearGaussian`` with a 1-D latent whose posterior for the observed x is N(1.5, 0.25^2),
so for a Gaussian q = N(mean, scale^2) the KL to the posterior is exact
(``torch.distributions.kl_divergence``) while the ELBO and the IWAE bound L_K are Monte
Carlo estimates from :mod:`lvmlib.inference`: the identity is checked, not assumed.

:func:`precompute` computes everything the app shows for every q on the slider grid; the
callback only picks.  A second part, for a non-Gaussian posterior, works on the 1-D
``NonlinearLVM`` whose posterior is known on a grid (:func:`nonlinear_problem`,
``lvmlib.models.grid_kl``, ``lvmlib.models.best_gaussian``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch.distributions import Normal, kl_divergence

from lvmlib import inference as est
from lvmlib.device import one_thread
from lvmlib.distributions import gaussian_mvn, gaussian_proposals

# the toy problem (lvmlib.models.toy) and the repeated estimates live in core modules; re-exported for the notebook
from lvmlib.inference import block_estimates
from lvmlib.lessons.toy import LOG2_SCALES, MEANS, proposal_controls
from lvmlib.models import NonlinearLVM, toy_problem
from lvmlib.plotting import describe, new_figure
from lvmlib.widgets.app import SliderApp

__all__ = ["K_VALUES", "GapGrid", "precompute", "gap_app", "nonlinear_problem", "nonlinear_figure", "examples"]

#: numbers of samples K of the IWAE bound offered by the K slider.
K_VALUES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass
class GapGrid:
    """Everything the ELBO app shows, for every q = N(mean, scale^2) of the slider grid.

    [M, S] arrays over (mean, scale) of the slider grid; the surface is on a finer grid.
    Build it with :func:`precompute`.
    """

    means: np.ndarray  # [M]
    log2_scales: np.ndarray  # [S]
    ks: tuple  # the K values
    total: int  # Monte Carlo samples per q
    log_p: float  # exact log p(x)
    post_mean: float
    post_scale: float
    kl: np.ndarray  # [M, S]: exact KL(q || p(z | x))
    elbo: np.ndarray  # [M, S]: Monte Carlo ELBO from `total` samples
    elbo_se: np.ndarray  # [M, S]: its standard error
    iwae: np.ndarray  # [M, S, nK]: mean of L_K over total // K independent runs
    iwae_se: np.ndarray  # [M, S, nK]
    surface_means: np.ndarray  # [Ms]
    surface_log2_scales: np.ndarray  # [Ss]
    surface: np.ndarray  # [Ms, Ss]: Monte Carlo ELBO
    surface_samples: int
    z_grid: np.ndarray  # [Z]
    posterior: np.ndarray  # [Z]: p(z | x)
    prior: np.ndarray  # [Z]: p(z)
    q_pdf: np.ndarray  # [M, S, Z]

    @property
    def scales(self) -> np.ndarray:
        return 2.0 ** self.log2_scales

    def index(self, mean: float, scale: float) -> tuple[int, int]:
        """Grid indices of the nearest (mean, scale)."""
        return int(np.abs(self.means - mean).argmin()), int(np.abs(self.log2_scales - math.log2(scale)).argmin())

    def fraction_closed(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(L_K - ELBO) / (log p(x) - ELBO) for every K and its standard error.

        At the posterior there is no gap to close (ELBO = L_K = log p(x) for every K): the
        fraction is 1, with no error, rather than 0 / 0.
        """
        gap = self.log_p - self.iwae[i, j, 0]
        if self.kl[i, j] < 1e-9:
            return np.ones(len(self.ks)), np.zeros(len(self.ks))
        return (self.iwae[i, j] - self.iwae[i, j, 0]) / gap, self.iwae_se[i, j] / gap


def precompute(model, x: torch.Tensor, *, means=MEANS, log2_scales=LOG2_SCALES, ks=K_VALUES,
               total: int = 100_000, surface_means=None, surface_log2_scales=None, surface_samples: int = 2000,
               z_range=(-2.0, 4.5), generator: torch.Generator | None = None) -> GapGrid:
    """ELBO, exact KL and IWAE bounds for every q of the slider grid, and the ELBO surface.

    - KL(q || p(z | x)): ``torch.distributions.kl_divergence`` against ``model.posterior(x)``.
    - ELBO and L_K: :func:`lvmlib.inference.block_estimates` (``total`` samples per q from
      :func:`lvmlib.inference.log_weights`, cut into total // K runs of K samples for each K).
    - the surface: :func:`lvmlib.inference.elbo` with ``surface_samples`` samples per q, on
      a grid twice as fine as the sliders' (default).  Its Monte Carlo error (~0.01 nats
      near the posterior) is well below the ELBO's drop to the posterior's neighbours on
      that grid (>= 0.03 nats), so its maximum sits on the posterior.

    Args:
        model, x: a model with an exact Gaussian posterior and a 1-D latent, and x [1, Dx]
            (:func:`lvmlib.models.toy.toy_problem`).

    Returns:
        a :class:`GapGrid`.
    """
    means, log2_scales = np.asarray(means, dtype=float), np.asarray(log2_scales, dtype=float)
    if surface_means is None:
        surface_means = np.linspace(means[0], means[-1], 2 * (len(means) - 1) + 1)
    if surface_log2_scales is None:
        surface_log2_scales = np.linspace(log2_scales[0], log2_scales[-1], 2 * (len(log2_scales) - 1) + 1)
    surface_means, surface_log2_scales = np.asarray(surface_means, float), np.asarray(surface_log2_scales, float)
    M, S, nK = len(means), len(log2_scales), len(ks)
    with one_thread(), torch.no_grad():
        log_p = float(model.log_marginal(x)[0])
        post = model.posterior(x)
        mm, ss = np.meshgrid(means, 2.0**log2_scales, indexing="ij")  # [M, S]
        dev = dict(dtype=x.dtype, device=x.device)
        kl = kl_divergence(gaussian_mvn(mm.ravel(), ss.ravel(), **dev), post).reshape(M, S).cpu().numpy()
        elbo, elbo_se = np.zeros((M, S)), np.zeros((M, S))
        iwae, iwae_se = np.zeros((M, S, nK)), np.zeros((M, S, nK))
        for j, v in enumerate(log2_scales):
            q = gaussian_proposals(means, np.full(M, 2.0**v), **dev)  # batch [M]
            row = block_estimates(x, model, q, ks, total, generator=generator)
            runs = np.asarray(row.runs, dtype=float)[:, None]  # [nK, 1]
            iwae[:, j] = row.log_mean.T
            iwae_se[:, j] = (row.log_sd / np.sqrt(runs)).T
            elbo[:, j], elbo_se[:, j] = iwae[:, j, 0], iwae_se[:, j, 0]  # K = 1: L_1 is the ELBO
        sm, ss_ = np.meshgrid(surface_means, 2.0**surface_log2_scales, indexing="ij")  # [Ms, Ss]
        q_s = gaussian_proposals(sm.ravel(), ss_.ravel(), **dev)  # batch [Ms * Ss]
        surface = est.elbo(x.expand(sm.size, -1), model, q_s, surface_samples, generator=generator)
        surface = surface.reshape(sm.shape).cpu().numpy()
        z_grid = np.linspace(z_range[0], z_range[1], 651)
        zt = torch.as_tensor(z_grid, **dev)[:, None]  # [Z, 1]
        post_pdf = torch.exp(post.log_prob(zt)).cpu().numpy()  # [Z]
        prior_pdf = torch.exp(model.prior().log_prob(zt)).cpu().numpy()
        q_all = gaussian_proposals(mm.ravel(), ss.ravel(), **dev)  # batch [M * S]
        q_pdf = torch.exp(q_all.log_prob(zt[:, None, :])).T.reshape(M, S, -1).cpu().numpy()  # [M, S, Z]
    return GapGrid(means, log2_scales, tuple(int(k) for k in ks), int(total), log_p, float(post.loc[0, 0]),
                   float(post.stddev[0, 0]), kl, elbo, elbo_se, iwae, iwae_se, surface_means, surface_log2_scales,
                   surface, int(surface_samples), z_grid, post_pdf, prior_pdf, q_pdf)


# ----------------------------------------------------------------------------------------
# the app
# ----------------------------------------------------------------------------------------


def gap_app(grid: GapGrid, *, mean: float = 0.5, scale: float = 2**-0.5, k: int = 1,
            name: str = "06_elbo_and_its_gap") -> SliderApp:
    """q against the posterior, log p(x) split into ELBO and KL, the ELBO surface, and L_K against K.

    Sliders: q's mean, q's scale (log), K of the IWAE bound.  The callback picks the
    precomputed arrays of ``grid`` for the nearest grid point.
    """
    controls = {
        **proposal_controls(grid, mean, scale),
        "k": W.SelectionSlider(options=list(grid.ks), value=k, description="IWAE K"),
    }
    log_p = grid.log_p
    fig = new_figure(10.0, 6.8)
    (ax_d, ax_b), (ax_s, ax_k) = fig.subplots(2, 2)
    fig.subplots_adjust(left=0.075, right=0.97, bottom=0.08, top=0.93, wspace=0.32, hspace=0.5)
    z = grid.z_grid

    # q against the posterior
    ax_d.fill_between(z, grid.posterior, color="0.8")
    ax_d.plot(z, grid.posterior, "k", lw=1.5, label="posterior p(z | x)")
    ax_d.plot(z, grid.prior, color="0.5", ls=":", lw=1, label="prior p(z)")
    (q_line,) = ax_d.plot(z, z * 0, color="C0", lw=2, label="q(z)", animated=True)
    ax_d.set(xlim=(z[0], z[-1]), ylim=(0, 2.6), xlabel="z", ylabel="density")
    ax_d.legend(loc="upper left", fontsize=8, frameon=False)
    ax_d.set_title("q against the exact posterior")

    # log p(x) = ELBO + KL, as bars hanging from 0 (log-likelihoods are negative)
    floor = log_p - 9.0
    ax_b.bar([0], [log_p], width=0.6, color="0.6")
    ax_b.axhline(log_p, color="k", lw=1, ls="--")
    ax_b.axhline(0, color="k", lw=0.8)
    ax_b.text(-0.47, log_p - 0.15, "log p(x)", ha="left", va="top", fontsize=8, zorder=3)

    def rect(x0, **kw):
        r = Rectangle((x0 - 0.3, 0), 0.6, 0, animated=True, **kw)
        ax_b.add_patch(r)
        return r

    # the red part of each bar is the gap: KL (exact) on top of the ELBO, and log p(x) - L_K
    elbo_bar, kl_bar = rect(1, color="C0"), rect(1, color="C3")
    iwae_bar = rect(2, color="C2")
    gap_bar = rect(2, facecolor="#f6c4c4", edgecolor="C3", hatch="///", lw=0)
    (sum_tick,) = ax_b.plot([], [], "k_", ms=30, mew=2.5, animated=True)
    ax_b.set_xticks([0, 1, 2], ["log p(x)\n(exact)", "ELBO (MC)\n+ KL (exact, red)", "IWAE L_K\n+ its gap"])
    ax_b.set(xlim=(-0.5, 2.5), ylim=(floor, 0.5), ylabel="nats", title="log p(x) = ELBO(q) + KL(q ‖ p(z | x))")

    # the ELBO surface over (mean, log scale), Monte Carlo
    dm = grid.surface_means[1] - grid.surface_means[0]
    dv = grid.surface_log2_scales[1] - grid.surface_log2_scales[0]
    extent = (grid.surface_means[0] - dm / 2, grid.surface_means[-1] + dm / 2,
              grid.surface_log2_scales[0] - dv / 2, grid.surface_log2_scales[-1] + dv / 2)
    rel = np.clip(grid.surface - log_p, -12, 0).T  # [Ss, Ms]
    image = ax_s.imshow(rel, origin="lower", extent=extent, aspect="auto", cmap="viridis", vmin=-12, vmax=0)
    cs = ax_s.contour(grid.surface_means, grid.surface_log2_scales, grid.surface.T - log_p,
                      levels=[-8, -4, -2, -1, -0.3], colors="w", linewidths=0.8)
    ax_s.clabel(cs, fontsize=7, fmt="%g")
    cbar = fig.colorbar(image, ax=ax_s, fraction=0.05, pad=0.02)
    cbar.set_label("ELBO − log p(x)")
    ax_s.plot([grid.post_mean], [math.log2(grid.post_scale)], "*", color="w", mec="k", ms=14,
              label="q = posterior: max")
    (marker,) = ax_s.plot([], [], "o", mfc="none", mec="C3", mew=2.5, ms=13, animated=True)
    ax_s.set_yticks(grid.log2_scales[::2], [f"{s:.3g}" for s in grid.scales[::2]])
    ax_s.set(xlabel="q mean", ylabel="q scale", title=f"ELBO(q), Monte Carlo ({grid.surface_samples} samples each)")
    ax_s.legend(loc="upper left", fontsize=8, framealpha=0.7)

    # IWAE: share of the ELBO's gap closed by L_K
    ks = np.asarray(grid.ks, dtype=float)
    ax_k.axhline(0, color="C0", lw=1)
    ax_k.axhline(1, color="k", lw=1, ls="--")
    ax_k.text(ks[-1], 1.02, "log p(x)", ha="right", va="bottom", fontsize=8)
    ax_k.text(ks[-1], 0.02, "ELBO = L_1", ha="right", va="bottom", fontsize=8, color="C0")
    band = ax_k.fill_between(ks, ks * 0, ks * 0, color="C2", alpha=0.25, lw=0, animated=True)
    (k_line,) = ax_k.plot([], [], "o-", color="C2", ms=4, animated=True)
    (k_marker,) = ax_k.plot([], [], "o", mfc="none", mec="C3", mew=2.5, ms=12, animated=True)
    ax_k.set(xscale="log", xlim=(0.8, ks[-1] * 1.25), ylim=(-0.08, 1.12),
             xlabel="K = samples per data point (the cost)", ylabel="(L_K − ELBO) / (log p(x) − ELBO)",
             title="IWAE: the share of the ELBO's gap that L_K closes")

    def redraw(mean: float, scale: float, k: int) -> str:
        i, j = grid.index(mean, scale)
        c = grid.ks.index(int(k))
        m, t = grid.means[i], grid.scales[j]
        elbo, se, kl = grid.elbo[i, j], grid.elbo_se[i, j], grid.kl[i, j]
        lk, lk_se = grid.iwae[i, j, c], grid.iwae_se[i, j, c]
        at_post = kl < 1e-9
        q_line.set_ydata(grid.q_pdf[i, j])
        elbo_bar.set_height(elbo)
        kl_bar.set_y(elbo)
        kl_bar.set_height(kl)
        sum_tick.set_data([1], [elbo + kl])
        iwae_bar.set_height(lk)
        gap_bar.set_y(lk)
        gap_bar.set_height(log_p - lk)
        marker.set_data([m], [grid.log2_scales[j]])
        frac, frac_se = grid.fraction_closed(i, j)
        k_line.set_data(ks, frac)
        band.set_data(ks, frac - 2 * frac_se, frac + 2 * frac_se)
        k_marker.set_data([k], [frac[c]])
        check = "exact to float precision" if se < 1e-12 else f"off by {(elbo + kl - log_p) / se:+.1f} se"
        tag = " = the posterior" if at_post else ""
        return (f"<b>q = N({m:.2f}, {t:.3g}²){tag}</b>: ELBO (Monte Carlo, {grid.total} samples) = {elbo:.4f} ± "
                f"{se:.4f}; KL(q ‖ p(z|x)) (exact) = {kl:.4f}; ELBO + KL = {elbo + kl:.4f} vs log p(x) = "
                f"{log_p:.4f} ({check}). IWAE L_{k} = {lk:.4f} ± {lk_se:.4f}: gap {log_p - lk:.4f} nats"
                + (" (q = posterior: L_K = log p(x) for every K)" if at_post else
                   f", {100 * frac[c]:.0f}% of the ELBO's gap closed") + f", for {k}× the cost of the one-sample ELBO")

    return SliderApp(fig, controls, redraw, name=name)


def examples():
    """The app as notebook 06 builds it (with 20 000 instead of 100 000 samples per q)."""
    model, x = toy_problem()
    yield "gap", gap_app(precompute(model, x, total=20_000, generator=torch.Generator().manual_seed(0)))


# ----------------------------------------------------------------------------------------
# a posterior that no Gaussian can match
# ----------------------------------------------------------------------------------------


def nonlinear_problem(*, device=None) -> tuple[NonlinearLVM, torch.Tensor]:
    """A 1-D ``NonlinearLVM`` (tanh MLP decoder, 2-D x, sigma 0.3, float64) and an x whose
    posterior has two modes (a broad one and a sharp one).

    Returns:
        (model, x) with x of shape [1, 2], on ``device`` (weights drawn on the CPU, then moved).
    """
    model = NonlinearLVM(1, 2, sigma=0.3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    return model.requires_grad_(False).to(device), torch.tensor([[-0.5, -0.4]], dtype=torch.float64, device=device)


def nonlinear_figure(gp, q_mean: float, q_scale: float, iwae_k, iwae_mean, log_p: float, elbo: float):
    """Left: the two-mode posterior and the best Gaussian q; right: L_K against K for that q.

    Returns:
        a pyplot figure.
    """
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
    z = gp.axes[0].cpu().numpy()
    post = torch.exp(gp.log_posterior[0]).cpu().numpy()
    q = torch.exp(Normal(q_mean, q_scale).log_prob(gp.axes[0])).cpu().numpy()
    ax0.fill_between(z, post, color="0.8")
    ax0.plot(z, post, "k", lw=1.5, label="posterior p(z | x) (grid)")
    ax0.plot(z, q, "C0", lw=2, label=f"best Gaussian q = N({q_mean:.2f}, {q_scale:.2f}²)")
    ax0.set(xlim=(-3, 2), xlabel="z", ylabel="density", title="no Gaussian matches a two-mode posterior")
    ax0.legend(fontsize=8, loc="upper left")
    ax1.axhline(log_p, color="k", ls="--", lw=1, label="log p(x) (quadrature)")
    ax1.plot(iwae_k, iwae_mean, "o-", color="C2", label="IWAE L_K with the best Gaussian q")
    ax1.axhline(elbo, color="C0", lw=1, label="best ELBO = L_1")
    ax1.set(xscale="log", xlabel="K", ylabel="nats", title="the gap left by the best q, and IWAE closing it")
    ax1.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return describe(fig, "Left: a posterior with two modes and the best single Gaussian q, which cannot match both. "
                       "Right: the bound L_K for that q against the number of samples K, rising from the ELBO "
                       "towards log p(x).")
