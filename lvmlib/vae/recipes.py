"""The training recipes the notebooks run, as frozen dataclasses, and the loops that apply them.

- :data:`DIGITS_RECIPE` (a :class:`DigitsRecipe`): how every notebook trains a VAE on the 8x8
  digits; :func:`train_vaes` (one VAE per latent size, notebooks 07 and 08) and
  :func:`train_prior_pair` (N(0, I) against a learned mixture prior, notebook 10) apply it.
- :data:`M2_RECIPE` (an :class:`M2Recipe`): notebook 10's semi-supervised M2 and its
  labelled-only baseline; :func:`train_label_settings` applies it per labels-per-class setting.

Change a recipe with ``dataclasses.replace(DIGITS_RECIPE, epochs=3)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lvmlib.nets import mlp
from lvmlib.vae.m2 import M2, accuracy, label_subset, train_classifier, train_m2
from lvmlib.vae.model import VAE
from lvmlib.vae.priors import MixturePrior
from lvmlib.vae.training import train

__all__ = ["DigitsRecipe", "DIGITS_RECIPE", "LATENT_SIZES", "train_vaes", "per_class", "PRIORS", "train_prior_pair",
           "M2Recipe", "M2_RECIPE", "LABEL_SETTINGS", "LabelResult", "train_label_settings"]


@dataclass(frozen=True)
class DigitsRecipe:
    """How to train a VAE on binarized 8x8 digits: ``VAE(64, latent_dim, recipe.hidden)`` then
    ``train(model, x_train, recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr)``."""

    hidden: tuple = (128,)
    epochs: int = 100
    lr: float = 3e-3
    batch_size: int = 64


#: How the notebooks train a VAE on binarized 8x8 digits, for every latent size 2, 4, 8, 16.
#: Chosen on a held-out part of the training set (benchmarks/bench_vae.py, bench_vae_quality.py):
#: the validation ELBO has levelled off by 100 epochs (within ~0.2 nats of the best of 300) and
#: larger learning rates or batches did not train faster to the same bound.
DIGITS_RECIPE = DigitsRecipe()

#: latent sizes notebook 07 trains (one VAE each) and its slider offers.
LATENT_SIZES = (2, 4, 8, 16)


def train_vaes(x_train: torch.Tensor, sizes=LATENT_SIZES, epochs: int = DIGITS_RECIPE.epochs, *,
               x_valid: torch.Tensor | None = None, recipe: DigitsRecipe = DIGITS_RECIPE,
               generator: torch.Generator | None = None, progress: bool = True, device=None) -> tuple[dict, dict]:
    """One VAE per latent size, built and trained one after the other with one generator.

    Each VAE is built on the CPU (its initial weights drawn from ``generator``, the same on
    every device), moved to ``device`` (default: ``x_train``'s device) and trained there.

    ``VAE(D, d, recipe.hidden, generator=generator)`` then ``train(model, x_train, epochs,
    batch_size=recipe.batch_size, lr=recipe.lr, x_valid=x_valid, generator=generator)``:
    the loop notebook 07 writes out.

    Returns:
        (models, histories): dicts latent size -> trained :class:`VAE` / ``train``'s history.

    Taught in notebook 07 (The variational autoencoder); also used in 08.
    """
    models, histories = {}, {}
    for d in sizes:
        models[d] = VAE(x_train.shape[1], d, recipe.hidden, generator=generator).to(
            x_train.device if device is None else device)
        histories[d] = train(models[d], x_train, epochs, batch_size=recipe.batch_size, lr=recipe.lr,
                             x_valid=x_valid, generator=generator, progress=progress)
    return models, histories


def per_class(y: torch.Tensor, per: int = 2) -> np.ndarray:
    """Indices of the first ``per`` points of each class 0, 1, ..., in class order.

    Taught in notebook 07 (The variational autoencoder); also used in 08.
    """
    y = np.asarray(y)
    return np.concatenate([np.flatnonzero(y == c)[:per] for c in np.unique(y)])


#: the two priors of :func:`train_prior_pair`, by name.
PRIORS = ("N(0, I)", "mixture")


def train_prior_pair(x_train: torch.Tensor, latent_dim: int = 2, num_components: int = 10,
                     epochs: int = DIGITS_RECIPE.epochs, *, seed: int = 0, progress: bool = False,
                     recipe: DigitsRecipe = DIGITS_RECIPE) -> dict:
    """Two VAEs with the same recipe, weights and batches, one with N(0, I) and one with a mixture prior.

    Each is built from ``torch.Generator().manual_seed(seed)`` (weights, then batches); the
    mixture's initial means from ``manual_seed(seed + 1)``.

    Returns:
        dict ``PRIORS[i]`` -> trained :class:`VAE` (on ``x_train``'s device).

    Taught in notebook 10 (Priors and labels).
    """
    models = {}
    for name in PRIORS:
        g = torch.Generator().manual_seed(seed)
        prior = MixturePrior(num_components, latent_dim, generator=torch.Generator().manual_seed(seed + 1)) \
            if name == "mixture" else None
        model = VAE(x_train.shape[1], latent_dim, recipe.hidden, prior=prior, generator=g)
        model.to(x_train.device)
        train(model, x_train, epochs, batch_size=recipe.batch_size, lr=recipe.lr, generator=g, progress=progress)
        models[name] = model
    return models


@dataclass(frozen=True)
class M2Recipe:
    """M2 and its labelled-only baseline: latent size, hidden layers of every network, Adam steps
    of ``batch_size`` labelled + ``batch_size`` unlabelled points, learning rate, the classifier's
    weight ``alpha`` in the objective."""

    latent_dim: int = 4
    hidden: tuple = (128,)
    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    alpha: float = 10.0


#: M2 and its baseline on 8x8 digits: 4-D style, one hidden layer of 128 units in each network, 600
#: Adam steps of 64 labelled + 64 unlabelled digits, alpha = 10 (benchmarks/bench_m2.py).
M2_RECIPE = M2Recipe()
#: labels per class notebook 10 trains (None: every training digit labelled).
LABEL_SETTINGS = (1, 3, 10, 30, None)


@dataclass
class LabelResult:
    """One labels-per-class setting: the trained M2, the labelled-only classifier, their test accuracies."""

    per_class: int | None
    labelled: torch.Tensor  # [L] indices into the training set
    model: M2
    classifier: nn.Module
    m2_accuracy: float
    classifier_accuracy: float


def train_label_settings(data, settings=LABEL_SETTINGS, *, seed: int = 0, recipe: M2Recipe = M2_RECIPE) -> dict:
    """For each labels-per-class setting, one M2 and one same-architecture classifier on the same labels.

    Setting k uses ``torch.Generator().manual_seed(1000 * seed + k)`` (k = 0 for "all") for the choice
    of labelled digits, both models' weights and their batches, so a setting's result does not depend
    on which other settings are trained.  Unlabelled digits: the rest of the training set.

    Args:
        data: a data set with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (``lvmlib.load_dataset``).

    Returns:
        dict setting -> :class:`LabelResult`.

    Taught in notebook 10 (Priors and labels).
    """
    out = {}
    x, y = data.x_train, data.y_train
    c = int(y.max()) + 1
    for k in settings:
        s = 1000 * seed + (0 if k is None else k)
        g = torch.Generator().manual_seed(s)
        idx = label_subset(y, k, generator=g)
        rest = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        rest[idx] = False
        model = M2(x.shape[1], c, recipe.latent_dim, recipe.hidden, generator=g).to(x.device)
        train_m2(model, x[idx], y[idx], x[rest], recipe.steps, batch_size=recipe.batch_size, lr=recipe.lr,
                 alpha=recipe.alpha, generator=g)
        g2 = torch.Generator().manual_seed(s)
        label_subset(y, k, generator=g2)  # the same state as M2's after its choice of labels
        clf = mlp([x.shape[1], *recipe.hidden, c], nn.ReLU, generator=g2, gain=math.sqrt(2.0)).to(x.device)
        train_classifier(clf, x[idx], y[idx], recipe.steps, batch_size=recipe.batch_size, lr=recipe.lr,
                         generator=g2)
        out[k] = LabelResult(k, idx, model, clf, accuracy(model.predict, data.x_test, data.y_test),
                             accuracy(lambda xx: clf(xx).argmax(-1), data.x_test, data.y_test))
    return out
