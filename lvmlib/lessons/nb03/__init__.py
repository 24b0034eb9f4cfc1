"""Notebook 03, marginalization: p(x) as a sum over z, as an integral over z, and its cost.

Three apps, each fed by a precomputation that does all the model evaluations once:

- :func:`mixture_app` (from :func:`mixture_precompute`, a :class:`MixtureCurves`): the K terms
  pi_k N(x; mu_k, sigma_k^2) of a 1-D mixture at a chosen x, as bars that add up to p(x).
- :func:`integral_app` (from :func:`integral_precompute`, an :class:`IntegralGrid`): the integrand p(x | z) p(z) of a
  1-D-latent neural model over z (its area is p(x)), the midpoint rule's cells, and the
  quadrature error against the converged value as the number of cells grows.
- :func:`enumeration_app` (from measured :func:`time_enumeration` timings; module ``enumeration``,
  re-exported here): the cost of summing 2^n terms, measured and extrapolated, up to image-sized latents.

The checks' closed forms live with the models: ``MixtureOfGaussians.log_joint`` (the K terms),
``BinaryLatentModel.equal_effect`` / ``lvmlib.models.binomial_mixture`` (n binary latents with the
same effect collapse 2^n terms into n + 1) and ``BinaryLatentModel.as_mixture`` (a Gaussian
likelihood makes a mixture of 2^n Gaussians).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import ipywidgets as W
import numpy as np
import torch
from matplotlib.patches import Polygon

from lvmlib.lessons.nb03.enumeration import (  # noqa: F401 - notebook 03 reads them as nb03.*
    AGE_OF_UNIVERSE_YEARS,
    ENUMERATION_NS,
    SECONDS_PER_YEAR,
    doubling_factor,
    enumeration_app,
    human_time,
    seconds_per_term,
    time_enumeration,
)
from lvmlib.models import MixtureOfGaussians, NonlinearLVM
from lvmlib.plotting import COLORS, new_figure
from lvmlib.widgets.app import SliderApp

__all__ = ["MIXTURE_COMPONENTS", "mixture_family", "mixture_log_px", "MixtureCurves", "mixture_precompute",
           "mixture_app", "integral_model", "RESOLUTIONS", "IntegralGrid", "integral_precompute", "integral_app",
           "ENUMERATION_NS", "time_enumeration", "SECONDS_PER_YEAR", "AGE_OF_UNIVERSE_YEARS", "seconds_per_term",
           "doubling_factor", "human_time", "enumeration_app", "examples"]

F64 = torch.float64

# ----------------------------------------------------------------------------------------
# a sum over z: a 1-D mixture of Gaussians
# ----------------------------------------------------------------------------------------

#: the components the K slider adds one by one: (weight before renormalizing, mean, std)
MIXTURE_COMPONENTS = ((0.30, -2.5, 0.7), (0.25, 1.0, 0.5), (0.20, 3.0, 0.8), (0.10, -0.5, 0.35),
                      (0.10, 4.8, 0.4), (0.05, -4.6, 0.5))


def mixture_family(max_k: int = 6, *, device=None) -> dict[int, MixtureOfGaussians]:
    """1-D mixtures with K = 1..max_k components: the first K of ``MIXTURE_COMPONENTS``,
    weights renormalized.  Returns {K: MixtureOfGaussians (float64, data_dim 1) on ``device``}."""
    if not 1 <= max_k <= len(MIXTURE_COMPONENTS):
        raise ValueError(f"max_k must lie in 1..{len(MIXTURE_COMPONENTS)}, got {max_k}")
    out = {}
    for k in range(1, max_k + 1):
        w, mu, sd = (torch.tensor(c, dtype=F64, device=device) for c in zip(*MIXTURE_COMPONENTS[:k]))
        out[k] = MixtureOfGaussians(w / w.sum(), mu[:, None], sd**2, "spherical")
    return out


def mixture_log_px(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor) -> torch.Tensor:
    """lvmlib's version of exercise 3.1: log p(x) of a 1-D mixture, x [N], weights/means/stds [K] -> [N]
    (``MixtureOfGaussians.log_marginal``, a logsumexp over the K terms)."""
    return MixtureOfGaussians(weights, means[:, None], stds**2, "spherical").log_marginal(x[:, None])


@dataclass(frozen=True)
class MixtureCurves:
    """Everything the mixture app draws, for every K and every x on the slider (:func:`mixture_precompute`;
    NumPy arrays, X slider values, C curve points; the per-K maps hold K components' columns).

    Attributes:
        ks: the K values, sorted.
        x_values: [X] the slider's x grid.  x_curve: [C] the x grid of the density curves.
        terms: {K: [X, K]} the terms pi_k N(x; mu_k, sigma_k^2) at every slider x.
        log_p: {K: [X]} log p(x) (logsumexp of the terms, or the ``log_px`` that was passed).
        curve_terms: {K: [C, K]} the terms along the curve.  curve_p: {K: [C]} p(x) along the curve.
        posterior: {K: [X, K]} p(z = k | x).  means: {K: [K]} the components' means.
    """

    ks: list[int]
    x_values: np.ndarray
    x_curve: np.ndarray
    terms: Mapping[int, np.ndarray]
    log_p: Mapping[int, np.ndarray]
    curve_terms: Mapping[int, np.ndarray]
    curve_p: Mapping[int, np.ndarray]
    posterior: Mapping[int, np.ndarray]
    means: Mapping[int, np.ndarray]


def mixture_precompute(mixtures: Mapping[int, MixtureOfGaussians], *, x_values=None, x_curve=None,
                       log_px: Callable | None = None) -> MixtureCurves:
    """Everything the mixture app draws, for every K and every x on the slider (computed on the
    mixtures' device).

    Args:
        mixtures: {K: 1-D MixtureOfGaussians}, e.g. :func:`mixture_family`.
        x_values: the slider's x grid (default -6..6 in steps of 0.1).
        x_curve: the x grid of the density curves (default 601 points on -6.5..6.5).
        log_px: ``log_px(x [X], weights [K], means [K], stds [K]) -> [X]`` computes the black curve
            and ``log_p`` (exercise 3.1, or :func:`mixture_log_px`); default the model's ``log_marginal``.

    Returns:
        a :class:`MixtureCurves` (NumPy arrays, per K where they depend on it).
    """
    x_values = np.round(np.arange(-6.0, 6.0 + 1e-9, 0.1), 10) if x_values is None else np.asarray(x_values)
    x_curve = np.linspace(-6.5, 6.5, 601) if x_curve is None else np.asarray(x_curve)
    device = next(iter(mixtures.values())).device
    xv = torch.as_tensor(x_values, dtype=F64, device=device)[:, None]
    xc = torch.as_tensor(x_curve, dtype=F64, device=device)[:, None]
    terms, log_p, curve_terms, curve_p, posterior, means = {}, {}, {}, {}, {}, {}
    with torch.no_grad():
        for k, model in mixtures.items():
            terms[k] = model.log_joint(xv).exp().cpu().numpy()  # [X, K]: pi_k N(x; mu_k, sigma_k^2)
            if log_px is None:
                marginal = model.log_marginal
            else:
                params = (model.weights, model.means[:, 0], model.scale[:, 0])  # [K] each: pi, mu, sigma
                marginal = (lambda xs, params=params: log_px(xs[:, 0], *params))
            log_p[k] = marginal(xv).cpu().numpy()  # [X]
            curve_terms[k] = model.log_joint(xc).exp().cpu().numpy()  # [C, K]
            curve_p[k] = marginal(xc).exp().cpu().numpy()  # [C]
            posterior[k] = model.posterior(xv).probs.cpu().numpy()  # [X, K]
            means[k] = model.means[:, 0].cpu().numpy()
    return MixtureCurves(ks=sorted(mixtures), x_values=x_values, x_curve=x_curve, terms=terms, log_p=log_p,
                         curve_terms=curve_terms, curve_p=curve_p, posterior=posterior, means=means)


def _index(values: np.ndarray, v: float) -> int:
    return int(np.abs(np.asarray(values) - v).argmin())


def mixture_app(pre: MixtureCurves, *, k: int = 3, x: float = 2.0, name: str = "03_mixture_sum") -> SliderApp:
    """Left: p(x) (black) and its K weighted components over x, the chosen x marked.
    Right: the K terms pi_k N(x; mu_k, sigma_k^2) at that x as bars, and their sum p(x) as a
    stacked bar.  Sliders: x, K.

    Args:
        pre: the :class:`MixtureCurves` of :func:`mixture_precompute`.
    """
    if not isinstance(pre, MixtureCurves):
        raise TypeError(f"mixture_app takes nb03.mixture_precompute(mixtures) (MixtureCurves), "
                        f"got {type(pre).__name__}")
    ks, xs, xc = pre.ks, pre.x_values, pre.x_curve
    kmax = max(ks)
    controls = {
        "x": W.FloatSlider(value=x, min=float(xs[0]), max=float(xs[-1]), step=float(xs[1] - xs[0]),
                           description="x", readout_format=".1f"),
        "k": W.IntSlider(value=k, min=min(ks), max=kmax, description="K components"),
    }
    fig = new_figure(9.4, 3.4)
    ax_d, ax_b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.7, 1.0]})
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.22)
    top = max(float(pre.curve_p[kk].max()) for kk in ks) * 1.12
    ax_d.set(xlim=(xc[0], xc[-1]), ylim=(0, top), xlabel="x", ylabel="density",
             title=r"$p(x)=\sum_k \pi_k\,\mathcal{N}(x;\mu_k,\sigma_k^2)$")
    total_line, = ax_d.plot([], [], "-", color="0.15", lw=3.0, animated=True, zorder=2, label="p(x)")
    comp_lines = [ax_d.plot([], [], "-", color=COLORS[i], lw=1.4, animated=True, zorder=3)[0] for i in range(kmax)]
    vline = ax_d.axvline(x, color="0.3", ls=":", lw=1.2, animated=True)
    dots, = ax_d.plot([], [], "o", color="k", ms=5, animated=True)
    dot_colors = [ax_d.plot([], [], "o", color=COLORS[i], ms=5, animated=True)[0] for i in range(kmax)]

    ax_b.set(xlim=(-0.7, kmax + 0.9), ylim=(0, top), xticks=list(range(kmax)) + [kmax + 0.2],
             xticklabels=[f"k={i + 1}" for i in range(kmax)] + ["sum\n= p(x)"],
             ylabel=r"term $\pi_k\,\mathcal{N}(x;\mu_k,\sigma_k^2)$", title="the terms at x, and their sum")
    bars = ax_b.bar(range(kmax), np.zeros(kmax), color=COLORS[:kmax], width=0.7)
    stack = ax_b.bar(np.full(kmax, kmax + 0.2), np.zeros(kmax), bottom=np.zeros(kmax), color=COLORS[:kmax],
                     width=0.9, edgecolor="k", lw=0.5)
    for rect in list(bars) + list(stack):
        rect.set_animated(True)

    def redraw(x: float, k: int) -> str:
        i = _index(xs, x)
        xv = float(xs[i])
        terms = pre.terms[k][i]  # [K]
        for j, line in enumerate(comp_lines):
            if j < k:
                line.set_data(xc, pre.curve_terms[k][:, j])
                dot_colors[j].set_data([xv], [terms[j]])
            else:
                line.set_data([], [])
                dot_colors[j].set_data([], [])
        total_line.set_data(xc, pre.curve_p[k])
        p = float(np.exp(pre.log_p[k][i]))
        vline.set_xdata([xv, xv])
        dots.set_data([xv], [p])
        bottom = 0.0
        for j in range(kmax):
            h = float(terms[j]) if j < k else 0.0
            bars[j].set_height(h)
            stack[j].set_y(bottom)
            stack[j].set_height(h)
            bottom += h
        post = pre.posterior[k][i]
        return (f"x = {xv:.1f}, K = {k}: terms " + " + ".join(f"{t:.4f}" for t in terms) + f" = p(x) = {p:.4f}; "
                f"log p(x) by logsumexp = {pre.log_p[k][i]:.3f}; posterior p(z | x) = ("
                + ", ".join(f"{q:.2f}" for q in post) + ")")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# an integral over z: a neural decoder with a 1-D latent
# ----------------------------------------------------------------------------------------


def integral_model(seed: int = 0, *, device=None) -> NonlinearLVM:
    """The notebook's 1-D-latent model: z ~ N(0, 1), x | z ~ N(f(z), 0.15^2), f a tanh MLP
    (16 hidden units, float64) whose curve folds back, so some x have three explanations z.
    Weights drawn on the CPU from ``seed`` (the same on every device), moved to ``device``."""
    return NonlinearLVM(1, 1, hidden=(16,), sigma=0.15, gain=3.0, generator=torch.Generator().manual_seed(seed),
                        dtype=F64).requires_grad_(False).to(device)


#: the resolution slider's choices (cells of the midpoint rule on [-7, 7])
RESOLUTIONS = (3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)


@dataclass(frozen=True)
class IntegralGrid:
    """Quadrature of p(x) at every x and resolution the integral app's sliders offer (:func:`integral_precompute`;
    NumPy arrays, X slider values, nR resolutions, Z points of the integrand's z grid, C points of the p(x) curve).

    Attributes:
        x_values: [X] the x slider's grid.  resolutions: [nR] the resolution slider's cells R.
        z_plot: [Z] the z grid of the drawn integrand.  x_curve: [C] the x grid of the p(x) curve.
        cells: {R: (edges [R + 1], heights [X, R])} the midpoint rule's cells on [-bound, bound].
        bound: the quadrature range is [-bound, bound].
        integrand: [X, Z] p(x | z) p(z).  f: [Z] the decoder's mean f(z).  sigma: its noise.
        p_curve: [C] p(x).  log_p: [X] converged log p(x).  log_p_r: [nR, X] log p_R(x) with R cells.
        rel_error: [nR, X] |p_R / p - 1|.
    """

    x_values: np.ndarray
    resolutions: np.ndarray
    z_plot: np.ndarray
    x_curve: np.ndarray
    cells: Mapping[int, tuple[np.ndarray, np.ndarray]]
    bound: float
    integrand: np.ndarray
    f: np.ndarray
    sigma: float
    p_curve: np.ndarray
    log_p: np.ndarray
    log_p_r: np.ndarray
    rel_error: np.ndarray


def integral_precompute(model: NonlinearLVM, *, x_values=None, resolutions: Sequence[int] = RESOLUTIONS,
                        reference_resolution: int = 20001, z_plot=None, x_curve=None,
                        bound: float = 7.0) -> IntegralGrid:
    """Quadrature of p(x) = integral p(x | z) p(z) dz at every x and resolution the sliders offer
    (computed on the model's device).

    Args:
        model: a model with a 1-D latent and 1-D data (e.g. :func:`integral_model`).
        x_values: the x slider's grid (default -1.6..2.2 in steps of 0.05, where p(x) > 0.003).
        resolutions: the resolution slider's choices R (cells on [-bound, bound]).
        reference_resolution: R of the converged value.
        z_plot: the z grid on which the integrand is drawn (default 801 points on -4..4).
        x_curve: x grid of the p(x) curve (default 401 points on -2.2..2.6).

    Returns:
        an :class:`IntegralGrid` (NumPy arrays).
    """
    x_values = np.round(np.arange(-1.6, 2.2 + 1e-9, 0.05), 10) if x_values is None else np.asarray(x_values)
    z_plot = np.linspace(-4.0, 4.0, 801) if z_plot is None else np.asarray(z_plot)
    x_curve = np.linspace(-2.2, 2.6, 401) if x_curve is None else np.asarray(x_curve)
    xt = torch.as_tensor(x_values, dtype=model.dtype, device=model.device)[:, None]  # [X, 1]
    zt = torch.as_tensor(z_plot, dtype=model.dtype, device=model.device)[:, None]  # [Z, 1]
    cells = {}
    with torch.no_grad():
        log_p = model.log_marginal(xt, resolution=reference_resolution, bound=bound)  # [X]
        log_p_r = []
        for r in resolutions:
            gp = model.grid_posterior(xt, resolution=int(r), bound=bound)
            log_p_r.append(gp.log_marginal)
            edges = np.linspace(-bound, bound, int(r) + 1)
            cells[int(r)] = (edges, gp.log_joint.exp().cpu().numpy())  # heights [X, R]
        log_p_r = torch.stack(log_p_r)  # [nR, X]
        log_joint = model.prior().log_prob(zt)[:, None] + model.likelihood(zt[:, None]).log_prob(xt)  # [Z, X]
        integrand = log_joint.exp().T.cpu().numpy()  # [X, Z]
        f = model.likelihood(zt).mean[:, 0].cpu().numpy()  # [Z]
        xc = torch.as_tensor(x_curve, dtype=model.dtype, device=model.device)[:, None]  # [C, 1]
        p_curve = model.log_marginal(xc).exp().cpu().numpy()
    return IntegralGrid(x_values=x_values, resolutions=np.asarray(resolutions), z_plot=z_plot, x_curve=x_curve,
                        cells=cells, bound=bound, integrand=integrand, f=f, sigma=float(model.sigma), p_curve=p_curve,
                        log_p=log_p.cpu().numpy(), log_p_r=log_p_r.cpu().numpy(),
                        rel_error=torch.expm1(log_p_r - log_p).abs().cpu().numpy())


def integral_app(pre: IntegralGrid, *, x: float = 0.3, resolution: int = 24, name: str = "03_integral") -> SliderApp:
    """Top left: the decoder's mean f(z) (band: +-2 sigma) and the chosen x; top right: p(x)
    sideways.  Bottom left: the integrand p(x | z) p(z) over z (shaded: its area is p(x)) and
    the midpoint rule's R cells; bottom right: |p_R / p - 1| against R for this x.
    Sliders: x, resolution R.

    Args:
        pre: the :class:`IntegralGrid` of :func:`integral_precompute`.
    """
    if not isinstance(pre, IntegralGrid):
        raise TypeError(f"integral_app takes nb03.integral_precompute(model) (IntegralGrid), got {type(pre).__name__}")
    xs, rs, zp = pre.x_values, [int(r) for r in pre.resolutions], pre.z_plot
    controls = {
        "x": W.FloatSlider(value=x, min=float(xs[0]), max=float(xs[-1]), step=float(xs[1] - xs[0]),
                           description="x", readout_format=".2f"),
        "resolution": W.SelectionSlider(options=rs, value=resolution, description="cells R"),
    }
    fig = new_figure(9.4, 5.8)
    gs = fig.add_gridspec(2, 2, width_ratios=[1.7, 1.0], height_ratios=[1.0, 1.15])
    ax_f = fig.add_subplot(gs[0, 0])
    ax_px = fig.add_subplot(gs[0, 1], sharey=ax_f)
    ax_i = fig.add_subplot(gs[1, 0], sharex=ax_f)
    ax_e = fig.add_subplot(gs[1, 1])
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.08, top=0.94, wspace=0.22, hspace=0.32)
    zlim = (zp[0], zp[-1])
    xlim = (float(pre.x_curve[0]), float(pre.x_curve[-1]))

    f, s = pre.f, pre.sigma
    ax_f.fill_between(zp, f - 2 * s, f + 2 * s, color="C0", alpha=0.2, lw=0)
    ax_f.plot(zp, f, "C0-", lw=1.8, label=r"$f(z)$, the mean of $p(x \mid z)$")
    ax_f.set(xlim=zlim, ylim=xlim, ylabel="x", title=r"decoder: $x \mid z \sim \mathcal{N}(f(z), \sigma^2)$")
    ax_f.legend(loc="upper right", fontsize=8)
    hline_f = ax_f.axhline(x, color="C3", lw=1.2, animated=True)
    ax_f.tick_params(labelbottom=False)

    ax_px.plot(pre.p_curve, pre.x_curve, "k-", lw=1.6)
    ax_px.set(xlim=(0, float(pre.p_curve.max()) * 1.15), xlabel="p(x)", title=r"$p(x)$ (sideways)")
    ax_px.tick_params(labelleft=False)
    hline_px = ax_px.axhline(x, color="C3", lw=1.2, animated=True)
    dot_px, = ax_px.plot([], [], "o", color="C3", ms=6, animated=True)

    top = float(pre.integrand.max()) * 1.1
    ax_i.set(xlim=zlim, ylim=(0, top), xlabel="z", ylabel=r"$p(x \mid z)\,p(z)$")
    ax_i.plot(zp, np.exp(-0.5 * zp**2) / math.sqrt(2 * math.pi) * top / 0.45, color="0.7", lw=1, ls="--",
              label="p(z) (rescaled)")
    ax_i.legend(loc="upper right", fontsize=8)
    ax_i.set_title(r"the integrand: its area is $p(x)$; black: the midpoint rule's cells")
    area = Polygon(np.zeros((2, 2)), closed=True, color="C3", alpha=0.25, lw=0, animated=True)
    ax_i.add_patch(area)
    curve_i, = ax_i.plot([], [], "C3-", lw=1.6, animated=True)
    cells = ax_i.stairs(np.zeros(rs[0]), np.linspace(-1, 1, rs[0] + 1), color="k", lw=1.0, baseline=0,
                        animated=True)
    mids, = ax_i.plot([], [], "k.", ms=3, animated=True)

    err = np.maximum(pre.rel_error, 1e-16)  # [nR, X]
    ax_e.set(xscale="log", yscale="log", xlim=(rs[0] / 1.4, rs[-1] * 1.4), ylim=(1e-16 / 3, 30),
             xlabel="cells R", ylabel=r"$|p_R(x)\,/\,p(x) - 1|$", title="quadrature error")
    ax_e.axhline(2.2e-16, color="0.7", lw=0.8, ls=":")
    err_line, = ax_e.plot([], [], "C3.-", lw=1.2, ms=4, animated=True)
    err_dot, = ax_e.plot([], [], "o", color="k", ms=8, mfc="none", mew=2, animated=True)
    zpoly = np.concatenate([zp, zp[::-1]])

    def redraw(x: float, resolution: int) -> str:
        i = _index(xs, x)
        xv = float(xs[i])
        j = rs.index(int(resolution))
        p = float(np.exp(pre.log_p[i]))
        hline_f.set_ydata([xv, xv])
        hline_px.set_ydata([xv, xv])
        dot_px.set_data([p], [xv])
        y = pre.integrand[i]
        area.set_xy(np.column_stack([zpoly, np.concatenate([y, np.zeros_like(y)])]))
        curve_i.set_data(zp, y)
        edges, heights = pre.cells[int(resolution)]
        cells.set_data(heights[i], edges)
        mid = 0.5 * (edges[1:] + edges[:-1])
        mids.set_data(mid, heights[i])
        p_r = float(np.exp(pre.log_p_r[j, i]))
        err_line.set_data(rs, err[:, i])
        err_dot.set_data([resolution], [err[j, i]])
        return (f"x = {xv:.2f}: p(x) = {p:.6f} (converged, {pre.log_p.dtype} quadrature); midpoint rule "
                f"with R = {resolution} cells of width {2 * pre.bound / resolution:.3f}: {p_r:.6f}, "
                f"relative error {pre.rel_error[j, i]:.1e}")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# the apps as the notebook builds them
# ----------------------------------------------------------------------------------------


def examples():
    """The apps as notebook 03 builds them (for tests and the slider benchmark)."""
    yield "mixture", mixture_app(mixture_precompute(mixture_family()))
    yield "integral", integral_app(integral_precompute(integral_model()))
    seconds = time_enumeration(ENUMERATION_NS[:6], num_points=1, data_dim=4, clock="cpu",
                               generator=torch.Generator().manual_seed(0))  # up to 2^12 terms: quick
    yield "enumeration", enumeration_app(seconds)
