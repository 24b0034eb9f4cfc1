"""An upper bound that is hard to get: the harmonic-mean estimator of log p(x).

The lower bounds of :mod:`lvmlib.inference.estimators` need samples from any q we choose, and Jensen
(log is concave) turns the unbiased p-hat into E[log p-hat] <= log p(x).  Going the other way needs an
unbiased estimate of 1 / p(x): with samples from the *posterior*,

    1 / p(x) = E_{z ~ p(z | x)}[1 / p(x | z)],

so the harmonic-mean estimate (Newton and Raftery 1994)

    log p-hat_HM = -log (1/K) sum_k 1 / p(x | z_k) = log K - logsumexp_k(-log p(x | z_k)),  z_k ~ p(z | x),

is, by the same Jensen step applied to 1 / p-hat, biased **high**: E[log p-hat_HM] >= log p(x).  It needs
the posterior (exactly what an interesting model does not give), and its variance is infinite as soon as the
likelihood is narrower than the prior in some direction (for a linear Gaussian model: w^2 >= sigma^2), so it
converges painfully slowly from above ("the worst Monte Carlo method ever", Neal 2008).
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Distribution

from lvmlib._util import check_x, positive_int
from lvmlib.distributions import sample

__all__ = ["harmonic_mean_estimate"]


def harmonic_mean_estimate(x: torch.Tensor, model, num_samples: int, *, posterior: Distribution | None = None,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Harmonic-mean estimate log p-hat_HM = log K - logsumexp_k(-log p(x | z_k)), z_k ~ p(z | x).

    An upper bound on log p(x) in expectation (E[1 / p-hat_HM] = 1 / p(x), then Jensen), of often
    infinite variance.  Newton and Raftery 1994, "Approximate Bayesian inference with the weighted
    likelihood bootstrap".

    Args:
        x: data, shape [B, Dx].
        model: follows the model protocol, with ``posterior(x)`` unless ``posterior`` is given.
        num_samples: K >= 1 posterior samples per point.
        posterior: the distribution of z given x to sample from (batch [B] or [1] or []); default
            ``model.posterior(x)``.
        generator: optional ``torch.Generator``.

    Returns:
        tensor of shape [B].

    Taught in notebook 06 (The ELBO and its gap).
    """
    K = positive_int(num_samples, "num_samples")
    x = check_x(x, getattr(model, "data_dim", None))
    post = model.posterior(x) if posterior is None else posterior
    B = x.shape[0]
    if post.batch_shape != torch.Size([B]):
        post = post.expand(torch.Size([B]))  # every point its own samples
    z = sample(post, (K,), generator)  # [K, B, Dz]
    log_lik = model.likelihood(z).log_prob(x)  # [K, B]
    return math.log(K) - torch.logsumexp(-log_lik, dim=0)
