"""The Gaussian E- and M-steps, one function per covariance type, picked by a table.

scikit-learn's equations (``sklearn/mixture/_gaussian_mixture.py``; Bishop, PRML 9.2.2),
written for batches of components: log space throughout, Cholesky factors U of the
precisions (U U^T = Sigma^{-1}) and triangular solves, ``reg_covar`` on the diagonal,
``10 * eps`` in the counts.

- M-step: ``ESTIMATORS[covariance_type](data, resp, nk, reg_covar) -> (means, covariances)``.
- E-step: ``MAHALANOBIS[covariance_type](data, means, U)`` gives
  (x_n - mu_k)^T Sigma_k^{-1} (x_n - mu_k) = ||(x_n - mu_k) U_k||^2 for all n, k.

The products run through ``lvmlib.mixtures._cpu`` (``mm``, lanes via ``data.split``, reused
buffers via ``data.buffer``): on the CPU that is the speed machinery, on a GPU plain torch.
"""

from __future__ import annotations

import math

import torch

from lvmlib.mixtures._cpu import Workspace, mm, sum_last

__all__ = ["COVARIANCE_TYPES", "ESTIMATORS", "MAHALANOBIS", "GaussianData", "covariance_from_precision_cholesky",
           "covariance_shape", "estimate_gaussian_parameters", "n_parameters", "precision_cholesky",
           "precision_cholesky_from_precisions", "weighted_log_prob"]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: elements of the [rows, K, D] work buffers of the full/tied E- and M-steps (rows are chunked beyond)
CHUNK_ELEMENTS = 2**22


class GaussianData(Workspace):
    """X with what the Gaussian E/M steps reuse every iteration (built once per fit)."""

    def __init__(self, X: torch.Tensor, covariance_type: str, n_components: int, lanes: int = 1):
        super().__init__(X, lanes)
        d = X.shape[1]
        self.XX = self.XtX = self.X1 = self.XT = None
        if covariance_type in ("diag", "spherical"):
            self.XX = torch.cat((X, X * X), 1)  # [N, 2D]
        elif covariance_type == "tied":
            self.XtX = X.T @ X  # [D, D]
        else:
            self.X1 = torch.cat((X, torch.ones_like(X[:, :1])), 1)  # [N, D + 1]: x U - mu U in one GEMM
        self.rows = max(1, CHUNK_ELEMENTS // (n_components * d))  # rows per chunk of [rows, K, D] temporaries


# --------------------------------------------------------------------------- M-step, per covariance type


def estimate_full(data: GaussianData, resp: torch.Tensor, nk: torch.Tensor, reg_covar: float):
    """mu_k = sum_n r_nk x_n / N_k; Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg I.

    Returns: (means [K, D], covariances [K, D, D]).
    """
    X = data.X
    n, d = X.shape
    k = resp.shape[1]
    means = mm(resp.T, X) / nk[:, None]  # [K, D]
    if data.XT is None:
        data.XT = X.T.contiguous()  # [D, N], kept for the next M-steps
    sqrt_respT = resp.T.contiguous().sqrt_()  # [K, N]
    cov = torch.zeros(k, d, d, dtype=X.dtype, device=X.device)

    def components(lane, k0, k1):
        kk = k1 - k0
        for s in range(0, n, data.rows):
            r = min(data.rows, n - s)
            # W_k = sqrt(r_nk) (x_n - mu_k)^T [kk, D, r]; W_k W_k^T = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T
            W = data.buffer((lane, 0), kk, d, r)
            torch.sub(data.XT[None, :, s:s + r], means[k0:k1, :, None], out=W).mul_(sqrt_respT[k0:k1, None, s:s + r])
            cov[k0:k1].add_(mm(W, W.mT, out=data.buffer((lane, 1), kk, d, d)))

    data.split(components, k)
    cov = cov.div_(nk[:, None, None])
    cov.diagonal(dim1=-2, dim2=-1).add_(reg_covar)
    return means, cov


def estimate_tied(data: GaussianData, resp: torch.Tensor, nk: torch.Tensor, reg_covar: float):
    """One Sigma = (sum_n x_n x_n^T - sum_k N_k mu_k mu_k^T) / N + reg I for all components.

    Returns: (means [K, D], covariance [D, D]).
    """
    means = mm(resp.T, data.X) / nk[:, None]  # [K, D]
    cov = (data.XtX - (nk[:, None] * means).T @ means) / nk.sum()  # [D, D]
    cov.diagonal().add_(reg_covar)
    return means, cov


def _moments(data: GaussianData, resp: torch.Tensor, nk: torch.Tensor, reg_covar: float):
    """Means and per-feature variances, from one product resp^T [X, X*X]. Returns: ([K, D], [K, D])."""
    d = data.X.shape[1]
    S = torch.empty(resp.shape[1], 2 * d, dtype=resp.dtype, device=resp.device)  # sum_n r x, sum_n r x^2

    def columns(lane, a, b):
        mm(resp.T, data.XX[:, a:b], out=S[:, a:b])

    data.split(columns, 2 * d)
    means = S[:, :d] / nk[:, None]  # [K, D]
    return means, S[:, d:] / nk[:, None] - means * means + reg_covar


def estimate_diag(data: GaussianData, resp: torch.Tensor, nk: torch.Tensor, reg_covar: float):
    """Sigma_k = diag(sum_n r_nk (x_n - mu_k)^2 / N_k) + reg. Returns: (means [K, D], variances [K, D])."""
    return _moments(data, resp, nk, reg_covar)


def estimate_spherical(data: GaussianData, resp: torch.Tensor, nk: torch.Tensor, reg_covar: float):
    """Sigma_k = sigma_k^2 I, sigma_k^2 the mean of the diag variances. Returns: (means [K, D], [K])."""
    means, var = _moments(data, resp, nk, reg_covar)
    return means, var.mean(1)


ESTIMATORS = {"full": estimate_full, "tied": estimate_tied, "diag": estimate_diag, "spherical": estimate_spherical}


def precision_cholesky(cov: torch.Tensor, covariance_type: str):
    """Upper-triangular U with U U^T = Sigma^{-1} (scikit-learn's ``precisions_cholesky_``).

    Returns:
        (U, fail): U shaped like ``cov``; fail a bool 0-d tensor, True when some covariance
        is not positive definite (no host sync here: the EM loop reads it with the objective).
    """
    if covariance_type in ("full", "tied"):
        L, info = torch.linalg.cholesky_ex(cov)  # Sigma = L L^T
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device).expand_as(cov)
        return torch.linalg.solve_triangular(L, eye, upper=False).mT, (info != 0).any()  # L^{-T}
    return 1.0 / torch.sqrt(cov), ~(cov > 0).all()


