"""lvmlib.mixtures.BernoulliMixture: exact log p(x), EM's guarantee, the API."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from lvmlib.mixtures import BernoulliMixture


def planted(n=600, d=40, k=4, flip=0.05, seed=0):
    """Binary rows: k random prototypes with a fraction ``flip`` of pixels flipped."""
    rng = np.random.default_rng(seed)
    protos = rng.random((k, d)) < 0.5
    y = rng.integers(0, k, n)
    X = protos[y] ^ (rng.random((n, d)) < flip)
    return X.astype(np.float64), y


def brute_force_log_px(X, weights, means):
    """log sum_k pi_k prod_d mu^x (1 - mu)^(1 - x), by explicit loops in float64."""
    X, w, mu = (np.asarray(a, dtype=np.float64) for a in (X, weights, means))
    out = np.empty(len(X))
    for n, x in enumerate(X):
        terms = []
        for k in range(len(w)):
            log_lik = 0.0
            for d in range(len(x)):
                log_lik += np.log(mu[k, d]) if x[d] == 1 else np.log(1.0 - mu[k, d])
            terms.append(np.log(w[k]) + log_lik)
        out[n] = logsumexp(terms)
    return out


def test_log_px_matches_brute_force():
    X, _ = planted(n=60, d=12, k=3, flip=0.2, seed=1)
    bm = BernoulliMixture(3, random_state=0).fit(X)
    expected = brute_force_log_px(X, bm.weights_, bm.means_)
    np.testing.assert_allclose(bm.score_samples(X), expected, rtol=1e-12)
    assert bm.score(X) == pytest.approx(expected.mean(), rel=1e-12)
    dist = bm.to_distribution()
    np.testing.assert_allclose(dist.log_prob(torch.as_tensor(X)).numpy(), expected, rtol=1e-10)
    # and on points never seen, including all-zeros and all-ones images: always finite
    extremes = np.array([np.zeros(12), np.ones(12)])
    np.testing.assert_allclose(bm.score_samples(extremes), brute_force_log_px(extremes, bm.weights_, bm.means_),
                               rtol=1e-12)
    # the responsibilities are Bayes' rule on the same terms
    resp = bm.predict_proba(X)
    np.testing.assert_allclose(resp.sum(1), 1.0)
    np.testing.assert_array_equal(bm.predict(X), resp.argmax(1))


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(4, 60), d=st.integers(1, 20), k=st.integers(1, 4),
       alpha=st.floats(1e-3, 5.0), p=st.floats(0.05, 0.95), init=st.sampled_from(["kmeans", "k-means++", "random"]))
def test_em_never_decreases_the_penalized_objective(seed, n, d, k, alpha, p, init):
    k = min(k, n)
    X = (np.random.default_rng(seed).random((n, d)) < p).astype(np.float64)
    bm = BernoulliMixture(k, alpha=alpha, init_params=init, tol=0, max_iter=15, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bm.fit(X)
    lb = np.asarray(bm.history_["lower_bound"])
    assert np.all(np.isfinite(lb))
    assert np.all(np.diff(lb) >= -1e-10 * (1 + np.abs(lb[1:]))), np.diff(lb).min()
    # the objective is the mean log-likelihood plus the Beta(1 + alpha, 1 + alpha) log prior / N
    mu = np.asarray(bm.means_)
    prior = alpha * np.sum(np.log(mu) + np.log1p(-mu))
    assert lb[-1] == pytest.approx(bm.score(X) + prior / n, rel=1e-10, abs=1e-12)


def test_map_m_step_is_smoothed_counting():
    """With hard, known responsibilities the M-step is (ones + alpha) / (count + 2 alpha)."""
    X = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 0], [0, 0, 1]], dtype=float)
    bm = BernoulliMixture(2, alpha=0.5)
    bm.fit(X)  # sets device / dtype
    resp = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    params, _ = bm._m_step(bm._prepare(torch.as_tensor(X)), resp)
    expected = np.array([[2.5 / 3, 1.5 / 3, 2.5 / 3], [0.5 / 3, 0.5 / 3, 1.5 / 3]])
    np.testing.assert_allclose(params["means"].numpy(), expected, rtol=1e-14)
    np.testing.assert_allclose(params["weights"].numpy(), [0.5, 0.5], rtol=1e-12)


def test_recovers_planted_patterns():
    X, y = planted()
    labels = BernoulliMixture(4, n_init=3, random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, labels) >= 0.95


def test_digits_fit_and_history():
    from lvmlib.data import load_dataset

    ds = load_dataset("digits", binarize=True)
    bm = BernoulliMixture(10, keep_history=True, random_state=0).fit(ds.x_train)
    T = bm.n_iter_
    assert bm.converged_
    assert bm.history_["means"].shape == (T + 1, 10, 64) and bm.history_["weights"].shape == (T + 1, 10)
    assert len(bm.history_["lower_bound"]) == T + 1
    # dtype follows the input (float32 digits: float32 parameters)
    assert isinstance(bm.means_, torch.Tensor) and bm.means_.dtype == ds.x_train.dtype == torch.float32
    assert bool(((bm.means_ > 0) & (bm.means_ < 1)).all())
    assert np.isfinite(bm.score(ds.x_test)) and bm.score(ds.x_test) > -30  # nats per 8x8 digit
    np.testing.assert_allclose(bm.predict_proba_at(ds.x_test, 0).sum(1).numpy(), 1.0, rtol=1e-5)  # float32
    assert bm.at_step(0).score(ds.x_train) < bm.score(ds.x_train)


def test_sample_shapes_values_and_frequencies():
    X, _ = planted(n=300, d=10, k=3)
    bm = BernoulliMixture(3, random_state=0).fit(X)
    Xs, ys = bm.sample(20000)
    assert Xs.shape == (20000, 10) and ys.shape == (20000,) and isinstance(Xs, np.ndarray)
    assert set(np.unique(Xs)) <= {0.0, 1.0}
    np.testing.assert_allclose(np.bincount(ys, minlength=3) / 20000, bm.weights_, atol=0.015)
    for k in range(3):
        np.testing.assert_allclose(Xs[ys == k].mean(0), bm.means_[k], atol=0.05)
    np.testing.assert_array_equal(bm.sample(7)[0], bm.sample(7)[0])


def test_degenerate_data_stays_finite():
    cases = [np.zeros((20, 5)), np.ones((20, 5)), np.repeat(np.eye(3), 10, axis=0),
             (np.random.default_rng(0).random((6, 4)) < 0.5).astype(float)]
    for X in cases:
        k = min(5, len(X))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bm = BernoulliMixture(k, random_state=0).fit(X)
        assert np.all(np.isfinite(bm.means_)) and np.all((bm.means_ > 0) & (bm.means_ < 1))
        assert np.all(np.isfinite(bm.score_samples(X)))
        assert np.all(np.isfinite(bm.history_["lower_bound"]))
        assert np.isfinite(bm.bic(X)) and np.isfinite(bm.aic(X))


def test_accepts_bool_and_int_data_and_dtype():
    X, _ = planted(n=100, d=8, k=2)
    a = BernoulliMixture(2, random_state=0).fit(X.astype(bool))
    b = BernoulliMixture(2, random_state=0).fit(X.astype(np.uint8))
    np.testing.assert_allclose(a.means_, b.means_)
    c = BernoulliMixture(2, random_state=0, dtype=torch.float32).fit(torch.as_tensor(X))
    assert c.means_.dtype == torch.float32 and c.predict_proba(torch.as_tensor(X)).dtype == torch.float32
    assert c.score(X) == pytest.approx(a.score(X), rel=1e-4)


def test_bic_aic():
    X, _ = planted(n=200, d=10, k=3)
    bm = BernoulliMixture(3, random_state=0).fit(X)
    p = 3 * 10 + 2
    assert bm.bic(X) == pytest.approx(-2 * bm.score(X) * 200 + p * np.log(200))
    assert bm.aic(X) == pytest.approx(-2 * bm.score(X) * 200 + 2 * p)


def test_user_initialization_and_max_iter_zero():
    X, _ = planted(n=50, d=6, k=2)
    mu0 = np.full((2, 6), 0.3)
    mu0[1] = 0.7
    bm = BernoulliMixture(2, max_iter=0, weights_init=[0.25, 0.75], means_init=mu0).fit(X)
    np.testing.assert_allclose(bm.means_, mu0)
    np.testing.assert_allclose(bm.weights_, [0.25, 0.75])
    np.testing.assert_allclose(bm.score_samples(X), brute_force_log_px(X, [0.25, 0.75], mu0), rtol=1e-12)


@pytest.mark.parametrize("X,match", [
    (np.array([[0.0, 0.5], [1.0, 0.0]]), "binary.*0.5"),
    (np.array([[0.0, 2.0], [1.0, 0.0]]), "binary"),
    (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
    (np.array([0.0, 1.0, 1.0]), "2-D"),
    (np.zeros((3, 2, 2)), "2-D"),
])
def test_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        BernoulliMixture(1, binarize=None).fit(X)


def test_bad_input_at_predict_and_parameters():
    X, _ = planted(n=40, d=6, k=2)
    bm = BernoulliMixture(2, binarize=None, random_state=0).fit(X)
    with pytest.raises(ValueError, match="binary"):
        bm.score_samples(X * 0.5)
    with pytest.raises(ValueError, match="6 features"):
        bm.predict(X[:, :3])
    for kwargs, match in [(dict(alpha=0.0), "alpha"), (dict(alpha=-1.0), "alpha"),
                          (dict(means_init=np.zeros((2, 6))), "strictly inside"),
                          (dict(means_init=np.full((2, 5), 0.5)), "shape \\(2, 6\\)"),
                          (dict(weights_init=[1.0]), "shape \\(2,\\)"),
                          (dict(n_components=41), "n_components=41 > n_samples=40")]:
        with pytest.raises(ValueError, match=match):
            BernoulliMixture(**{"n_components": 2, **kwargs}).fit(X)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X, _ = planted(n=200, d=16, k=3)
    cpu = BernoulliMixture(3, random_state=0, max_iter=20, tol=0,
                           weights_init=[0.2, 0.3, 0.5], means_init=np.full((3, 16), 0.5) + 0.1 * np.eye(3, 16))
    gpu = BernoulliMixture(3, random_state=0, max_iter=20, tol=0, device="cuda",
                           weights_init=[0.2, 0.3, 0.5], means_init=np.full((3, 16), 0.5) + 0.1 * np.eye(3, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cpu.fit(X)
        gpu.fit(torch.as_tensor(X, device="cuda"))
    assert gpu.means_.device.type == "cuda"
    np.testing.assert_allclose(gpu.lower_bounds_, cpu.lower_bounds_, rtol=1e-9)
    assert gpu.sample(5)[0].device.type == "cuda"
