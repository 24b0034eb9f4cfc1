"""Latent variable models whose marginal likelihood p(x) is known exactly.

They exist to check the estimators of :mod:`lvmlib.inference` against the truth, and to
draw the lecture's pictures.  Every model follows the protocol of ``DESIGN.md``:

- ``prior()`` -> a ``torch.distributions.Distribution`` over z, event shape [Dz]
  (a ``Categorical`` over K components, event shape [], for a mixture);
- ``likelihood(z)`` -> a Distribution over x, batch shape ``z.shape[:-1]`` (``z.shape`` for
  a categorical z), event shape [Dx];
- ``log_marginal(x)`` -> exact log p(x), shape [B];
- ``posterior(x)`` -> the exact p(z | x), batch shape [B], where it has a closed form;
- ``sample(n, generator=None)`` -> (z, x) from the joint;
- attributes ``data_dim`` (Dx) and ``latent_dim`` (Dz).

The models:

=======================  =================================  ===============================
model                    z                                  exact p(x) by
=======================  =================================  ===============================
``MixtureOfGaussians``   one of K components                a sum over K (logsumexp)
``LinearGaussian``       N(0, I_Dz), x = W z + b + noise    N(b, W W^T + sigma^2 I)
``NonlinearLVM``         N(0, I_Dz), Dz in {1, 2}, MLP      quadrature on a grid
``BinaryLatentModel``    n independent bits                 a sum over 2^n configurations
=======================  =================================  ===============================

All are ``torch.nn.Module`` s holding their numbers as buffers (or, for the decoders,
parameters), so ``model.to(device, dtype)`` moves them; the dtype and device otherwise
follow the constructor's tensors.  Densities come from ``torch.distributions``.
"""

from lvmlib.models.binary import (
    BinaryLatentModel,
    binary_configurations,
    binomial_mixture,
)
from lvmlib.models.linear import LinearGaussian
from lvmlib.models.mixture import MixtureOfGaussians
from lvmlib.models.nonlinear import NonlinearLVM
from lvmlib.models.protocol import ExactModel, LatentVariableModel
from lvmlib.models.toy import POSTERIOR_MEAN, POSTERIOR_SCALE, second_moment_of_weights, toy_problem
from lvmlib.models.quadrature import (
    GridPosterior,
    best_gaussian,
    grid_kl,
    grid_log_marginal,
    grid_posterior,
    weight_moments,
)

__all__ = [
    "POSTERIOR_MEAN",
    "POSTERIOR_SCALE",
    "second_moment_of_weights",
    "toy_problem",
    "LatentVariableModel",
    "ExactModel",
    "MixtureOfGaussians",
    "LinearGaussian",
    "NonlinearLVM",
    "BinaryLatentModel",
    "GridPosterior",
    "binary_configurations",
    "binomial_mixture",
    "best_gaussian",
    "weight_moments",
    "grid_kl",
    "grid_log_marginal",
    "grid_posterior",
]
