"""Gaussian-mixture EM on torch, with scikit-learn's estimator API and update equations.

p(x) = sum_k pi_k N(x | mu_k, Sigma_k), fit by EM (Dempster, Laird, Rubin 1977;
Bishop, PRML section 9.2).  The E-step and M-step are scikit-learn's
(``sklearn/mixture/_gaussian_mixture.py``) written for batches of components: log space
throughout, Cholesky factors of the precisions and triangular solves, ``reg_covar`` on the
diagonal, ``10 * eps`` in the counts.  Started from the same ``weights_init``,
``means_init`` and ``precisions_init``, both libraries take the same EM path (the tests
check the lower bound of every iteration to 1e-10).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import distributions as D

from lvmlib.mixture_base import ConvergenceWarning, EMHistory, MixtureBase, Workspace, _Fitted, _randn, mm, sum_last

__all__ = ["GaussianMixture", "ConvergenceWarning", "EMHistory"]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: elements of the [rows, K, D] work buffers of the full/tied E- and M-steps (rows are chunked beyond)
_CHUNK_ELEMENTS = 2**22

_FAIL = (
    "Fitting the Gaussian mixture failed: a component's covariance is not positive definite "
    "(singleton or collapsed components, or duplicated points). Raise reg_covar (e.g. to 1e-4), "
    "use fewer components, scale the input data, or use dtype=torch.float64."
)


class _Data(Workspace):
    """X with what the Gaussian E/M steps reuse every iteration (built once per fit)."""

    def __init__(self, X: torch.Tensor, cov_type: str, n_components: int, lanes: int = 1):
        super().__init__(X, lanes)
        d = X.shape[1]
        self.XX = self.XtX = self.X1 = self.XT = None
        if cov_type in ("diag", "spherical"):
            self.XX = torch.cat((X, X * X), 1)  # [N, 2D]
        elif cov_type == "tied":
            self.XtX = X.T @ X  # [D, D]
        else:
            self.X1 = torch.cat((X, torch.ones_like(X[:, :1])), 1)  # [N, D + 1]: x U - mu U in one GEMM
        # rows per chunk of the [rows, K, D] temporaries of the full / tied steps
        self.rows = max(1, _CHUNK_ELEMENTS // (n_components * d))


def _log_det_chol(pc: torch.Tensor, cov_type: str, n_features: int) -> torch.Tensor:
    """log det of the precision Cholesky factors (= -1/2 log det Sigma). Returns: shape (K,) or ()."""
    if cov_type in ("full", "tied"):
        return torch.log(torch.diagonal(pc, dim1=-2, dim2=-1)).sum(-1)
    if cov_type == "diag":
        return torch.log(pc).sum(1)
    return n_features * torch.log(pc)


def _mahalanobis(data: _Data, means: torch.Tensor, pc: torch.Tensor, cov_type: str) -> torch.Tensor:
    """(x_n - mu_k)^T Sigma_k^{-1} (x_n - mu_k) = ||(x_n - mu_k) U_k||^2 for all n, k.

    Returns: tensor of shape (N, K).
    """
    X = data.X
    n, d = X.shape
    k = means.shape[0]
    out = torch.empty(n, k, dtype=X.dtype, device=X.device)
    if cov_type in ("diag", "spherical"):
        prec = pc * pc  # [K, D] or [K]
        if cov_type == "spherical":
            prec = prec[:, None].expand(k, d)  # [K, D]
        Wt = torch.cat((-2.0 * means * prec, prec), 1).T  # [2D, K]
        bias = (means * means * prec).sum(1)[None, :]  # [1, K]

        def rows_block(lane, a, b):  # sum_d mu^2 p - 2 x.(mu p) + x^2.p: one GEMM on [X, X*X]
            mm(data.XX[a:b], Wt, out=out[a:b]).add_(bias)

        data.split(rows_block, n)
        return out
    if cov_type == "full":
        # [D + 1, K*D]: column block k is U_k over the row -mu_k U_k, so [x, 1] @ it = x U_k - mu_k U_k
        Ua = torch.cat((pc.permute(1, 0, 2).reshape(d, k * d), torch.bmm(means[:, None, :], pc).view(1, k * d).neg()))
    else:  # tied: one U for all components
        XU = mm(X, pc)  # [N, D]
        mU = means @ pc  # [K, D]

    def components(lane, k0, k1):
        kk = k1 - k0
        for s in range(0, n, data.rows):
            r = min(data.rows, n - s)
            y = data.buffer((lane, 0), r, kk, d)  # [r, kk, D]
            if cov_type == "full":
                mm(data.X1[s:s + r], Ua[:, k0 * d:k1 * d], out=y.view(r, kk * d))
            else:
                torch.sub(XU[s:s + r, None, :], mU[k0:k1], out=y)
            out[s:s + r, k0:k1] = sum_last(y.square_())

    data.split(components, k)
    return out


def _weighted_log_prob(data: _Data, params: dict, cov_type: str) -> torch.Tensor:
    """log pi_k + log N(x_n | mu_k, Sigma_k). Returns: tensor of shape (N, K)."""
    means, pc = params["means"], params["precisions_cholesky"]
    d = means.shape[1]
    maha = _mahalanobis(data, means, pc, cov_type)  # [N, K]
    shift = torch.log(params["weights"]) + _log_det_chol(pc, cov_type, d) - 0.5 * d * math.log(2 * math.pi)  # [K]
    return maha.mul_(-0.5).add_(shift)


def _precision_cholesky(cov: torch.Tensor, cov_type: str):
    """Upper-triangular U with U U^T = Sigma^{-1} (scikit-learn's ``precisions_cholesky_``).

    Returns:
        (U, fail): U like ``cov`` (full [K, D, D], tied [D, D], diag [K, D], spherical
        [K]); fail a bool 0-d tensor, True when some covariance is not positive definite.
    """
    if cov_type in ("full", "tied"):
        L, info = torch.linalg.cholesky_ex(cov)  # Sigma = L L^T
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device).expand_as(cov)
        U = torch.linalg.solve_triangular(L, eye, upper=False).mT  # L^{-T}
        return U, (info != 0).any()
    return 1.0 / torch.sqrt(cov), ~(cov > 0).all()


def _covariance_from_precision_cholesky(pc: torch.Tensor, cov_type: str) -> torch.Tensor:
    """Sigma = (U U^T)^{-1} = U^{-T} U^{-1}. Returns: like ``pc``."""
    if cov_type in ("full", "tied"):
        eye = torch.eye(pc.shape[-1], dtype=pc.dtype, device=pc.device).expand_as(pc)
        Uinv = torch.linalg.solve_triangular(pc, eye, upper=True)
        return Uinv.mT @ Uinv
    return 1.0 / (pc * pc)


class GaussianMixture(MixtureBase):
    """A Gaussian mixture fit by EM, with scikit-learn's ``GaussianMixture`` API.

    p(x) = sum_k pi_k N(x | mu_k, Sigma_k); EM alternates r_nk = p(z_n = k | x_n) (E) with
    pi_k = N_k / N, mu_k = sum_n r_nk x_n / N_k, Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k
    + reg_covar I (M), N_k = sum_n r_nk + 10 eps (Dempster, Laird, Rubin 1977; Bishop, PRML 9.2).

    Same parameter names, meanings and update equations as ``sklearn.mixture.GaussianMixture``:
    started from the same ``weights_init`` / ``means_init`` / ``precisions_init``, both take
    the same EM path.  The random initializations draw from torch, so they differ from
    scikit-learn's draws.

    **What comes back.** Methods taking X return the type of X: NumPy arrays for NumPy (or
    list) input, tensors on the model's device for tensor input.  Fitted attributes
    (``weights_``, ``means_``, ...), the ``history_`` snapshots and ``sample`` follow the type
    of the X given to ``fit``.  ``score``, ``bic``, ``aic``, ``lower_bound_`` are floats.

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
        random_state: None, an int (refits repeat exactly), or a ``torch.Generator``.
        keep_history: keep a snapshot of the parameters after every EM iteration (for
            scrubbing through EM; costs memory: (n_iter_ + 1) copies).
        device: where to compute; None: the device of a tensor X, else the CPU.
        dtype: ``torch.float64`` (default) or ``torch.float32``; None: a float tensor's own dtype.

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
        history_: :class:`~lvmlib.mixture_base.EMHistory`, a dict:
            ``history_["lower_bound"]`` is a list of ``n_iter_ + 1`` floats, entry t the mean
            log-likelihood of the training data under snapshot t (t = 0: the initialization,
            t = ``n_iter_``: the fitted model); with ``keep_history=True`` also
            ``"weights"`` (T+1, K), ``"means"`` (T+1, K, D), ``"covariances"`` and
            ``"precisions_cholesky"`` (T+1, *covariance shape*), T = ``n_iter_``.
            ``at_step(t)`` / ``predict_proba_at(X, t)`` evaluate snapshot t.
        n_features_in_: D.

    Differences from scikit-learn: ``init_params="k-means++"`` assigns every point to its
    nearest seed before the first M-step (scikit-learn starts from the seeds alone, with
    covariance ``reg_covar * I`` and weights 1/N, and gets there after one EM step);
    ``history_``, ``keep_history``, ``at_step``, ``predict_proba_at``, ``score_samples_at``,
    ``to_distribution``, ``device``, ``dtype``; no ``warm_start`` or ``verbose``.  With
    ``reg_covar > 0`` EM is not exact, and the lower bound can dip by ~(reg_covar /
    variance)^2 near convergence (scikit-learn's identically): compare with a tolerance.

    Speed: the CPU work runs single-threaded per op, split over torch's thread count for big
    problems, with NumPy's BLAS for the products (see ``lvmlib.mixture_base``).

    Example:
        >>> gm = GaussianMixture(3, keep_history=True, random_state=0).fit(X)
        >>> gm.history_["means"][0], gm.predict_proba_at(X, step=2)
    """

    _param_names = ("weights", "means", "covariances", "precisions_cholesky")
    _fail_message = _FAIL

    weights_ = _Fitted("weights", "Mixture weights, shape (K,).")
    means_ = _Fitted("means", "Component means, shape (K, D).")
    covariances_ = _Fitted("covariances", "Covariances, shape depends on covariance_type.")
    precisions_cholesky_ = _Fitted("precisions_cholesky", "Cholesky factors U of the precisions, U U^T = Sigma^-1.")

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, keep_history=False, device=None, dtype=torch.float64):
        super().__init__(n_components, tol=tol, max_iter=max_iter, n_init=n_init, init_params=init_params,
                         random_state=random_state, keep_history=keep_history, device=device, dtype=dtype)
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init

    # ------------------------------------------------------------------ hooks

    def _validate_hyperparameters(self) -> None:
        super()._validate_hyperparameters()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {self.covariance_type!r}")
        if not isinstance(self.reg_covar, numbers.Real) or not self.reg_covar >= 0:
            raise ValueError(f"reg_covar must be a number >= 0, got {self.reg_covar!r}")

    def _prepare(self, X: torch.Tensor, lanes: int = 1) -> _Data:
        return _Data(X, self.covariance_type, self.n_components, lanes)

    def _work(self, n_samples: int) -> float:
        d = self.n_features_in_
        per_point = d * d if self.covariance_type == "full" else 2 * d
        return 2.0 * n_samples * self.n_components * per_point  # E-step and M-step

    def _weighted_log_prob(self, data: _Data, params: dict) -> torch.Tensor:
        return _weighted_log_prob(data, params, self.covariance_type)

    def _m_step(self, data: _Data, resp: torch.Tensor):
        """pi, mu, Sigma from responsibilities ``resp`` [N, K] (scikit-learn's estimators)."""
        X, cov_type = data.X, self.covariance_type
        n, d = X.shape
        k = resp.shape[1]
        nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps  # [K]
        if cov_type in ("diag", "spherical"):
            S = torch.empty(k, 2 * d, dtype=X.dtype, device=X.device)  # sum_n r x, sum_n r x^2

            def columns(lane, a, b):
                mm(resp.T, data.XX[:, a:b], out=S[:, a:b])

            data.split(columns, 2 * d)
            means = S[:, :d] / nk[:, None]  # [K, D]
            cov = S[:, d:] / nk[:, None] - means * means + self.reg_covar  # [K, D]
            if cov_type == "spherical":
                cov = cov.mean(1)  # [K]
        else:
            means = mm(resp.T, X) / nk[:, None]  # [K, D]
            if cov_type == "full":
                if data.XT is None:
                    data.XT = X.T.contiguous()  # [D, N], kept for the next M-steps
                sqrt_respT = resp.T.contiguous().sqrt_()  # [K, N]
                cov = torch.zeros(k, d, d, dtype=X.dtype, device=X.device)

                def components(lane, k0, k1):
                    kk = k1 - k0
                    for s in range(0, n, data.rows):
                        r = min(data.rows, n - s)
                        # W_k = sqrt(r_nk) (x_n - mu_k)^T, [kk, D, r]; then sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T
                        # = W_k W_k^T (a product of one operand with itself: 1.7x faster than (r d) d^T)
                        W = data.buffer((lane, 0), kk, d, r)
                        torch.sub(data.XT[None, :, s:s + r], means[k0:k1, :, None], out=W).mul_(
                            sqrt_respT[k0:k1, None, s:s + r])
                        cov[k0:k1].add_(mm(W, W.mT, out=data.buffer((lane, 1), kk, d, d)))

                data.split(components, k)
                cov = cov.div_(nk[:, None, None])
            else:
                cov = (data.XtX - (nk[:, None] * means).T @ means) / nk.sum()  # [D, D]
            cov.diagonal(dim1=-2, dim2=-1).add_(self.reg_covar)
        pc, fail = _precision_cholesky(cov, cov_type)
        weights = nk / nk.sum()
        return {"weights": weights, "means": means, "covariances": cov, "precisions_cholesky": pc}, fail

    def _precision_shape(self) -> tuple:
        k, d = self.n_components, self.n_features_in_
        return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[self.covariance_type]

    def _user_init(self) -> dict:
        given = {}
        if self.weights_init is not None:
            given["weights"] = self._check_weights_init(self.weights_init)
        if self.means_init is not None:
            given["means"] = self._as_param(self.means_init, "means_init", (self.n_components, self.n_features_in_))
        if self.precisions_init is not None:
            P = self._as_param(self.precisions_init, "precisions_init", self._precision_shape())
            if self.covariance_type in ("full", "tied"):
                tol = 1e-5 if self._dtype == torch.float32 else 1e-8
                if not torch.allclose(P, P.mT, rtol=tol, atol=tol):
                    raise ValueError("precisions_init must be symmetric (P == P.T for every component)")
                # U with U U^T = P: the Cholesky factor of P with rows and columns reversed
                # (scikit-learn's _compute_precision_cholesky_from_precisions).
                L, info = torch.linalg.cholesky_ex(P.flip(-2, -1))
                if bool((info != 0).any()):
                    bad = torch.nonzero(info.reshape(-1)).flatten().tolist()
                    raise ValueError(
                        f"precisions_init is not positive definite (component(s) {bad}); pass inverse "
                        "covariances, e.g. np.linalg.inv(cov)"
                    )
                pc = L.flip(-2, -1)
            else:
                if bool((P <= 0).any()):
                    raise ValueError(f"precisions_init must be > 0 for covariance_type={self.covariance_type!r}")
                pc = torch.sqrt(P)
            given["precisions_cholesky"] = pc
        return given

    def _init_complete(self, given: dict) -> bool:
        return len(given) == 3

    def _apply_user_init(self, params, given: dict) -> dict:
        params = dict(params or {})
        params.update(given)
        if "precisions_cholesky" in given:
            params["covariances"] = _covariance_from_precision_cholesky(given["precisions_cholesky"],
                                                                        self.covariance_type)
        return params

    def _n_parameters(self) -> int:
        k, d = self.n_components, self.n_features_in_
        cov = {"full": k * d * (d + 1) / 2, "diag": k * d, "tied": d * (d + 1) / 2,
               "spherical": k}[self.covariance_type]
        return int(cov + k * d + k - 1)

    def _sample_from(self, params: dict, counts: list[int], gen: torch.Generator) -> torch.Tensor:
        means, cov = params["means"], params["covariances"]
        n, d = sum(counts), means.shape[1]
        z = _randn(gen, (n, d), means.dtype, means.device)  # [n, D]
        if self.covariance_type in ("full", "tied"):
            L = torch.linalg.cholesky(cov)  # Sigma = L L^T
            if self.covariance_type == "tied":
                L = L.expand(len(counts), d, d)
        else:
            scale = torch.sqrt(cov)  # [K, D] or [K]
            if self.covariance_type == "spherical":
                scale = scale[:, None].expand(len(counts), d)
        out, start = [], 0
        for k, c in enumerate(counts):
            zk = z[start:start + c]
            start += c
            out.append(means[k] + (zk @ L[k].T if self.covariance_type in ("full", "tied") else zk * scale[k]))
        return torch.cat(out)

    # ------------------------------------------------------------------ extras

    @property
    def precisions_(self):
        """Sigma^{-1} = U U^T, shaped like ``covariances_``."""
        self._check_fitted()
        pc = self._params["precisions_cholesky"]
        prec = pc @ pc.mT if self.covariance_type in ("full", "tied") else pc * pc
        return self._out(prec, self._fit_numpy)

    def to_distribution(self) -> D.MixtureSameFamily:
        """The fitted mixture as a ``torch.distributions.MixtureSameFamily``, event shape (D,).

        Its ``log_prob`` equals ``score_samples``; use it with the model protocol
        (``lvmlib.models``) or to sample with gradients.
        """
        self._check_fitted()
        w, means, cov = (self._params[n] for n in ("weights", "means", "covariances"))
        k, d = means.shape
        if self.covariance_type in ("full", "tied"):
            comp = D.MultivariateNormal(means, scale_tril=torch.linalg.cholesky(cov).expand(k, d, d))
        else:
            scale = torch.sqrt(cov) if self.covariance_type == "diag" else torch.sqrt(cov)[:, None].expand(k, d)
            comp = D.Independent(D.Normal(means, scale), 1)
        return D.MixtureSameFamily(D.Categorical(probs=w), comp)
