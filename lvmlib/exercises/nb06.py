"""Checks for notebook 06 (the ELBO and its gap): `check_objective` (exercise 6.1, the ELBO / IWAE training
objective of a batch); `check_elbo` and `check_iwae_bound` check the two reductions of log-weights alone."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib import inference as _est
from lvmlib.exercises._core import Case, Mistake, Report, check_function, float64_reference, same_nan
from lvmlib.exercises._cases import log_mean_exp, log_weight_cases
from lvmlib.models.toy import toy_problem


#
# Exercise 6.1: the ELBO from log-weights; Exercise 6.2: the IWAE bound from log-weights.


def _elbo_ref(log_w):  # noqa: D103 - the parameter name is the one the reports use
    return log_w.mean(0)


ELBO_MISTAKES = [
    Mistake("logsumexp", "You took logsumexp - log K: that is the IWAE bound L_K (exercise 6.2), not the ELBO. "
                         "The ELBO averages the log-weights: log_w.mean(0).", log_mean_exp),
    Mistake("sum", "You summed the K log-weights; the ELBO estimate is their mean.", lambda lw: lw.sum(0)),
    Mistake("dim", "You averaged over dim 1, the data points. log_w has shape [K, B]: average over the K "
                   "samples (dim 0), one ELBO per data point.", lambda lw: lw.mean(1)),
]


def check_elbo(student: Callable) -> Report:
    """Exercise 6.1: ``student(log_w [K, B]) -> [B]``, the Monte Carlo ELBO = mean_k log w_k."""
    return check_function("Exercise 6.1 (the ELBO from log-weights)", student, float64_reference(_elbo_ref), log_weight_cases(),
                          ELBO_MISTAKES, compare=same_nan, grad=(0,), passed="With K = 1 it is the single log-weight.")


IWAE_MISTAKES = [
    Mistake("mean", "You averaged the log-weights: that is the ELBO, not the IWAE bound. L_K puts the "
                    "average inside the log: logsumexp over the K samples, minus log K.", lambda lw: lw.mean(0)),
    Mistake("no-logK", "You forgot the - log K: without it the bound grows by log K and passes log p(x).",
            lambda lw: torch.logsumexp(lw, 0)),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and its log is -inf. "
                         "Use torch.logsumexp(log_w, 0) - math.log(K).", lambda lw: lw.exp().mean(0).log()),
    Mistake("log-B", "You divided by the number of data points B (log_w.shape[1]) instead of the number of "
                     "samples K (log_w.shape[0]).", lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1])),
    Mistake("dim", "You reduced over dim 1, the data points; the K samples run along dim 0.",
            lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1])),
]


def check_iwae_bound(student: Callable) -> Report:
    """Exercise 6.2: ``student(log_w [K, B]) -> [B]``, L_K = logsumexp_k log w_k - log K."""
    return check_function("Exercise 6.2 (the IWAE bound from log-weights)", student, float64_reference(log_mean_exp), log_weight_cases(),
                          IWAE_MISTAKES, compare=same_nan, grad=(0,),
                          passed="With K = 1 it equals the ELBO; with equal weights it is exact.")


# ---------------------------------------------------------------------------------------------
# Exercise 6.1: the training objective of a batch, the ELBO or the IWAE bound, from a model and an encoder
# ---------------------------------------------------------------------------------------------
#
# The student's function draws z itself with the skeleton's line z = sample(q, (K,), generator), so with
# the same seed the reference draws the same z: the values are compared exactly, and the gradient with
# respect to x (through the encoder's q(z | x) and the reparameterized z) against the reference's.


class _SeededObjective:
    """``fn(x, model, encoder, K, kind, generator=torch.Generator().manual_seed(seed))``: a fresh generator
    per call, so the reference, the student and each listed mistake draw the same samples."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, x, model, encoder, K, kind, seed):
        return self.fn(x, model, encoder, K, kind, generator=torch.Generator().manual_seed(seed))


