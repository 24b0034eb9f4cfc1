"""Notebook 02, mixtures of Gaussians and EM: the model, EM step by step, choosing K, digits.

Three apps:

- :func:`em_app` (from :func:`em_precompute` of fits made with ``keep_history=True``, one
  :class:`EMFrames` per start): scrubs through the stored EM history of a 2-D fit, one or more
  starts: points coloured by their responsibilities, the components' ellipses, the lower-bound
  curve with the current iteration and the bound after the next M-step (the EM sawtooth).
- :func:`k_app` (``choose_k``): a slider over K and the initialization seed; every fit is made
  once before the app is drawn (:func:`k_fits`), because a 2-D fit of 1000 points takes a few
  milliseconds (:func:`refit`, measured by :func:`time_refits`); shows how a too-small or too-large K looks.
- :func:`cluster_app` (``digits``, from :func:`cluster_summary`): the digits clusters of a K = 10 fit,
  cluster against true label, one cluster's mean and its members grouped by label.

Static figures: :func:`one_vs_many_figure` (one Gaussian against a mixture, densities and
samples), :func:`k_sweep_figure` (log-likelihood and BIC against K, from :func:`k_sweep`),
:func:`cluster_means_figure` and :func:`restarts_figure` (digits).  :func:`em_bound`
computes the EM lower bound L(q, theta) exactly (a sum over the K values of z).

The package's modules: this one (the data, the model, EM step by step), ``choose_k`` (choosing K),
``digits``, ``em_path`` (:class:`EMPath`: an EM run with the student's steps) and ``picture``
(:class:`MixturePicture`, the 2-D panel the EM and K apps share).  The public names of ``choose_k``,
``em_path`` and ``picture`` are re-exported here; the digits helpers are imported from ``nb02.digits``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Mapping

import ipywidgets as W
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from lvmlib.lessons.nb02.choose_k import (  # noqa: F401 - notebook 02 reads them as nb02.*
    FitNumbers,
    KFit,
    KSweep,
    RefitTimes,
    fit_numbers,
    k_app,
    k_fits,
    k_sweep,
    k_sweep_figure,
    refit,
    time_refits,
)
from lvmlib.lessons.nb02.digits import cluster_app, digits_clusters
from lvmlib.lessons.nb02.em_path import EMPath, path_difference  # noqa: F401 - notebook 02 calls nb02.path_difference
from lvmlib.lessons.nb02.picture import MixturePicture, data_limits
from lvmlib.mixtures import GaussianMixture, reference
from lvmlib.mixtures.em import em_bound
from lvmlib.plotting import COLORS, ResponsibilityPoints, density_grid, describe, ellipse_outlines, new_figure
from lvmlib.widgets.app import SliderApp

__all__ = ["BLOBS", "N_TRAIN", "N_TEST", "EM_STARTS", "blobs_data", "one_vs_many_figure", "EMSteps", "fit_em_start",
           "EMFrames", "em_precompute", "em_app", "em_bound", "EMPath", "path_difference", "MixturePicture",
           "data_limits", "refit", "RefitTimes", "time_refits", "FitNumbers", "fit_numbers", "KFit", "k_fits",
           "k_app", "KSweep", "k_sweep", "k_sweep_figure", "examples"]

F64 = torch.float64

#: the 2-D data of the notebook: ``toy_2d("blobs", N_TRAIN + N_TEST, centers=4, seed=3)``, split in order
BLOBS = dict(centers=4, seed=3)
N_TRAIN, N_TEST = 1000, 500
#: EM starts shown by the EM app: name -> random_state of ``init_params="random_from_data"``
EM_STARTS = {"start 1": 4, "start 2": 7, "start 3": 3}


def _fmt_weights(w) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in w) + "]"


# ----------------------------------------------------------------------------------------
# the mixture as a latent variable model
# ----------------------------------------------------------------------------------------


def blobs_data(*, device=None):
    """The notebook's 2-D data: (x_train [1000, 2], x_test [500, 2], y_train [1000]), float64 on
    ``device`` (default CPU), four Gaussian blobs (two of them overlapping) from
    ``lvmlib.data.toy_2d``."""
    from lvmlib.data import toy_2d

    x, y = toy_2d("blobs", N_TRAIN + N_TEST, **BLOBS)
    x, y = x.to(device), y.to(device)
    return x[:N_TRAIN], x[N_TRAIN:], y[:N_TRAIN]


def one_vs_many_figure(x_train, models: Mapping[str, object], samples: Mapping[str, tuple],
                       scores: Mapping[str, float]):
    """Top row: each model's density p(x) (filled contours of log p) over the training data.
    Bottom row: samples drawn from each model (z, x) by ancestral sampling, coloured by z.

    Args:
        models: title -> a model with ``log_marginal`` (e.g. ``MixtureOfGaussians``).
        samples: title -> (z, x) drawn from it.
        scores: title -> held-out mean log-likelihood (shown in the title).

    Returns:
        a pyplot figure.
    """
    import matplotlib.pyplot as plt

    x_train = np.asarray(x_train)
    limits = data_limits(x_train)
    fig, axes = plt.subplots(2, len(models), figsize=(4.6 * len(models), 6.6), sharex=True, sharey=True)
    grids = {title: density_grid(model, limits) for title, model in models.items()}
    top = max(float(lp.max()) for _, _, lp in grids.values())
    levels = np.linspace(-12, top, 14)  # the same colours for every model
    for j, (title, (g1, g2, log_p)) in enumerate(grids.items()):
        ax = axes[0, j]
        ax.contourf(g1, g2, np.maximum(log_p, -12), levels=levels, cmap="Blues")
        ax.plot(x_train[:, 0], x_train[:, 1], ".", color="k", ms=1.5, alpha=0.5)
        ax.set_title(f"{title}: held-out log p(x) = {scores[title]:.3f} per point", fontsize=10)
        z, xs = (np.asarray(a) for a in samples[title])
        ax = axes[1, j]
        for k in np.unique(z):
            sel = z == k
            ax.plot(xs[sel, 0], xs[sel, 1], ".", ms=2.5, color=COLORS[int(k) % 10], label=f"z = {int(k)}")
        ax.set_title(f"{title}: {len(z)} samples, coloured by z", fontsize=10)
        ax.legend(loc="lower left", fontsize=7, markerscale=3, ncol=2)
    for ax in axes.ravel():
        ax.set(xlim=limits[0], ylim=limits[1])
        ax.set_aspect("equal", adjustable="box")
    for ax in axes[1]:
        ax.set_xlabel("$x_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$x_2$")
    fig.tight_layout()
    return describe(fig, "Two rows of panels, one column per model. Top: each model’s density p(x) as filled "
                       "contours over the training data. Bottom: samples drawn from each model by first drawing z, "
                       "then x, coloured by z.")


# ----------------------------------------------------------------------------------------
# EM step by step
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EMSteps:
    """The pieces of EM a student writes, handed over as one object (the way numpyro takes
    ``loss=Trace_ELBO()``): ``e_step(x, weights, means, covariances) -> r`` (exercise 2.1),
    ``m_step(x, r) -> (weights, means, covariances)`` (2.2) and ``em_loop`` (2.3, the signature of
    :func:`lvmlib.mixtures.reference.em_loop`). A piece left ``None`` is lvmlib's reference step."""

    e_step: Callable | None = None
    m_step: Callable | None = None
    em_loop: Callable | None = None


