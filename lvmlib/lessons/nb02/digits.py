"""Notebook 02's digits experiment: EM restarts on the 8x8 digits, clusters against labels."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import ipywidgets as W
import numpy as np
from matplotlib.patches import Rectangle
from sklearn.exceptions import ConvergenceWarning

from lvmlib.mixtures import GaussianMixture
from lvmlib.plotting import describe, new_figure, tile_images
from lvmlib.widgets import SliderApp

__all__ = ["DIGITS_FIT", "fit_restarts", "ClusterSummary", "cluster_summary", "DigitsClusters", "digits_clusters"]


#: the digits fit: full covariances with reg_covar = 0.05 added to every variance (see the notebook)
DIGITS_FIT = dict(n_components=10, covariance_type="full", reg_covar=0.05, max_iter=200)


def fit_restarts(x, seeds: Sequence[int], **kwargs) -> list[GaussianMixture]:
    """One EM run per seed (``n_init=1``, ``random_state=seed``), ``DIGITS_FIT`` unless overridden."""
    kw = {**DIGITS_FIT, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [GaussianMixture(random_state=int(s), **kw).fit(x) for s in seeds]


@dataclass(frozen=True)
class ClusterSummary:
    """Clusters against true labels (numpy arrays, K clusters, C labels).

    Attributes:
        counts: (K, C) how many images of each label landed in each cluster.
        order: (K,) the clusters sorted by majority label, then by size (largest first): the order of pictures.
        majority: (K,) each cluster's most frequent label.
        purity: (K,) the share of that label in the cluster.
        size: (K,) images per cluster.
    """

    counts: np.ndarray
    order: np.ndarray
    majority: np.ndarray
    purity: np.ndarray
    size: np.ndarray


@dataclass(frozen=True)
class DigitsClusters:
    """Notebook 02's digits fit (:func:`digits_clusters`).

    Attributes:
        data: the :class:`lvmlib.data.Dataset` that was fitted.
        x_train, x_test: its images in float64, [N, D] and [M, D].
        fits: one fitted :class:`lvmlib.mixtures.GaussianMixture` per seed.
        train_ll: (seeds,) mean training log-likelihood per image of each fit.
        ari: (seeds,) adjusted Rand index of each fit's clusters with the training labels.
        best: index of the kept fit (the highest ``train_ll``; the labels play no part).
        model: ``fits[best]``.
        clusters, clusters_test: (N,) and (M,) the kept fit's cluster of every image.
        summary: :func:`cluster_summary` of the training images.
    """

    data: object
    x_train: object
    x_test: object
    fits: list
    train_ll: np.ndarray
    ari: np.ndarray
    best: int
    model: GaussianMixture
    clusters: np.ndarray
    clusters_test: np.ndarray
    summary: ClusterSummary


def cluster_summary(clusters, labels, n_labels: int = 10) -> ClusterSummary:
    """Cluster against label counts, and an order of the clusters for pictures.

    Args:
        clusters: (N,) cluster index 0..K-1 of every point.  labels: (N,) true label 0..C-1.

    Returns:
        a :class:`ClusterSummary`.
    """
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    k = int(clusters.max()) + 1
    counts = np.zeros((k, n_labels), dtype=int)
    np.add.at(counts, (clusters, labels), 1)
    size = counts.sum(1)
    majority = counts.argmax(1)
    purity = counts.max(1) / np.maximum(size, 1)
    order = np.lexsort((-size, majority))
    return ClusterSummary(counts=counts, order=order, majority=majority, purity=purity, size=size)


def digits_clusters(seeds: Sequence[int] = range(10), data=None) -> DigitsClusters:
    """The notebook's digits fit: one EM run (``DIGITS_FIT``) per seed, the one with the highest
    training log-likelihood kept (what ``n_init`` does; the labels play no part in the choice).
    ``data``: a :class:`lvmlib.data.Dataset` (default ``load_dataset("digits")``; notebook 02's
    parameters cell may pass Fashion-MNIST).

    Returns:
        a :class:`DigitsClusters`.
    """
    from sklearn.metrics import adjusted_rand_score

    from lvmlib.data import load_dataset

    data = load_dataset("digits") if data is None else data
    x_train, x_test = data.x_train.double(), data.x_test.double()
    y_train = data.y_train.cpu().numpy()
    fits = fit_restarts(x_train, seeds)
    train_ll = np.asarray([f.score(x_train) for f in fits])
    ari = np.asarray([adjusted_rand_score(y_train, np.asarray(f.predict(x_train))) for f in fits])
    best = int(np.argmax(train_ll))
    model = fits[best]
    clusters = np.asarray(model.predict(x_train))
    return DigitsClusters(data=data, x_train=x_train, x_test=x_test, fits=fits, train_ll=train_ll, ari=ari,
                          best=best, model=model, clusters=clusters, clusters_test=np.asarray(model.predict(x_test)),
                          summary=cluster_summary(clusters, y_train))



def cluster_means_figure(means, summary: ClusterSummary, image_shape=(8, 8)):
    """The K cluster means as images, in the summary's order, titled with the majority true
    label and its share.  Returns: a pyplot figure."""
    import matplotlib.pyplot as plt

    means = np.asarray(means)
    order = summary.order
    fig, axes = plt.subplots(1, len(order), figsize=(1.05 * len(order), 1.6))
    for ax, c in zip(axes, order):
        ax.imshow(np.clip(means[c], 0, 1).reshape(image_shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{summary.majority[c]} ({100 * summary.purity[c]:.0f}%)", fontsize=9)
        ax.set_xlabel(f"n = {summary.size[c]}", fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.8, bottom=0.12, wspace=0.1)
    return describe(fig, "The cluster means of the mixture fitted to the digits, each shown as an 8x8 image and "
                       "titled with the most common true digit in its cluster and that digit’s share: most means "
                       "look like one digit.")


def restarts_figure(log_lik, ari, chosen: int):
    """One point per EM restart: its training log-likelihood against the adjusted Rand index
    of its clusters with the true labels; the chosen (best likelihood) run circled.

    Returns: a pyplot figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.plot(log_lik, ari, "o", color="C0", ms=7)
    ax.plot([log_lik[chosen]], [ari[chosen]], "o", color="C3", ms=14, mfc="none", mew=2,
            label="highest likelihood (kept)")
    ax.set(xlabel="mean log-likelihood per image (training)", ylabel="adjusted Rand index\nclusters vs true labels",
           title="EM restarts: likelihood does not know the labels")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return describe(fig, "Scatter of the EM restarts: each restart’s training log-likelihood (x axis) against how "
                       "well its clusters match the true digits (adjusted Rand index, y axis); the run with the "
                       "best likelihood, the one kept, is circled.")


