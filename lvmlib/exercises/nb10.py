"""Checks for notebook 10 (priors and labels): `check_m2_unlabelled`, `check_mixture_log_prob`."""

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
    ]


def _normal_log_prob(z, loc, scale):  # [B, K]: log N(z_b; m_k, s_k^2), summed over dimensions
    from torch.distributions import Independent, Normal

    return Independent(Normal(loc, scale), 1).log_prob(z[:, None, :])


_PRIOR_MIXTURE_MISTAKES = [
    Mistake("unnormalized weights",
            "the logits are not log-weights until they are normalized: use torch.log_softmax(logits, 0) "
            "(log pi_k = logits_k - logsumexp(logits)) before adding them to the components' log densities.",
            lambda z, logits, loc, scale: torch.logsumexp(logits + _normal_log_prob(z, loc, scale), -1)),
    Mistake("exp then log",
            "you exponentiated the log densities and took the log of their weighted sum: far from every "
            "component the densities underflow to 0 and log 0 = -inf. Stay in log space: "
            "torch.logsumexp(log_softmax(logits) + log N(z; m_k, s_k), dim=-1).",
            lambda z, logits, loc, scale: torch.log((torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale).exp()).sum(-1))),
    Mistake("average of logs",
            "you averaged the components' log densities with the weights, sum_k pi_k log N_k, which is only a "
            "lower bound (Jensen). The mixture's density is the weighted sum of densities: "
            "log sum_k pi_k N_k = logsumexp_k(log pi_k + log N_k).",
            lambda z, logits, loc, scale: (torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale)).sum(-1)),
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
    Mistake("no entropy",
            "you took the expected labelled bound sum_y q(y|x) B_l(x, y) but left out the entropy H(q(y|x)) = "
            "-sum_y q(y|x) log q(y|x): without it the sum is not a bound on log p(x) of the model where y is "
            "latent (it is E_q[log p(x, y)], missing the -log q(y|x) of the ELBO).",
            lambda lq, lab: (lq.exp() * lab).sum(-1)),
    Mistake("entropy sign",
            "the entropy enters with a plus sign, H = -sum_y q log q >= 0: the bound is sum_y q(y|x) (B_l - log q(y|x)).",
            lambda lq, lab: (lq.exp() * (lab + lq)).sum(-1)),
    Mistake("logsumexp",
            "you combined the classes with a logsumexp, log sum_y q(y|x) exp(B_l): that mixes the two bounds "
            "inside one log (an importance-weighted estimate with one sample per class), not the M2 bound. The "
            "ELBO over y is an expectation: sum_y q(y|x) (B_l(x, y) - log q(y|x)).",
            lambda lq, lab: torch.logsumexp(lq + lab, -1)),
    Mistake("plain average over classes",
            "you averaged over the classes with equal weights; weight each class by q(y|x) = exp(log_q_y).",
            lambda lq, lab: lab.mean(-1)),
]


def check_m2_unlabelled(fn: Callable) -> Report:
    """Exercise 10.2: ``fn(log_q_y [B, C], labelled [B, C]) -> [B]``, the unlabelled bound of M2."""
    return check_function("Exercise 10.2 (M2's bound for an unlabelled digit)", fn, float64_reference(_m2_reference), _m2_cases(),
                          _M2_MISTAKES, rtol=1e-6, atol=1e-6,
                          grad={0: lambda leaf: torch.log_softmax(leaf, -1), 1: None},
                          passed="This is what lvmlib.vae.M2.unlabelled_bound computes.")