def fit_em_start(x_train, random_state: int, *, n_components: int = 4, tol: float = 1e-5,
                 max_iter: int = 500, steps: EMSteps | None = None, reg_covar: float = 1e-6):
    """A full-covariance fit from a ``"random_from_data"`` start (K data points as seeds, each
    point assigned to its nearest), keeping every EM snapshot (``keep_history=True``).

    Without ``steps``: lvmlib's :class:`GaussianMixture` (the fast path).  With ``steps`` (an
    :class:`EMSteps`; ``reg_covar`` is added to its M-step's covariances), EM runs with those pieces from
    the same start and returns an :class:`EMPath`, read like the fit (``history_``, ``n_iter_``,
    ``predict_proba_at``).
    The paths agree iterate by iterate (:func:`path_difference`); the loop stops one iteration earlier
    than scikit-learn's rule, which tests the rise of the previous iteration after the next M-step.
    """
    if steps is not None and not isinstance(steps, EMSteps):
        raise TypeError(f"steps must be an nb02.EMSteps(e_step=..., m_step=..., em_loop=...), got {type(steps).__name__}")
    e_step, m_step, em_loop = (steps.e_step, steps.m_step, steps.em_loop) if steps is not None else (None, None, None)
    if e_step is None and m_step is None and em_loop is None:
        return GaussianMixture(n_components, init_params="random_from_data", random_state=random_state, tol=tol,
                               max_iter=max_iter, keep_history=True).fit(x_train)
    x = torch.as_tensor(x_train, dtype=F64)
    start = GaussianMixture(n_components, init_params="random_from_data", random_state=random_state, reg_covar=reg_covar,
                            max_iter=0).fit(x)  # only the initialization: theta_0 of the fast path
    e_step = e_step or reference.e_step
    m_step = reference.with_reg_covar(m_step or reference.m_step, reg_covar)
    loop = em_loop or reference.em_loop
    theta0 = tuple(torch.as_tensor(np.asarray(a), dtype=F64, device=x.device)
                   for a in (start.weights_, start.means_, start.covariances_))
    params, log_liks, converged = loop(x, *theta0, e_step, m_step, tol=tol, max_iter=max_iter)
    history = {"lower_bound": [float(v) for v in log_liks]}
    for i, name in enumerate(("weights", "means", "covariances")):
        history[name] = torch.stack([torch.as_tensor(p[i]).detach() for p in params])
    return EMPath(history, len(params) - 1, bool(converged), e_step)


