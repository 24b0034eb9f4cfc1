"""Checks for notebook 02 (mixtures of Gaussians and EM): `check_e_step`, `check_m_step`."""

from __future__ import annotations

from typing import Callable

import torch

from lvmlib.exercises._core import Case, Mistake, Report, check_function, check_parts, same_nan, float64_reference


def _mvn_log_prob(x, means, covariances):
    from torch.distributions import MultivariateNormal

    return MultivariateNormal(means, covariances).log_prob(x.unsqueeze(-2))  # [N, K]


def _e_step_reference(x, weights, means, covariances):
    log_joint = torch.log(weights) + _mvn_log_prob(x, means, covariances)  # [N, K]
    return torch.exp(log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True))  # [N, K]


def _e_step_cases() -> list[Case]:
    d = torch.float64
    w3 = torch.tensor([0.5, 0.3, 0.2], dtype=d)
    mu3 = torch.tensor([[-2.0, 0.0], [1.0, 1.0], [2.0, -1.5]], dtype=d)
    cov3 = torch.stack([torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=d), 0.4 * torch.eye(2, dtype=d),
                        torch.tensor([[0.8, -0.2], [-0.2, 0.3]], dtype=d)])
    x = torch.tensor([[-1.5, 0.2], [0.0, 0.5], [1.8, -1.0], [0.5, 0.5], [3.0, 1.0]], dtype=d)
    far = torch.tensor([[60.0, -40.0], [-55.0, 30.0], [0.0, 0.0]], dtype=d)  # log-densities about -2000
    return [Case("K = 3, 5 points", (x, w3, mu3, cov3)),
            Case("points far from every component (log-densities about -2000)", (far, w3, mu3, cov3)),
            Case("K = 1", (x, torch.ones(1, dtype=d), mu3[:1], cov3[:1])),
            Case("a single data point", (x[1:2], w3, mu3, cov3)),
            Case("float32, points far away", tuple(t.float() for t in (torch.cat([x[:2], far[:2]]), w3, mu3, cov3)))]


_E_STEP_MISTAKES = [
    Mistake("over-points", "The responsibilities are normalised over the data points (dim 0); each POINT's "
            "responsibilities must sum to 1 over the components: normalise along dim 1 (over k).",
            lambda x, w, m, c: (lambda lj: torch.exp(lj - torch.logsumexp(lj, dim=0, keepdim=True)))(
                torch.log(w) + _mvn_log_prob(x, m, c))),
    Mistake("exp-first", "You exponentiated before normalising: far from every component pi_k N(x; mu_k, "
            "Sigma_k) underflows to 0 and 0 / 0 gives NaN. Normalise in log space: "
            "log r = log_joint - logsumexp(log_joint, dim=1, keepdim=True), then exp.",
            lambda x, w, m, c: (lambda p: p / p.sum(1, keepdim=True))(torch.exp(torch.log(w) + _mvn_log_prob(x, m, c)))),
    Mistake("no-weights", "You left out the mixture weights: r_nk is proportional to pi_k N(x_n; mu_k, Sigma_k); "
            "add log pi_k to the log-densities before normalising.",
            lambda x, w, m, c: (lambda lj: torch.exp(lj - torch.logsumexp(lj, dim=1, keepdim=True)))(_mvn_log_prob(x, m, c))),
    Mistake("log-resp", "You returned the log-responsibilities; return the responsibilities themselves (exp of them).",
            lambda x, w, m, c: (lambda lj: lj - torch.logsumexp(lj, dim=1, keepdim=True))(torch.log(w) + _mvn_log_prob(x, m, c))),
    Mistake("unnormalised", "The responsibilities are not normalised: divide pi_k N(x_n; mu_k, Sigma_k) by its sum "
            "over k (in log space: subtract logsumexp over dim 1).",
            lambda x, w, m, c: torch.exp(torch.log(w) + _mvn_log_prob(x, m, c))),
]


def check_e_step(e_step: Callable) -> Report:
    """Exercise 2.1: ``e_step(x, weights, means, covariances) -> r``.

    x [N, D], weights [K], means [K, D], covariances [K, D, D] -> responsibilities [N, K],
    r_nk = pi_k N(x_n; mu_k, Sigma_k) / sum_j pi_j N(x_n; mu_j, Sigma_j), computed in log space.
    """
    return check_function("Exercise 2.1 (the E-step)", e_step, float64_reference(_e_step_reference), _e_step_cases(), _E_STEP_MISTAKES,
                          rtol=1e-6, atol=1e-9, compare=lambda g, w: same_nan(g, w, rtol=1e-6, atol=1e-9),
                          passed="Every point's responsibilities sum to 1, even where the densities underflow.")


