"""The readable reference EM (lvmlib.mixtures.reference) against the fast path and scikit-learn."""

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from lvmlib.mixtures import GaussianMixture, reference

F64 = torch.float64
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _problem(seed: int, n: int = 300, d: int = 3, k: int = 4):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(k, d, generator=g, dtype=F64)
    x = centres[torch.randint(0, k, (n,), generator=g)] + torch.randn(n, d, generator=g, dtype=F64)
    return x, k


@pytest.mark.parametrize("seed", range(5))
def test_one_reference_em_step_is_the_fast_paths_next_iterate(seed):
    x, k = _problem(seed)
    gm = GaussianMixture(k, covariance_type="full", tol=0.0, max_iter=6, init_params="random_from_data",
                         random_state=seed, keep_history=True, reg_covar=1e-6).fit(x)
    h = gm.history_
    w, mu, cov = (torch.as_tensor(np.asarray(h[p])) for p in ("weights", "means", "covariances"))
    assert w.shape[0] >= 4
    for t in range(w.shape[0] - 1):
        r = reference.e_step(x, w[t], mu[t], cov[t])
        w1, mu1, cov1 = reference.m_step(x, r, reg_covar=1e-6)
        torch.testing.assert_close(w1, w[t + 1], rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(mu1, mu[t + 1], rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(cov1, cov[t + 1], rtol=1e-9, atol=1e-10)


def test_the_step_check_can_fail():
    """The comparison above is not vacuous: an M-step without the weights' normalisation differs."""
    x, k = _problem(0)
    gm = GaussianMixture(k, tol=0.0, max_iter=2, init_params="random_from_data", random_state=0,
                         keep_history=True).fit(x)
    w, mu, cov = (torch.as_tensor(np.asarray(gm.history_[p])) for p in ("weights", "means", "covariances"))
    r = reference.e_step(x, w[0], mu[0], cov[0])
    assert not torch.allclose(r.sum(0), w[1], rtol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_reference_em_reaches_scikit_learns_fit_from_the_same_start(seed):
    x, k = _problem(seed + 10)
    xn = x.numpy()
    sk = SkGaussianMixture(k, covariance_type="full", tol=1e-8, max_iter=500, init_params="random_from_data",
                           random_state=seed).fit(xn)
    start = SkGaussianMixture(k, covariance_type="full", max_iter=1, init_params="random_from_data",
                              random_state=seed)
    start._initialize_parameters(xn, np.random.RandomState(seed))
    out = reference.em(x, torch.as_tensor(start.weights_), torch.as_tensor(start.means_),
                       torch.as_tensor(start.covariances_), tol=1e-8, max_iter=500)
    assert out.converged
    assert out.log_likelihood[-1] == pytest.approx(sk.score(xn), abs=1e-6)
    # EM never decreases the log-likelihood (up to round-off)
    assert np.all(np.diff(out.log_likelihood) > -1e-9)


def test_e_step_normalises_per_point_where_densities_underflow():
    x = torch.tensor([[60.0, -40.0], [0.0, 0.0]], dtype=F64)
    w = torch.tensor([0.5, 0.5], dtype=F64)
    mu = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64)
    cov = torch.eye(2, dtype=F64).expand(2, 2, 2)
    r = reference.e_step(x, w, mu, cov)
    assert torch.isfinite(r).all()
    torch.testing.assert_close(r.sum(1), torch.ones(2, dtype=F64))


def test_float32_follows_the_input():
    x, k = _problem(1)
    r = reference.e_step(x.float(), torch.full((k,), 1 / k), x[:k].float(), torch.eye(3).expand(k, 3, 3))
    w, mu, cov = reference.m_step(x.float(), r)
    assert r.dtype == w.dtype == mu.dtype == cov.dtype == torch.float32