def estimate_gaussian_parameters(data: GaussianData, resp: torch.Tensor, reg_covar: float, covariance_type: str):
    """The M-step: pi, mu, Sigma and U from responsibilities ``resp`` [N, K].

    Returns: (params dict with "weights", "means", "covariances", "precisions_cholesky"; fail).
    """
    nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps  # [K]
    means, cov = ESTIMATORS[covariance_type](data, resp, nk, reg_covar)
    pc, fail = precision_cholesky(cov, covariance_type)
    return {"weights": nk / nk.sum(), "means": means, "covariances": cov, "precisions_cholesky": pc}, fail


# --------------------------------------------------------------------------- E-step


def _mahalanobis_diag(data: GaussianData, means: torch.Tensor, pc: torch.Tensor) -> torch.Tensor:
    """sum_d (x_d - mu_kd)^2 p_kd = x^2.p - 2 x.(mu p) + mu^2.p: one GEMM on [X, X*X]. Returns: (N, K)."""
    X = data.X
    n, d = X.shape
    k = means.shape[0]
    prec = pc * pc  # [K, D] or [K]
    if prec.dim() == 1:  # spherical
        prec = prec[:, None].expand(k, d)  # [K, D]
    Wt = torch.cat((-2.0 * means * prec, prec), 1).T  # [2D, K]
    bias = (means * means * prec).sum(1)[None, :]  # [1, K]
    out = torch.empty(n, k, dtype=X.dtype, device=X.device)

    def rows_block(lane, a, b):
        mm(data.XX[a:b], Wt, out=out[a:b]).add_(bias)

    data.split(rows_block, n)
    return out


def _mahalanobis_blocks(data: GaussianData, k: int, fill) -> torch.Tensor:
    """||y_nk||^2 with ``fill(y, s, r, k0, k1)`` writing y [r, kk, D] for rows s:s+r, components k0:k1."""
    X = data.X
    n, d = X.shape
    out = torch.empty(n, k, dtype=X.dtype, device=X.device)

    def components(lane, k0, k1):
        for s in range(0, n, data.rows):
            r = min(data.rows, n - s)
            y = data.buffer((lane, 0), r, k1 - k0, d)  # [r, kk, D]
            fill(y, s, r, k0, k1)
            out[s:s + r, k0:k1] = sum_last(y.square_())

    data.split(components, k)
    return out


