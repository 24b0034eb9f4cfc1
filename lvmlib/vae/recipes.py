"""Experiment recipes the notebooks run: train one VAE per latent size, pick a few points per
class, cluster the digits with EM restarts.

Notebooks 07 and 08 both train their VAEs with :func:`train_vaes` (the loop notebook 07
writes out), so neither widget module imports the other; notebook 02's digits clustering is
:func:`digits_clusters` (with :func:`cluster_summary` for the cluster-vs-label counts).
"""

from __future__ import annotations

import numpy as np
import torch

from lvmlib.vae.model import VAE
from lvmlib.vae.training import train

__all__ = ["DIGITS_RECIPE", "LATENT_SIZES", "train_vaes", "per_class"]

#: How the notebooks train a VAE on binarized 8x8 digits, for every latent size 2, 4, 8, 16:
#: ``VAE(64, latent_dim, DIGITS_RECIPE["hidden"])`` then ``train(model, x_train,
#: DIGITS_RECIPE["epochs"], batch_size=..., lr=...)``.  Chosen on a held-out part of the
#: training set (benchmarks/bench_vae.py, bench_vae_quality.py): the validation ELBO has
#: levelled off by 100 epochs (within ~0.2 nats of the best of 300) and larger learning rates
#: or batches did not train faster to the same bound.
DIGITS_RECIPE = {"hidden": (128,), "epochs": 100, "lr": 3e-3, "batch_size": 64}

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











