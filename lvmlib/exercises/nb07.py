"""Checks for notebook 07 (the variational autoencoder): `check_negative_elbo`, `check_reparameterized_sample`."""

from __future__ import annotations

from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, StudentFailure, call_student, check_function, same_nan


#
# Exercise 7.1: the reparameterized sample; Exercise 7.2: the negative ELBO of a batch.

from torch.distributions import Bernoulli as _Bernoulli
from torch.distributions import Independent as _Independent
from torch.distributions import Normal as _Normal
from torch.distributions import kl_divergence as _kl


def _reparam_ref(mu, log_sigma, eps):
    return mu + log_sigma.exp() * eps


def _reparam_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    mu, ls = torch.randn(3, 2, generator=g, dtype=torch.float64), 0.5 * torch.randn(3, 2, generator=g, dtype=torch.float64)
    return [
        Case("B=3, d=2", (mu, ls, torch.randn(3, 2, generator=g, dtype=torch.float64))),
        Case("K=5 samples per point: eps [5, 3, 2]", (mu, ls, torch.randn(5, 3, 2, generator=g, dtype=torch.float64))),
        Case("a single data point, d=1, log_sigma = -3", (torch.tensor([[0.5]], dtype=torch.float64),
                                                          torch.tensor([[-3.0]], dtype=torch.float64),
                                                          torch.tensor([[1.5]], dtype=torch.float64))),
    ]


REPARAM_MISTAKES = [
    Mistake("log-sigma-as-sigma", "You scaled eps by log_sigma itself; the scale is sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + ls * eps),
    Mistake("variance", "You scaled eps by the variance sigma^2; scale it by the standard deviation sigma = "
                        "log_sigma.exp().", lambda mu, ls, eps: mu + (2 * ls).exp() * eps),
    Mistake("log-variance", "You read log_sigma as a log-variance (exp(log_sigma / 2)); here it is the log of "
                            "the standard deviation: sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + (0.5 * ls).exp() * eps),
]

NO_REPARAM = ("No gradient reaches mu and log_sigma: you sampled z without the reparameterization "
              "(.sample(), torch.normal(...), or .detach() cut the graph), so the encoder would never learn. "
              "Build z from the given noise: z = mu + log_sigma.exp() * eps.")
IGNORES_EPS = ("Your z changes from call to call with the same eps: you drew fresh noise instead of using the "
               "eps given. Build z from it: z = mu + log_sigma.exp() * eps.")


def _gradient_probe(student: Callable, name: str) -> str | None:
    """Whether z = student(mu, log_sigma, eps) depends on mu and log_sigma through the graph and
    on the given eps: None if so, else "no-reparam" (no gradient reaches them) or "ignores-eps"
    (a second call with the same eps gives another z).  Runs under ``torch.enable_grad()`` (a
    notebook may have switched autograd off); says nothing about whether the values are right."""
    g = torch.Generator().manual_seed(11)
    mu0, ls0 = torch.randn(4, 3, generator=g, dtype=torch.float64), 0.3 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(4, 3, generator=g, dtype=torch.float64)
    case = Case("B=4, d=3, mu and log_sigma require gradients", (mu0, ls0, eps))
    with torch.enable_grad():
        z, leaves = call_student(name, student, case, grad=(0, 1), return_args=True,
                                 what="when called with mu and log_sigma that require gradients")
        if not isinstance(z, torch.Tensor) or not z.requires_grad:
            return "no-reparam"
        grads = torch.autograd.grad(z.sum(), [leaves[0], leaves[1]], allow_unused=True)
    if any(gr is None or not bool(gr.abs().sum() > 0) for gr in grads):
        return "no-reparam"
    again = call_student(name, student, case, what="when called twice with the same eps")
    if not isinstance(again, torch.Tensor) or again.shape != z.shape or \
            not torch.allclose(z.detach(), again.detach().to(z.dtype)):
        return "ignores-eps"
    return None


def check_reparameterized_sample(student: Callable) -> Report:
    """Exercise 7.1: ``student(mu, log_sigma, eps) -> z = mu + exp(log_sigma) * eps`` (broadcasting).

    Besides the values, checks that the right gradient flows to ``mu`` and ``log_sigma`` (the
    point of the trick).  The gradient is diagnosed only where it says something true: "no
    gradient reaches mu" only when none does, a wrong gradient only when the values are right.
    """
    name = "Exercise 7.1 (the reparameterized sample)"
    report = check_function(name, student, _reparam_ref, _reparam_cases(), REPARAM_MISTAKES, grad=(0, 1))
    if report.mistake in ("wrong-type", "changed-input"):
        return report
    if report.passed or report.status in ("todo", "error") or report.mistake is not None:
        if report.passed:
            return Report(name, "passed", report.message + " The gradient reaches mu and log_sigma.")
        if report.mistake == "no-gradient":
            problem = None
            try:
                problem = _gradient_probe(student, name)
            except StudentFailure as fail:
                return Report(name, fail.status, fail.text)
            if problem is not None:
                return Report(name, "wrong", f"{name}: not yet. {NO_REPARAM if problem == 'no-reparam' else IGNORES_EPS}",
                              problem)
        return report
    # the values are wrong and no listed mistake explains them: say so, unless there is no
    # gradient at all or eps is ignored (true whatever the values)
    try:
        problem = _gradient_probe(student, name)
    except StudentFailure as fail:
        return Report(name, fail.status, fail.text)
    if problem is not None:
        return Report(name, "wrong", f"{name}: not yet. {NO_REPARAM if problem == 'no-reparam' else IGNORES_EPS}", problem)
    return report


def _neg_elbo_ref(x, logits, mu, log_sigma):
    rec = _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]
    q = _Independent(_Normal(mu, log_sigma.exp()), 1)
    prior = _Independent(_Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    return -(rec - _kl(q, prior)).mean()


def _rec(x, logits):
    return _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]


def _kl_std(mu, log_sigma):
    return 0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1)  # [B]


