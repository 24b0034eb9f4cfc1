"""Initial responsibilities for mixture EM: k-means++, k-means (Lloyd), random, random data points.

EM needs a starting point; as in scikit-learn (``sklearn/mixture/_base.py``,
``_initialize_parameters``) the initializations here produce responsibilities r [N, K]
and the first M-step turns them into parameters.  All randomness comes from a
``torch.Generator`` made by ``make_generator`` (global seeds are never touched).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from lvmlib._util import noise
from lvmlib.mixtures._cpu import mm, sum_last

__all__ = ["INIT_METHODS", "initial_responsibilities", "kmeans_plusplus", "lloyd", "make_generator"]

INIT_METHODS = ("kmeans", "k-means++", "kmeans++", "random", "random_from_data")


def make_generator(random_state, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` from a ``random_state`` argument, never touching global seeds.

    Args:
        random_state: ``None`` (a fresh seed drawn from torch's default generator), an int
            (a new generator on ``device`` seeded with it, so refits repeat), a
            ``torch.Generator`` (used as is; its state advances), or a NumPy
            ``Generator`` / ``RandomState`` (a seed is drawn from it).
        device: where random numbers are wanted (used for a new generator).

    Returns:
        torch.Generator
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    if random_state is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        seed = int(random_state)
        if seed < 0:
            raise ValueError(f"random_state must be a non-negative int, got {seed}")
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(0, 2**62))
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(0, 2**31 - 1))
    else:
        raise ValueError(
            f"random_state must be None, an int, a torch.Generator or a NumPy Generator/RandomState, "
            f"got {type(random_state).__name__}"
        )
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except RuntimeError:  # a device without its own generator type
        return torch.Generator().manual_seed(seed)


def wide_float(device: torch.device) -> torch.dtype:
    """float64 where the device has it (for cumulative sums), else float32 (Apple MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _sq_distances(A: torch.Tensor, X: torch.Tensor, x_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ||a_i - x_n||^2, clamped at 0. Returns: shape (len(A), len(X))."""
    d = sum_last(A * A)[:, None] - 2.0 * mm(A, X.T)  # [M, N]
    return d.add_(x_sq).clamp_min_(0.0)


def kmeans_plusplus(X: torch.Tensor, n_clusters: int, generator: torch.Generator,
                    n_local_trials: int | None = None) -> torch.Tensor:
    """Greedy k-means++ seeding (Arthur and Vassilvitskii 2007), as scikit-learn does it.

    The first center is a uniformly drawn point; each next one is the best (lowest
    potential sum_n min_c ||x_n - c||^2) of ``n_local_trials`` candidates drawn with
    probability proportional to the squared distance to the closest chosen center.

    Args:
        X: tensor of shape (N, D).
        n_clusters: K <= N.
        generator: the randomness.
        n_local_trials: candidates per center (default 2 + int(log K), scikit-learn's).

    Returns:
        tensor of shape (K,): indices of the chosen rows of ``X`` (on X's device).
    """
    n = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    x_sq = sum_last(X * X)  # [N]
    wide = wide_float(X.device)
    first = (noise("rand", (1,), generator, dtype=wide, device=X.device) * n).long().clamp_(max=n - 1)
    indices = [first]
    closest = _sq_distances(X[first], X, x_sq)[0]  # [N]
    for _ in range(1, n_clusters):
        cum = torch.cumsum(closest.to(wide), 0)  # [N]
        u = noise("rand", (n_local_trials,), generator, dtype=wide, device=X.device) * cum[-1]
        cand = torch.searchsorted(cum, u).clamp_(max=n - 1)  # [T]
        d = torch.minimum(_sq_distances(X[cand], X, x_sq), closest)  # [T, N]
        best = d.sum(1).argmin()
        closest = d[best]
        indices.append(cand[best].reshape(1))
    return torch.cat(indices)


def lloyd(X: torch.Tensor, centers: torch.Tensor, max_iter: int = 100) -> torch.Tensor:
    """Lloyd's k-means iterations from ``centers`` until the labels stop changing.

    Returns: tensor of shape (N,), int64 labels.
    """
    x_sq = sum_last(X * X)
    labels = _sq_distances(X, centers, sum_last(centers * centers)).argmin(1)  # [N]
    k = centers.shape[0]
    for _ in range(max_iter):
        counts = torch.bincount(labels, minlength=k).to(X.dtype)  # [K]
        sums = torch.zeros_like(centers).index_add_(0, labels, X)  # [K, D]
        centers = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centers)
        new = _sq_distances(centers, X, x_sq).argmin(0)  # [N]
        if torch.equal(new, labels):  # one host sync per k-means step (initialization only)
            break
        labels = new
    return labels


def initial_responsibilities(X: torch.Tensor, n_components: int, method: str, generator: torch.Generator,
                             dtype: torch.dtype) -> torch.Tensor:
    """Responsibilities to start EM from.

    ``"random"``: rows of uniform draws, normalized.  The others give one-hot rows:
    ``"kmeans"``: k-means++ seeds, then Lloyd's iterations; ``"k-means++"`` / ``"kmeans++"``:
    each point to its nearest k-means++ seed; ``"random_from_data"``: each point to its nearest
    of K distinct uniformly drawn data points.  Like scikit-learn's KMeans, a
    ``ConvergenceWarning`` says when fewer than K clusters are non-empty (duplicated points).

    Returns: tensor of shape (N, K), rows summing to 1.
    """
    n, k, device = X.shape[0], n_components, X.device
    if method == "random":
        resp = noise("rand", (n, k), generator, dtype=dtype, device=device)
        return resp / resp.sum(1, keepdim=True)  # [N, K]
    if method == "random_from_data":
        seeds = noise("rand", (n,), generator, dtype=wide_float(device), device=device).argsort()[:k]  # k distinct rows
    else:
        seeds = kmeans_plusplus(X, k, generator)  # [K]
    if method == "kmeans":
        labels = lloyd(X, X[seeds])
    else:
        labels = _sq_distances(X[seeds], X, sum_last(X * X)).argmin(0)  # [N]: nearest seed
    distinct = int(torch.unique(labels).numel())
    if distinct < k:
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than n_components ({k}). Possibly due to "
            "duplicate points in X: use fewer components, or another init_params.",
            ConvergenceWarning, stacklevel=4,
        )
    resp = torch.zeros(n, k, dtype=dtype, device=device)
    return resp.scatter_(1, labels[:, None], 1.0)  # [N, K], one-hot
