"""Notebook 09, learning with the ELBO: gradient estimators, a linear VAE against pPCA, the amortization gap.

Three apps, each drawing from results computed once before it is built:

- :func:`gradient_app` over a :class:`GradientGrid` (:func:`gradient_grid`): the variance of the
  score-function, baseline and reparameterization estimators against N, for every q scale and
  latent dimension of the grid, and the spread of the estimates of one coordinate;
- :func:`linear_vae_app` over the :class:`lvmlib.vae.LinearVAEHistory` of each q family:
  exact log p(x), ELBO, reconstruction and KL along training, KL per latent dimension;
- :func:`gap_app` over a :class:`lvmlib.inference.GapRun` per latent size
  (:func:`lvmlib.inference.gap_run`): the ELBO of the per-digit q along its optimization, and the
  split of the gap at the chosen step.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch

from lvmlib.data import ppca_data
from lvmlib.inference import ESTIMATORS, GapRun, gap_run, gradient_runs, quadratic
from lvmlib.plotting import describe, new_figure
from lvmlib.vae import LinearVAE, LinearVAEHistory, ppca_ml, train_linear_vae
from lvmlib.widgets.app import SliderApp

__all__ = ["SAMPLE_SIZES", "SCALES", "DIMS", "GradientGrid", "gradient_grid", "gradient_app", "linear_vae_app",
           "collapse_figure", "gap_app", "examples"]

SAMPLE_SIZES = (2, 5, 20, 100, 500)
SCALES = (0.1, 0.3, 1.0, 3.0)
DIMS = (1, 4, 16)
LABELS = {"score": "score function", "baseline": "score + baseline", "reparam": "reparameterization"}
ESTIMATOR_COLORS = {"score": "C3", "baseline": "C1", "reparam": "C0"}


# ----------------------------------------------------------------------------------------
# 1. gradient estimators
# ----------------------------------------------------------------------------------------


@dataclass
class GradientGrid:
    """Estimator variances and sample estimates for q = N(0, s^2 I_D), f(z) = ||z - 1||^2.

    Attributes:
        ns, scales, dims: the grid.
        variance: {estimator: [len(ns), len(scales), len(dims)]} total variance of the N-sample
            estimate of the 2D-vector gradient (trace of its covariance), from ``repeats`` runs.
        first: {estimator: [len(ns), len(scales), len(dims), repeats]} the estimates of d/dmu_1.
        exact_first: the exact d/dmu_1 (= -2).
    """

    ns: tuple
    scales: tuple
    dims: tuple
    repeats: int
    variance: dict
    first: dict
    exact_first: float

    def index(self, n, scale, dim) -> tuple[int, int, int]:
        return self.ns.index(n), self.scales.index(scale), self.dims.index(dim)


def gradient_grid(ns=SAMPLE_SIZES, scales=SCALES, dims=DIMS, *, repeats: int = 100,
                  generator: torch.Generator | None = None, device=None, score_terms=None) -> GradientGrid:
    """Run every estimator ``repeats`` times at every grid point (float64, on ``device``):
    :func:`lvmlib.inference.gradient_runs`, whose ``variance()`` is ``estimator_variance``; the
    runs are kept for the spread of d/dmu_1 (from the same draws as the variance).  ``score_terms``: the
    score-function terms to use (the student's exercise 9.1; default autograd), see ``gradient_samples``."""
    var = {e: np.zeros((len(ns), len(scales), len(dims))) for e in ESTIMATORS}
    first = {e: np.zeros((len(ns), len(scales), len(dims), repeats)) for e in ESTIMATORS}
    for k, d in enumerate(dims):
        a = torch.ones(d, dtype=torch.float64, device=device)
        loc = torch.zeros(d, dtype=torch.float64, device=device)
        f = quadratic(a)
        for j, s in enumerate(scales):
            for i, n in enumerate(ns):
                for e in ESTIMATORS:
                    # R independent runs of N samples at once: the baseline is left-one-out within each run
                    runs = gradient_runs(f, loc, s, n, e, repeats=repeats, generator=generator,
                                         score_terms=score_terms)  # [R, D] each
                    var[e][i, j, k] = float(runs.variance())
                    first[e][i, j, k] = runs.loc[:, 0].cpu().numpy()
    return GradientGrid(tuple(ns), tuple(scales), tuple(dims), repeats, var, first, -2.0)


def gradient_app(grid: GradientGrid, *, n: int = 10, scale: float = 1.0, dim: int = 4) -> SliderApp:
    """Left: variance of each estimator against N (log-log) at the chosen scale and dimension,
    the chosen N marked.  Right: the ``repeats`` estimates of d/dmu_1 at the chosen point, on an
    x-range fixed for each (scale, dim), so that moving N shows the spread shrink like 1/sqrt(N)."""
    fig = new_figure(10, 3.6)
    ax_v, ax_e = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.88, wspace=0.3)
    allv = np.concatenate([v.ravel() for v in grid.variance.values()])
    allv = allv[allv > 0]
    ax_v.set(xscale="log", yscale="log", xlim=(min(grid.ns) / 1.5, max(grid.ns) * 1.5),
             ylim=(allv.min() / 3, allv.max() * 3), xlabel="samples N", ylabel="total variance of the estimate")
    lines, dots, scatters = {}, {}, {}
    for r, e in enumerate(ESTIMATORS):
        (lines[e],) = ax_v.plot([], [], "-", color=ESTIMATOR_COLORS[e], label=LABELS[e], animated=True)
        (dots[e],) = ax_v.plot([], [], "o", color=ESTIMATOR_COLORS[e], animated=True)
        scatters[e] = ax_e.scatter([], [], s=6, color=ESTIMATOR_COLORS[e], alpha=0.5, animated=True)
    ax_v.legend(loc="lower left", fontsize=8)
    ax_e.axvline(grid.exact_first, color="k", lw=1, label="exact")
    ax_e.set(yticks=range(3), yticklabels=[LABELS[e] for e in ESTIMATORS], ylim=(-0.6, 2.6),
             xlabel="estimate of d/dmu_1 (exact: -2)")
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, grid.repeats)
    ax_e.title.set_animated(True)
    ax_v.title.set_animated(True)

    middle = len(grid.ns) // 2

    def redraw(n, scale, dim):
        i, j, k = grid.index(n, scale, dim)
        for r, e in enumerate(ESTIMATORS):
            lines[e].set_data(grid.ns, grid.variance[e][:, j, k])
            dots[e].set_data([n], [grid.variance[e][i, j, k]])
            scatters[e].set_offsets(np.c_[grid.first[e][i, j, k], r + jitter])
        # one x-range per (scale, dim), from the middle N: the cloud narrows as N grows (and at the
        # smallest N the score function's estimates spill past the edges); one background per pair
        spread = np.abs(grid.first["score"][middle, j, k] - grid.exact_first)
        half = max(float(np.quantile(spread, 0.99)), 0.05)
        ax_e.set_xlim(grid.exact_first - half, grid.exact_first + half)
        ax_v.set_title(f"q = N(0, {scale:g}² I), D = {dim}")
        ax_e.set_title(f"{grid.repeats} estimates with N = {n} samples each")
        ratio = grid.variance["score"][i, j, k] / grid.variance["reparam"][i, j, k]
        return f"variance ratio score / reparameterization at this point: {ratio:.3g}"

    controls = {
        "n": W.SelectionSlider(options=list(grid.ns), value=n, description="samples N"),
        "scale": W.SelectionSlider(options=list(grid.scales), value=scale, description="scale of q"),
        "dim": W.SelectionSlider(options=list(grid.dims), value=dim, description="latent dim D"),
    }
    return SliderApp(fig, controls, redraw, name="09_gradient_estimators")