def cluster_app(x, labels, clusters, means, summary: ClusterSummary, *, image_shape=(8, 8), cluster: int = 0,
                per_label: int = 8, rows: int = 4, name: str = "02_digit_clusters") -> SliderApp:
    """Left: how many images of each true label (columns) landed in each cluster (rows,
    ordered by majority label), the chosen cluster framed.  Middle: its mean.  Right: its
    members grouped by true label (the ``rows`` most frequent labels, up to ``per_label``
    images each).  Slider: the cluster (position in that order)."""
    x, labels, clusters = np.asarray(x), np.asarray(labels), np.asarray(clusters)
    means = np.clip(np.asarray(means), 0, 1)
    counts, order = summary.counts, summary.order
    k, c = counts.shape
    h, w = image_shape
    # members of each cluster by label, in data order (deterministic)
    members = {(cl, lab): np.flatnonzero((clusters == cl) & (labels == lab)) for cl in range(k) for lab in range(c)}
    controls = {"cluster": W.IntSlider(value=cluster, min=0, max=k - 1, description="cluster")}

    fig = new_figure(11.0, 4.6)
    ax_c = fig.add_axes((0.1, 0.1, 0.3, 0.8))
    ax_m = fig.add_axes((0.42, 0.3, 0.12, 0.42))
    ax_g = fig.add_axes((0.62, 0.06, 0.37, 0.84))
    shown = counts[order]
    ax_c.imshow(shown, cmap="Blues", vmin=0, vmax=shown.max() * 1.2, aspect="auto")
    for i in range(k):
        for j in range(c):
            if shown[i, j]:
                ax_c.text(j, i, str(shown[i, j]), ha="center", va="center", fontsize=7,
                          color="w" if shown[i, j] > 0.6 * shown.max() else "k")
    ax_c.set_xticks(range(c))
    ax_c.set_yticks(range(k))
    ax_c.set_yticklabels([f"{i}: mostly {summary.majority[cl]}" for i, cl in enumerate(order)], fontsize=8)
    ax_c.set(xlabel="true label", title="images per cluster and true label")
    frame = Rectangle((-0.5, -0.5), c, 1, fill=False, ec="C3", lw=2.5, animated=True)
    ax_c.add_patch(frame)

    mean_img = ax_m.imshow(np.zeros(image_shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest", animated=True)
    ax_m.set_title("cluster mean", fontsize=10)

    pad, fill = 1, 0.15  # light grey between and behind the tiles
    grid = ax_g.imshow(tile_images(np.zeros((rows * per_label, h * w)), image_shape, ncols=per_label, pad=pad,
                                   fill=fill), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest", animated=True)
    ax_g.set_title("its members, one row per true label", fontsize=10)
    row_text = [ax_g.text(-0.8, r * (h + pad) + h / 2 - 0.5, "", ha="right", va="center", fontsize=9, animated=True)
                for r in range(rows)]
    for ax in (ax_m, ax_g):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)

    def redraw(cluster: int) -> str:
        i = int(cluster)
        cl = int(order[i])
        frame.set_y(i - 0.5)
        mean_img.set_data(means[cl].reshape(image_shape))
        labs = [lab for lab in np.argsort(-counts[cl], kind="stable")[:rows] if counts[cl, lab] > 0]
        imgs = np.full((rows * per_label, h * w), fill)
        for r in range(rows):
            row_text[r].set_text("")
        for r, lab in enumerate(labs):
            idx = members[(cl, lab)][:per_label]
            imgs[r * per_label: r * per_label + len(idx)] = x[idx]
            row_text[r].set_text(f"label {lab}: {counts[cl, lab]}")
        grid.set_data(tile_images(imgs, image_shape, ncols=per_label, pad=pad, fill=fill))
        parts = ", ".join(f"{counts[cl, lab]} &times; '{lab}'" for lab in np.argsort(-counts[cl], kind="stable")
                          if counts[cl, lab] > 0)
        return (f"cluster {i} (mostly {summary.majority[cl]}, {100 * summary.purity[cl]:.0f}% of its "
                f"{summary.size[cl]} images): {parts}")

    return SliderApp(fig, controls, redraw, name=name)