class LinearEncoder:
    """q(z | x) = N(x A + c, diag(scale^2)) for every row of x: batch [B], event [Dz] (a stand-in for a VAE's
    encoder: its loc depends on x, so a gradient with respect to x flows through the reparameterized z)."""

    def __init__(self, A, c, scale):
        self.A, self.c, self.scale = A, c, scale

    def __call__(self, x):
        from torch.distributions import Independent, Normal

        loc = x @ self.A + self.c  # [B, Dz]
        return Independent(Normal(loc, self.scale.expand_as(loc)), 1)

    def __repr__(self):
        return f"LinearEncoder(Dx={self.A.shape[0]}, Dz={self.A.shape[1]})"


def _parts(x, model, encoder, K, generator, *, detach_z_in_q=False):
    from lvmlib.distributions import sample

    q = encoder(x)  # batch [B]
    z = sample(q, (K,), generator)  # [K, B, Dz]
    log_q = q.log_prob(z.detach() if detach_z_in_q else z)
    return model.prior().log_prob(z), model.likelihood(z).log_prob(x), log_q, q


def objective(x, model, encoder, K, kind="elbo", generator=None):
    """lvmlib's answer: the per-point ELBO (mean of the K log-weights) or IWAE bound (logsumexp - log K), [B]."""
    if kind not in ("elbo", "iwae"):
        raise ValueError(f"kind must be 'elbo' or 'iwae', got {kind!r}")
    q = encoder(x)
    log_w = _est.log_weights(x, model, q, K, generator=generator, check=False)  # [K, B]
    return log_w.mean(0) if kind == "elbo" else torch.logsumexp(log_w, 0) - math.log(K)


def _reduce(log_w, kind, K):
    return log_w.mean(0) if kind == "elbo" else torch.logsumexp(log_w, 0) - math.log(K)


def _mistake(reduce_elbo, reduce_iwae, **kw):
    def fn(x, model, encoder, K, kind="elbo", generator=None):
        lp, ll, lq, q = _parts(x, model, encoder, K, generator, **kw)
        log_w = lp + ll - lq
        return reduce_elbo(log_w, K, lp, ll, lq, q, model) if kind == "elbo" else reduce_iwae(log_w, K, lp, ll, lq, q, model)
    return fn


def _analytic_kl(q, model):
    from torch.distributions import kl_divergence
    return kl_divergence(q, model.prior())


_ELBO = lambda lw, K, *a: lw.mean(0)  # noqa: E731
_IWAE = lambda lw, K, *a: torch.logsumexp(lw, 0) - math.log(K)  # noqa: E731

OBJECTIVE_MISTAKES = [
    Mistake("swapped", "Your kinds are swapped: kind='elbo' must average the log-weights, mean_k log w_k (the "
                       "average outside the log); kind='iwae' averages the weights inside the log, "
                       "logsumexp_k log w_k - log K.", _mistake(_IWAE, _ELBO)),
    Mistake("iwae-no-logK", "Your IWAE bound forgot the - log K: without it the bound grows by log K and passes "
                            "log p(x). logsumexp adds the K weights; the bound averages them.",
            _mistake(_ELBO, lambda lw, K, *a: torch.logsumexp(lw, 0))),
    Mistake("iwae-exp-first", "You exponentiated the log-weights before averaging: exp(-2000) underflows to 0 and "
                              "its log is -inf. Stay in log space: torch.logsumexp(log_w, 0) - math.log(K).",
            _mistake(_ELBO, lambda lw, K, *a: lw.exp().mean(0).log())),
    Mistake("analytic-kl", "You took the KL to the prior out of the bound analytically (E_q[log p(x | z)] - "
                           "KL(q || p(z))). For the IWAE bound that is wrong: the KL cannot be taken out of the log "
                           "of an average; and this exercise builds both objectives from the same K log-weights "
                           "log p(z) + log p(x | z) - log q(z) (one path for every estimator).",
            _mistake(lambda lw, K, lp, ll, lq, q, m: ll.mean(0) - _analytic_kl(q, m),
                     lambda lw, K, lp, ll, lq, q, m: torch.logsumexp(ll, 0) - math.log(K) - _analytic_kl(q, m))),
    Mistake("no-log-q", "You left out log q(z | x): a log-weight is log p(z) + log p(x | z) - log q(z | x).",
            _mistake(lambda lw, K, lp, ll, *a: (lp + ll).mean(0),
                     lambda lw, K, lp, ll, *a: torch.logsumexp(lp + ll, 0) - math.log(K))),
    Mistake("sum", "You summed the K log-weights for the ELBO; the estimate is their mean.",
            _mistake(lambda lw, K, *a: lw.sum(0), _IWAE)),
]


