"""The model protocol every estimator speaks, written down as ``typing.Protocol`` s.

A latent variable model is any object with ``prior()`` and ``likelihood(z)`` (see
``DESIGN.md``); a model with an exact answer also has ``log_marginal(x)`` and
``posterior(x)``.  The classes are ``runtime_checkable``, so ``isinstance(m,
LatentVariableModel)`` checks that the methods exist (not their signatures).  Models do not
inherit from them: a VAE, a ``LinearGaussian`` or a user's own class fits by shape alone.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch.distributions import Distribution

__all__ = ["LatentVariableModel", "ExactModel"]


@runtime_checkable
class LatentVariableModel(Protocol):
    """p(x, z) = p(z) p(x | z).

    - ``prior()`` -> a Distribution over z, event shape [Dz] (a K-way Categorical, event
      shape [], for a mixture);
    - ``likelihood(z)`` -> a Distribution over x with batch shape ``z.shape[:-1]`` (or
      ``z.shape`` for a categorical z) and event shape [Dx].
    """

    def prior(self) -> Distribution: ...

    def likelihood(self, z: torch.Tensor) -> Distribution: ...


@runtime_checkable
class ExactModel(LatentVariableModel, Protocol):
    """A latent variable model whose marginal and posterior are tractable.

    - ``log_marginal(x)`` -> exact log p(x), shape [B] for x of shape [B, Dx];
    - ``posterior(x)`` -> the exact p(z | x) (a Distribution with batch shape [B]).
    """

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor: ...

    def posterior(self, x: torch.Tensor) -> Distribution: ...
