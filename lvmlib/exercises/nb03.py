"""Checks for notebook 03 (marginalization): `check_mixture_log_px`."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib.exercises._planted import planted
from lvmlib.exercises._core import Case, Mistake, Report, check_function, same_nan, float64_reference


def _mixture_terms(x, weights, means, stds):
    from torch.distributions import Normal

    return Normal(means, stds).log_prob(x.unsqueeze(-1))  # [N, K]


def _mixture_log_px_reference(x, weights, means, stds):
    return torch.logsumexp(torch.log(weights) + _mixture_terms(x, weights, means, stds), dim=-1)  # [N]


def _mixture_cases() -> list[Case]:
    d = torch.float64
    w = torch.tensor([0.5, 0.3, 0.2], dtype=d)
    mu = torch.tensor([-2.5, 1.0, 3.0], dtype=d)
    sd = torch.tensor([0.7, 0.5, 0.8], dtype=d)
    return [Case("K = 3, 5 points", (torch.tensor([-3.0, -1.0, 0.5, 2.0, 4.0], dtype=d), w, mu, sd)),
            Case("points far away (log-densities about -2000)", (torch.tensor([60.0, -65.0], dtype=d), w, mu, sd)),
            Case("K = 1", (torch.tensor([0.0, 1.5], dtype=d), torch.ones(1, dtype=d), mu[:1], sd[:1])),
            Case("a single data point", (torch.tensor([0.7], dtype=d), w, mu, sd)),
            Case("float32, one point near and one far away", tuple(t.float() for t in (torch.tensor([0.5, 62.0], dtype=d), w, mu, sd)))]


def mixture_log_px_draft(x, weights, means, stds):
    """Exercise 3.1's draft, as the notebook shows it, with its two planted bugs: x [N], ... -> [N]."""
    from torch.distributions import Normal

    log_terms = torch.log(weights) + Normal(means, stds ** 2).log_prob(x[:, None])   # [N, K]
    return torch.log(torch.exp(log_terms).sum(dim=1))                                 # log p(x), [N]


_MIXTURE_MISTAKES = planted("mixture_log_px_draft", mixture_log_px_draft, [
    ("sum-probabilities", "only far from every component (at x = 60 your log p(x) is -inf, a probability of "
                          "exactly 0); near the components it comes out right.",
     lambda x, w, m, s: torch.log((w * _mixture_terms(x, w, m, s).exp()).sum(-1))),
    ("variance-as-scale", "everywhere except where a component's sigma_k is 1: every component is too narrow "
                          "where sigma_k < 1 and too wide where sigma_k > 1 (check the arguments torch's Normal "
                          "takes).",
     lambda x, w, m, s: _mixture_log_px_reference(x, w, m, s ** 2)),
]) + [
    Mistake("no-log-weights", "You forgot the mixture weights: each term is log pi_k + log N(x; mu_k, sigma_k^2); "
            "add torch.log(weights) before the logsumexp.",
            lambda x, w, m, s: torch.logsumexp(_mixture_terms(x, w, m, s), dim=-1)),
    Mistake("weights-not-logged", "You added the weights pi_k themselves in log space; add their logs, log pi_k.",
            lambda x, w, m, s: torch.logsumexp(w + _mixture_terms(x, w, m, s), dim=-1)),
    Mistake("max-term", "You kept only the largest term (a max over k); p(x) adds up ALL the terms: use "
            "torch.logsumexp over k.",
            lambda x, w, m, s: (torch.log(w) + _mixture_terms(x, w, m, s)).max(-1).values),
    Mistake("minus-logK", "You subtracted log K, as if averaging; the weights already sum to 1, so p(x) is the plain "
            "sum over k: no - log K.",
            lambda x, w, m, s: _mixture_log_px_reference(x, w, m, s) - math.log(len(w))),
    Mistake("over-points", "You took the logsumexp over the data points (dim 0); sum over the components k "
            "(the last dimension), one log p(x) per point.",
            lambda x, w, m, s: torch.logsumexp(torch.log(w) + _mixture_terms(x, w, m, s), dim=0)),
]


def check_mixture_log_px(mixture_log_px: Callable) -> Report:
    """Exercise 3.1: ``mixture_log_px(x, weights, means, stds) -> log p(x)``, the fixed :func:`mixture_log_px_draft`
    (a find-the-bugs exercise: its two planted bugs are the first listed mistakes).

    x [N], weights [K], means [K], stds [K] -> [N]:
    log p(x) = logsumexp_k [log pi_k + log N(x; mu_k, sigma_k^2)].
    """
    return check_function("Exercise 3.1 (log p(x) of a mixture)", mixture_log_px,
                          float64_reference(_mixture_log_px_reference), _mixture_cases(), _MIXTURE_MISTAKES, rtol=1e-7, atol=1e-9,
                          compare=lambda g, w: same_nan(g, w, rtol=1e-7, atol=1e-9),
                          passed="Right far from every component too, where the terms underflow.")
