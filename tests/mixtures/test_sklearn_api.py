"""The mixtures as drop-ins for scikit-learn: every estimator check, warm start, verbose, dtypes, input."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import DensityMixin, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency, parametrize_with_checks

from lvmlib.mixtures import BernoulliMixture
from lvmlib.mixtures import GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


@parametrize_with_checks([GaussianMixture(), BernoulliMixture()])
def test_sklearn_estimator_checks(estimator, check):
    """scikit-learn's check_estimator, one test per check (none expected to fail)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", [GaussianMixture(), BernoulliMixture()], ids=lambda e: type(e).__name__)
def test_dataframe_column_names_consistency(estimator):
    """Feature names recorded at fit; swapped or renamed columns raise, bare arrays warn (needs pandas)."""
    pytest.importorskip("pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(3)
    centers = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 3.0, 1.0], [1.0, -4.0, 3.0]])
    X = centers[rng.integers(0, 4, 400)] + rng.normal(size=(400, 3)) * [0.6, 1.0, 1.4]
    return X @ np.array([[1.0, 0.4, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.0]])


def start(X, k, cov_type, dtype=np.float64):
    """The same initial parameters for both libraries (lvmlib's k-means++ initialization)."""
    init = GaussianMixture(k, covariance_type=cov_type, max_iter=0, init_params="k-means++", random_state=0)
    init.fit(X.astype(np.float64))
    return dict(n_components=k, covariance_type=cov_type, weights_init=init.weights_.astype(dtype),
                means_init=init.means_.astype(dtype), precisions_init=init.precisions_.astype(dtype))


def quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args)


# --------------------------------------------------------------------------- warm start


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_warm_start_continues_as_sklearn(cov_type, blobs):
    """Refits with warm_start=True continue from the fitted parameters: same lower bounds as scikit-learn."""
    kw = dict(start(blobs, 4, cov_type), tol=0, max_iter=4, warm_start=True)
    ours, theirs = GaussianMixture(n_init=3, **kw), SkGaussianMixture(**kw)  # n_init is ignored when warm
    for _ in range(3):
        quiet(ours.fit, blobs)
        quiet(theirs.fit, blobs)
        np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-10)
        assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)
        np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-8, atol=1e-10)
    # three warm fits of 4 iterations = one cold fit of 12
    cold = quiet(GaussianMixture(**{**kw, "max_iter": 12, "warm_start": False}).fit, blobs)
    assert cold.lower_bounds_[-4:] == pytest.approx(ours.lower_bounds_, rel=1e-12)


def test_warm_start_convergence_matches_sklearn(blobs):
    """The first warm iteration is compared with the previous fit's lower bound, as scikit-learn does."""
    kw = dict(start(blobs, 4, "full"), tol=1e-4, max_iter=500, warm_start=True)
    ours, theirs = GaussianMixture(**kw).fit(blobs), SkGaussianMixture(**kw).fit(blobs)
    ours.fit(blobs)
    theirs.fit(blobs)
    assert (ours.n_iter_, ours.converged_) == (theirs.n_iter_, theirs.converged_) == (1, True)
    with pytest.raises(ValueError, match="warm_start"):
        ours.fit(blobs[:, :2])


def test_warm_start_off_refits_from_scratch(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    first = gm.lower_bounds_
    assert gm.fit(blobs).lower_bounds_ == first


# --------------------------------------------------------------------------- verbose


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_prints_as_sklearn(verbose, blobs, capsys):
    kw = dict(start(blobs, 4, "diag"), tol=0, max_iter=6, verbose=verbose, verbose_interval=2)
    quiet(GaussianMixture(**kw).fit, blobs)
    ours = capsys.readouterr().out
    quiet(SkGaussianMixture(**kw).fit, blobs)
    theirs = capsys.readouterr().out

    def mask(text):  # times differ; the lower bound and its changes agree to the printed digits
        return re.sub(r"time lapse [0-9.]+s", "time lapse *s", text)

    assert mask(ours) == mask(theirs)
    assert ours.count("Iteration ") == 3 and "did not converge" in ours
    GaussianMixture(2, verbose=0).fit(blobs)
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_input_and_matches_sklearn(cov_type, dtype, blobs):
    """float32 in: float32 attributes and outputs, the EM path of scikit-learn's float32 fit (to float32 rounding)."""
    X = blobs.astype(dtype)
    kw = dict(start(blobs, 4, cov_type, dtype), tol=0, max_iter=10)
    ours, theirs = quiet(GaussianMixture(**kw).fit, X), quiet(SkGaussianMixture(**kw).fit, X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert getattr(ours, name).dtype == dtype, name
    for out in (ours.predict_proba(X), ours.score_samples(X), ours.sample(3)[0]):
        assert out.dtype == dtype
    rtol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=rtol)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=rtol, atol=rtol)


def test_dtype_argument_overrides_input(blobs):
    assert GaussianMixture(2, dtype="float64").fit(blobs.astype(np.float32)).means_.dtype == np.float64
    assert GaussianMixture(2, dtype=torch.float32).fit(blobs).means_.dtype == np.float32
    assert GaussianMixture(2).fit(blobs.astype(np.int64)).means_.dtype == np.float64
    assert GaussianMixture(2).fit(torch.as_tensor(blobs, dtype=torch.float32)).means_.dtype == torch.float32
    gm32 = GaussianMixture(2).fit(blobs.astype(np.float32))
    assert gm32.predict_proba(blobs).dtype == np.float32  # float64 X is computed in the model's dtype


