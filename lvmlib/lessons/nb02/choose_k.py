"""Notebook 02, choosing K: refits of the 2-D data for every K (and seed), their scores, and the K app.

- :func:`k_app` (from :func:`k_fits`): a slider over K and the initialization seed; every fit is
  made once before the app is drawn (a 2-D fit of 1000 points takes milliseconds, measured by
  :func:`time_refits`), the callback only picks; shows how a too-small or too-large K looks.
- :func:`k_sweep_figure` (from :func:`k_sweep`): log-likelihood and BIC against K.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Sequence

import ipywidgets as W
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from lvmlib.device import one_thread
from lvmlib.lessons.nb02.picture import MixturePicture
from lvmlib.mixtures import GaussianMixture
from lvmlib.plotting import ResponsibilityPoints, describe, ellipse_outlines, new_figure
from lvmlib.widgets.app import SliderApp

__all__ = ["refit", "RefitTimes", "time_refits", "FitNumbers", "fit_numbers", "KFit", "k_fits", "k_app", "KSweep",
           "k_sweep", "k_sweep_figure"]


@dataclass(frozen=True)
class RefitTimes:
    """Seconds per :func:`refit` (:func:`time_refits`), medians over the seeds.

    Attributes:
        wall: {K: seconds} wall-clock (what a slider move waits for).
        cpu: {K: seconds} CPU time of this process (what the fit costs; steadier on a busy machine).
    """

    wall: dict[int, float]
    cpu: dict[int, float]


@dataclass(frozen=True)
class FitNumbers:
    """What the K app and :func:`k_sweep` report about one fit (:func:`fit_numbers`).

    Attributes:
        train_ll, test_ll: mean log-likelihood per point of the training and of the held-out data.
        bic, aic: on the training data (lower is better).
        n_params: free parameters P.  n_iter: EM iterations of the kept run.
    """

    train_ll: float
    test_ll: float
    bic: float
    aic: float
    n_params: int
    n_iter: int


@dataclass(frozen=True)
class KFit:
    """One fit the K app can show (:func:`k_fits`), as NumPy arrays (N points, K components, 2-D data).

    Attributes:
        resp: (N, K) responsibilities of the training points.
        weights: (K,).  means: (K, 2).  covariances: (K, 2, 2).
        numbers: its :class:`FitNumbers`.  seconds: wall-clock time of the fit.
    """

    resp: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    numbers: FitNumbers
    seconds: float


@dataclass(frozen=True)
class KSweep:
    """Scores against K (:func:`k_sweep`), NumPy arrays of shape (len(ks),).

    Attributes:
        ks: the K values.  train_ll, test_ll: mean log-likelihood per point (training, held-out data).
        bic, aic: on the training data.  n_params: free parameters of each fit.
    """

    ks: np.ndarray
    train_ll: np.ndarray
    test_ll: np.ndarray
    bic: np.ndarray
    aic: np.ndarray
    n_params: np.ndarray


def refit(x_train, k: int, seed: int = 0, **kwargs) -> GaussianMixture:
    """The K app's fit: ``GaussianMixture(k, random_state=seed)`` (full covariances, k-means
    start, scikit-learn's defaults), without the convergence warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(k, random_state=seed, **kwargs).fit(x_train)


def time_refits(x_train, ks: Sequence[int], seeds: Sequence[int] = range(5)) -> RefitTimes:
    """Seconds per :func:`refit` for each K: the median over ``seeds`` of the wall-clock time
    (what a slider move waits for) and of the CPU time of this process (what the fit costs;
    less sensitive to other jobs on a busy machine).

    Returns:
        a :class:`RefitTimes` ({K: seconds} for ``wall`` and ``cpu``, in the order of ``ks``).
    """
    med_wall: dict[int, float] = {}
    med_cpu: dict[int, float] = {}
    for k in ks:
        wall, cpu = [], []
        for s in seeds:
            t0, c0 = time.perf_counter(), time.process_time()
            refit(x_train, int(k), int(s))
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        med_wall[int(k)] = float(np.median(wall))
        med_cpu[int(k)] = float(np.median(cpu))
    return RefitTimes(wall=med_wall, cpu=med_cpu)


def fit_numbers(gm: GaussianMixture, x_train, x_test) -> FitNumbers:
    """The scores of a fitted mixture: train / held-out mean log-likelihood, BIC, AIC, parameters, iterations."""
    return FitNumbers(train_ll=gm.score(x_train), test_ll=gm.score(x_test), bic=gm.bic(x_train), aic=gm.aic(x_train),
                      n_params=gm.n_parameters(), n_iter=gm.n_iter_)


