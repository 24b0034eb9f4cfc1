"""Notebook 03, marginalization: p(x) as a sum over z, as an integral over z, and its cost.

Three apps, each fed by a precomputation that does all the model evaluations once:

- :func:`mixture_app` (from :func:`mixture_precompute`): the K terms pi_k N(x; mu_k, sigma_k^2)
  of a 1-D mixture at a chosen x, as bars that add up to p(x).
- :func:`integral_app` (from :func:`integral_precompute`): the integrand p(x | z) p(z) of a
  1-D-latent neural model over z (its area is p(x)), the midpoint rule's cells, and the
  quadrature error against the converged value as the number of cells grows.
- :func:`enumeration_app` (from measured ``lvmlib.models.time_enumeration`` timings): the
  cost of summing 2^n terms, measured and extrapolated, up to image-sized latents.

The checks' closed forms live with the models: ``MixtureOfGaussians.log_joint`` (the K terms),
``BinaryLatentModel.equal_effect`` / ``lvmlib.models.binomial_mixture`` (n binary latents with the
same effect collapse 2^n terms into n + 1) and ``BinaryLatentModel.as_mixture`` (a Gaussian
likelihood makes a mixture of 2^n Gaussians).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Mapping, Sequence

import ipywidgets as W
import numpy as np
import torch
from matplotlib.patches import Polygon

from lvmlib.models import BinaryLatentModel, MixtureOfGaussians, NonlinearLVM
from lvmlib.plotting import COLORS, new_figure
from lvmlib.widgets.app import SliderApp

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


def mixture_precompute(mixtures: Mapping[int, MixtureOfGaussians], *, x_values=None, x_curve=None,
                       log_px: Callable | None = None) -> dict:
    """Everything the mixture app draws, for every K and every x on the slider (computed on the
    mixtures' device).

    Args:
        mixtures: {K: 1-D MixtureOfGaussians}, e.g. :func:`mixture_family`.
        x_values: the slider's x grid (default -6..6 in steps of 0.1).
        x_curve: the x grid of the density curves (default 601 points on -6.5..6.5).
        log_px: ``log_px(x [X], weights [K], means [K], stds [K]) -> [X]`` computes the black curve
            and ``log_p`` (exercise 3.1, or :func:`mixture_log_px`); default the model's ``log_marginal``.

    Returns:
        dict with ``"ks"`` (sorted K), ``"x_values"`` [X], ``"x_curve"`` [C], and per K
        ``"terms"`` {K: [X, K]}, ``"log_p"`` {K: [X]} (log p(x) by logsumexp, the model's
        ``log_marginal``), ``"curve_terms"`` {K: [C, K]}, ``"curve_p"`` {K: [C]},
        ``"posterior"`` {K: [X, K]}, ``"means"`` {K: [K]} (NumPy arrays).
    """
    x_values = np.round(np.arange(-6.0, 6.0 + 1e-9, 0.1), 10) if x_values is None else np.asarray(x_values)
    x_curve = np.linspace(-6.5, 6.5, 601) if x_curve is None else np.asarray(x_curve)
    device = next(iter(mixtures.values())).device
    xv = torch.as_tensor(x_values, dtype=F64, device=device)[:, None]
    xc = torch.as_tensor(x_curve, dtype=F64, device=device)[:, None]
    pre = {"ks": sorted(mixtures), "x_values": x_values, "x_curve": x_curve, "terms": {}, "log_p": {},
           "curve_terms": {}, "curve_p": {}, "posterior": {}, "means": {}}
    with torch.no_grad():
        for k, model in mixtures.items():
            pre["terms"][k] = model.log_joint(xv).exp().cpu().numpy()  # [X, K]: pi_k N(x; mu_k, sigma_k^2)
            if log_px is None:
                marginal = model.log_marginal
            else:
                params = (model.weights, model.means[:, 0], model.scale[:, 0])  # [K] each: pi, mu, sigma
                marginal = (lambda xs, params=params: log_px(xs[:, 0], *params))
            pre["log_p"][k] = marginal(xv).cpu().numpy()  # [X]
            pre["curve_terms"][k] = model.log_joint(xc).exp().cpu().numpy()  # [C, K]
            pre["curve_p"][k] = marginal(xc).exp().cpu().numpy()  # [C]
            pre["posterior"][k] = model.posterior(xv).probs.cpu().numpy()  # [X, K]
            pre["means"][k] = model.means[:, 0].cpu().numpy()
    return pre


def _index(values: np.ndarray, v: float) -> int:
    return int(np.abs(np.asarray(values) - v).argmin())


def mixture_app(pre: dict, *, k: int = 3, x: float = 2.0, name: str = "03_mixture_sum") -> SliderApp:
    """Left: p(x) (black) and its K weighted components over x, the chosen x marked.
    Right: the K terms pi_k N(x; mu_k, sigma_k^2) at that x as bars, and their sum p(x) as a
    stacked bar.  Sliders: x, K."""
    ks, xs, xc = pre["ks"], pre["x_values"], pre["x_curve"]
    kmax = max(ks)
    controls = {
        "x": W.FloatSlider(value=x, min=float(xs[0]), max=float(xs[-1]), step=float(xs[1] - xs[0]),
                           description="x", readout_format=".1f"),
        "k": W.IntSlider(value=k, min=min(ks), max=kmax, description="K components"),
    }
    fig = new_figure(9.4, 3.4)
    ax_d, ax_b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.7, 1.0]})
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.22)
    top = max(float(pre["curve_p"][kk].max()) for kk in ks) * 1.12
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
        terms = pre["terms"][k][i]  # [K]
        for j, line in enumerate(comp_lines):
            if j < k:
                line.set_data(xc, pre["curve_terms"][k][:, j])
                dot_colors[j].set_data([xv], [terms[j]])
            else:
                line.set_data([], [])
                dot_colors[j].set_data([], [])
        total_line.set_data(xc, pre["curve_p"][k])
        p = float(np.exp(pre["log_p"][k][i]))
        vline.set_xdata([xv, xv])
        dots.set_data([xv], [p])
        bottom = 0.0
        for j in range(kmax):
            h = float(terms[j]) if j < k else 0.0
            bars[j].set_height(h)
            stack[j].set_y(bottom)
            stack[j].set_height(h)
            bottom += h
        post = pre["posterior"][k][i]
        return (f"x = {xv:.1f}, K = {k}: terms " + " + ".join(f"{t:.4f}" for t in terms) + f" = p(x) = {p:.4f}; "
                f"log p(x) by logsumexp = {pre['log_p'][k][i]:.3f}; posterior p(z | x) = ("
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


def integral_precompute(model: NonlinearLVM, *, x_values=None, resolutions: Sequence[int] = RESOLUTIONS,
                        reference_resolution: int = 20001, z_plot=None, x_curve=None, bound: float = 7.0) -> dict:
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
        dict of NumPy arrays: ``x_values`` [X], ``resolutions`` [nR], ``log_p`` [X] (converged),
        ``log_p_r`` [nR, X], ``rel_error`` [nR, X] = |p_R / p - 1|, ``z_plot`` [Z],
        ``integrand`` [X, Z] = p(x | z) p(z), ``cells`` {R: (edges [R + 1], heights [X, R])},
        ``f`` [Z] and ``sigma`` (the decoder's mean and noise), ``x_curve`` [C], ``p_curve`` [C].
    """
    x_values = np.round(np.arange(-1.6, 2.2 + 1e-9, 0.05), 10) if x_values is None else np.asarray(x_values)
    z_plot = np.linspace(-4.0, 4.0, 801) if z_plot is None else np.asarray(z_plot)
    x_curve = np.linspace(-2.2, 2.6, 401) if x_curve is None else np.asarray(x_curve)
    xt = torch.as_tensor(x_values, dtype=model.dtype, device=model.device)[:, None]  # [X, 1]
    zt = torch.as_tensor(z_plot, dtype=model.dtype, device=model.device)[:, None]  # [Z, 1]
    out = {"x_values": x_values, "resolutions": np.asarray(resolutions), "z_plot": z_plot, "x_curve": x_curve,
           "cells": {}, "bound": bound}
    with torch.no_grad():
        log_p = model.log_marginal(xt, resolution=reference_resolution, bound=bound)  # [X]
        log_p_r = []
        for r in resolutions:
            gp = model.grid_posterior(xt, resolution=int(r), bound=bound)
            log_p_r.append(gp.log_marginal)
            edges = np.linspace(-bound, bound, int(r) + 1)
            out["cells"][int(r)] = (edges, gp.log_joint.exp().cpu().numpy())  # heights [X, R]
        log_p_r = torch.stack(log_p_r)  # [nR, X]
        log_joint = model.prior().log_prob(zt)[:, None] + model.likelihood(zt[:, None]).log_prob(xt)  # [Z, X]
        out["integrand"] = log_joint.exp().T.cpu().numpy()  # [X, Z]
        out["f"] = model.likelihood(zt).mean[:, 0].cpu().numpy()  # [Z]
        out["sigma"] = float(model.sigma)
        xc = torch.as_tensor(x_curve, dtype=model.dtype, device=model.device)[:, None]  # [C, 1]
        out["p_curve"] = model.log_marginal(xc).exp().cpu().numpy()
    out["log_p"] = log_p.cpu().numpy()
    out["log_p_r"] = log_p_r.cpu().numpy()
    out["rel_error"] = torch.expm1(log_p_r - log_p).abs().cpu().numpy()
    return out


def integral_app(pre: dict, *, x: float = 0.3, resolution: int = 24, name: str = "03_integral") -> SliderApp:
    """Top left: the decoder's mean f(z) (band: +-2 sigma) and the chosen x; top right: p(x)
    sideways.  Bottom left: the integrand p(x | z) p(z) over z (shaded: its area is p(x)) and
    the midpoint rule's R cells; bottom right: |p_R / p - 1| against R for this x.
    Sliders: x, resolution R."""
    xs, rs, zp = pre["x_values"], [int(r) for r in pre["resolutions"]], pre["z_plot"]
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
    xlim = (float(pre["x_curve"][0]), float(pre["x_curve"][-1]))

    f, s = pre["f"], pre["sigma"]
    ax_f.fill_between(zp, f - 2 * s, f + 2 * s, color="C0", alpha=0.2, lw=0)
    ax_f.plot(zp, f, "C0-", lw=1.8, label=r"$f(z)$, the mean of $p(x \mid z)$")
    ax_f.set(xlim=zlim, ylim=xlim, ylabel="x", title=r"decoder: $x \mid z \sim \mathcal{N}(f(z), \sigma^2)$")
    ax_f.legend(loc="upper right", fontsize=8)
    hline_f = ax_f.axhline(x, color="C3", lw=1.2, animated=True)
    ax_f.tick_params(labelbottom=False)

    ax_px.plot(pre["p_curve"], pre["x_curve"], "k-", lw=1.6)
    ax_px.set(xlim=(0, float(pre["p_curve"].max()) * 1.15), xlabel="p(x)", title=r"$p(x)$ (sideways)")
    ax_px.tick_params(labelleft=False)
    hline_px = ax_px.axhline(x, color="C3", lw=1.2, animated=True)
    dot_px, = ax_px.plot([], [], "o", color="C3", ms=6, animated=True)

    top = float(pre["integrand"].max()) * 1.1
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

    err = np.maximum(pre["rel_error"], 1e-16)  # [nR, X]
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
        p = float(np.exp(pre["log_p"][i]))
        hline_f.set_ydata([xv, xv])
        hline_px.set_ydata([xv, xv])
        dot_px.set_data([p], [xv])
        y = pre["integrand"][i]
        area.set_xy(np.column_stack([zpoly, np.concatenate([y, np.zeros_like(y)])]))
        curve_i.set_data(zp, y)
        edges, heights = pre["cells"][int(resolution)]
        cells.set_data(heights[i], edges)
        mid = 0.5 * (edges[1:] + edges[:-1])
        mids.set_data(mid, heights[i])
        p_r = float(np.exp(pre["log_p_r"][j, i]))
        err_line.set_data(rs, err[:, i])
        err_dot.set_data([resolution], [err[j, i]])
        return (f"x = {xv:.2f}: p(x) = {p:.6f} (converged, {pre['log_p'].dtype} quadrature); midpoint rule "
                f"with R = {resolution} cells of width {2 * pre['bound'] / resolution:.3f}: {p_r:.6f}, "
                f"relative error {pre['rel_error'][j, i]:.1e}")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# why it is hard: 2^n terms
# ----------------------------------------------------------------------------------------

#: the n at which the notebook times enumeration (float32, 16-dimensional x, 8 points)
ENUMERATION_NS = tuple(range(2, 23, 2))  # up to 2^22 terms: far enough that the doubling shows


def time_enumeration(
    n_values: Sequence[int] = tuple(range(2, 17, 2)),
    data_dim: int = 16,
    num_points: int = 8,
    *,
    repeats: int = 1,
    clock: str = "wall",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[int, float]:
    """Seconds to compute exact log p(x) by enumeration, as the number of latents grows.

    For each n, builds a ``BinaryLatentModel(n, data_dim)``, samples ``num_points`` points
    from it and times ``log_marginal`` (best of ``repeats``).  The cost doubles per latent:
    plot the result on a log axis.

    Args:
        clock: ``"wall"`` (wall-clock time, torch's threads as they are) or ``"cpu"`` (CPU time
            of the calling thread with torch limited to one thread while timing: the work of
            one core, which other programs on a busy machine disturb far less than the wall clock).

    Returns:
        {n: seconds}.
    """
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    timer = time.perf_counter if clock == "wall" else time.thread_time
    threads = torch.get_num_threads()
    seconds: dict[int, float] = {}
    try:
        if clock == "cpu":
            torch.set_num_threads(1)
        for n in n_values:
            model = BinaryLatentModel(int(n), data_dim, generator=generator, dtype=dtype)
            _, x = model.sample(num_points, generator=generator)
            best = math.inf
            for _ in range(max(1, repeats)):
                t0 = timer()
                with torch.no_grad():
                    model.log_marginal(x)
                best = min(best, timer() - t0)
            seconds[int(n)] = best
    finally:
        torch.set_num_threads(threads)
    return seconds


SECONDS_PER_YEAR = 365.25 * 24 * 3600
AGE_OF_UNIVERSE_YEARS = 1.38e10


def seconds_per_term(seconds: Mapping[int, float], *, last: int = 1) -> float:
    """The measured cost of one configuration: t_n / 2^n at the largest n (the median over the
    ``last`` largest n; small n are dominated by fixed overheads)."""
    ns = sorted(seconds)[-last:]
    return float(np.median([seconds[n] / 2.0**n for n in ns]))


def doubling_factor(seconds: Mapping[int, float], *, last: int = 4) -> float:
    """Measured growth of the cost per added latent: 2 ** (slope of log2 t against n) over
    the ``last`` largest n (should be about 2)."""
    ns = np.array(sorted(seconds)[-last:], dtype=float)
    t = np.log2([seconds[int(n)] for n in ns])
    return float(2.0 ** np.polyfit(ns, t, 1)[0])


def human_time(sec: float) -> str:
    """'3.2 ms', '4.1 hours', '5.8e+03 years' ..."""
    if sec < 1e-3:
        return f"{sec * 1e6:.3g} µs"
    if sec < 1:
        return f"{sec * 1e3:.3g} ms"
    for unit, size in (("seconds", 60), ("minutes", 60), ("hours", 24), ("days", 365.25)):
        if sec < size:
            return f"{sec:.3g} {unit}"
        sec /= size
    return f"{sec:.3g} years" if sec < 1e4 else f"{sec:.2g} years"


def enumeration_app(seconds: Mapping[int, float], *, n: int = 20, n_max: int = 100,
                    name: str = "03_enumeration_cost") -> SliderApp:
    """Seconds to sum over 2^n configurations: measured points, the 2^n line through them,
    reference times (a second ... the age of the universe) and the chosen n.  Slider: n."""
    ns = np.array(sorted(seconds))
    ts = np.array([seconds[int(k)] for k in ns])
    rate = seconds_per_term(seconds)
    controls = {"n": W.IntSlider(value=n, min=1, max=n_max, description="binary latents n")}
    fig = new_figure(8.4, 3.8)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.86, bottom=0.13, top=0.9)
    grid = np.arange(1, n_max + 1)
    ax.plot(grid, rate * 2.0**grid, "C0-", lw=1.5, label=f"$2^n$ terms at {rate:.2g} s per term (extrapolated)")
    ax.plot(ns, ts, "ko", ms=5, label="measured (time_enumeration)")
    refs = (("1 second", 1.0), ("1 hour", 3600.0), ("1 year", SECONDS_PER_YEAR),
            ("age of the universe", AGE_OF_UNIVERSE_YEARS * SECONDS_PER_YEAR))
    for label, sec in refs:
        ax.axhline(sec, color="0.6", lw=0.8, ls="--")
        ax.text(1.5, sec * 1.8, label, fontsize=8, color="0.35")
    ax.set(yscale="log", xlim=(0, n_max + 1), ylim=(min(ts.min(), rate * 2) / 5, rate * 2.0**n_max * 30),
           xlabel="binary latents n",
           ylabel="seconds to compute p(x) exactly")
    sec_ax = ax.secondary_yaxis("right", functions=(lambda s: s / rate, lambda c: c * rate))
    sec_ax.set_ylabel("terms $2^n$")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("exact p(x) by enumerating every configuration of n binary latents")
    vline = ax.axvline(n, color="C3", lw=1.2, animated=True)
    dot, = ax.plot([], [], "o", color="C3", ms=9, animated=True)

    def redraw(n: int) -> str:
        t = rate * 2.0**n
        vline.set_xdata([n, n])
        dot.set_data([n], [t])
        return (f"n = {n} binary latents: 2<sup>{n}</sup> = {2 ** n:.4g} terms; at the measured {rate:.2g} s "
                f"per term that is about {human_time(t)}")

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
