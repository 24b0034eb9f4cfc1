"""A mixture of independent Bernoullis fit by EM: the lookup-table model of binary images.

p(x) = sum_k pi_k prod_d mu_kd^x_d (1 - mu_kd)^(1 - x_d) for x in {0, 1}^D (Bishop, PRML
section 9.3.3).  Where a VAE's decoder computes the pixel probabilities from a continuous z
with a network, here z is one of K values and the probabilities are a table ``means_`` [K, D].
log p(x) is exact (a logsumexp over the K components).
"""

from __future__ import annotations

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from torch import distributions as D

from lvmlib._util import noise
from lvmlib.mixtures._cpu import Workspace, mm
from lvmlib.mixtures.em import ConvergenceWarning, EMHistory, MixtureBase
from lvmlib.mixtures.sklearn_api import FittedParam

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
        binarize: threshold for binarizing X: a value is 1 where it is above ``binarize``
            (as ``sklearn.naive_bayes.BernoulliNB``'s parameter and
            ``lvmlib.data.binarize_pixels``).  Default 0.5: the midpoint of pixel intensities
            in [0, 1], the threshold of ``load_dataset(..., binarize=True)``; 0/1 data is left
            as it is by any threshold in [0, 1).  None: X must already be binary (0/1 or
            bools), anything else raises.
        random_state, warm_start, verbose, verbose_interval: as in ``GaussianMixture``.
        keep_history: keep the parameters of every EM iteration (see ``history_``).
        device: None (the device of a tensor X, else the CPU) or a device.
        dtype: None (follow X: float32 stays float32, else float64), ``torch.float32`` or
            ``torch.float64``.

    Attributes:
        weights_: shape (K,).
        means_: pixel probabilities p(x_d = 1 | z = k), shape (K, D).
        converged_, n_iter_, lower_bound_, lower_bounds_: as in ``GaussianMixture``.
        history_: dict; ``"lower_bound"``: list of ``n_iter_ + 1`` floats (the penalized
            objective under snapshot t, t = 0 the initialization); with
            ``keep_history=True`` also ``"weights"`` (T+1, K) and ``"means"`` (T+1, K, D).

    Input X of shape (N, D) is binarized at ``binarize`` (or must be binary with ``binarize=None``).

    Taught in notebook 07 (The variational autoencoder).
    """

    _parameter_constraints: dict = {
        **MixtureBase._parameter_constraints,
        "alpha": [Interval(Real, 0.0, None, closed="neither")],
        "binarize": [None, Interval(Real, None, None, closed="neither")],
        "weights_init": ["array-like", torch.Tensor, None],
        "means_init": ["array-like", torch.Tensor, None],
    }
    _param_names = ("weights", "means")
    _user_init_names = ("weights", "means")
    _fail_message = "EM produced invalid Bernoulli parameters; raise alpha or use dtype=torch.float64."

    weights_ = FittedParam("weights", "Mixture weights, shape (K,).")
    means_ = FittedParam("means", "Pixel probabilities, shape (K, D).")

    def __init__(self, n_components=1, *, alpha=1.0, binarize=0.5, tol=1e-3, max_iter=100, n_init=1,
                 init_params="kmeans", weights_init=None, means_init=None, random_state=None, warm_start=False,
                 verbose=0, verbose_interval=10, keep_history=False, device=None, dtype=None):
        super().__init__(n_components, tol=tol, max_iter=max_iter, n_init=n_init, init_params=init_params,
                         random_state=random_state, warm_start=warm_start, verbose=verbose,
                         verbose_interval=verbose_interval, keep_history=keep_history, device=device, dtype=dtype)
        self.alpha = alpha
        self.binarize = binarize
        self.weights_init = weights_init
        self.means_init = means_init

    # ------------------------------------------------------------------ hooks

    def _transform_input(self, X: torch.Tensor) -> torch.Tensor:
        """X binarized at ``binarize`` (1 where above), or checked to be binary when ``binarize`` is None."""
        if self.binarize is not None:
            return (X > self.binarize).to(X.dtype)
        binary = (X == 0) | (X == 1)
        if not bool(binary.all()):
            bad = X[~binary][:3].tolist()
            raise ValueError(
                f"BernoulliMixture(binarize=None) needs binary data (0/1), got values such as {bad}. Binarize "
                "first, e.g. (X > 0.5), or set binarize to a threshold (e.g. 0.5)."
            )
        return X

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
            mu = self._check_init_param(self.means_init, "means_init", (self.n_components, self.n_features_in_))
            if bool(((mu <= 0) | (mu >= 1)).any()):
                raise ValueError("means_init must lie strictly inside (0, 1), e.g. clip to [1e-3, 1 - 1e-3]")
            given["means"] = mu
        return given

    def n_parameters(self) -> int:
        """Free parameters: K - 1 weights and K D pixel probabilities (for ``bic`` / ``aic``)."""
        return self.n_components * self.n_features_in_ + self.n_components - 1

    def _sample_from(self, params: dict, counts: list[int], gen: torch.Generator) -> torch.Tensor:
        mu = params["means"]
        rows = torch.repeat_interleave(torch.arange(len(counts), device=mu.device),
                                       torch.tensor(counts, device=mu.device))
        p = mu[rows]  # [n, D]
        return (noise("rand", tuple(p.shape), gen, dtype=p.dtype, device=p.device) < p).to(p.dtype)

    def to_distribution(self) -> D.MixtureSameFamily:
        """The fitted mixture as a ``torch.distributions.MixtureSameFamily``, event shape (D,)."""
        check_is_fitted(self)
        return D.MixtureSameFamily(D.Categorical(probs=self._params["weights"]),
                                   D.Independent(D.Bernoulli(probs=self._params["means"]), 1))