def _neg_elbo_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 6, generator=g) < 0.5).float()
    confident = torch.tensor([[40.0, -40.0, 40.0, -40.0]])
    return [
        Case("B=3 digits, 6 pixels, d=2", (x, torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g),
                                           0.5 * torch.randn(3, 2, generator=g))),
        Case("a single data point, d=1", (x[:1], torch.randn(1, 6, generator=g), torch.tensor([[0.7]]),
                                          torch.tensor([[-1.0]]))),
        Case("confident logits +-40, half of them wrong", (torch.tensor([[1.0, 0.0, 0.0, 1.0]]), confident,
                                                           torch.zeros(1, 2), torch.zeros(1, 2))),
    ]


NEG_ELBO_MISTAKES = [
    Mistake("kl-sign", "The KL has the wrong sign: ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z)), so the "
                       "loss (minus the ELBO) ADDS the KL to the reconstruction loss.",
            lambda x, l, mu, ls: -(_rec(x, l) + _kl_std(mu, ls)).mean()),
    Mistake("sum-batch", "You summed over the batch; average over the digits (the loss per digit does not "
                         "change with the batch size, so the learning rate means the same for any batch).",
            lambda x, l, mu, ls: -(_rec(x, l) - _kl_std(mu, ls)).sum()),
    Mistake("not-negated", "You returned the ELBO itself; the loss to minimize is minus the ELBO.",
            lambda x, l, mu, ls: (_rec(x, l) - _kl_std(mu, ls)).mean()),
    Mistake("pixel-mean", "You averaged the reconstruction term over the pixels too (binary_cross_entropy's "
                          "default reduction='mean'): log p(x | z) SUMS over the pixels; average only over digits.",
            lambda x, l, mu, ls: torch.nn.functional.binary_cross_entropy_with_logits(l, x) + _kl_std(mu, ls).mean()),
    Mistake("no-kl", "You left out the KL term: that is an autoencoder's reconstruction loss, not minus the ELBO.",
            lambda x, l, mu, ls: -_rec(x, l).mean()),
    Mistake("log-variance", "Your KL reads log_sigma as a log-variance; here it is the log of the standard "
                            "deviation: KL = 0.5 * sum(mu^2 + sigma^2 - 1 - 2 log sigma).",
            lambda x, l, mu, ls: -(_rec(x, l) - 0.5 * (mu ** 2 + ls.exp() - 1 - ls).sum(-1)).mean()),
    Mistake("sigmoid-log", "You took log(sigmoid(logits)) by hand: at a confident pixel sigmoid(40) is exactly 1.0 "
                           "in float32 and log(1 - 1) = -inf. Use Bernoulli(logits=logits).log_prob(x) or "
                           "binary_cross_entropy_with_logits (stable for any logit).",
            lambda x, l, mu, ls: (-(x * torch.sigmoid(l).log() + (1 - x) * (1 - torch.sigmoid(l)).log()).sum(-1)
                                  + _kl_std(mu, ls)).mean()),
]


def check_negative_elbo(student: Callable) -> Report:
    """Exercise 7.2: ``student(x [B, D], logits [B, D], mu [B, d], log_sigma [B, d]) -> scalar``:
    minus the ELBO, mean over the batch of ( -log p(x | z) + KL(N(mu, sigma^2) || N(0, I)) )."""
    return check_function("Exercise 7.2 (the negative ELBO of a batch)", student, _neg_elbo_ref, _neg_elbo_cases(),
                          NEG_ELBO_MISTAKES, compare=lambda g, w: same_nan(g, w, rtol=1e-4, atol=1e-4), grad=(1, 2, 3),
                          passed="Minimizing it is maximizing the ELBO, per digit.")
