"""Three Monte Carlo estimators of the gradient of an expectation under a Gaussian q.

We want g = d/dphi E_{z ~ q_phi}[f(z)] for q_phi = N(mu, diag sigma^2), phi = (mu, sigma).

- **score function** (REINFORCE; Williams 1992, Glynn 1990):
  g = E_q[f(z) d/dphi log q_phi(z)], estimated by (1/N) sum_n f(z_n) d/dphi log q_phi(z_n).
  Needs only values of f, so it works for discrete z and non-differentiable f.
- **score function with a baseline**: E_q[d/dphi log q_phi(z)] = 0, so subtracting any b that
  does not depend on z_n keeps it unbiased; here the leave-one-out mean
  b_n = (1/(N-1)) sum_{m != n} f(z_m) (Kool, van Hoof and Welling 2019, "Buy 4 REINFORCE samples").
- **reparameterization** (Kingma and Welling 2014; Rezende, Mohamed and Wierstra 2014):
  z = mu + sigma * eps, eps ~ N(0, I), g = E_eps[d/dphi f(mu + sigma * eps)].
  Needs a differentiable f and a reparameterizable q.

The score d/dphi log q is taken by autograd through ``torch.distributions.Normal.log_prob``
(not hand-written).  The closed-form reference is the quadratic f(z) = ||z - a||^2, for which
E_q[f] = ||mu - a||^2 + sum_d sigma_d^2, so d/dmu = 2 (mu - a) and d/dsigma = 2 sigma.

Every function returns **per-sample** gradient terms [N, D] for mu and for sigma: their mean
over N is the estimate, their spread gives its variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.distributions import Normal

from lvmlib._util import noise, positive_int

__all__ = ["ESTIMATORS", "GradientSamples", "quadratic", "exact_quadratic_gradient", "gradient_samples",
           "GradientRuns", "gradient_runs", "estimator_variance", "gradient_terms"]

ESTIMATORS = ("score", "baseline", "reparam")


@dataclass
class GradientSamples:
    """Per-sample gradient terms of one estimator; ``.loc.mean(0)`` etc. is the estimate.

    Attributes:
        loc: [N, D], the terms of d/dmu.
        scale: [N, D], the terms of d/dsigma.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def mean(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimate (d/dmu, d/dsigma), each [D]."""
        return self.loc.mean(0), self.scale.mean(0)

    def stderr(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Standard errors of the estimate, each [D] (std over samples / sqrt(N))."""
        n = self.loc.shape[0]
        return self.loc.std(0) / n**0.5, self.scale.std(0) / n**0.5


def quadratic(a: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """f(z) = ||z - a||^2 summed over the last dimension: z [..., D] -> [...].

    Taught in notebook 09 (Learning with the ELBO).
    """
    return lambda z: ((z - a) ** 2).sum(-1)


def _check(loc: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    loc, scale = torch.as_tensor(loc), torch.as_tensor(scale, dtype=torch.as_tensor(loc).dtype)
    if loc.dim() != 1 or loc.shape[0] == 0:
        raise ValueError(f"loc must have shape [D] with D >= 1, got {tuple(loc.shape)}")
    scale = scale.to(loc.device).expand_as(loc) if scale.dim() == 0 else scale.to(loc.device)
    if scale.shape != loc.shape:
        raise ValueError(f"scale must be a scalar or have the shape of loc {tuple(loc.shape)}, got {tuple(scale.shape)}")
    if not bool(torch.isfinite(loc).all()) or not bool((scale > 0).all()) or not bool(torch.isfinite(scale).all()):
        raise ValueError("loc must be finite and scale positive and finite")
    return loc, scale


def exact_quadratic_gradient(loc, scale, a) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed form of d/d(mu, sigma) E_{N(mu, diag sigma^2)}[||z - a||^2] = (2 (mu - a), 2 sigma).

    Args:
        loc: mu, [D]; scale: sigma, [D] or a scalar; a: [D] or a scalar.

    Returns:
        (d/dmu, d/dsigma), each [D].

    Taught in notebook 09 (Learning with the ELBO).
    """
    loc, scale = _check(loc, scale)
    return 2 * (loc - torch.as_tensor(a, dtype=loc.dtype, device=loc.device)), 2 * scale


def gradient_samples(f: Callable[[torch.Tensor], torch.Tensor], loc, scale, num_samples: int,
                     estimator: str = "reparam", *, generator: torch.Generator | None = None,
                     score_terms: Callable | None = None) -> GradientSamples:
    """Per-sample terms of one gradient estimator of d/d(mu, sigma) E_{z ~ N(mu, diag sigma^2)}[f(z)].

    Args:
        f: z [N, D] -> [N] (differentiable for ``"reparam"``; only its values are used otherwise).
        loc: mu, [D]; scale: sigma, [D] or a scalar (positive).
        num_samples: N >= 1 (>= 2 for ``"baseline"``, whose baseline for sample n is the mean of
            the other N - 1 values of f).
        estimator: ``"score"``, ``"baseline"`` or ``"reparam"``.
        generator: optional ``torch.Generator`` for eps ~ N(0, I) (drawn on its device).
        score_terms: optional ``(f_values [M], z [M, D], loc [D], scale [D]) -> (terms for mu, terms for
            sigma)``, each [M, D], used for ``"score"`` and ``"baseline"`` instead of autograd through
            ``Normal.log_prob`` (notebook 09 passes the student's exercise 9.1 here).

    Returns:
        a :class:`GradientSamples` with ``loc`` and ``scale`` of shape [N, D] on loc's device
        and dtype.  All three are unbiased: E[terms.mean(0)] = the exact gradient.

    Taught in notebook 09 (Learning with the ELBO).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    _check_num_samples(num_samples, estimator)
    loc, scale = _check(loc, scale)
    eps = noise("randn", (num_samples, loc.shape[0]), generator, dtype=loc.dtype, device=loc.device)
    return gradient_terms(f, loc, scale, eps, estimator, score_terms=score_terms)


def _check_num_samples(num_samples, estimator: str) -> None:
    positive_int(num_samples, "num_samples")
    if estimator == "baseline" and num_samples < 2:
        raise ValueError("the leave-one-out baseline needs num_samples >= 2 (one sample has no other to average)")


def gradient_terms(f: Callable, loc: torch.Tensor, scale: torch.Tensor, eps: torch.Tensor, estimator: str, *,
                   score_terms: Callable | None = None) -> GradientSamples:
    """Per-sample terms of ``estimator`` for given noise ``eps`` [..., N, D], z = loc + scale * eps.

    Leading dimensions of ``eps`` are independent runs (the baseline is left-one-out within each
    run of N); ``f`` must map z [..., N, D] -> [..., N].  Returns :class:`GradientSamples` with
    ``loc`` and ``scale`` of shape [..., N, D].  :func:`gradient_samples` draws eps and calls this;
    ``score_terms`` as there (called once on all samples, flattened to [M, D]).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    if eps.dim() < 2 or eps.shape[-1] != loc.shape[-1]:
        raise ValueError(f"eps must have shape [..., N, D] with D = {loc.shape[-1]}, got {tuple(eps.shape)}")
    N = eps.shape[-2]
    # one copy of (mu, sigma) per sample: the gradient of a sum of per-sample terms w.r.t. row n is term n's
    mu = loc.detach().expand(eps.shape).clone().requires_grad_(True)  # [..., N, D]
    sig = scale.detach().expand(eps.shape).clone().requires_grad_(True)  # [..., N, D]
    with torch.enable_grad():
        if estimator == "reparam":
            values = f(mu + sig * eps)  # [..., N]
            _check_values(values, eps.shape[:-1])
            g_mu, g_sig = torch.autograd.grad(values.sum(), (mu, sig))
        else:
            z = (loc + scale * eps).detach()  # a plain sample: no path from z to (mu, sigma)
            values = f(z).detach()  # [..., N]
            _check_values(values, eps.shape[:-1])
            if estimator == "baseline":  # f(z_n) - the mean of the other N - 1 values
                values = values - (values.sum(-1, keepdim=True) - values) / (N - 1)
            if score_terms is not None:  # f(z_n) d/dphi log q(z_n), computed by the caller's function
                D = eps.shape[-1]
                t_mu, t_sig = score_terms(values.reshape(-1), z.reshape(-1, D), loc.detach(), scale.detach())
                return GradientSamples(t_mu.detach().reshape(eps.shape), t_sig.detach().reshape(eps.shape))
            log_q = Normal(mu, sig).log_prob(z).sum(-1)  # [..., N]
            g_mu, g_sig = torch.autograd.grad((values * log_q).sum(), (mu, sig))
    return GradientSamples(g_mu.detach(), g_sig.detach())


def _check_values(values: torch.Tensor, shape) -> None:
    if values.shape != shape:
        raise ValueError(f"f must map z of shape [..., N, D] to shape [..., N] = {list(shape)}, got {list(values.shape)}")


@dataclass
class GradientRuns:
    """R independent N-sample estimates of one estimator (from :func:`gradient_runs`).

    Attributes:
        loc: [R, D], the estimates of d/dmu (each the mean of N per-sample terms).
        scale: [R, D], the estimates of d/dsigma.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def variance(self) -> torch.Tensor:
        """Total variance of the estimate: the trace of the sample covariance of the R estimates
        over the 2D coordinates of (mu, sigma), a 0-dim tensor."""
        est = torch.cat([self.loc, self.scale], -1)  # [R, 2D]
        return est.var(0).sum()


def gradient_runs(f: Callable, loc, scale, num_samples: int, estimator: str, *, repeats: int = 200,
                  generator: torch.Generator | None = None, score_terms: Callable | None = None) -> GradientRuns:
    """``repeats`` independent N-sample estimates, drawn at once (eps [R, N, D] from ``generator``).

    Args:
        f, loc, scale, estimator, generator: as in :func:`gradient_samples`; ``f`` must map
            z [R, N, D] -> [R, N].
        num_samples: N, samples per estimate.
        repeats: R >= 2 independent estimates.
        score_terms: as in :func:`gradient_samples`.

    Returns:
        a :class:`GradientRuns` (``loc``, ``scale`` of shape [R, D]).

    Taught in notebook 09 (Learning with the ELBO).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise ValueError(f"repeats must be an int >= 2, got {repeats!r}")
    _check_num_samples(num_samples, estimator)
    loc, scale = _check(loc, scale)
    eps = noise("randn", (repeats, num_samples, loc.shape[0]), generator, dtype=loc.dtype, device=loc.device)
    terms = gradient_terms(f, loc, scale, eps, estimator, score_terms=score_terms)  # [R, N, D] each
    return GradientRuns(terms.loc.mean(-2), terms.scale.mean(-2))


def estimator_variance(f: Callable, loc, scale, num_samples: int, estimator: str, *, repeats: int = 200,
                       generator: torch.Generator | None = None, score_terms: Callable | None = None) -> torch.Tensor:
    """Total variance of the N-sample estimate (the trace of its covariance over the 2D
    coordinates of (mu, sigma)), measured from ``repeats`` independent estimates (drawn at once):
    ``gradient_runs(...).variance()``, arguments as in :func:`gradient_runs`.

    Returns:
        a 0-dim tensor, sum over the 2D coordinates of the sample variance of the R estimates.

    Taught in notebook 09 (Learning with the ELBO).
    """
    return gradient_runs(f, loc, scale, num_samples, estimator, repeats=repeats, generator=generator,
                         score_terms=score_terms).variance()
