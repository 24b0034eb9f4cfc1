"""Recipes the notebooks share: train one VAE per latent size, pick a few points per class.

Notebooks 07 and 08 both train their VAEs with :func:`train_vaes` (the loop notebook 07
writes out), so neither widget module imports the other.
"""

from __future__ import annotations

import numpy as np
import torch

from lvmlib.vae import DIGITS_RECIPE, VAE, train

__all__ = ["LATENT_SIZES", "train_vaes", "per_class"]

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