def _mahalanobis_full(data: GaussianData, means: torch.Tensor, pc: torch.Tensor) -> torch.Tensor:
    """||x_n U_k - mu_k U_k||^2, as [x, 1] @ [U_k; -mu_k U_k] for all k in one product. Returns: (N, K)."""
    k, d = means.shape
    Ua = torch.cat((pc.permute(1, 0, 2).reshape(d, k * d), torch.bmm(means[:, None, :], pc).view(1, k * d).neg()))

    def fill(y, s, r, k0, k1):
        mm(data.X1[s:s + r], Ua[:, k0 * d:k1 * d], out=y.view(r, (k1 - k0) * d))

    return _mahalanobis_blocks(data, k, fill)


def _mahalanobis_tied(data: GaussianData, means: torch.Tensor, pc: torch.Tensor) -> torch.Tensor:
    """||x_n U - mu_k U||^2 with one U for all components. Returns: (N, K)."""
    XU = mm(data.X, pc)  # [N, D]
    mU = means @ pc  # [K, D]

    def fill(y, s, r, k0, k1):
        torch.sub(XU[s:s + r, None, :], mU[k0:k1], out=y)

    return _mahalanobis_blocks(data, means.shape[0], fill)


MAHALANOBIS = {"full": _mahalanobis_full, "tied": _mahalanobis_tied, "diag": _mahalanobis_diag,
               "spherical": _mahalanobis_diag}


def log_det_cholesky(pc: torch.Tensor, covariance_type: str, n_features: int) -> torch.Tensor:
    """log det U (= -1/2 log det Sigma). Returns: shape (K,) or ()."""
    if covariance_type in ("full", "tied"):
        return torch.log(torch.diagonal(pc, dim1=-2, dim2=-1)).sum(-1)
    if covariance_type == "diag":
        return torch.log(pc).sum(1)
    return n_features * torch.log(pc)


def weighted_log_prob(data: GaussianData, params: dict, covariance_type: str) -> torch.Tensor:
    """log pi_k + log N(x_n | mu_k, Sigma_k) = log pi_k - D/2 log 2 pi + log det U_k - maha_nk / 2.

    Returns: tensor of shape (N, K).
    """
    means, pc = params["means"], params["precisions_cholesky"]
    d = means.shape[1]
    maha = MAHALANOBIS[covariance_type](data, means, pc)  # [N, K]
    shift = torch.log(params["weights"]) + log_det_cholesky(pc, covariance_type, d) - 0.5 * d * math.log(2 * math.pi)
    return maha.mul_(-0.5).add_(shift)


# --------------------------------------------------------------------------- conversions and counts


def covariance_from_precision_cholesky(pc: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """Sigma = (U U^T)^{-1} = U^{-T} U^{-1}. Returns: like ``pc``."""
    if covariance_type in ("full", "tied"):
        eye = torch.eye(pc.shape[-1], dtype=pc.dtype, device=pc.device).expand_as(pc)
        Uinv = torch.linalg.solve_triangular(pc, eye, upper=True)
        return Uinv.mT @ Uinv
    return 1.0 / (pc * pc)


def precision_cholesky_from_precisions(P: torch.Tensor, covariance_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """U with U U^T = P: the Cholesky factor of P with rows and columns reversed (full / tied;
    scikit-learn's ``_compute_precision_cholesky_from_precisions``), sqrt(P) otherwise.

    Returns: (U like ``P``, info: int tensor, nonzero where P is not positive definite).
    """
    if covariance_type in ("full", "tied"):
        L, info = torch.linalg.cholesky_ex(P.flip(-2, -1))
        return L.flip(-2, -1), info
    return torch.sqrt(P.clamp_min(0)), (P <= 0).to(torch.int32)


def covariance_shape(covariance_type: str, k: int, d: int) -> tuple:
    """Shape of ``covariances_`` / ``precisions_init``."""
    return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[covariance_type]


def n_parameters(covariance_type: str, k: int, d: int) -> int:
    """Free parameters: K - 1 weights, K D means and the covariance entries (for BIC / AIC)."""
    cov = {"full": k * d * (d + 1) / 2, "diag": k * d, "tied": d * (d + 1) / 2, "spherical": k}[covariance_type]
    return int(cov + k * d + k - 1)
