"""Checks for notebook 02 (mixtures of Gaussians and EM): `check_e_step`, `check_m_step`."""

from __future__ import annotations

from typing import Callable

import torch

from lvmlib.exercises._types import allclose  # (bound when the checks load)

from lvmlib.exercises._core import (
    Case,
    Mistake,
    Report,
    check_function,
    check_parts,
    float64_reference,
    same_nan,
)


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


# ---------------------------------------------------------------------------------------------
# Exercise 2.3: the EM loop with its stopping rule on the bound
# ---------------------------------------------------------------------------------------------

def _em_steps(reg_covar: float = 0.01):
    """The steps the check passes in: the textbook E-step, and an M-step with ``reg_covar`` (visible:
    a loop that calls its own M-step instead of the one it is given takes another path)."""
    from lvmlib.mixtures import reference

    def m_step(x, r):
        return reference.m_step(x, r, reg_covar)
    return reference.e_step, m_step


def _em_reference(x, weights, means, covariances, e_step, m_step, *, tol, max_iter):
    from lvmlib.mixtures.reference import em_loop

    return em_loop(x, weights, means, covariances, e_step, m_step, tol=tol, max_iter=max_iter)


def _em_cases() -> list[Case]:
    d = torch.float64
    g = torch.Generator().manual_seed(23)
    centres = torch.tensor([[-3.0, 0.0], [2.0, 2.0], [2.5, -2.0]], dtype=d)
    x = centres[torch.arange(60) % 3] + 0.8 * torch.randn(60, 2, generator=g, dtype=d)  # [60, 2], 3 blobs
    w0 = torch.full((3,), 1 / 3, dtype=d)
    mu0 = torch.tensor([[-1.0, 0.5], [0.0, 0.0], [1.0, -0.5]], dtype=d)  # a crude start: EM has work to do
    cov0 = torch.eye(2, dtype=d).expand(3, 2, 2).clone()
    steps = _em_steps()
    start = (x, w0, mu0, cov0) + steps
    return [Case("3 blobs, a crude start, tol = 1e-3", start, {"tol": 1e-3, "max_iter": 40}),
            Case("the same with tol = 1e-6 (more iterations)", start, {"tol": 1e-6, "max_iter": 40}),
            Case("max_iter = 3 with tol = 0 (it must stop after 3 iterations, not converged)", start,
                 {"tol": 0.0, "max_iter": 3}),
            Case("tol = 10 (the first rise is already below it: one iteration, converged)", start,
                 {"tol": 10.0, "max_iter": 40}),
            Case("K = 1 (EM is done after one M-step; the second iteration rises by 0)",
                 (x, torch.ones(1, dtype=d), mu0[:1], cov0[:1]) + steps, {"tol": 1e-8, "max_iter": 20}),
            Case("max_iter = 0 (only the start)", start, {"tol": 1e-3, "max_iter": 0}),
            Case("tol = 10 and max_iter = 1 (the rule stops the last allowed iteration: converged)", start,
                 {"tol": 10.0, "max_iter": 1}),
            Case("K = 1, max_iter = 2 (the second and last iteration rises by 0: converged)",
                 (x, torch.ones(1, dtype=d), mu0[:1], cov0[:1]) + steps, {"tol": 1e-8, "max_iter": 2})]


def _em_parts(out):
    """(params, log_liks, converged) with the types checked; raises ValueError saying what is wrong."""
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"one {type(out).__name__}"
        raise ValueError(f"return three values (params, log_liks, converged), got {got}")
    params, log_liks, converged = out
    if not isinstance(params, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 3 and all(isinstance(t, torch.Tensor) for t in p) for p in params):
        raise ValueError("params must be a list with one (weights, means, covariances) tuple of tensors per "
                         "iteration, params[0] the start")
    try:
        lls = [float(v) for v in log_liks]
    except (TypeError, ValueError):
        raise ValueError("log_liks must be a list of numbers (log_likelihood(x, *params[t]) for every t)") from None
    if not isinstance(converged, (bool, torch.Tensor)) and type(converged).__name__ != "bool_":
        raise ValueError(f"converged must be True or False, got {type(converged).__name__}")
    return list(params), lls, bool(converged)


