"""lvmlib.mixtures.GaussianMixture: the same EM path as scikit-learn, EM's guarantees, the API."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

from lvmlib.mixtures import GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture(scope="module")
def digits():
    return load_digits().data / 16.0  # [1797, 64]


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(500, n_features=3, centers=4, cluster_std=[0.6, 1.0, 1.5, 0.8], random_state=3)
    return X @ np.array([[1.0, 0.4, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.0]])  # correlated features


def initial_params(X, k, cov_type, seed=0):
    """weights, means, precisions for both libraries (from lvmlib's k-means++ initialization)."""
    init = GaussianMixture(k, covariance_type=cov_type, max_iter=0, init_params="k-means++", random_state=seed)
    init.fit(X)
    return dict(weights_init=init.weights_, means_init=init.means_, precisions_init=init.precisions_)


def sklearn_lower_bounds(X, n_iter, **kw):
    """scikit-learn's lower bound after every iteration, with its fitted model."""
    sk = SkGaussianMixture(max_iter=n_iter, tol=0, **kw)
    # one BLAS thread: on 2 cores numpy's and scipy's OpenBLAS copies otherwise fight (4x slower)
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
        if hasattr(sk, "lower_bounds_"):  # scikit-learn >= 1.7
            return sk, np.asarray(sk.lower_bounds_)
        step = SkGaussianMixture(max_iter=1, tol=0, warm_start=True, **kw)
        lbs = []
        for _ in range(n_iter):  # one EM iteration per warm-started fit
            step.fit(X)
            lbs.append(step.lower_bound_)
    return step, np.asarray(lbs)


def quiet_fit(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


# --------------------------------------------------------------------------- same path as sklearn


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("data,k,n_iter", [("digits", 10, 25), ("blobs", 4, 40)])
def test_same_em_path_as_sklearn(cov_type, data, k, n_iter, request):
    X = request.getfixturevalue(data)
    init = initial_params(X, k, cov_type)
    kw = dict(n_components=k, covariance_type=cov_type, **init)
    sk, sk_lbs = sklearn_lower_bounds(X, n_iter, **kw)
    lv = quiet_fit(GaussianMixture(max_iter=n_iter, tol=0, keep_history=True, **kw), X)

    lv_lbs = np.asarray(lv.lower_bounds_)
    assert lv.n_iter_ == len(sk_lbs) == n_iter
    rel = np.abs(lv_lbs - sk_lbs) / np.abs(sk_lbs)
    assert rel.max() <= 1e-10, f"worst iteration {rel.argmax()}: relative difference {rel.max():.2e}"
    assert np.allclose(lv.history_["lower_bound"][:-1], sk_lbs, rtol=1e-10, atol=0)
    assert lv.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-10)
    # the fitted parameters and everything computed from them
    np.testing.assert_allclose(lv.weights_, sk.weights_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(lv.means_, sk.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(lv.covariances_, sk.covariances_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(lv.precisions_cholesky_, sk.precisions_cholesky_, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(lv.precisions_, sk.precisions_, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(lv.score_samples(X), sk.score_samples(X), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(lv.predict_proba(X), sk.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(lv.predict(X), sk.predict(X))
    assert lv.score(X) == pytest.approx(sk.score(X), rel=1e-10)
    assert lv.bic(X) == pytest.approx(sk.bic(X), rel=1e-10)
    assert lv.aic(X) == pytest.approx(sk.aic(X), rel=1e-10)
    assert lv.n_parameters() == sk._n_parameters()


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_same_convergence_as_sklearn(cov_type, blobs):
    """With tol > 0 both stop at the same iteration and agree on converged_."""
    kw = dict(n_components=4, covariance_type=cov_type, tol=1e-6, max_iter=500, **initial_params(blobs, 4, cov_type))
    sk = SkGaussianMixture(**kw).fit(blobs)
    lv = GaussianMixture(**kw).fit(blobs)
    assert (lv.n_iter_, lv.converged_) == (sk.n_iter_, sk.converged_)
    assert lv.lower_bound_ == pytest.approx(sk.lower_bound_, rel=1e-10)


@pytest.mark.threads(2)  # lanes: one per torch thread, so two lanes split the work
@pytest.mark.parametrize("backend,parallel_min_work", [("torch", 1e30), ("numpy", 0.0), ("torch", 0.0)])
def test_threads_and_blas_backend_do_not_change_the_path(backend, parallel_min_work, digits, monkeypatch):
    """Lanes (CPU threads) and the CPU matmul backend change the numbers by rounding only."""
    import lvmlib.mixtures._cpu as mb

    kw = dict(n_components=6, max_iter=10, tol=0, **initial_params(digits, 6, "full"))
    ref = quiet_fit(GaussianMixture(**kw), digits)
    monkeypatch.setattr(mb, "CPU_MATMUL", backend)
    monkeypatch.setattr(mb, "PARALLEL_MIN_WORK", parallel_min_work)
    threads = torch.get_num_threads()
    other = quiet_fit(GaussianMixture(**kw), digits)
    assert torch.get_num_threads() == threads  # torch's setting is restored
    np.testing.assert_allclose(other.lower_bounds_, ref.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(other.means_, ref.means_, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError):
        GaussianMixture(2, reg_covar=0.0).fit(np.repeat(digits[:2], 5, axis=0))
    assert torch.get_num_threads() == threads  # also after an error


def test_fitted_sklearn_model_scores_agree(blobs):
    """Put scikit-learn's fitted parameters in (max_iter=0) and every score agrees."""
    sk = SkGaussianMixture(4, random_state=0).fit(blobs)
    lv = GaussianMixture(4, max_iter=0, weights_init=sk.weights_, means_init=sk.means_,
                         precisions_init=sk.precisions_).fit(blobs)
    np.testing.assert_allclose(lv.score_samples(blobs), sk.score_samples(blobs), rtol=1e-10)
    np.testing.assert_allclose(lv.predict_proba(blobs), sk.predict_proba(blobs), atol=1e-10)
    np.testing.assert_allclose(lv.covariances_, sk.covariances_, rtol=1e-8)
    assert lv.bic(blobs) == pytest.approx(sk.bic(blobs), rel=1e-10)
    assert lv.aic(blobs) == pytest.approx(sk.aic(blobs), rel=1e-10)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_score_samples_matches_scipy(cov_type, blobs):
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(blobs)
    cov = np.asarray(gm.covariances_)
    k, d = gm.means_.shape
    if cov_type == "full":
        covs = cov
    elif cov_type == "tied":
        covs = np.repeat(cov[None], k, 0)
    elif cov_type == "diag":
        covs = np.stack([np.diag(c) for c in cov])
    else:
        covs = np.stack([c * np.eye(d) for c in cov])
    per_comp = np.stack([multivariate_normal(gm.means_[j], covs[j]).logpdf(blobs) for j in range(k)], 1)
    expected = logsumexp(per_comp + np.log(gm.weights_), axis=1)
    np.testing.assert_allclose(gm.score_samples(blobs), expected, rtol=1e-10)
    np.testing.assert_allclose(gm.to_distribution().log_prob(torch.as_tensor(blobs)).numpy(), expected, rtol=1e-8)


# --------------------------------------------------------------------------- EM's guarantees


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 80), d=st.integers(1, 4), k=st.integers(1, 4),
       cov_type=st.sampled_from(COV_TYPES), scale=st.floats(0.1, 100.0),
       init=st.sampled_from(["kmeans", "k-means++", "random"]))
def test_lower_bound_never_decreases(seed, n, d, k, cov_type, scale, init):
    """Pure EM (reg_covar=0) never decreases the log-likelihood, up to rounding.

    With reg_covar > 0 the M-step is not an exact maximization and the lower bound can dip by
    ~(reg_covar / variance)^2 near convergence (seed=0, n=8, d=1, k=2, tied: -4.1e-9), in
    scikit-learn identically; so the guarantee is tested on reg_covar=0.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 3
    X = (centers[rng.integers(0, k, n)] + rng.standard_t(5, size=(n, d))) * scale
    gm = GaussianMixture(k, covariance_type=cov_type, init_params=init, tol=0, max_iter=15, reg_covar=0.0,
                         keep_history=True, random_state=seed)
    try:
        quiet_fit(gm, X)
    except ValueError as err:  # a component collapsed onto one point: no covariance without reg_covar
        assert "reg_covar" in str(err)
        assume(False)
    lb = np.asarray(gm.history_["lower_bound"])
    assert np.all(np.isfinite(lb))
    # Rounding: the diag / spherical E-step expands (x - mu)^2 p as x^2 p - 2 x mu p + mu^2 p (as
    # scikit-learn does), whose error grows like eps * max x^2 * max p when a component narrows.
    cov = np.asarray(gm.history_["covariances"])
    max_precision = 1.0 / (np.linalg.eigvalsh(cov).min() if cov_type in ("full", "tied") else cov.min())
    rounding = 1e-10 * (1 + np.abs(lb[1:])) + 8 * np.finfo(float).eps * np.max(X**2) * max_precision
    assert np.all(np.diff(lb) >= -rounding), np.diff(lb).min()


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("init", ["kmeans", "k-means++"])
def test_recovers_planted_clusters(cov_type, init):
    X, y = make_blobs(600, n_features=5, centers=4, cluster_std=0.7, center_box=(-12, 12), random_state=7)
    labels = GaussianMixture(4, covariance_type=cov_type, init_params=init, n_init=2, random_state=0).fit_predict(X)
    assert adjusted_rand_score(y, labels) >= 0.95


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("case", ["duplicates", "constant_feature", "k_close_to_n"])
def test_degenerate_data_stays_finite(cov_type, case):
    rng = np.random.default_rng(0)
    if case == "duplicates":
        X, k = np.repeat(rng.normal(size=(3, 2)), 40, axis=0), 3
    elif case == "constant_feature":
        X, k = np.column_stack([rng.normal(size=(100, 2)), np.full(100, 5.0)]), 3
    else:
        X, k = rng.normal(size=(12, 2)), 10
    gm = quiet_fit(GaussianMixture(k, covariance_type=cov_type, random_state=0, keep_history=True), X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.all(np.isfinite(gm.predict_proba(X)))
    assert np.all(np.isfinite(gm.history_["lower_bound"]))
    assert math.isfinite(gm.bic(X))


def test_non_positive_definite_covariance_raises_clear_error():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 5, axis=0)
    for cov_type in COV_TYPES:
        with pytest.raises(ValueError, match="reg_covar.*float64"):
            GaussianMixture(2, covariance_type=cov_type, reg_covar=0.0, random_state=0).fit(X)


# --------------------------------------------------------------------------- the API


def test_convergence_warning():
    X, _ = make_blobs(300, centers=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(3, random_state=0).fit(X)
    assert gm.converged_ and gm.n_iter_ < 100
    assert abs(gm.lower_bounds_[-1] - gm.lower_bounds_[-2]) < gm.tol


def test_history_for_scrubbing_through_em(blobs):
    init = initial_params(blobs, 3, "full")
    gm = quiet_fit(GaussianMixture(3, keep_history=True, tol=0, max_iter=8, **init), blobs)
    h = gm.history_
    T = gm.n_iter_
    assert T == 8 and len(h["lower_bound"]) == T + 1
    assert h["weights"].shape == (T + 1, 3)
    assert h["means"].shape == (T + 1, 3, 3)
    assert h["covariances"].shape == (T + 1, 3, 3, 3)
    assert h["precisions_cholesky"].shape == (T + 1, 3, 3, 3)
    # snapshot 0 is the initialization, the last one the fitted model
    np.testing.assert_allclose(h["means"][0], init["means_init"])
    np.testing.assert_allclose(h["weights"][0], init["weights_init"])
    np.testing.assert_allclose(h["covariances"][0], np.linalg.inv(init["precisions_init"]), rtol=1e-10)
    np.testing.assert_array_equal(h["means"][-1], gm.means_)
    # lower_bound[t] is the mean log-likelihood of snapshot t
    assert h["lower_bound"][:-1] == gm.lower_bounds_
    assert h["lower_bound"][-1] == pytest.approx(gm.score(blobs), rel=1e-12)
    for t in (0, 3, T):
        assert gm.at_step(t).score(blobs) == pytest.approx(h["lower_bound"][t], rel=1e-12)
    np.testing.assert_allclose(gm.predict_proba_at(blobs, -1), gm.predict_proba(blobs))
    np.testing.assert_allclose(gm.predict_proba_at(blobs, 0).sum(1), 1.0)
    np.testing.assert_allclose(gm.score_samples_at(blobs, 2), gm.at_step(2).score_samples(blobs))
    assert gm.at_step(2).means_ is not gm.means_ and gm.means_ is not None  # the original is untouched
    with pytest.raises(ValueError, match="step"):
        gm.at_step(T + 1)

    plain = GaussianMixture(3, random_state=0).fit(blobs)
    assert len(plain.history_["lower_bound"]) == plain.n_iter_ + 1
    with pytest.raises(KeyError, match="keep_history=True"):
        plain.history_["means"]
    with pytest.raises(ValueError, match="keep_history=True"):
        plain.predict_proba_at(blobs, 0)


def test_fit_predict_n_init_and_random_state(blobs):
    def model(**kw):
        return GaussianMixture(4, init_params="random", max_iter=20, **kw)

    a = quiet_fit(model(random_state=5), blobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(a.fit_predict(blobs), a.predict(blobs))
        np.testing.assert_array_equal(model(random_state=5).fit_predict(blobs), a.predict(blobs))  # ints repeat
        # a torch.Generator is a stream: three fits in a row draw runs 1, 2, 3 of it ...
        gen = torch.Generator().manual_seed(5)
        singles = [model(random_state=gen).fit(blobs).lower_bound_ for _ in range(3)]
        # ... and n_init=3 keeps the best of those same three runs
        best = model(n_init=3, random_state=torch.Generator().manual_seed(5)).fit(blobs)
    assert len(set(singles)) == 3
    assert best.lower_bound_ == max(singles)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "kmeans++", "random", "random_from_data"])
def test_init_methods(init, blobs):
    gm = GaussianMixture(4, init_params=init, random_state=0, max_iter=200).fit(blobs)
    assert gm.converged_ and np.isfinite(gm.lower_bound_)
    assert gm.weights_.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_shapes_and_frequencies(cov_type):
    X, _ = make_blobs(400, n_features=2, centers=3, random_state=2)
    gm = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    Xs, ys = gm.sample(20000)
    assert Xs.shape == (20000, 2) and ys.shape == (20000,)
    assert isinstance(Xs, np.ndarray) and ys.dtype == np.int64
    assert np.all(np.diff(ys) >= 0)  # grouped by component, as scikit-learn does
    freq = np.bincount(ys, minlength=3) / 20000
    np.testing.assert_allclose(freq, gm.weights_, atol=0.015)
    for k in range(3):
        np.testing.assert_allclose(Xs[ys == k].mean(0), gm.means_[k], atol=0.1)
    if cov_type == "full":
        for k in range(3):
            np.testing.assert_allclose(np.cov(Xs[ys == k].T), gm.covariances_[k], atol=0.15)
    np.testing.assert_array_equal(gm.sample(5)[0], gm.sample(5)[0])  # an int random_state repeats
    assert not np.array_equal(gm.sample(5, random_state=1)[0], gm.sample(5, random_state=2)[0])
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(0)


def test_output_type_follows_input(blobs):
    Xt = torch.as_tensor(blobs)
    gm = GaussianMixture(3, random_state=0).fit(Xt)
    assert isinstance(gm.means_, torch.Tensor) and gm.means_.dtype == torch.float64
    assert isinstance(gm.predict(Xt), torch.Tensor) and gm.predict(Xt).dtype == torch.int64
    assert isinstance(gm.predict(blobs), np.ndarray)
    assert isinstance(gm.predict_proba(blobs), np.ndarray)
    assert isinstance(gm.score_samples(Xt), torch.Tensor)
    assert isinstance(gm.score(Xt), float) and isinstance(gm.bic(Xt), float) and isinstance(gm.aic(blobs), float)
    assert isinstance(gm.sample(3)[0], torch.Tensor)
    assert isinstance(gm.history_["lower_bound"], list)
    gm_np = GaussianMixture(3, random_state=0).fit(blobs)
    assert isinstance(gm_np.means_, np.ndarray) and isinstance(gm_np.fit_predict(blobs), np.ndarray)
    np.testing.assert_allclose(gm_np.means_, gm.means_.numpy())
    assert GaussianMixture(3).fit(blobs.tolist()).means_.shape == (3, 3)  # lists are NumPy input


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_argument(dtype, blobs):
    gm = GaussianMixture(3, dtype=dtype, random_state=0).fit(torch.as_tensor(blobs))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert getattr(gm, name).dtype == dtype
        assert getattr(gm, name).device.type == "cpu"
    assert gm.predict_proba(torch.as_tensor(blobs)).dtype == dtype
    assert gm.sample(4)[0].dtype == dtype
    assert np.isfinite(gm.score(blobs))
    ref = GaussianMixture(3, random_state=0).fit(blobs)
    assert gm.score(blobs) == pytest.approx(ref.score(blobs), rel=1e-4)
    # dtype=None follows a float tensor's dtype
    gm32 = GaussianMixture(3, dtype=None, random_state=0).fit(torch.as_tensor(blobs, dtype=torch.float32))
    assert gm32.means_.dtype == torch.float32


def test_device_argument_cpu(blobs):
    gm = GaussianMixture(2, device="cpu", random_state=0).fit(torch.as_tensor(blobs))
    assert gm.means_.device == torch.device("cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_cuda_matches_cpu(cov_type, blobs):
    init = initial_params(blobs, 4, cov_type)
    cpu = quiet_fit(GaussianMixture(4, covariance_type=cov_type, tol=0, max_iter=20, **init), blobs)
    gpu = quiet_fit(GaussianMixture(4, covariance_type=cov_type, tol=0, max_iter=20, device="cuda",
                                    keep_history=True, **init), torch.as_tensor(blobs))
    assert gpu.means_.device.type == "cuda" and gpu.history_["means"].device.type == "cuda"
    np.testing.assert_allclose(gpu.lower_bounds_, cpu.lower_bounds_, rtol=1e-9)
    Xg = torch.as_tensor(blobs, device="cuda")
    assert gpu.predict_proba(Xg).device.type == "cuda"
    assert gpu.sample(10)[0].device.type == "cuda"
    GaussianMixture(4, covariance_type=cov_type, random_state=0, device="cuda").fit(blobs)  # k-means++ on CUDA


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad,match", [
    (np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 1.0]]), "NaN or infinity"),
    (np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 1.0]]), "NaN or infinity"),
    (np.arange(10.0), "2-D.*reshape\\(-1, 1\\)"),
    (np.zeros((4, 2, 2)), "2-D.*Flatten"),
    (np.zeros((0, 3)), "0 sample\\(s\\).*minimum of 2"),  # scikit-learn's messages (validate_data)
    (np.zeros((3, 0)), "0 feature\\(s\\).*minimum of 1"),
    (np.array([["a", "b"], ["c", "d"]]), "could not convert string to float"),
])
def test_bad_X(bad, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(1).fit(bad)


def test_bad_X_tensor_and_float32_overflow():
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(1).fit(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or infinity.*float32"):
        GaussianMixture(1, dtype=torch.float32).fit(np.array([[1e300, 0.0], [0.0, 1.0]]))


def test_more_components_than_samples():
    with pytest.raises(ValueError, match="n_components=5 > n_samples=4"):
        GaussianMixture(5).fit(np.random.default_rng(0).normal(size=(4, 2)))


@pytest.mark.parametrize("kwargs,match", [
    (dict(weights_init=[0.5, 0.5]), "weights_init must have shape \\(3,\\)"),
    (dict(weights_init=[0.5, 0.5, 0.5]), "sum to 1"),
    (dict(weights_init=[1.5, -0.5, 0.0]), "\\[0, 1\\]"),
    (dict(means_init=np.zeros((3, 3))), "means_init must have shape \\(3, 2\\)"),
    (dict(means_init=np.full((3, 2), np.nan)), "NaN"),
    (dict(precisions_init=np.ones((3, 2))), "precisions_init must have shape \\(3, 2, 2\\)"),
    (dict(precisions_init=np.stack([np.eye(2), np.eye(2), -np.eye(2)])), "not positive definite.*\\[2\\]"),
    (dict(precisions_init=np.stack([np.eye(2), np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])), "symmetric"),
    (dict(covariance_type="diag", precisions_init=np.ones((3, 3))), "shape \\(3, 2\\)"),
    (dict(covariance_type="diag", precisions_init=-np.ones((3, 2))), "> 0"),
    (dict(covariance_type="spherical", precisions_init=np.ones((3, 1))), "shape \\(3,\\)"),
    (dict(covariance_type="tied", precisions_init=np.ones((3, 2, 2))), "shape \\(2, 2\\)"),
])
def test_bad_initial_parameters(kwargs, match):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=match):
        GaussianMixture(3, **kwargs).fit(X)


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_components=0), "n_components"),
    (dict(n_components=2.5), "n_components"),
    (dict(covariance_type="banana"), "covariance_type"),
    (dict(init_params="bogus"), "init_params"),
    (dict(tol=-1.0), "tol"),
    (dict(reg_covar=-1e-3), "reg_covar"),
    (dict(max_iter=-1), "max_iter"),
    (dict(n_init=0), "n_init"),
    (dict(dtype=torch.int32), "dtype"),
    (dict(random_state="seed"), "random_state"),
])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**{"n_components": 1, **kwargs}).fit(np.random.default_rng(0).normal(size=(10, 2)))


def test_not_fitted_and_wrong_features(blobs):
    gm = GaussianMixture(2)
    with pytest.raises(NotFittedError):
        gm.predict(blobs)
    with pytest.raises(AttributeError, match="fit"):
        gm.means_
    gm.fit(blobs)
    with pytest.raises(ValueError, match="2 features.*3 features"):
        gm.predict(blobs[:, :2])
    with pytest.raises(AttributeError):
        gm.means_ = np.zeros((2, 3))


def test_sklearn_estimator_protocol():
    gm = GaussianMixture(3, covariance_type="diag", reg_covar=1e-4)
    params = gm.get_params()
    assert params["covariance_type"] == "diag" and params["reg_covar"] == 1e-4
    gm.set_params(n_components=2)
    assert gm.n_components == 2 and "GaussianMixture" in repr(gm)


def test_max_iter_zero_only_initializes(blobs):
    init = initial_params(blobs, 3, "diag")
    gm = GaussianMixture(3, covariance_type="diag", max_iter=0, **init).fit(blobs)
    assert gm.n_iter_ == 0 and gm.lower_bound_ == -np.inf and gm.lower_bounds_ == []
    np.testing.assert_allclose(gm.means_, init["means_init"])
    np.testing.assert_allclose(gm.covariances_, 1.0 / init["precisions_init"])
    assert len(gm.history_["lower_bound"]) == 1