# ----------------------------------------------------------------------------------------
# 2. a linear VAE against the pPCA maximum-likelihood answer
# ----------------------------------------------------------------------------------------


def linear_vae_app(histories: dict[str, LinearVAEHistory], log_p_ml: float, *, q: str = "full",
                   step: int | None = None) -> SliderApp:
    """Training of the linear VAE for each q family: exact log p(x) and ELBO (left), the
    reconstruction and KL terms (middle), the KL of each latent dimension (right)."""
    fig = new_figure(11, 3.4)
    ax_l, ax_t, ax_k = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.87, wspace=0.35)
    any_h = next(iter(histories.values()))
    steps = any_h.steps.numpy()
    lo = min(float(h.elbo[len(h.elbo) // 20]) for h in histories.values())
    ax_l.set(xlim=(0, steps[-1]), ylim=(lo - 0.5, log_p_ml + 0.5), xlabel="training step", ylabel="nats per point")
    ax_l.axhline(log_p_ml, color="k", lw=1, ls=":", label="log p(x) at the ML solution")
    (l_lp,) = ax_l.plot([], [], color="C0", label="exact log p(x)", animated=True)
    (l_el,) = ax_l.plot([], [], color="C1", label="ELBO", animated=True)
    ax_l.legend(fontsize=8, loc="lower right")
    rec = torch.cat([h.reconstruction for h in histories.values()])
    kl = torch.cat([h.kl for h in histories.values()])
    ax_t.set(xlim=(0, steps[-1]), ylim=(float(rec[len(steps) // 20:].min()) - 1, float(kl.max()) + 1),
             xlabel="training step", ylabel="nats per point")
    (l_rec,) = ax_t.plot([], [], color="C2", label="reconstruction E_q log p(x|z)", animated=True)
    (l_kl,) = ax_t.plot([], [], color="C3", label="KL(q || p(z))", animated=True)
    ax_t.legend(fontsize=8, loc="center right")
    markers = [a.axvline(0, color="grey", lw=1, animated=True) for a in (ax_l, ax_t)]
    dz = any_h.kl_per_dim.shape[1]
    kmax = max(float(h.kl_per_dim.max()) for h in histories.values())
    bars = ax_k.bar(range(dz), np.zeros(dz), color="C3", animated=True)
    ax_k.set(xticks=range(dz), xticklabels=[f"z{j + 1}" for j in range(dz)], ylim=(0, kmax * 1.1),
             ylabel="KL per latent dimension (nats)")
    for a in (ax_l, ax_t, ax_k):
        a.title.set_animated(True)

    def redraw(q, step):
        h = histories[q]
        t = int(np.searchsorted(steps, step))
        l_lp.set_data(steps, h.log_p.numpy())
        l_el.set_data(steps, h.elbo.numpy())
        l_rec.set_data(steps, h.reconstruction.numpy())
        l_kl.set_data(steps, h.kl.numpy())
        for m in markers:
            m.set_xdata([step, step])
        for b, v in zip(bars, h.kl_per_dim[t].numpy()):
            b.set_height(v)
        ax_l.set_title(f"q {q}: log p(x) {float(h.log_p[t]):.2f}, ELBO {float(h.elbo[t]):.2f}")
        ax_t.set_title(f"step {step}: reconstruction and KL")
        ax_k.set_title(f"sigma = {float(h.sigma[t]):.2f}")
        return f"q = {q}, step {step}: log p(x) - ELBO = {float(h.log_p[t] - h.elbo[t]):.3f} nats per point"

    controls = {
        "q": W.Dropdown(options=list(histories), value=q, description="q family"),
        "step": W.SelectionSlider(options=[int(s) for s in steps], value=int(steps[-1] if step is None else step),
                                  description="training step"),
    }
    return SliderApp(fig, controls, redraw, name="09_linear_vae")


def collapse_figure(sigmas, kl_per_dim: np.ndarray, eigenvalues):
    """KL per latent dimension (sorted, largest first) of linear VAEs trained with fixed noise
    sigma, against sigma^2, with the data's leading eigenvalues marked (a pyplot figure).

    Args:
        sigmas: [S] noise standard deviations; kl_per_dim: [S, Dz]; eigenvalues: [k] to mark.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    s2 = np.asarray(sigmas, dtype=float) ** 2
    kls = -np.sort(-np.asarray(kl_per_dim), axis=1)
    for j in range(kls.shape[1]):
        ax.plot(s2, kls[:, j], "o-", label=f"latent dimension with the {j + 1}. largest KL")
    for j, lam in enumerate(eigenvalues):
        ax.axvline(float(lam), color="grey", ls=":", lw=1)
        ax.text(float(lam), 0, f" λ{j + 1}", color="grey", fontsize=8, va="bottom")
    ax.set(xscale="log", xlabel="fixed noise variance sigma²", ylabel="KL per latent dimension (nats)",
           title="posterior collapse: a latent dimension switches off when sigma² passes its eigenvalue")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    return describe(fig, "KL divergence per latent dimension (largest first) of linear VAEs trained with a fixed "
                       "noise variance sigma^2, against sigma^2, with the data’s leading eigenvalues marked: a "
                       "dimension’s KL falls to zero (it collapses) once sigma^2 exceeds its eigenvalue.")


# ----------------------------------------------------------------------------------------
# 3. the amortization gap
# ----------------------------------------------------------------------------------------


def gap_app(runs: dict[int, GapRun], *, latent: int | None = None, step: int | None = None) -> SliderApp:
    """Left: mean ELBO of the per-digit q against optimization steps, between the encoder's ELBO
    and log p(x).  Right: the gap split at the chosen step, for every latent size."""
    fig = new_figure(10, 3.4)
    ax_c, ax_b = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.87, wspace=0.3)
    sizes = list(runs)
    steps = runs[sizes[0]].local.steps.numpy()
    ax_c.set(xlim=(0, steps[-1]), xlabel="optimization steps per digit", ylabel="gap to log p(x) (nats per digit)",
             yscale="log")
    tops = [r.splits[0].total for r in runs.values()]
    bottoms = [r.splits[-1].approximation for r in runs.values()]
    ax_c.set_ylim(max(min(bottoms) / 2, 1e-3), max(tops) * 1.5)
    (curve,) = ax_c.plot([], [], "o-", color="C0", label="log p(x) - ELBO(optimized q)", animated=True)
    (mark,) = ax_c.plot([], [], "o", color="C3", ms=9, animated=True)
    ax_c.legend(fontsize=8)
    width = 0.35
    pos = np.arange(len(sizes))
    b_app = ax_b.bar(pos, np.zeros(len(sizes)), width, color="C0", label="approximation gap", animated=True)
    b_amo = ax_b.bar(pos, np.zeros(len(sizes)), width, color="C1", label="amortization gap", animated=True)
    ax_b.set(xticks=pos, xticklabels=[f"z = {d}" for d in sizes], ylim=(0, max(tops) * 1.15),
             ylabel="nats per digit", xlim=(-0.7, len(sizes) - 0.3))
    ax_b.legend(fontsize=8, loc="upper left")
    ax_c.title.set_animated(True)
    ax_b.title.set_animated(True)

    def redraw(latent, step):
        t = int(np.searchsorted(steps, step))
        r = runs[latent]
        gaps = np.array([s.approximation + s.amortization for s in r.splits])
        curve.set_data(steps, gaps)
        mark.set_data([step], [gaps[t]])
        for k, d in enumerate(sizes):
            s = runs[d].splits[t]
            b_app[k].set_height(s.approximation)
            b_amo[k].set_y(s.approximation)
            b_amo[k].set_height(s.amortization)
        ax_c.set_title(f"z = {latent}: after {step} steps, remaining gap {gaps[t]:.2f} nats")
        ax_b.set_title(f"the split when q is optimized for {step} steps")
        s = r.splits[t]
        return (f"z = {latent}, step {step}: approximation gap {s.approximation:.3f} ± {s.approximation_se:.3f}, "
                f"amortization gap {s.amortization:.3f} ± {s.amortization_se:.3f} nats per digit")

    controls = {
        "latent": W.Dropdown(options=sizes, value=latent or sizes[-1], description="latent size"),
        "step": W.SelectionSlider(options=[int(s) for s in steps], value=int(steps[-1] if step is None else step),
                                  description="q steps"),
    }
    return SliderApp(fig, controls, redraw, name="09_amortization_gap")


# ----------------------------------------------------------------------------------------


def examples():
    """The three apps on small versions of the notebook's computations (seconds, not minutes)."""
    g = torch.Generator().manual_seed(0)
    yield "gradients", gradient_app(gradient_grid((2, 10, 100), (0.3, 1.0), (1, 4), repeats=30, generator=g),
                                    n=10, scale=1.0, dim=4)
    x, _ = ppca_data(200, generator=g)
    hist = {q: train_linear_vae(LinearVAE(10, 3, q, generator=g), x, 200, 0.05, record_every=20) for q in ("full", "diag")}
    yield "linear_vae", linear_vae_app(hist, float(ppca_ml(x, 3).model().log_marginal(x).mean()))
    from lvmlib.vae import VAE

    xb = (torch.rand(40, 16, generator=g) < 0.4).float()
    runs = {d: gap_run(VAE(16, d, (16,), generator=g).requires_grad_(False), xb, steps=40, record_every=10,
                       eval_samples=10, is_samples=50, generator=g) for d in (2, 4)}
    yield "gap", gap_app(runs)
