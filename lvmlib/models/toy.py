"""The 1-D toy problem of notebooks 05 and 06 and its exact answers.

A ``LinearGaussian`` with a 1-D latent and a 1-D observation, and one observed x chosen so that
the exact posterior is p(z | x) = N(1.5, 0.25^2): the integrand p(x, z) = p(x) p(z | x) is a
Gaussian bump, every number has an exact answer (:func:`second_moment_of_weights`), and a
Gaussian q can *be* the posterior (zero variance).  The lessons (``lvmlib.lessons.nb05``,
``nb06``) draw it and the exercise checks of both notebooks test on it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lvmlib.models.linear import LinearGaussian

__all__ = ["POSTERIOR_MEAN", "POSTERIOR_SCALE", "toy_problem", "second_moment_of_weights"]

POSTERIOR_MEAN, POSTERIOR_SCALE = 1.5, 0.25


def toy_problem(post_mean: float = POSTERIOR_MEAN, post_scale: float = POSTERIOR_SCALE, sigma: float = 0.5,
                *, dtype=torch.float64, device=None) -> tuple[LinearGaussian, torch.Tensor]:
    """A 1-D linear Gaussian model and one observation whose posterior is N(post_mean, post_scale^2).

    z ~ N(0, 1), x | z ~ N(w z, sigma^2).  The posterior of a linear Gaussian model is
    N(w x / (w^2 + sigma^2), sigma^2 / (w^2 + sigma^2)), so w = sigma sqrt(1 / s^2 - 1) and
    x = m (w^2 + sigma^2) / w give the posterior N(m, s^2) (it needs s < 1, narrower than
    the prior).

    Returns:
        (model, x): a ``LinearGaussian`` with W of shape [1, 1], and x of shape [1, 1], on ``device``.

    Taught in notebook 05 (Importance sampling); also used in 06.
    """
    if not 0 < post_scale < 1:
        raise ValueError(f"post_scale must lie in (0, 1) (narrower than the prior), got {post_scale}")
    w = sigma * math.sqrt(1.0 / post_scale**2 - 1.0)
    x = post_mean * (w**2 + sigma**2) / w
    model = LinearGaussian(torch.tensor([[w]], dtype=dtype, device=device), None, sigma)
    return model, torch.tensor([[x]], dtype=dtype, device=device)


def second_moment_of_weights(mean, scale, post_mean: float = POSTERIOR_MEAN, post_scale: float = POSTERIOR_SCALE):
    """E_q[(w / p(x))^2] for q = N(mean, scale^2) and a Gaussian posterior N(m, s^2), exactly.

    With w = p(x, z) / q(z) = p(x) p(z | x) / q(z):
    E_q[(w / p(x))^2] = integral of p(z | x)^2 / q(z) dz
                      = t^2 / (s sqrt(2 t^2 - s^2)) exp((m - mean)^2 / (2 t^2 - s^2))  (t = scale),
    finite only when 2 t^2 > s^2: a q narrower than s / sqrt(2) gives weights of infinite
    variance.  Var(p-hat / p(x)) = (this - 1) / N, and ESS / N -> 1 / this as N grows.

    Returns:
        a float or an array shaped like the broadcast of mean and scale (``inf`` where infinite).

    Taught in notebook 05 (Importance sampling).
    """
    mean, t = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(scale, dtype=float))
    d = 2 * t**2 - post_scale**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        finite = t**2 / (post_scale * np.sqrt(np.abs(d))) * np.exp((post_mean - mean) ** 2 / np.abs(d))
        out = np.where(d > 1e-9 * post_scale**2, finite, np.inf)
    return out if out.ndim else float(out)