def _m_step(x, r, *, mean_div="Nk", cov_weighted=True, cov_div="Nk", centred=True, weights_div=True):
    n_k = r.sum(0)  # [K]
    weights = n_k / x.shape[0] if weights_div else n_k
    sums = r.T @ x  # [K, D]
    means = {"Nk": sums / n_k.unsqueeze(-1), "none": sums, "N": sums / x.shape[0]}[mean_div]
    diff = x.unsqueeze(0) - means.unsqueeze(1) if centred else x.unsqueeze(0).expand(len(n_k), -1, -1)  # [K, N, D]
    wts = r.T if cov_weighted else torch.ones_like(r.T)  # [K, N]
    cov = torch.einsum("kn,kni,knj->kij", wts, diff, diff)  # [K, D, D]
    div = {"Nk": n_k if cov_weighted else torch.full_like(n_k, x.shape[0]), "N": torch.full_like(n_k, x.shape[0])}[cov_div]
    return weights, means, cov / div.reshape(-1, 1, 1)


def _m_step_reference(x, r):
    return _m_step(x, r)


def _m_step_cases() -> list[Case]:
    d = torch.float64
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 2, generator=g, dtype=d) * torch.tensor([1.5, 0.7], dtype=d) + torch.tensor([1.0, -2.0], dtype=d)
    r = torch.softmax(2 * torch.randn(7, 3, generator=g, dtype=d), dim=1)  # [7, 3], rows sum to 1
    return [Case("K = 3, 7 points, soft responsibilities", (x, r)),
            Case("K = 1 (every r_n1 = 1)", (x, torch.ones(7, 1, dtype=d))),
            Case("hard responsibilities (0 or 1), K = 2", (x, torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 4, dtype=d))),
            Case("a single data point", (x[:1], torch.tensor([[0.25, 0.75]], dtype=d)))]


_M_WEIGHT_MISTAKES = [
    Mistake("weights-not-normalised", "The weights are the counts N_k = sum_n r_nk; divide by N so that they sum to 1.",
            lambda x, r: _m_step(x, r, weights_div=False)),
]
_M_MEAN_MISTAKES = [
    Mistake("means-not-divided", "The means are sums: divide sum_n r_nk x_n by N_k = sum_n r_nk (not by 1).",
            lambda x, r: _m_step(x, r, mean_div="none")),
    Mistake("means-over-N", "The means are divided by N; divide by N_k = sum_n r_nk, the (soft) number of points "
            "of component k.", lambda x, r: _m_step(x, r, mean_div="N")),
]
_M_COV_MISTAKES = [
    Mistake("cov-unweighted", "The covariances ignore the responsibilities: weight each outer product "
            "(x_n - mu_k)(x_n - mu_k)^T by r_nk and divide by N_k.", lambda x, r: _m_step(x, r, cov_weighted=False)),
    Mistake("cov-over-N", "The covariances are divided by N; divide sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T by N_k.",
            lambda x, r: _m_step(x, r, cov_div="N")),
    Mistake("cov-not-centred", "The covariances are not centred: use x_n - mu_k (with the NEW mean mu_k), "
            "not x_n.", lambda x, r: _m_step(x, r, centred=False)),
    Mistake("cov-means-not-divided", "The means are sums (divide by N_k), and the covariances built from them are "
            "wrong too.", lambda x, r: _m_step(x, r, mean_div="none")),
    Mistake("cov-means-over-N", "The means are divided by N instead of N_k, and the covariances built from them are "
            "wrong too.", lambda x, r: _m_step(x, r, mean_div="N")),
]


def check_m_step(m_step: Callable) -> Report:
    """Exercise 2.2: ``m_step(x, r) -> (weights, means, covariances)``.

    x [N, D], r [N, K] -> weights [K] = N_k / N, means [K, D] = sum_n r_nk x_n / N_k,
    covariances [K, D, D] = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k, N_k = sum_n r_nk.
    """
    return check_parts("Exercise 2.2 (the M-step)", m_step, _m_step_reference, _m_step_cases(),
                        [("weights", _M_WEIGHT_MISTAKES), ("means", _M_MEAN_MISTAKES),
                         ("covariances", _M_COV_MISTAKES)], rtol=1e-6, atol=1e-9,
                        passed="Each Gaussian is fit to its points, weighted by the responsibilities.")
