"""Gaussian-mixture EM on torch, a drop-in for scikit-learn's ``GaussianMixture``.

p(x) = sum_k pi_k N(x | mu_k, Sigma_k), fit by EM (Dempster, Laird, Rubin 1977;
Bishop, PRML section 9.2).  The EM loop is ``lvmlib.mixtures.em``'s; the E- and M-step of
each covariance type are ``lvmlib.mixtures.gaussian_steps``' (scikit-learn's equations).  Started
from the same ``weights_init``, ``means_init`` and ``precisions_init``, both libraries take
the same EM path (the tests check the lower bound of every iteration to 1e-10).
"""

from __future__ import annotations

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import distributions as D

from lvmlib._util import noise
from lvmlib.mixtures import gaussian_steps as steps
from lvmlib.mixtures.em import MixtureBase
from lvmlib.mixtures.sklearn_api import FittedParam, to_output

__all__ = ["GaussianMixture"]

COVARIANCE_TYPES = steps.COVARIANCE_TYPES

_FAIL = (
    "Fitting the Gaussian mixture failed: a component's covariance is not positive definite "
    "(singleton or collapsed components, or duplicated points). Raise reg_covar (e.g. to 1e-4), "
    "use fewer components, scale the input data, or use dtype=torch.float64."
)


class GaussianMixture(MixtureBase):
    """A Gaussian mixture fit by EM, with scikit-learn's ``GaussianMixture`` API.

    p(x) = sum_k pi_k N(x | mu_k, Sigma_k); EM alternates r_nk = p(z_n = k | x_n) (E) with
    pi_k = N_k / N, mu_k = sum_n r_nk x_n / N_k, Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k
    + reg_covar I (M), N_k = sum_n r_nk + 10 eps (Dempster, Laird, Rubin 1977; Bishop, PRML 9.2).

    Same parameter names, meanings, checks (``InvalidParameterError``, ``NotFittedError``,
    ``ConvergenceWarning``, ``feature_names_in_``) and update equations as
    ``sklearn.mixture.GaussianMixture``: started from the same ``weights_init`` /
    ``means_init`` / ``precisions_init``, both take the same EM path.  The random
    initializations draw from torch, so they differ from scikit-learn's draws.

    **What comes back.** Methods taking X return the type of X: NumPy arrays for NumPy-like
    input (arrays, lists, DataFrames), tensors on the model's device for tensor input.
    Fitted attributes (``weights_``, ``means_``, ...), the ``history_`` snapshots and
    ``sample`` follow the type of the X given to ``fit``.  ``score``, ``bic``, ``aic``,
    ``lower_bound_`` are floats.  The dtype follows X too: float32 in, float32 out.

    Args:
        n_components: K, the number of components.
        covariance_type: ``"full"`` (a matrix per component), ``"tied"`` (one shared
            matrix), ``"diag"`` (a diagonal per component), ``"spherical"`` (a variance per
            component).
        tol: stop when the mean log-likelihood changes by less than this.
        reg_covar: added to the diagonal of every covariance (keeps them positive definite).
        max_iter: EM iterations per run (0: only initialize).
        n_init: runs from different initializations; the one with the best lower bound is kept.
        init_params: ``"kmeans"`` (k-means++ seeds then Lloyd's iterations; scikit-learn's
            default), ``"k-means++"`` / ``"kmeans++"`` (k-means++ seeds, each point assigned
            to its nearest seed), ``"random"`` (random responsibilities), or
            ``"random_from_data"`` (uniformly drawn data points as seeds, nearest-seed
            assignment).  The initial parameters are the M-step of those responsibilities.
        weights_init: initial weights, shape (K,), summing to 1.
        means_init: initial means, shape (K, D).
        precisions_init: initial precisions (inverse covariances): (K, D, D) full,
            (D, D) tied, (K, D) diag, (K,) spherical.
        random_state: None, an int (refits repeat exactly), a ``torch.Generator`` (a stream:
            refits continue it), or a NumPy ``Generator`` / ``RandomState``.
        warm_start: if True, each ``fit`` after the first starts from the fitted parameters
            (one run, ``n_init`` ignored), as in scikit-learn.
        verbose: 0 silent, 1 prints each initialization and every ``verbose_interval``-th
            iteration, 2 also the time and the change of the lower bound (scikit-learn's).
        verbose_interval: iterations between two verbose lines.
        keep_history: keep a snapshot of the parameters after every EM iteration (for
            scrubbing through EM; costs memory: (n_iter_ + 1) copies).
        device: where to compute; None: the device of a tensor X, else the CPU.
        dtype: None (follow X: float32 stays float32, anything else computes in float64),
            ``torch.float32`` / ``torch.float64`` or ``"float32"`` / ``"float64"``.

    Attributes:
        weights_: shape (K,).
        means_: shape (K, D).
        covariances_: (K, D, D) full, (D, D) tied, (K, D) diag, (K,) spherical.
        precisions_cholesky_: upper-triangular U with U U^T = Sigma^{-1}, shaped like ``covariances_``.
        precisions_: Sigma^{-1}, shaped like ``covariances_``.
        converged_: bool.
        n_iter_: EM iterations of the best run.
        lower_bound_: float, the mean log-likelihood computed in the last iteration's E-step
            (scikit-learn's meaning; -inf when ``max_iter=0``).
        lower_bounds_: list of floats, that value for every iteration (scikit-learn's).
        history_: :class:`~lvmlib.mixtures.sklearn_api.EMHistory`, a dict:
            ``history_["lower_bound"]`` is a list of ``n_iter_ + 1`` floats, entry t the mean
            log-likelihood of the training data under snapshot t (t = 0: the initialization,
            t = ``n_iter_``: the fitted model); with ``keep_history=True`` also
            ``"weights"`` (T+1, K), ``"means"`` (T+1, K, D), ``"covariances"`` and
            ``"precisions_cholesky"`` (T+1, *covariance shape*), T = ``n_iter_``.
            ``at_step(t)`` / ``predict_proba_at(X, t)`` evaluate snapshot t.
        n_features_in_: D.
        feature_names_in_: the column names when fit on a DataFrame with string column names.

    Differences from scikit-learn: ``init_params="k-means++"`` assigns every point to its
    nearest seed before the first M-step (scikit-learn starts from the seeds alone, with
    covariance ``reg_covar * I`` and weights 1/N, and gets there after one EM step);
    ``history_``, ``keep_history``, ``at_step``, ``predict_proba_at``, ``score_samples_at``,
    ``to_distribution``, ``n_parameters()``, ``device``, ``dtype``.  With ``reg_covar > 0``
    EM is not exact, and the lower bound can dip by ~(reg_covar / variance)^2 near
    convergence (scikit-learn's identically): compare with a tolerance.

    Speed: on the CPU, ``lvmlib.mixtures._cpu`` runs the products (see there, and
    ``benchmarks/bench_gmm.py`` for the measurements).

    Example:
        >>> gm = GaussianMixture(3, keep_history=True, random_state=0).fit(X)
        >>> gm.history_["means"][0], gm.predict_proba_at(X, step=2)

    Taught in notebook 02 (Mixtures of Gaussians and EM).
    """

    _parameter_constraints: dict = {
        **MixtureBase._parameter_constraints,
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "weights_init": ["array-like", torch.Tensor, None],
        "means_init": ["array-like", torch.Tensor, None],
        "precisions_init": ["array-like", torch.Tensor, None],
    }
    _param_names = ("weights", "means", "covariances", "precisions_cholesky")
    _user_init_names = ("weights", "means", "precisions_cholesky")
    _fail_message = _FAIL

    weights_ = FittedParam("weights", "Mixture weights, shape (K,).")
    means_ = FittedParam("means", "Component means, shape (K, D).")
    covariances_ = FittedParam("covariances", "Covariances, shape depends on covariance_type.")
    precisions_cholesky_ = FittedParam("precisions_cholesky", "Cholesky factors U of the precisions, U U^T = Sigma^-1.")

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, warm_start=False, verbose=0, verbose_interval=10, keep_history=False,
                 device=None, dtype=None):
        super().__init__(n_components, tol=tol, max_iter=max_iter, n_init=n_init, init_params=init_params,
                         random_state=random_state, warm_start=warm_start, verbose=verbose,
                         verbose_interval=verbose_interval, keep_history=keep_history, device=device, dtype=dtype)
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init

    # ------------------------------------------------------------------ the hooks of the EM driver

    def _prepare(self, X: torch.Tensor, lanes: int = 1) -> steps.GaussianData:
        return steps.GaussianData(X, self.covariance_type, self.n_components, lanes)

    def _work(self, n_samples: int) -> float:
        d = self.n_features_in_
        per_point = d * d if self.covariance_type == "full" else 2 * d
        return 2.0 * n_samples * self.n_components * per_point  # E-step and M-step

    def _weighted_log_prob(self, data: steps.GaussianData, params: dict) -> torch.Tensor:
        return steps.weighted_log_prob(data, params, self.covariance_type)

    def _m_step(self, data: steps.GaussianData, resp: torch.Tensor):
        return steps.estimate_gaussian_parameters(data, resp, self.reg_covar, self.covariance_type)

    def _user_init(self) -> dict:
        given = {}
        if self.weights_init is not None:
            given["weights"] = self._check_weights_init(self.weights_init)
        if self.means_init is not None:
            given["means"] = self._check_init_param(self.means_init, "means_init",
                                                    (self.n_components, self.n_features_in_))
        if self.precisions_init is not None:
            shape = steps.covariance_shape(self.covariance_type, self.n_components, self.n_features_in_)
            P = self._check_init_param(self.precisions_init, "precisions_init", shape)
            if self.covariance_type in ("full", "tied"):
                tol = 1e-5 if self._dtype == torch.float32 else 1e-8
                if not torch.allclose(P, P.mT, rtol=tol, atol=tol):
                    raise ValueError("precisions_init must be symmetric (P == P.T for every component)")
            elif bool((P <= 0).any()):
                raise ValueError(f"precisions_init must be > 0 for covariance_type={self.covariance_type!r}")
            pc, info = steps.precision_cholesky_from_precisions(P, self.covariance_type)
            if bool((info != 0).any()):
                bad = torch.nonzero(info.reshape(-1)).flatten().tolist()
                raise ValueError(f"precisions_init is not positive definite (component(s) {bad}); pass inverse "
                                 "covariances, e.g. np.linalg.inv(cov)")
            given["precisions_cholesky"] = pc
        return given

    def _apply_user_init(self, params, given: dict) -> dict:
        params = {**(params or {}), **given}
        if "precisions_cholesky" in given:
            params["covariances"] = steps.covariance_from_precision_cholesky(given["precisions_cholesky"],
                                                                             self.covariance_type)
        return params

    def n_parameters(self) -> int:
        """Free parameters: K - 1 weights, K D means, the covariances' entries (scikit-learn's count)."""
        return steps.n_parameters(self.covariance_type, self.n_components, self.n_features_in_)

    def _sample_from(self, params: dict, counts: list[int], gen: torch.Generator) -> torch.Tensor:
        means, cov = params["means"], params["covariances"]
        k, d = len(counts), means.shape[1]
        z = noise("randn", (sum(counts), d), gen, dtype=means.dtype, device=means.device)  # [n, D]
        full = self.covariance_type in ("full", "tied")
        if full:
            L = torch.linalg.cholesky(cov).expand(k, d, d)  # Sigma = L L^T
        else:
            scale = torch.sqrt(cov)
            scale = scale[:, None].expand(k, d) if self.covariance_type == "spherical" else scale  # [K, D]
        out, start = [], 0
        for j, c in enumerate(counts):
            zj = z[start:start + c]
            start += c
            out.append(means[j] + (zj @ L[j].T if full else zj * scale[j]))
        return torch.cat(out)

    # ------------------------------------------------------------------ extras

    @property
    def precisions_(self):
        """Sigma^{-1} = U U^T, shaped like ``covariances_``."""
        if "_params" not in self.__dict__:
            raise AttributeError("GaussianMixture has no attribute 'precisions_': call fit(X) first")
        pc = self._params["precisions_cholesky"]
        prec = pc @ pc.mT if self.covariance_type in ("full", "tied") else pc * pc
        return to_output(prec, self._fit_numpy)

    def to_distribution(self) -> D.MixtureSameFamily:
        """The fitted mixture as a ``torch.distributions.MixtureSameFamily``, event shape (D,).

        Its ``log_prob`` equals ``score_samples``; use it with the model protocol
        (``lvmlib.models``) or to sample with gradients.
        """
        check_is_fitted(self)
        w, means, cov = (self._params[n] for n in ("weights", "means", "covariances"))
        k, d = means.shape
        if self.covariance_type in ("full", "tied"):
            comp = D.MultivariateNormal(means, scale_tril=torch.linalg.cholesky(cov).expand(k, d, d))
        else:
            scale = torch.sqrt(cov) if self.covariance_type == "diag" else torch.sqrt(cov)[:, None].expand(k, d)
            comp = D.Independent(D.Normal(means, scale), 1)
        return D.MixtureSameFamily(D.Categorical(probs=w), comp)
