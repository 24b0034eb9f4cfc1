"""Checks for notebook 06 (the ELBO and its gap): `check_elbo`, `check_iwae_bound`."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib.exercises._core import Mistake, Report, check_function, float64_reference, same_nan
from lvmlib.exercises.nb05 import log_mean_exp, log_weight_cases


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