@dataclass(frozen=True)
class EMFrames:
    """Everything the EM app draws for one EM run, at every stored iteration t = 0..T (:func:`em_precompute`;
    NumPy arrays, N points, K components, P points per ellipse outline).

    Attributes:
        x: (N, 2) the data.
        lower_bound: (T + 1,) the mean log-likelihood under theta_t (= L(q_t, theta_t), tight after the E-step).
        m_bound: (T,) L(q_t, theta_{t+1}): the bound after the M-step, before the next E-step.
        groups: (T + 1, N) point colours (``ResponsibilityPoints.groups`` of q_t).
        weights: (T + 1, K).  means: (T + 1, K, 2).
        ell1, ell2: (T + 1, K, P, 2) the 1- and 2-standard-deviation ellipses.
        n_iter: T, the EM iterations of the run.  converged: whether it met its tolerance.
    """

    x: np.ndarray
    lower_bound: np.ndarray
    m_bound: np.ndarray
    groups: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    ell1: np.ndarray
    ell2: np.ndarray
    n_iter: int
    converged: bool


def em_precompute(gm: GaussianMixture, x) -> EMFrames:
    """Everything the EM app draws, for every stored iteration of a ``keep_history`` fit (or an :class:`EMPath`).

    Snapshot t holds theta_t (t = 0: the initialization); its responsibilities q_t =
    p(z | x, theta_t) are the E-step that the next M-step uses.

    Returns:
        an :class:`EMFrames` (the bounds, colours, weights, means and ellipses of every t).
    """
    xt = torch.as_tensor(x, dtype=F64, device=x.device if isinstance(x, torch.Tensor) else None)
    h = gm.history_
    weights, means, cov = (np.asarray(h[k]) for k in ("weights", "means", "covariances"))
    n_steps = len(h["lower_bound"])
    resp = [np.asarray(gm.predict_proba_at(xt, t)) for t in range(n_steps)]  # T + 1 of [N, K]
    m_bound = [em_bound(xt, weights[t + 1], means[t + 1], cov[t + 1], resp[t]) for t in range(n_steps - 1)]
    return EMFrames(
        x=xt.cpu().numpy(), lower_bound=np.asarray(h["lower_bound"]), m_bound=np.asarray(m_bound),
        groups=np.stack([ResponsibilityPoints.groups(r) for r in resp]), weights=weights, means=means,
        ell1=np.stack([ellipse_outlines(means[t], cov[t], 1.0) for t in range(n_steps)]),
        ell2=np.stack([ellipse_outlines(means[t], cov[t], 2.0) for t in range(n_steps)]),
        n_iter=int(gm.n_iter_), converged=bool(gm.converged_),
    )


def _sawtooth(frames: EMFrames, upto: int) -> tuple[np.ndarray, np.ndarray]:
    """The path l_0 -> (M) L(q_0, th_1) -> (E) l_1 -> ... -> l_upto, as (iteration, value)."""
    xs, ys = [0.0], [frames.lower_bound[0]]
    for t in range(upto):
        xs += [t + 1.0, t + 1.0]
        ys += [frames.m_bound[t], frames.lower_bound[t + 1]]
    return np.asarray(xs), np.asarray(ys)