def _objective_cases() -> list[Case]:
    from lvmlib.models import LinearGaussian

    d = torch.float64
    model, x1 = toy_problem()
    x3 = torch.cat([x1, x1 - 1.0, x1 + 0.5])  # [3, 1]
    enc1 = LinearEncoder(torch.tensor([[0.4]], dtype=d), torch.tensor([0.2], dtype=d), torch.tensor([0.5], dtype=d))
    W = torch.tensor([[1.0, -0.5], [0.3, 2.0], [-1.0, 0.8]], dtype=d)
    lg2 = LinearGaussian(W, torch.tensor([0.1, -0.2, 0.0], dtype=d), 0.7)
    xd = torch.tensor([[0.5, 1.5, -1.0], [-1.0, 0.2, 0.4]], dtype=d)
    enc2 = LinearEncoder(torch.tensor([[0.3, -0.2], [0.1, 0.4], [-0.3, 0.2]], dtype=d), torch.tensor([0.1, 0.0], dtype=d),
                         torch.tensor([0.6, 0.4], dtype=d))
    far = torch.tensor([[130.0], [125.0]], dtype=d)  # log-weights near -2000: exp underflows
    m32, x32 = toy_problem(dtype=torch.float32)
    x32 = torch.cat([x32, x32 + 0.5])
    enc32 = LinearEncoder(torch.tensor([[0.4]]), torch.tensor([0.2]), torch.tensor([0.5]))
    return [
        Case("the toy model, B = 3 points, K = 5, kind = 'elbo'", (x3, model, enc1, 5, "elbo", 1)),
        Case("the toy model, B = 3 points, K = 5, kind = 'iwae'", (x3, model, enc1, 5, "iwae", 1)),
        Case("K = 1, kind = 'iwae' (equals the ELBO)", (x3, model, enc1, 1, "iwae", 2)),
        Case("a 2-D latent and a 3-D x, K = 4, kind = 'elbo'", (xd, lg2, enc2, 4, "elbo", 3)),
        Case("a 2-D latent and a 3-D x, K = 4, kind = 'iwae'", (xd, lg2, enc2, 4, "iwae", 3)),
        Case("points far out (log-weights near -2000), K = 6, kind = 'iwae'", (far, model, enc1, 6, "iwae", 4)),
        Case("one data point, K = 8, kind = 'elbo'", (x1, model, enc1, 8, "elbo", 5)),
        Case("float32, B = 2, K = 5, kind = 'iwae'", (x32, m32, enc32, 5, "iwae", 6)),
    ]


def check_objective(student: Callable) -> Report:
    """Exercise 6.1: ``student(x [B, Dx], model, encoder, K, kind, generator=None) -> [B]``, the per-point
    ELBO (``kind="elbo"``) or IWAE bound (``kind="iwae"``) from K reparameterized samples, with a gradient."""
    report = check_function("Exercise 6.1 (the ELBO and IWAE objectives of a batch)", _SeededObjective(student),
                            _SeededObjective(objective), _objective_cases(),
                            [Mistake(m.name, m.explain, _SeededObjective(m.fn)) for m in OBJECTIVE_MISTAKES],
                            compare=same_nan, grad=(0,),
                            passed="Both kinds carry the reparameterization gradient; with K = 1 they agree.")
    return report