def test_float32_weights_init_rounding_accepted(blobs):
    """float32 weights summing to 1 + a few float32 ulps are accepted; a real mistake is not."""
    w = np.array([0.5, 0.25, 0.25000009], dtype=np.float32)  # 0.25 + 3 float32 ulps
    assert 1e-8 < float(w.astype(np.float64).sum()) - 1.0 < 1e-7  # 1.00000009: beyond float64's 1e-8
    gm = GaussianMixture(3, weights_init=w, random_state=0).fit(blobs.astype(np.float32))
    assert gm.weights_.dtype == np.float32
    GaussianMixture(3, weights_init=w, random_state=0).fit(blobs)  # also for a float64 model
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(3, weights_init=w * 1.001, random_state=0).fit(blobs.astype(np.float32))
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(2, weights_init=[0.5, 0.5 + 1e-6]).fit(blobs)


# --------------------------------------------------------------------------- parameters, input, errors


@pytest.mark.parametrize("cls,kwargs", [
    (GaussianMixture, dict(n_components=0)), (GaussianMixture, dict(covariance_type="banana")),
    (GaussianMixture, dict(reg_covar=-1.0)), (GaussianMixture, dict(init_params="bogus")),
    (GaussianMixture, dict(warm_start="yes")), (GaussianMixture, dict(verbose_interval=0)),
    (GaussianMixture, dict(dtype=torch.int32)), (GaussianMixture, dict(dtype="float16")),
    (GaussianMixture, dict(random_state="seed")), (BernoulliMixture, dict(alpha=0.0)),
    (BernoulliMixture, dict(binarize="half")),
])
def test_bad_hyperparameters_raise_invalid_parameter_error(cls, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(InvalidParameterError, match=name):
        cls(**kwargs).fit(np.random.default_rng(0).random((10, 2)))
    assert issubclass(InvalidParameterError, ValueError)  # existing `except ValueError` keeps working


def test_input_validated_as_sklearn(blobs):
    gm = GaussianMixture(2, random_state=0).fit(blobs)
    obj = GaussianMixture(2, random_state=0).fit(blobs.astype(object))  # object arrays of numbers are converted
    np.testing.assert_array_equal(obj.means_, gm.means_)
    with pytest.raises(TypeError, match="Sparse data was passed"):
        GaussianMixture(2).fit(sp.csr_matrix(blobs))
    with pytest.raises(TypeError, match="Sparse data was passed"):
        gm.predict(sp.csr_matrix(blobs))
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianMixture(2).fit(blobs + 1j)
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianMixture(2).fit(torch.as_tensor(blobs + 1j))
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3"):
        gm.predict(torch.as_tensor(blobs[:, :2]))
    with pytest.raises(ValueError, match="Reshape your data"):
        gm.predict(blobs[0])
    with pytest.raises(ValueError, match="1 sample"):
        GaussianMixture(1).fit(blobs[:1])


def test_not_fitted_errors(blobs):
    for method in ("predict", "predict_proba", "score", "score_samples", "bic"):
        with pytest.raises(NotFittedError):
            getattr(GaussianMixture(2), method)(blobs)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).sample(3)
    with pytest.raises(NotFittedError):
        BernoulliMixture(2).to_distribution()


def test_duplicated_points_warn_fewer_distinct_clusters():
    X = np.repeat(np.eye(3), 10, axis=0)  # 3 distinct points, 30 rows
    for init in ("kmeans", "k-means++"):
        with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(3\) found smaller than "
                                                    r"n_components \(5\)"):
            GaussianMixture(5, init_params=init, random_state=0, reg_covar=1e-3).fit(X)


def test_density_estimator_type_and_public_n_parameters(blobs):
    for est in (GaussianMixture(), BernoulliMixture()):
        assert isinstance(est, DensityMixin) and get_tags(est).estimator_type == "density_estimator"
    for cov_type in COV_TYPES:
        ours = GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(blobs)
        theirs = SkGaussianMixture(3, covariance_type=cov_type, random_state=0).fit(blobs)
        assert ours.n_parameters() == theirs._n_parameters()
    assert clone(GaussianMixture(3, dtype=torch.float32, device="cpu")).dtype == torch.float32


# --------------------------------------------------------------------------- BernoulliMixture(binarize=...)


def test_binarize_threshold():
    rng = np.random.default_rng(0)
    X = rng.random((200, 12))  # gray values in [0, 1)
    X[0, 0] = 0.5  # exactly at the threshold: 0, as in BernoulliNB (x > threshold)
    kw = dict(n_components=3, random_state=0)
    gray = BernoulliMixture(**kw).fit(X)
    binary = BernoulliMixture(binarize=None, **kw).fit((X > 0.5).astype(float))
    np.testing.assert_array_equal(gray.means_, binary.means_)
    np.testing.assert_array_equal(gray.score_samples(X), binary.score_samples((X > 0.5).astype(float)))
    low = BernoulliMixture(binarize=0.2, **kw).fit(X)
    np.testing.assert_array_equal(low.means_, BernoulliMixture(binarize=None, **kw).fit((X > 0.2) * 1.0).means_)
    assert not np.allclose(low.means_, gray.means_)
    B = (X > 0.5).astype(float)
    np.testing.assert_array_equal(BernoulliMixture(**kw).fit(B).means_, binary.means_)  # 0/1 data unchanged
    with pytest.raises(ValueError, match="binary"):
        BernoulliMixture(binarize=None, **kw).fit(X)
    with pytest.raises(ValueError, match="binary"):
        binary.score_samples(X)


# --------------------------------------------------------------------------- module structure
