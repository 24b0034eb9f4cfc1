"""Experiment recipes the notebooks run: train one VAE per latent size, pick a few points per
class, cluster the digits with EM restarts.

Notebooks 07 and 08 both train their VAEs with :func:`train_vaes` (the loop notebook 07
writes out), so neither widget module imports the other; notebook 02's digits clustering is
:func:`digits_clusters` (with :func:`cluster_summary` for the cluster-vs-label counts).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from lvmlib.gmm import GaussianMixture
from lvmlib.vae import DIGITS_RECIPE, VAE, train

__all__ = ["LATENT_SIZES", "train_vaes", "per_class", "DIGITS_FIT", "fit_restarts", "cluster_summary",
           "digits_clusters"]

#: latent sizes notebook 07 trains (one VAE each) and its slider offers.
LATENT_SIZES = (2, 4, 8, 16)


def train_vaes(x_train: torch.Tensor, sizes=LATENT_SIZES, epochs: int = DIGITS_RECIPE["epochs"], *,
               x_valid: torch.Tensor | None = None, recipe: dict = DIGITS_RECIPE,
               generator: torch.Generator | None = None, progress: bool = True, device=None) -> tuple[dict, dict]:
    """One VAE per latent size, built and trained one after the other with one generator.

    Each VAE is built on the CPU (its initial weights drawn from ``generator``, the same on
    every device), moved to ``device`` (default: ``x_train``'s device) and trained there.

    ``VAE(D, d, recipe["hidden"], generator=generator)`` then ``train(model, x_train, epochs,
    batch_size=recipe["batch_size"], lr=recipe["lr"], x_valid=x_valid, generator=generator)``:
    the loop notebook 07 writes out.

    Returns:
        (models, histories): dicts latent size -> trained :class:`VAE` / ``train``'s history.
    """
    models, histories = {}, {}
    for d in sizes:
        models[d] = VAE(x_train.shape[1], d, recipe["hidden"], generator=generator).to(
            x_train.device if device is None else device)
        histories[d] = train(models[d], x_train, epochs, batch_size=recipe["batch_size"], lr=recipe["lr"],
                             x_valid=x_valid, generator=generator, progress=progress)
    return models, histories


def per_class(y: torch.Tensor, per: int = 2) -> np.ndarray:
    """Indices of the first ``per`` points of each class 0, 1, ..., in class order."""
    y = np.asarray(y)
    return np.concatenate([np.flatnonzero(y == c)[:per] for c in np.unique(y)])


#: the digits fit: full covariances with reg_covar = 0.05 added to every variance (see the notebook)
DIGITS_FIT = dict(n_components=10, covariance_type="full", reg_covar=0.05, max_iter=200)


def fit_restarts(x, seeds: Sequence[int], **kwargs) -> list[GaussianMixture]:
    """One EM run per seed (``n_init=1``, ``random_state=seed``), ``DIGITS_FIT`` unless overridden."""
    kw = {**DIGITS_FIT, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [GaussianMixture(random_state=int(s), **kw).fit(x) for s in seeds]


def cluster_summary(clusters, labels, n_labels: int = 10) -> dict:
    """Cluster against label counts, and an order of the clusters for pictures.

    Args:
        clusters: (N,) cluster index 0..K-1 of every point.  labels: (N,) true label 0..C-1.

    Returns:
        dict: ``counts`` (K, C), ``order`` (K,) clusters sorted by majority label then size,
        ``majority`` (K,), ``purity`` (K,) share of the majority label, ``size`` (K,).
    """
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    k = int(clusters.max()) + 1
    counts = np.zeros((k, n_labels), dtype=int)
    np.add.at(counts, (clusters, labels), 1)
    size = counts.sum(1)
    majority = counts.argmax(1)
    purity = counts.max(1) / np.maximum(size, 1)
    order = np.lexsort((-size, majority))
    return {"counts": counts, "order": order, "majority": majority, "purity": purity, "size": size}


def digits_clusters(seeds: Sequence[int] = range(10)) -> dict:
    """The notebook's digits fit: one EM run (``DIGITS_FIT``) per seed, the one with the highest
    training log-likelihood kept (what ``n_init`` does; the labels play no part in the choice).

    Returns:
        dict: ``data`` (the ``load_dataset("digits")`` Dataset), ``x_train`` / ``x_test``
        (float64), ``fits`` (one per seed), ``train_ll`` (mean log-likelihood per image of each
        fit), ``ari`` (adjusted Rand index of each fit's clusters with the training labels),
        ``best`` (index of the kept fit), ``model``, ``clusters`` / ``clusters_test`` (cluster
        of every image), ``summary`` (:func:`cluster_summary` on the training images).
    """
    from sklearn.metrics import adjusted_rand_score

    from lvmlib.data import load_dataset

    data = load_dataset("digits")
    x_train, x_test = data.x_train.double(), data.x_test.double()
    y_train = data.y_train.cpu().numpy()
    fits = fit_restarts(x_train, seeds)
    train_ll = np.asarray([f.score(x_train) for f in fits])
    ari = np.asarray([adjusted_rand_score(y_train, np.asarray(f.predict(x_train))) for f in fits])
    best = int(np.argmax(train_ll))
    model = fits[best]
    clusters = np.asarray(model.predict(x_train))
    return {"data": data, "x_train": x_train, "x_test": x_test, "fits": fits, "train_ll": train_ll, "ari": ari,
            "best": best, "model": model, "clusters": clusters, "clusters_test": np.asarray(model.predict(x_test)),
            "summary": cluster_summary(clusters, y_train)}