def _em_compare(got, want, *, rtol: float = 1e-7, atol: float = 1e-9) -> tuple[bool, str]:
    try:
        params, lls, conv = _em_parts(got)
    except ValueError as err:
        return False, str(err)
    w_params, w_lls, w_conv = _em_parts(want)
    n, m = len(params) - 1, len(w_params) - 1
    if len(lls) != len(params):
        return False, (f"params has {len(params)} entries but log_liks {len(lls)}: record both after every "
                       "iteration, and the start's log-likelihood before the loop")
    # the iterates both runs have, from the start on
    names = ("weights", "means", "covariances")
    for t in range(min(n, m) + 1):
        for name, a, b in zip(names, params[t], w_params[t]):
            if a.shape != b.shape:
                return False, f"params[{t}]: {name} have shape {list(a.shape)}, expected {list(b.shape)}"
            if not allclose(a.detach().double().cpu(), b.double().cpu(), rtol=rtol, atol=atol):
                what = "the start (params[0] must be the parameters you were given)" if t == 0 else f"iteration {t}"
                diff = float((a.detach().double().cpu() - b.double().cpu()).abs().max())
                return False, (f"{what}: the {name} differ from EM's (largest difference {diff:.3g}); each iteration "
                               "is m_step(x, e_step(x, *params[-1])) with the e_step and m_step you are given")
        if abs(lls[t] - w_lls[t]) > 1e-9 + 1e-9 * abs(w_lls[t]):
            return False, (f"log_liks[{t}] = {lls[t]:.6f}, expected {w_lls[t]:.6f}: record "
                           f"log_likelihood(x, *params[{t}]), the MEAN log-likelihood per point of params[{t}]")
    if n != m:
        rise = [w_lls[t] - w_lls[t - 1] for t in range(1, len(w_lls))]
        if n > m:
            why = ("it did not stop when the mean log-likelihood rose by less than tol"
                   if n > m + 1 else "one iteration too many: test the rule right after recording the new log-likelihood")
            if n == m + 1 and m >= 1:
                why += f" (the rise at iteration {m} was {rise[m - 1]:.2e} < tol)"
        elif n == 1 and m > 1:
            why = (f"it stopped on the first iteration, where the rise was {rise[0]:.2e}: stop when "
                   "log_liks[-1] - log_liks[-2] < tol, the rise of the last iteration")
        else:
            why = ("it stopped too early: loop up to max_iter iterations (range(1, max_iter + 1)) and stop only when "
                   "the rise of the LAST iteration, log_liks[-1] - log_liks[-2], is below tol")
        return False, f"your loop ran {n} iteration(s), EM with this rule runs {m}: {why}"
    if conv != w_conv:
        return False, (f"converged is {conv}, expected {w_conv}: True only when the rule stopped the loop, "
                       "False when it ran out of max_iter")
    return True, ""


def _em_wrong(*, rule="abs", record_start=True, stale=False, early_record=False, conv_at_max=False):
    from lvmlib.mixtures.reference import log_likelihood

    def em_loop(x, w, mu, cov, e_step, m_step, *, tol, max_iter):
        params, lls = [(w, mu, cov)], [log_likelihood(x, w, mu, cov)]
        r0 = e_step(x, w, mu, cov)
        for _ in range(max_iter):
            r = r0 if stale else e_step(x, *params[-1])
            new = tuple(m_step(x, r))
            ll = log_likelihood(x, *new)
            rise = ll - lls[-1]
            stop = {"abs": abs(rise) < tol, "never": False, "negated": -rise < tol}[rule]
            if stop and early_record:
                return params, lls, True
            params.append(new)
            lls.append(ll)
            if stop:
                return params, lls, True
        return params, lls, conv_at_max
    return em_loop


_EM_MISTAKES = [
    Mistake("em-never-stops", "Your loop never stops on the rule: after each iteration, stop (return ..., True) "
            "when the mean log-likelihood rose by less than tol: abs(log_liks[-1] - log_liks[-2]) < tol.",
            _em_wrong(rule="never")),
    Mistake("em-stops-at-once", "Your loop stops after the first iteration: the rise is log_liks[-1] - log_liks[-2] "
            "(new minus old, positive while EM climbs); stop when it is below tol, not its negative.",
            _em_wrong(rule="negated")),
    Mistake("em-stale-e-step", "Every iteration uses the responsibilities of the start: run the E-step inside "
            "the loop, on the latest parameters params[-1].", _em_wrong(stale=True)),
    Mistake("em-last-not-recorded", "Your loop stops before it records the last iteration: append the new "
            "parameters and their log-likelihood first, then test the rule on the last two log_liks.",
            _em_wrong(early_record=True)),
    Mistake("em-converged-at-max", "converged is True when the loop ran out of max_iter: return False there "
            "(the rule did not stop it; scikit-learn then warns that EM did not converge).",
            _em_wrong(conv_at_max=True)),
]


def check_em_loop(em_loop: Callable) -> Report:
    """Exercise 2.3: ``em_loop(x, weights, means, covariances, e_step, m_step, *, tol, max_iter)``.

    Returns ``(params, log_liks, converged)``: params[t] the parameters after t iterations (params[0] the
    start), log_liks[t] their mean log-likelihood; stops at the first iteration whose rise is below ``tol``.
    The reference is :func:`lvmlib.mixtures.reference.em_loop`: the same iterates (to 1e-7), the same stop.
    """
    return check_function("Exercise 2.3 (the EM loop)", em_loop, _em_reference, _em_cases(), _EM_MISTAKES,
                          compare=_em_compare, types=False,
                          passed="The same iterates as lvmlib's EM, and it stops where the rule says.")
