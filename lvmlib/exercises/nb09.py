"""Checks for notebook 09 (learning with the ELBO): `check_score_function_terms`."""

from __future__ import annotations

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_function


def _score_terms_reference(f_values, z, loc, scale):
    """f(z_n) d/d(mu, sigma) log N(z_n; mu, diag sigma^2), per sample: ([N, D], [N, D])."""
    u = z - loc  # [N, D]
    f = f_values[:, None]  # [N, 1]
    return f * u / scale**2, f * (u**2 / scale**3 - 1 / scale)


def _score_cases():
    g = torch.Generator().manual_seed(9)
    cases = []
    for name, n, d, s in (("N = 5 samples, D = 3, sigma = 0.7", 5, 3, 0.7),
                          ("one sample, D = 1, sigma = 2", 1, 1, 2.0),
                          ("N = 4, D = 2, different sigma per dimension", 4, 2, None)):
        loc = torch.randn(d, generator=g, dtype=torch.float64)
        scale = torch.full((d,), s, dtype=torch.float64) if s else torch.tensor([0.5, 1.5], dtype=torch.float64)
        z = loc + scale * torch.randn(n, d, generator=g, dtype=torch.float64)
        f_values = ((z - 1.0) ** 2).sum(-1)
        cases.append(Case(name, (f_values, z, loc, scale)))
    return cases


_SCORE_MISTAKES = (
    Mistake("no-minus-1-over-sigma", "The sigma part misses the derivative of the normalizer: log N(z; mu, sigma^2) contains "
            "-log sigma, whose derivative -1/sigma must be added to (z - mu)^2 / sigma^3.",
            lambda f, z, m, s: (f[:, None] * (z - m) / s**2, f[:, None] * (z - m) ** 2 / s**3)),
    Mistake("sigma-not-squared", "d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2, not (z - mu) / sigma: the density "
            "has (z - mu)^2 / (2 sigma^2) in the exponent.",
            lambda f, z, m, s: (f[:, None] * (z - m) / s, f[:, None] * ((z - m) ** 2 / s**3 - 1 / s))),
    Mistake("no-f", "Each term is f(z_n) times the score; without f(z_n) you estimate E_q[score] = 0, not the gradient.",
            lambda f, z, m, s: ((z - m) / s**2, (z - m) ** 2 / s**3 - 1 / s)),
    Mistake("averaged", "Return one term per sample, shape [N, D] (the notebook averages them and measures their spread), "
            "not their mean over the samples.",
            lambda f, z, m, s: tuple(t.mean(0) for t in _score_terms_reference(f, z, m, s))),
)


def check_score_function_terms(student) -> Report:
    """Exercise 9.1: ``student(f_values [N], z [N, D], loc [D], scale [D]) -> (terms for mu, terms for sigma)``,
    each [N, D]: the score-function (REINFORCE) terms f(z_n) d/dphi log q(z_n)."""
    return check_function("Exercise 9.1 (the score-function estimator)", student, _score_terms_reference,
                          _score_cases(), _SCORE_MISTAKES, rtol=1e-7, atol=1e-9,
                          passed="Their mean is an unbiased estimate of the gradient; the next cell compares it with the exact one.")


def score_function_terms(f_values, z, loc, scale):
    """lvmlib's answer to exercise 9.1 (what ``exercises.choose`` runs until the student's passes)."""
    return _score_terms_reference(f_values, z, loc, scale)
