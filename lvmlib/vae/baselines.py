"""Scoring VAEs on held-out data, and the latent-free baselines they are compared with, in nats.

:func:`score_vaes` gives each VAE's ELBO and importance-sampled log p(x) (the encoder as proposal,
Burda et al. 2016) with standard errors across points; :func:`independent_pixels` is the model with
no latent at all, and :func:`baseline_scores` the exact held-out log p(x) of it and of fitted
mixtures of Bernoullis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import Bernoulli, Distribution, Independent

from lvmlib._util import MeanSE, mean_se
from lvmlib.vae.training import evaluate_points

__all__ = ["VAEScore", "score_vaes", "independent_pixels", "baseline_scores"]


@dataclass
class VAEScore:
    """One VAE's held-out bounds in nats per point: means over the B points, standard errors across
    points (the gap's is paired), and the per-point values.

    Attributes:
        elbo, elbo_se: the ELBO.
        log_p, log_p_se: importance-sampled log p(x) with ``k`` samples.
        gap, gap_se: log_p - elbo.
        k: samples of the log p(x) estimate.
        elbo_points, log_p_points: [B] per-point values (NumPy).

    Taught in notebook 07 (The variational autoencoder).
    """

    elbo: float
    elbo_se: float
    log_p: float
    log_p_se: float
    gap: float
    gap_se: float
    k: int
    elbo_points: np.ndarray
    log_p_points: np.ndarray


@torch.no_grad()
def score_vaes(models: dict, x: torch.Tensor, *, num_samples: int = 1000, elbo_samples: int = 100,
               generator: torch.Generator | None = None) -> dict:
    """Held-out ELBO and importance-sampled log p(x) of each VAE, in nats per point.

    ELBO: ``model.elbo(x, elbo_samples)`` (the mean of ``elbo_samples`` one-sample terms per
    point).  log p(x): :func:`lvmlib.vae.evaluate_points` (what ``vae.evaluate`` averages:
    importance sampling with the encoder as proposal) with ``num_samples`` samples (its own,
    independent of the ELBO's), log (1/K) sum_k p(x, z_k) / q(z_k | x), a lower bound in
    expectation that tightens as K grows (Burda et al. 2016 use K = 5000).

    Args:
        models: latent size (or any key) -> VAE.
        x: [B, Dx].

    Returns:
        dict key -> :class:`VAEScore`.

    Taught in notebook 07 (The variational autoencoder).
    """
    out = {}
    for d, model in models.items():
        elbo = model.elbo(x, elbo_samples, generator=generator)  # [B]
        log_p = evaluate_points(model, x, num_samples, generator=generator)  # [B]
        e, lp, gap = mean_se(elbo.double()), mean_se(log_p.double()), mean_se((log_p - elbo).double())
        out[d] = VAEScore(e.mean, e.se, lp.mean, lp.se, gap.mean, gap.se, num_samples,
                          elbo.cpu().numpy(), log_p.cpu().numpy())
    return out


def independent_pixels(x_train: torch.Tensor, alpha: float = 1.0) -> Distribution:
    """p(x) = prod_d Bernoulli(x_d; p_d), p_d = (ones_d + alpha) / (N + 2 alpha) (Laplace
    smoothing, as ``BernoulliMixture`` with K = 1): the model with no latent at all.

    Returns:
        ``Independent(Bernoulli(probs=p), 1)``, event shape [D].

    Taught in notebook 07 (The variational autoencoder).
    """
    p = (x_train.sum(0) + alpha) / (x_train.shape[0] + 2 * alpha)  # [D]
    return Independent(Bernoulli(probs=p), 1)


def baseline_scores(pixels: Distribution, mixtures: dict, x: torch.Tensor) -> dict[str, MeanSE]:
    """Exact held-out log p(x) of the latent-free model and of fitted ``BernoulliMixture`` s.

    Args:
        pixels: :func:`independent_pixels`.
        mixtures: K -> fitted ``BernoulliMixture``.
        x: tensor [B, D].

    Returns:
        dict name -> ``MeanSE(mean, se)`` (a named pair) in nats per point; names
        ``"independent pixels"`` and ``"mixture K=10"``, ...

    Taught in notebook 07 (The variational autoencoder).
    """
    out = {"independent pixels": mean_se(pixels.log_prob(x).double())}
    for k, mixture in mixtures.items():
        out[f"mixture K={k}"] = mean_se(torch.as_tensor(mixture.score_samples(x)).double())
    return out
