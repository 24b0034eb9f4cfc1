"""Checks for notebook 10 (priors and labels): `check_mixture_log_prob` (10.1), `check_prior_term` (10.2), `check_m2_unlabelled` (10.4)."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_function, float64_reference


def _mixture_reference(z, logits, loc, scale):
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    comps = Independent(Normal(loc, scale), 1)
    return MixtureSameFamily(Categorical(logits=logits), comps).log_prob(z)


def _prior_mixture_cases() -> list:
    g = torch.Generator().manual_seed(10)
    d64 = torch.float64
    z = torch.randn(5, 2, generator=g, dtype=d64)
    loc = torch.randn(3, 2, generator=g, dtype=d64) * 2
    scale = torch.rand(3, 2, generator=g, dtype=d64) + 0.3
    return [
        Case("5 points, 3 components in 2-D, normalized logits", (z, torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=d64)), loc, scale)),
        Case("unnormalized logits [1, 2, 3] (the weights are their softmax)", (z, torch.tensor([1.0, 2.0, 3.0], dtype=d64), loc, scale)),
        Case("points 60 standard deviations away (densities below 1e-300)", (z + 60.0, torch.zeros(3, dtype=d64), loc, scale * 0 + 1)),
        Case("one component", (z, torch.zeros(1, dtype=d64), loc[:1], scale[:1])),
        Case("float32, two points, one of them 40 standard deviations away",
             (torch.stack([z[0], z[1] + 40.0]).float(), torch.tensor([0.5, -1.0, 0.2]), loc.float(), scale.float())),
        Case("float32, large logits [90, 100, 95] (exp(100) overflows float32)",
             (z.float(), torch.tensor([90.0, 100.0, 95.0]), loc.float(), scale.float())),
    ]


def _normal_log_prob(z, loc, scale):  # [B, K]: log N(z_b; m_k, s_k^2), summed over dimensions
    from torch.distributions import Independent, Normal

    return Independent(Normal(loc, scale), 1).log_prob(z[:, None, :])


_PRIOR_MIXTURE_MISTAKES = [
    Mistake("unnormalised-weights",
            "the logits are not log-weights until they are normalized: use torch.log_softmax(logits, 0) "
            "(log pi_k = logits_k - logsumexp(logits)) before adding them to the components' log densities.",
            lambda z, logits, loc, scale: torch.logsumexp(logits + _normal_log_prob(z, loc, scale), -1)),
    Mistake("exp-then-log",
            "you exponentiated the log densities and took the log of their weighted sum: far from every "
            "component the densities underflow to 0 and log 0 = -inf. Stay in log space: "
            "torch.logsumexp(log_softmax(logits) + log N(z; m_k, s_k), dim=-1).",
            lambda z, logits, loc, scale: torch.log((torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale).exp()).sum(-1))),
    Mistake("average-of-logs",
            "you averaged the components' log densities with the weights, sum_k pi_k log N_k, which is only a "
            "lower bound (Jensen). The mixture's density is the weighted sum of densities: "
            "log sum_k pi_k N_k = logsumexp_k(log pi_k + log N_k).",
            lambda z, logits, loc, scale: (torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale)).sum(-1)),
    Mistake("exp-overflow",
            "you normalized the weights as exp(logits) / sum(exp(logits)): in float32 exp overflows to inf above "
            "about 88 (inf / inf = NaN). Normalize in log space: torch.log_softmax(logits, 0).",
            lambda z, logits, loc, scale: torch.logsumexp(
                torch.log(logits.exp() / logits.exp().sum()) + _normal_log_prob(z, loc, scale), -1)),
]


def check_mixture_log_prob(fn: Callable) -> Report:
    """Exercise 10.1: ``fn(z [B, Dz], logits [K], loc [K, Dz], scale [K, Dz]) -> log p(z) [B]`` of a Gaussian mixture."""
    return check_function("Exercise 10.1 (the mixture prior's log-density)", fn, float64_reference(_mixture_reference),
                          _prior_mixture_cases(), _PRIOR_MIXTURE_MISTAKES, rtol=1e-6, atol=1e-6, grad=(0, 1, 2, 3),
                          passed="Your function is the log-density of lvmlib.vae.MixturePrior.")


def _m2_reference(log_q_y, labelled):
    return (log_q_y.exp() * (labelled - log_q_y)).sum(-1)


def _m2_cases() -> list:
    g = torch.Generator().manual_seed(11)
    d64 = torch.float64
    logits = torch.randn(4, 10, generator=g, dtype=d64) * 2
    lab = -30 - 10 * torch.rand(4, 10, generator=g, dtype=d64)
    return [
        Case("4 digits, 10 classes", (torch.log_softmax(logits, -1), lab)),
        Case("a confident classifier (q(y|x) ~ one-hot)", (torch.log_softmax(logits * 20, -1), lab)),
        Case("a uniform classifier (entropy log 10)", (torch.full((2, 10), -math.log(10), dtype=d64), lab[:2])),
        Case("3 classes", (torch.log_softmax(logits[:, :3], -1), lab[:, :3])),
        Case("float32, a very confident classifier (q(y|x) of the other classes underflows to 0)",
             (torch.log_softmax(logits * 60, -1).float(), lab.float())),
        Case("float64, a classifier so confident that q(y|x) underflows to 0 even in float64",
             (torch.log_softmax(logits * 500, -1), lab)),
    ]


_M2_MISTAKES = [
    Mistake("no-entropy",
            "you took the expected labelled bound sum_y q(y|x) B_l(x, y) but left out the entropy H(q(y|x)) = "
            "-sum_y q(y|x) log q(y|x): without it the sum is not a bound on log p(x) of the model where y is "
            "latent (it is E_q[log p(x, y)], missing the -log q(y|x) of the ELBO).",
            lambda lq, lab: (lq.exp() * lab).sum(-1)),
    Mistake("entropy-sign",
            "the entropy enters with a plus sign, H = -sum_y q log q >= 0: the bound is sum_y q(y|x) (B_l - log q(y|x)).",
            lambda lq, lab: (lq.exp() * (lab + lq)).sum(-1)),
    Mistake("logsumexp",
            "you combined the classes with a logsumexp, log sum_y q(y|x) exp(B_l): that mixes the two bounds "
            "inside one log (an importance-weighted estimate with one sample per class), not the M2 bound. The "
            "ELBO over y is an expectation: sum_y q(y|x) (B_l(x, y) - log q(y|x)).",
            lambda lq, lab: torch.logsumexp(lq + lab, -1)),
    Mistake("plain-average",
            "you averaged over the classes with equal weights; weight each class by q(y|x) = exp(log_q_y).",
            lambda lq, lab: lab.mean(-1)),
]


def check_m2_unlabelled(fn: Callable) -> Report:
    """Exercise 10.4: ``fn(log_q_y [B, C], labelled [B, C]) -> [B]``, the unlabelled bound of M2."""
    return check_function("Exercise 10.4 (M2's bound for an unlabelled digit)", fn, float64_reference(_m2_reference), _m2_cases(),
                          _M2_MISTAKES, rtol=1e-6, atol=1e-6,
                          grad={0: lambda leaf: torch.log_softmax(leaf, -1), 1: None},
                          passed="This is what lvmlib.vae.M2.unlabelled_bound computes.")


# ----------------------------------------------------------------------------------------
# Exercise 10.2: the prior term of the ELBO, E_q[log q(z | x) - log p(z)], by Monte Carlo
# ----------------------------------------------------------------------------------------


def _prior_term_reference(mu, log_sigma, eps, log_prior):
    from torch.distributions import Independent, Normal

    q = Independent(Normal(mu, log_sigma.exp()), 1)  # batch [B], event [Dz]
    z = mu + log_sigma.exp() * eps  # [S, B, Dz]
    return (q.log_prob(z) - log_prior(z)).mean(0)  # [B]


def standard_normal_log_prob(z):
    """log N(z; 0, I) for z [..., Dz]: [...] (the N(0, I) prior as a log_prior function)."""
    from torch.distributions import Normal

    return Normal(torch.zeros((), dtype=z.dtype, device=z.device), 1.0).log_prob(z).sum(-1)


def mixture_prior_log_prob(log_prob_fn: Callable, logits, loc, scale) -> Callable:
    """The log_prior function z [..., Dz] -> [...] of a mixture, from a function of exercise 10.1's
    signature ``log_prob_fn(z [B, Dz], logits, loc, scale) -> [B]`` (leading dimensions flattened)."""
    def log_prior(z):
        return log_prob_fn(z.reshape(-1, z.shape[-1]), logits, loc, scale).reshape(z.shape[:-1])
    return log_prior


def _prior_term_cases() -> list:
    g = torch.Generator().manual_seed(12)
    d64 = torch.float64
    mu, ls = torch.randn(3, 2, generator=g, dtype=d64), 0.4 * torch.randn(3, 2, generator=g, dtype=d64)
    loc = 2 * torch.randn(4, 2, generator=g, dtype=d64)
    scale = torch.rand(4, 2, generator=g, dtype=d64) + 0.3
    mixture = mixture_prior_log_prob(_mixture_reference, torch.randn(4, generator=g, dtype=d64), loc, scale)
    return [
        Case("B=3, Dz=2, S=5 samples, the N(0, I) prior", (mu, ls, torch.randn(5, 3, 2, generator=g, dtype=d64),
                                                           standard_normal_log_prob)),
        Case("B=3, Dz=2, S=4 samples, a mixture prior of 4 components", (mu, ls, torch.randn(4, 3, 2, generator=g,
                                                                                             dtype=d64), mixture)),
        Case("one point, one sample, a mixture prior", (mu[:1], ls[:1], torch.randn(1, 1, 2, generator=g, dtype=d64),
                                                        mixture)),
        Case("float32, a narrow q (log_sigma = -6) far from the mixture's components",
             ((mu[:2] + 8).float(), torch.full((2, 2), -6.0), torch.randn(3, 2, 2, generator=g).float(),
              mixture_prior_log_prob(_mixture_reference, torch.zeros(4), loc.float(), scale.float()))),
    ]


def _log_q(mu, log_sigma, z):
    from torch.distributions import Independent, Normal

    return Independent(Normal(mu, log_sigma.exp()), 1).log_prob(z)


_PRIOR_TERM_MISTAKES = [
    Mistake("sign", "the term is E_q[log q(z | x) - log p(z)] (a KL, >= 0 on average): you subtracted the other way round.",
            lambda mu, ls, eps, lp: (lp(mu + ls.exp() * eps) - _log_q(mu, ls, mu + ls.exp() * eps)).mean(0)),
    Mistake("sum-over-samples", "average over the S samples (dimension 0 of eps), do not sum them: the estimate of an "
                                "expectation must not grow with S.",
            lambda mu, ls, eps, lp: (_log_q(mu, ls, mu + ls.exp() * eps) - lp(mu + ls.exp() * eps)).sum(0)),
    Mistake("no-log-q", "you returned E_q[-log p(z)] only (a cross-entropy): the KL also has + log q(z | x), the "
                        "encoder's log-density at the same samples.",
            lambda mu, ls, eps, lp: (-lp(mu + ls.exp() * eps)).mean(0)),
    Mistake("closed-form-kl", "you used the closed-form KL to N(0, I), but the prior here is the given "
                                         "log_prior (a mixture has no closed form): estimate E_q[log q(z | x) - "
                                         "log p(z)] with the samples z = mu + exp(log_sigma) * eps.",
            lambda mu, ls, eps, lp: 0.5 * (mu ** 2 + (2 * ls).exp() - 1 - 2 * ls).sum(-1)),
    Mistake("variance-as-scale", "Normal(loc, scale) takes the standard deviation: exp(log_sigma), not exp(2 log_sigma).",
            lambda mu, ls, eps, lp: (_log_q(mu, 2 * ls, mu + ls.exp() * eps) - lp(mu + ls.exp() * eps)).mean(0)),
]


def check_prior_term(fn: Callable) -> Report:
    """Exercise 10.2: ``fn(mu [B, Dz], log_sigma [B, Dz], eps [S, B, Dz], log_prior) -> [B]``:
    (1/S) sum_s [log q(z_s | x) - log p(z_s)] with z_s = mu + exp(log_sigma) * eps_s; ``log_prior`` maps
    z [..., Dz] to [...].  Must carry a gradient to mu and log_sigma (it is part of the training loss)."""
    return check_function("Exercise 10.2 (the prior term of the ELBO)", fn, _prior_term_reference, _prior_term_cases(),
                          _PRIOR_TERM_MISTAKES, rtol=1e-5, atol=1e-4, grad=(0, 1),
                          passed="With the N(0, I) prior it estimates the closed-form KL; with a mixture it is the "
                                 "only way.")


def mixture_log_prob(z, logits, loc, scale):
    """lvmlib's answer to exercise 10.1 (what ``exercises.choose`` runs until the student's passes)."""
    return _mixture_reference(z, logits, loc, scale)


def prior_term(mu, log_sigma, eps, log_prior):
    """lvmlib's answer to exercise 10.2."""
    return _prior_term_reference(mu, log_sigma, eps, log_prior)


def unlabelled_bound(log_q_y, labelled):
    """lvmlib's answer to exercise 10.4 (M2's bound of an unlabelled digit)."""
    return _m2_reference(log_q_y, labelled)
