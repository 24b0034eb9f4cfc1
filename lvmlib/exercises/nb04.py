"""Checks for notebook 04 (naive Monte Carlo): `check_naive_mc`."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_parts


def _naive_mc(log_w, *, reduce="lse", se="right", ddof=1):
    n = log_w.shape[0]
    if reduce == "lse":
        log_p = torch.logsumexp(log_w, 0) - math.log(n)  # [B]
    elif reduce == "mean-log":
        log_p = log_w.mean(0)
    elif reduce == "no-logN":
        log_p = torch.logsumexp(log_w, 0)
    else:  # "exp-first"
        log_p = torch.log(log_w.exp().mean(0))
    ratio = torch.exp(log_w - log_p)  # w_k / p-hat, [N, B]
    if se == "right":
        rel = ratio.std(0, correction=ddof) / math.sqrt(n)
    elif se == "over-N":
        rel = ratio.std(0, correction=ddof) / n
    elif se == "no-sqrtN":
        rel = ratio.std(0, correction=ddof)
    else:  # "log-weights"
        rel = log_w.std(0, correction=ddof) / math.sqrt(n)
    return log_p, rel


def _naive_mc_cases() -> list[Case]:
    d = torch.float64
    g = torch.Generator().manual_seed(4)
    spread = -0.5 * (3 * torch.randn(2000, 2, generator=g, dtype=d)) ** 2 - 1.0  # [2000, 2]: weights spread far
    return [Case("N = 5 samples, 2 data points", (torch.tensor([[-1.0, -3.0], [-2.0, -0.5], [-0.3, -4.0],
                                                                [-5.0, -1.0], [-1.5, -2.0]], dtype=d),)),
            Case("log-weights about -2000", (torch.tensor([[-2000.0], [-2001.5], [-1999.0], [-2003.0]], dtype=d),)),
            Case("N = 2000 weights of very different sizes", (spread,)),
            Case("N = 2 samples, 1 data point", (torch.tensor([[-1.0], [-3.0]], dtype=d),))]


_MC_ESTIMATE_MISTAKES = [
    Mistake("mean-log", "You averaged the log-weights: by Jensen's inequality mean(log w) <= log mean(w), so that is "
            "biased low (it is an ELBO, not log p-hat). Average the weights, in log space: "
            "logsumexp(log_w, 0) - log N.", lambda lw: _naive_mc(lw, reduce="mean-log")),
    Mistake("no-logN", "You forgot the - log N: logsumexp adds the N weights up; their average needs - log N.",
            lambda lw: _naive_mc(lw, reduce="no-logN")),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and log 0 = -inf. "
            "Stay in log space: logsumexp(log_w, 0) - log N.", lambda lw: _naive_mc(lw, reduce="exp-first")),
]
_MC_SE_MISTAKES = [
    Mistake("se-over-N", "The standard error divides by N; it is std(w) / sqrt(N) (the variance of a mean of N "
            "draws is Var[w] / N).", lambda lw: _naive_mc(lw, se="over-N")),
    Mistake("se-no-sqrtN", "That is the spread of ONE weight, std(w) / p-hat; the standard error of the average of "
            "N weights is that divided by sqrt(N).", lambda lw: _naive_mc(lw, se="no-sqrtN")),
    Mistake("se-of-log-weights", "You took the spread of the log-weights; the standard error is that of the "
            "weights themselves, relative to p-hat: std(w / p-hat) / sqrt(N), with w / p-hat = exp(log_w - log p-hat).",
            lambda lw: _naive_mc(lw, se="log-weights")),
    Mistake("se-mean-log", "The estimate averages the log-weights (Jensen: biased low), and the standard "
            "error relative to it is off too; fix log p-hat first.", lambda lw: _naive_mc(lw, reduce="mean-log")),
    Mistake("se-exp-first", "Exponentiating first made p-hat 0 (underflow), so the relative standard error is 0 / 0; "
            "fix log p-hat first (stay in log space).", lambda lw: _naive_mc(lw, reduce="exp-first")),
    Mistake("se-no-logN", "Log p-hat lacks the - log N, so w / p-hat is N times too small; fix log p-hat first.",
            lambda lw: _naive_mc(lw, reduce="no-logN")),
]


def check_naive_mc(naive_mc: Callable) -> Report:
    """Exercise 4.1: ``naive_mc(log_w) -> (log_p_hat, rel_se)``.

    log_w [N, B]: log p(x_b | z_k) for N prior samples z_k -> log p-hat [B] =
    log (1/N sum_k w_k), and the relative standard error se(p-hat) / p-hat =
    std(w / p-hat) / sqrt(N) [B] (std with N - 1, torch's default; with N also passes).
    """
    report = check_parts("Exercise 4.1 (the naive Monte Carlo estimate and its standard error)", naive_mc, _naive_mc,
                          _naive_mc_cases(), [("log p-hat", _MC_ESTIMATE_MISTAKES), ("relative standard error", _MC_SE_MISTAKES)],
                          rtol=1e-6, atol=1e-9, passed="Log space throughout, and the error falls as 1/sqrt(N).")
    if report.status == "wrong" and "[relative standard error]" in report.message:
        biased = check_parts("Exercise 4.1 (the naive Monte Carlo estimate and its standard error)", naive_mc,
                              lambda lw: _naive_mc(lw, ddof=0), _naive_mc_cases(),
                              [("log p-hat", ()), ("relative standard error", ())], rtol=1e-6, atol=1e-9,
                              passed="(Your std divides by N, not N - 1: fine for large N.)")
        if biased.passed:
            return biased
    return report