def em_app(runs: Mapping[str, EMFrames], *, start: str | None = None, step: int = 0,
           name: str = "02_em_steps") -> SliderApp:
    """Left: the training points coloured by their responsibilities under theta_t, the
    components' 1- and 2-sigma ellipses and means.  Right: the lower bound (mean
    log-likelihood) of every start against the iteration, the chosen one bold with its EM
    sawtooth up to t (M-step: q fixed, theta moves, the bound rises; E-step: the bound
    touches log p again).  Controls: the start, the EM iteration t (past a run's end it
    stays at its converged state).

    Args:
        runs: start name -> :class:`EMFrames` from :func:`em_precompute` (same data, same K).
    """
    wrong = {nm: type(r).__name__ for nm, r in runs.items() if not isinstance(r, EMFrames)}
    if wrong:
        raise TypeError(f"em_app takes {{start name: nb02.em_precompute(fit, x)}} (EMFrames); got {wrong}")
    names = list(runs)
    start = start or names[0]
    first = runs[names[0]]
    t_max = max(r.n_iter for r in runs.values())
    controls = {
        "start": W.Dropdown(options=names, value=start, description="start"),
        "step": W.IntSlider(value=step, min=0, max=t_max, description="EM iteration t"),
    }
    fig = new_figure(10.0, 4.7)
    ax_d = fig.add_axes((0.06, 0.1, 0.42, 0.82))
    ax_b = fig.add_axes((0.58, 0.12, 0.4, 0.78))
    k = first.weights.shape[1]
    pic = MixturePicture(ax_d, first.x, k)
    ax_d.set_title(r"responsibilities $p(z \mid x, \theta_t)$ as colours (pale: shared)", fontsize=10)

    lows = [r.lower_bound[0] for r in runs.values()]
    highs = [r.lower_bound[-1] for r in runs.values()]
    span = max(highs) - min(lows)
    styles = ("-", "--", ":", "-.")
    for i, (nm, r) in enumerate(runs.items()):
        t = np.arange(len(r.lower_bound))
        ax_b.plot(t, r.lower_bound, styles[i % 4], color="0.6", lw=1.0,
                  label=f"{nm}: ends at {r.lower_bound[-1]:.3f} after {r.n_iter} iterations")
    ax_b.set(xlim=(-0.5, t_max + 0.5), ylim=(min(lows) - 0.05 * span, max(highs) + 0.08 * span),
             xlabel="EM iteration t", ylabel=r"mean log-likelihood $\frac{1}{N}\sum_n \log p(x_n \mid \theta_t)$")
    ax_b.set_title("the lower bound never decreases", fontsize=10)
    ax_b.legend(loc="lower right", fontsize=8)
    saw, = ax_b.plot([], [], "-", color="C0", lw=1.6, animated=True)
    dot, = ax_b.plot([], [], "o", color="C3", ms=8, animated=True, zorder=5)
    mdot, = ax_b.plot([], [], "^", color="C2", ms=7, animated=True, zorder=5)

    def redraw(start: str, step: int) -> str:
        r = runs[start]
        t = min(int(step), r.n_iter)
        pic.set(r.groups[t], r.weights[t], r.means[t], r.ell1[t], r.ell2[t])
        xs, ys = _sawtooth(r, t)
        saw.set_data(xs, ys)
        lb = r.lower_bound
        dot.set_data([t], [lb[t]])
        where = f"iteration t = {t} of {r.n_iter}" + (" (converged, the run stops here)" if t == r.n_iter else "")
        text = (f"{start}, {where}: mean log-likelihood {lb[t]:.4f} per point, "
                f"weights &pi; = {_fmt_weights(r.weights[t])}")
        if t < r.n_iter:
            mb = r.m_bound[t]
            mdot.set_data([t + 1], [mb])
            text += (f". Next M-step (q fixed): the bound rises to {mb:.4f} (+{mb - lb[t]:.2e}); "
                     f"next E-step: it touches log p(x) at {lb[t + 1]:.4f} (+{lb[t + 1] - mb:.2e})")
        else:
            mdot.set_data([], [])
        return text

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# the apps as the notebook builds them
# ----------------------------------------------------------------------------------------


def examples():
    """The apps as notebook 02 builds them (for tests and the slider benchmark)."""
    x_train, x_test, _ = blobs_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        runs = {nm: em_precompute(fit_em_start(x_train, s), x_train) for nm, s in EM_STARTS.items()}
    yield "em_steps", em_app(runs, step=3)
    yield "choose_k", k_app(x_train, x_test, k=4)
    d = digits_clusters()
    yield "digit_clusters", cluster_app(d.data.x_train.cpu().numpy(), d.data.y_train.cpu().numpy(), d.clusters,
                                        d.model.means_, d.summary)