def k_fits(x_train, x_test, ks: Sequence[int], seeds: Sequence[int]) -> dict[tuple[int, int], KFit]:
    """Every fit the K app can show, made once: {(k, seed): :class:`KFit`} (a 2-D fit of 1000 points
    takes milliseconds; see :func:`time_refits`)."""
    out = {}
    with one_thread():
        for k in ks:
            for seed in seeds:
                t0 = time.perf_counter()
                gm = refit(x_train, int(k), int(seed))
                seconds = time.perf_counter() - t0
                out[int(k), int(seed)] = KFit(np.asarray(gm.predict_proba(x_train)), np.asarray(gm.weights_),
                                              np.asarray(gm.means_), np.asarray(gm.covariances_),
                                              fit_numbers(gm, x_train, x_test), seconds)
    return out


def k_app(x_train, x_test, *, k: int = 4, seed: int = 0, k_max: int = 10, seed_max: int = 9,
          name: str = "02_choose_k") -> SliderApp:
    """The training points coloured by responsibilities, with the ellipses of a K-component
    fit, for every K and initialization seed (all fitted before the app is built, by
    :func:`k_fits`; the callback only picks and redraws).  The text line shows the train /
    held-out mean log-likelihood, BIC and what the fit took."""
    x_np = np.asarray(x_train)
    controls = {
        "k": W.IntSlider(value=k, min=1, max=k_max, description="components K"),
        "seed": W.IntSlider(value=seed, min=0, max=seed_max, description="init seed"),
    }
    fits = k_fits(x_train, x_test, range(1, k_max + 1), range(seed_max + 1))
    fig = new_figure(6.4, 5.2)
    ax = fig.add_axes((0.1, 0.09, 0.86, 0.84))
    pic = MixturePicture(ax, x_np, k_max)
    ax.title.set_animated(True)

    def redraw(k: int, seed: int) -> str:
        fit = fits[int(k), int(seed)]
        means, cov, nums = fit.means, fit.covariances, fit.numbers
        pic.set(ResponsibilityPoints.groups(fit.resp), fit.weights, means,
                ellipse_outlines(means, cov, 1.0), ellipse_outlines(means, cov, 2.0))
        ax.set_title(f"K = {k} component{'s' if k > 1 else ''} (init seed {seed})", fontsize=10)
        return (f"K = {k}: mean log-likelihood {nums.train_ll:.3f} (train), <b>{nums.test_ll:.3f} (held out)</b>; "
                f"BIC {nums.bic:.0f} ({nums.n_params} parameters); {nums.n_iter} EM iterations, "
                f"fitted in {1000 * fit.seconds:.0f} ms")

    app = SliderApp(fig, controls, redraw, name=name)
    app.refit_seconds = [f.seconds for f in fits.values()]
    return app


def k_sweep(x_train, x_test, ks: Sequence[int] = range(1, 11), *, n_init: int = 3, random_state: int = 0) -> KSweep:
    """Fit K = each of ``ks`` (best of ``n_init`` starts) and score it.

    Returns:
        a :class:`KSweep`: arrays over ``ks`` of the mean log-likelihood per point (``train_ll``,
        ``test_ll``), ``bic``, ``aic`` and ``n_params``.
    """
    rows = [fit_numbers(refit(x_train, int(k), random_state, n_init=n_init), x_train, x_test) for k in ks]
    names = ("train_ll", "test_ll", "bic", "aic", "n_params")
    scores = {name: np.asarray([getattr(r, name) for r in rows]) for name in names}
    return KSweep(ks=np.asarray(list(ks)), **scores)


def k_sweep_figure(sweep: KSweep):
    """Left: mean log-likelihood per point, training and held-out data, against K.  Right:
    BIC = -2 log L + (parameters) log N against K (lower is better), its minimum marked.

    Args:
        sweep: a :class:`KSweep` (:func:`k_sweep`).

    Returns:
        a pyplot figure.
    """
    import matplotlib.pyplot as plt

    ks = sweep.ks
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax0.plot(ks, sweep.train_ll, "o-", color="C0", label="training data")
    ax0.plot(ks, sweep.test_ll, "s-", color="C1", label="held-out data")
    best = ks[int(np.argmax(sweep.test_ll))]
    ax0.axvline(best, color="C1", lw=0.8, ls=":")
    ax0.set(xlabel="components K", ylabel="mean log p(x) per point", xticks=ks,
            title="more components always fit the training data better")
    ax0.legend(loc="lower right", fontsize=9)
    ax1.plot(ks, sweep.bic, "o-", color="C2")
    kb = int(np.argmin(sweep.bic))
    ax1.plot([ks[kb]], [sweep.bic[kb]], "o", color="C3", ms=12, mfc="none", mew=2,
             label=f"minimum at K = {ks[kb]}")
    ax1.set(xlabel="components K", ylabel="BIC (lower is better)", xticks=ks,
            title=r"BIC $= -2 \log L + (\#\mathrm{parameters}) \log N$")
    ax1.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    return describe(fig, "Two panels against the number of components K. Left: mean log-likelihood per point on the "
                       "training and the held-out data. Right: BIC (lower is better), with its minimum marked.")
