"""A mixture of independent Bernoullis fit by EM: the lookup-table model of binary images.

p(x) = sum_k pi_k prod_d mu_kd^x_d (1 - mu_kd)^(1 - x_d) for x in {0, 1}^D (Bishop, PRML
section 9.3.3).  Where a VAE's decoder computes the pixel probabilities from a continuous z
with a network, here z is one of K values and the probabilities are a table ``means_`` [K, D].
log p(x) is exact (a logsumexp over the K components).
"""

from __future__ import annotations

import numbers

import torch
from torch import distributions as D

from lvmlib.mixture_base import ConvergenceWarning, EMHistory, MixtureBase, Workspace, _Fitted, _rand, mm

__all__ = ["BernoulliMixture", "ConvergenceWarning", "EMHistory"]


class BernoulliMixture(MixtureBase):
    """K-component mixture of independent Bernoullis on binary data, fit by (MAP) EM.

    E-step r_nk = p(z_n = k | x_n); M-step pi_k = N_k / N and the smoothed pixel
    probabilities mu_kd = (sum_n r_nk x_nd + alpha) / (N_k + 2 alpha), the MAP estimate under a
    Beta(1 + alpha, 1 + alpha) prior on every mu_kd ("alpha imaginary zeros and ones per
    pixel"; alpha = 1 is Laplace smoothing).  With alpha > 0 every mu_kd stays strictly
    inside (0, 1), so log p(x) is finite for every binary x.  EM never decreases the
    penalized objective (1/N) [sum_n log p(x_n) + alpha sum_kd log(mu_kd (1 - mu_kd))]
    (Dempster, Laird, Rubin 1977; Bishop, PRML 9.3.3 and 9.4), which is what
    ``lower_bound_`` and ``history_["lower_bound"]`` report; ``score`` reports the plain mean
    log-likelihood.

    The estimator API is ``GaussianMixture``'s (scikit-learn's): the same EM driver,
    initializations, convergence rule, history and output rule.

    **What comes back.** Methods taking X return the type of X: NumPy arrays for NumPy (or
    list) input, tensors on the model's device for tensor input.  Fitted attributes, the
    ``history_`` snapshots and ``sample`` follow the type of the X given to ``fit``.
    ``score``, ``bic``, ``aic``, ``lower_bound_`` are floats.

    Args:
        n_components: K.
        alpha: pseudo-count > 0 added to the count of ones and of zeros of every pixel of
            every component (default 1.0, Laplace smoothing).
        tol: stop when the per-sample objective changes by less than this.
        max_iter: EM iterations per run (0: only initialize).
        n_init: runs from different initializations; the best objective is kept.
        init_params: ``"kmeans"``, ``"k-means++"`` / ``"kmeans++"``, ``"random"`` or
            ``"random_from_data"`` (see ``GaussianMixture``); the initial parameters are the
            M-step of the resulting responsibilities.
        weights_init: initial weights, shape (K,), summing to 1.
        means_init: initial pixel probabilities, shape (K, D), strictly inside (0, 1).
        random_state: None, an int (refits repeat), or a ``torch.Generator``.
        keep_history: keep the parameters of every EM iteration (see ``history_``).
        device: None (the device of a tensor X, else the CPU) or a device.
        dtype: ``torch.float64`` (default) or ``torch.float32``.

    Attributes:
        weights_: shape (K,).
        means_: pixel probabilities p(x_d = 1 | z = k), shape (K, D).
        converged_, n_iter_, lower_bound_, lower_bounds_: as in ``GaussianMixture``.
        history_: dict; ``"lower_bound"``: list of ``n_iter_ + 1`` floats (the penalized
            objective under snapshot t, t = 0 the initialization); with
            ``keep_history=True`` also ``"weights"`` (T+1, K) and ``"means"`` (T+1, K, D).

    Input X must be binary (0/1 numbers or bools), shape (N, D); anything else raises.
    """

    _param_names = ("weights", "means")
    _fail_message = "EM produced invalid Bernoulli parameters; raise alpha or use dtype=torch.float64."

    weights_ = _Fitted("weights", "Mixture weights, shape (K,).")
    means_ = _Fitted("means", "Pixel probabilities, shape (K, D).")

    def __init__(self, n_components=1, *, alpha=1.0, tol=1e-3, max_iter=100, n_init=1, init_params="kmeans",
                 weights_init=None, means_init=None, random_state=None, keep_history=False, device=None,
                 dtype=torch.float64):
        super().__init__(n_components, tol=tol, max_iter=max_iter, n_init=n_init, init_params=init_params,
                         random_state=random_state, keep_history=keep_history, device=device, dtype=dtype)
        self.alpha = alpha
        self.weights_init = weights_init
        self.means_init = means_init

    # ------------------------------------------------------------------ hooks

    def _validate_hyperparameters(self) -> None:
        super()._validate_hyperparameters()
        if not isinstance(self.alpha, numbers.Real) or not self.alpha > 0:
            raise ValueError(
                f"alpha must be a number > 0, got {self.alpha!r}: it is the pseudo-count that keeps every "
                "pixel probability inside (0, 1); with 0 a pixel never seen on would make log p(x) = -inf"
            )

    def _check_values(self, X: torch.Tensor) -> None:
        binary = (X == 0) | (X == 1)
        if not bool(binary.all()):
            bad = X[~binary][:3].tolist()
            raise ValueError(
                f"BernoulliMixture needs binary data (0/1), got values such as {bad}. Binarize first, "
                "e.g. (X > 0.5) or lvmlib.data.load_dataset(..., binarize=True)."
            )

    def _weighted_log_prob(self, data: Workspace, params: dict) -> torch.Tensor:
        """log pi_k + sum_d [x_d log mu_kd + (1 - x_d) log(1 - mu_kd)]. Returns: shape (N, K)."""
        X, mu = data.X, params["means"]  # [N, D], [K, D]
        log_mu, log_1m = torch.log(mu), torch.log1p(-mu)  # [K, D]
        shift = (log_1m.sum(1) + torch.log(params["weights"]))[None, :]  # [1, K]
        logit_t = (log_mu - log_1m).T  # [D, K]
        out = torch.empty(X.shape[0], mu.shape[0], dtype=X.dtype, device=X.device)

        def rows_block(lane, a, b):
            mm(X[a:b], logit_t, out=out[a:b]).add_(shift)

        data.split(rows_block, X.shape[0])
        return out

    def _m_step(self, data: Workspace, resp: torch.Tensor):
        """pi and the smoothed pixel probabilities from responsibilities ``resp`` [N, K]."""
        X = data.X
        counts = resp.sum(0)  # [K]
        nk = counts + 10 * torch.finfo(resp.dtype).eps  # [K]
        ones = torch.empty(resp.shape[1], X.shape[1], dtype=X.dtype, device=X.device)  # [K, D]: sum_n r x

        def columns(lane, a, b):
            mm(resp.T, X[:, a:b], out=ones[:, a:b])

        data.split(columns, X.shape[1])
        means = (ones + self.alpha) / (counts[:, None] + 2 * self.alpha)  # [K, D], MAP
        return {"weights": nk / nk.sum(), "means": means}, None

    def _log_prior(self, params: dict) -> torch.Tensor:
        """log prod_kd Beta(mu_kd; 1 + alpha, 1 + alpha), up to a constant."""
        mu = params["means"]
        return self.alpha * (torch.log(mu) + torch.log1p(-mu)).sum()

    def _user_init(self) -> dict:
        given = {}
        if self.weights_init is not None:
            given["weights"] = self._check_weights_init(self.weights_init)
        if self.means_init is not None:
            mu = self._as_param(self.means_init, "means_init", (self.n_components, self.n_features_in_))
            if bool(((mu <= 0) | (mu >= 1)).any()):
                raise ValueError("means_init must lie strictly inside (0, 1), e.g. clip to [1e-3, 1 - 1e-3]")
            given["means"] = mu
        return given

    def _init_complete(self, given: dict) -> bool:
        return len(given) == 2

    def _apply_user_init(self, params, given: dict) -> dict:
        params = dict(params or {})
        params.update(given)
        return params

    def _n_parameters(self) -> int:
        return self.n_components * self.n_features_in_ + self.n_components - 1

    def _sample_from(self, params: dict, counts: list[int], gen: torch.Generator) -> torch.Tensor:
        mu = params["means"]
        rows = torch.repeat_interleave(torch.arange(len(counts), device=mu.device),
                                       torch.tensor(counts, device=mu.device))
        p = mu[rows]  # [n, D]
        return (_rand(gen, tuple(p.shape), p.dtype, p.device) < p).to(p.dtype)

    def to_distribution(self) -> D.MixtureSameFamily:
        """The fitted mixture as a ``torch.distributions.MixtureSameFamily``, event shape (D,)."""
        self._check_fitted()
        return D.MixtureSameFamily(D.Categorical(probs=self._params["weights"]),
                                   D.Independent(D.Bernoulli(probs=self._params["means"]), 1))
