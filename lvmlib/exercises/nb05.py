"""Checks for notebook 05 (importance sampling): `check_ess`, `check_log_p_hat`."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_function, same_nan, float64_reference


#
# Exercise 5.1: log p-hat from log-weights; Exercise 5.2: the effective sample size.  Both take
# log-weights of shape [K, B] (K samples along dim 0, B data points) like lvmlib.inference.

from lvmlib import inference as _est


def log_weight_cases(dtype=torch.float64) -> list[Case]:
    """Log-weights [K, B] with known answers, the hard ones included."""
    t = lambda rows: torch.tensor(rows, dtype=dtype)  # noqa: E731
    return [
        Case("K=4 samples, B=3 points", (t([[0.0, -1.0, 2.0], [-2.0, -3.0, 1.5], [-1.0, 0.5, 0.0], [-0.5, -4.0, 1.0]]),)),
        Case("log-weights near -2000 (exp underflows to 0)", (t([[-2000.0, -2003.0], [-2001.0, -2000.5], [-1999.0, -2002.0]]),)),
        Case("K=1 sample", (t([[-5.0, 1.0, -2000.0]]),)),
        Case("a single data point, K=5", (t([[-3.0], [-1.0], [-7.0], [-2.5], [-1.5]]),)),
        Case("K=2 samples, B=2 points, equal weights", (t([[-4.0, 10.0], [-4.0, 10.0]]),)),
        Case("float32 log-weights near -2000, K=3, B=2",
             (torch.tensor([[-2000.0, -1.0], [-2002.5, -0.5], [-1999.5, -3.0]], dtype=torch.float32),)),
    ]


def log_mean_exp(log_w):
    return _est.log_mean_exp(log_w, 0)


LOG_P_HAT_MISTAKES = [
    Mistake("mean", "You averaged the log-weights: that is the ELBO (notebook 06), a lower bound, not the log of "
                    "the importance-sampling estimate. Average the weights, not their logs: "
                    "logsumexp over the K samples, minus log K.", lambda lw: lw.mean(0)),
    Mistake("no-logK", "You forgot the - log K: logsumexp adds the K weights; the estimate averages them "
                       "(subtract math.log(K), K = log_w.shape[0]).", lambda lw: torch.logsumexp(lw, 0)),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and its log is -inf. "
                         "Stay in log space: torch.logsumexp(log_w, 0) - math.log(K).",
            lambda lw: lw.exp().mean(0).log()),
    Mistake("log-B", "You divided by the number of data points B (log_w.shape[1]) instead of the number of "
                     "samples K (log_w.shape[0]).",
            lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1])),
    Mistake("dim", "You reduced over dim 1, the data points. log_w has shape [K, B]: the K samples of each "
                   "point run along dim 0, and the answer has shape [B].",
            lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1])),
]


def check_log_p_hat(student: Callable) -> Report:
    """Exercise 5.1: ``student(log_w [K, B]) -> [B]``, log p-hat = logsumexp_k log w_k - log K."""
    return check_function("Exercise 5.1 (log p-hat from log-weights)", student, float64_reference(log_mean_exp), log_weight_cases(),
                          LOG_P_HAT_MISTAKES, compare=same_nan,
                          passed="Your log p-hat is lvmlib's est.log_mean_exp(log_w, 0).")


def _ess(log_w):
    return _est.effective_sample_size(log_w)


def _ess_exp_first(lw):
    w = lw.exp()
    return w.sum(0) ** 2 / (w ** 2).sum(0)


ESS_MISTAKES = [
    Mistake("not-normalised", "Your weights are not normalised: 1 / sum_k w_bar_k^2 needs w_bar = w / sum_j w_j "
                              "(in log space: log_w - torch.logsumexp(log_w, 0, keepdim=True)) before squaring.",
            lambda lw: torch.exp(-torch.logsumexp(2 * lw, 0))),
    Mistake("exp-first", "You exponentiated the log-weights: exp(-2000) underflows to 0 and the ESS becomes "
                         "0 / 0 = NaN. Normalise in log space first (subtract the logsumexp), then exponentiate.",
            _ess_exp_first),
    Mistake("fraction", "You returned ESS / K, a fraction; the exercise asks for the ESS itself, a number "
                        "between 1 and K.", lambda lw: _ess(lw) / lw.shape[0]),
    Mistake("no-square", "You forgot the square: sum_k w_bar_k = 1 always, so 1 / sum_k w_bar_k is 1. "
                         "ESS = 1 / sum_k w_bar_k^2.",
            lambda lw: torch.exp(-torch.logsumexp(lw - torch.logsumexp(lw, 0, keepdim=True), 0))),
    Mistake("dim", "You normalised or summed over dim 1, the data points. log_w has shape [K, B]: samples "
                   "along dim 0.", lambda lw: _ess(lw.T)),
]


def check_ess(student: Callable) -> Report:
    """Exercise 5.2: ``student(log_w [K, B]) -> [B]``, ESS = (sum w)^2 / sum w^2, in log space."""
    return check_function("Exercise 5.2 (the effective sample size)", student, float64_reference(_ess), log_weight_cases(),
                          ESS_MISTAKES, compare=same_nan,
                          passed="Equal weights give ESS = K, one sample gives ESS = 1.")
