"""The variational autoencoder family.

- :mod:`~lvmlib.vae.model`: :class:`VAE` (encoder q(z given x), decoder p(x given z), bounds, interpolation,
  checkpoints); :mod:`~lvmlib.vae.training`: :func:`train` and :func:`evaluate`; :mod:`~lvmlib.vae.objectives`:
  what ``train`` maximizes, as one object (:class:`ELBO`, :class:`IWAE`, :class:`PriorTermELBO`, :class:`M2Bound`),
  optionally computed by a student's function;
- :mod:`~lvmlib.vae.priors`: a learned mixture-of-Gaussians prior, the aggregate posterior and how
  well the prior covers it (holes, both KLs);
- :mod:`~lvmlib.vae.m2`: the semi-supervised M2 model (Kingma et al. 2014);
- :mod:`~lvmlib.vae.linear`: a linear VAE against the probabilistic-PCA answer;
- :mod:`~lvmlib.vae.baselines`: held-out scores of VAEs and of the latent-free baselines;
- :mod:`~lvmlib.vae.recipes`: the training recipes the notebooks use, as dataclasses.

``from lvmlib.vae import VAE, train`` is the usual entry point.
"""

from lvmlib.vae.baselines import VAEScore, baseline_scores, independent_pixels, score_vaes
from lvmlib.vae.linear import (
    Q_FAMILIES,
    LinearVAE,
    LinearVAEHistory,
    PPCASolution,
    column_coherence,
    ppca_ml,
    principal_angles,
    train_linear_vae,
)
from lvmlib.vae.m2 import (
    M2,
    M2History,
    accuracy,
    label_subset,
    train_classifier,
    train_m2,
)
from lvmlib.vae.model import INTERPOLATIONS, LIKELIHOODS, OBJECTIVES, VAE, slerp
from lvmlib.vae.objectives import ELBO, IWAE, M2Bound, Objective, PriorTermELBO
from lvmlib.vae.priors import (
    MixturePrior,
    PriorCoverage,
    aggregate_moments,
    aggregate_posterior,
    prior_coverage,
    sample_aggregate,
)
from lvmlib.vae.recipes import (
    DIGITS_RECIPE,
    LABEL_SETTINGS,
    LATENT_SIZES,
    M2_RECIPE,
    PRIORS,
    DigitsRecipe,
    LabelResult,
    M2Recipe,
    per_class,
    train_label_settings,
    train_prior_pair,
    train_vaes,
)
from lvmlib.vae.training import evaluate, evaluate_points, train

__all__ = [
    "VAE",
    "slerp",
    "LIKELIHOODS",
    "OBJECTIVES",
    "INTERPOLATIONS",
    "train",
    "Objective",
    "ELBO",
    "IWAE",
    "PriorTermELBO",
    "M2Bound",
    "evaluate",
    "evaluate_points",
    "DigitsRecipe",
    "DIGITS_RECIPE",
    "LATENT_SIZES",
    "train_vaes",
    "per_class",
    "PRIORS",
    "train_prior_pair",
    "M2Recipe",
    "M2_RECIPE",
    "LABEL_SETTINGS",
    "LabelResult",
    "train_label_settings",
    "VAEScore",
    "score_vaes",
    "independent_pixels",
    "baseline_scores",
    "MixturePrior",
    "aggregate_posterior",
    "aggregate_moments",
    "sample_aggregate",
    "PriorCoverage",
    "prior_coverage",
    "M2",
    "M2History",
    "train_m2",
    "train_classifier",
    "accuracy",
    "label_subset",
    "LinearVAE",
    "LinearVAEHistory",
    "PPCASolution",
    "Q_FAMILIES",
    "ppca_ml",
    "principal_angles",
    "train_linear_vae",
    "column_coherence",
]
