"""The EM driver shared by the mixture models (`GaussianMixture`, `BernoulliMixture`).

A mixture p(x) = sum_k pi_k p(x | theta_k) is fit by expectation-maximization
(Dempster, Laird, Rubin 1977; Bishop, PRML ch. 9): the E-step computes the
responsibilities r_nk = p(z_n = k | x_n), the M-step maximizes the expected complete-data
log-likelihood (plus a log prior for MAP fits) given them.  Each EM iteration never
decreases the objective (up to rounding; a ``GaussianMixture`` with ``reg_covar > 0`` is not
exactly EM and can dip by ~(reg_covar / variance)^2 near convergence, as scikit-learn's does).

``MixtureBase.fit_predict`` follows scikit-learn's ``sklearn/mixture/_base.py`` step for
step: check the input, initialize (``lvmlib.mixtures.init``) unless warm-starting, iterate
E- and M-steps until ``abs(change) < tol`` on the per-sample objective, keep the best of
``n_init`` runs, warn when it did not converge, and a final E-step for the labels.  A
subclass supplies the component family: ``_weighted_log_prob`` (E-step), ``_m_step``,
``n_parameters``, ``_sample_from`` and the user's initial parameters.  How the products run
on a CPU (threads, BLAS) is ``lvmlib.mixtures._cpu``'s business; the scikit-learn API surface
(parameter and input checks, outputs) is ``lvmlib.mixtures.sklearn_api``'s.

The loop keeps everything on the model's device; the only host synchronization per EM
iteration is the one scalar of the convergence test.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from numbers import Integral
from time import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from torch.distributions import MultivariateNormal

from lvmlib.device import one_thread
from lvmlib.mixtures._cpu import Workspace, lanes_for, single_threaded
from lvmlib.mixtures.init import initial_responsibilities, make_generator, wide_float
from lvmlib.mixtures.sklearn_api import (
    BASE_CONSTRAINTS,
    EMHistory,
    check_param,
    check_weights,
    check_X,
    resolve_dtype,
    to_output,
)

__all__ = ["MixtureBase", "EMHistory", "ConvergenceWarning", "log_normalize"]


def log_normalize(wlp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(x_n) = logsumexp_k wlp_nk and the responsibilities exp(wlp_nk - log p(x_n)).

    ``wlp`` is overwritten.  Arguments of exp below log(smallest subnormal) - 1 are clamped
    there first: exp gives exactly 0 either way, but torch's vectorized exp takes a slow path
    for them (on digits most log-responsibilities are near -1e5).

    Returns:
        (log_prob_norm of shape (N,), resp of shape (N, K)).
    """
    floor = -746.0 if wlp.dtype == torch.float64 else -105.0
    m = wlp.amax(1, keepdim=True)  # [N, 1]
    lpn = (wlp - m).clamp_(min=floor).exp_().sum(1).log_().add_(m.squeeze(1))  # [N]
    resp = wlp.sub_(lpn[:, None]).clamp_(min=floor).exp_()  # [N, K]
    return lpn, resp


@dataclass
class EMRun:
    """One EM run from one initialization: its last objective, parameters and record."""

    lower_bound: float
    params: dict
    n_iter: int
    converged: bool
    lower_bounds: list
    snapshots: list | None


class MixtureBase(DensityMixin, BaseEstimator):
    """Common base of the EM mixtures; see the subclasses for the parameters."""

    _parameter_constraints: dict = dict(BASE_CONSTRAINTS)
    _param_names: tuple[str, ...] = ()  # the fitted tensors, in self._params
    _user_init_names: tuple[str, ...] = ()  # the parameters a user can give (``*_init``)
    _fail_message = "EM failed"

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1, init_params="kmeans",
                 random_state=None, warm_start=False, verbose=0, verbose_interval=10, keep_history=False,
                 device=None, dtype=None):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.keep_history = keep_history
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ subclass hooks

    def _prepare(self, X: torch.Tensor, lanes: int = 1) -> Workspace:
        """X with its per-data-set precomputations, reused by every EM iteration."""
        return Workspace(X, lanes)

    def _transform_input(self, X: torch.Tensor) -> torch.Tensor:
        """The checked input as the model sees it (e.g. binarized); may raise for bad values."""
        return X

    def _weighted_log_prob(self, data, params: dict) -> torch.Tensor:
        """log pi_k + log p(x_n | theta_k). Returns: tensor of shape (N, K)."""
        raise NotImplementedError

    def _m_step(self, data, resp: torch.Tensor) -> tuple[dict, torch.Tensor | None]:
        """Parameters from responsibilities ``resp`` [N, K], and a bool 0-d tensor, True when
        they are invalid (e.g. a failed Cholesky), or None."""
        raise NotImplementedError

    def _user_init(self) -> dict:
        """The validated ``*_init`` arguments, by parameter name (all given: no data-driven init)."""
        return {}

    def _apply_user_init(self, params: dict | None, given: dict) -> dict:
        """Initial parameters: ``params`` from the data with the user's ones put in."""
        return {**(params or {}), **given}

    def _log_prior(self, params: dict) -> torch.Tensor | None:
        """log p(theta) (up to a constant) for MAP fits; None for maximum likelihood."""
        return None

    def n_parameters(self) -> int:
        """Number of free parameters of the fitted model (for ``bic`` / ``aic``)."""
        raise NotImplementedError

    def _sample_from(self, params: dict, counts: list[int], gen: torch.Generator) -> torch.Tensor:
        """``counts[k]`` draws from component k, stacked in component order. Returns: (n, D)."""
        raise NotImplementedError

    def _work(self, n_samples: int) -> float:
        """Multiply-adds of one EM iteration (decides the CPU lanes, see ``lanes_for``)."""
        return float(n_samples) * self.n_components * self.n_features_in_

    # ------------------------------------------------------------------ helpers for the hooks

    def _check_init_param(self, value, name: str, shape: tuple) -> torch.Tensor:
        context = f" (n_components={self.n_components}, n_features={self.n_features_in_})"
        return check_param(value, name, shape, self._device, self._dtype, context)

    def _check_weights_init(self, value) -> torch.Tensor:
        return check_weights(value, self.n_components, self._device, self._dtype)

    def __sklearn_is_fitted__(self) -> bool:
        return "_params" in self.__dict__

    def _out(self, t: torch.Tensor, like_input):
        """Results follow the type of ``like_input`` (a bool: NumPy or not, or the X given)."""
        numpy = like_input if isinstance(like_input, bool) else not isinstance(like_input, torch.Tensor)
        return to_output(t, numpy)

    # ------------------------------------------------------------------ EM

    def fit(self, X, y=None):
        """Estimate the parameters with EM (``n_init`` runs, the best one kept).

        Each run iterates E- and M-steps until the per-sample objective changes by less
        than ``tol`` or ``max_iter`` iterations are done; a ``ConvergenceWarning`` says when
        the best run did not converge.  With ``warm_start=True`` a refit starts from the
        fitted parameters (one run, ``n_init`` ignored), as in scikit-learn.

        Args:
            X: array-like, DataFrame or tensor of shape (N, D).
            y: ignored (scikit-learn API).

        Returns:
            self
        """
        self.fit_predict(X, y)
        return self

    @torch.no_grad()
    def fit_predict(self, X, y=None):
        """Fit with EM (see ``fit``), then return the most likely component of each row of X.

        Returns:
            labels of shape (N,), int64; NumPy for NumPy-like input, else a tensor on the
            model's device.
        """
        self._validate_params()  # scikit-learn's InvalidParameterError on bad hyperparameters
        resolve_dtype(self.dtype)
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        with single_threaded() as threads:
            if warm:
                n_features = self.n_features_in_
                Xt = check_X(self, X, reset=True, device=self._device, dtype=self._dtype, min_samples=2)
                if Xt.shape[1] != n_features:
                    raise ValueError(f"warm_start=True: X has {Xt.shape[1]} features, but the fitted model has "
                                     f"{n_features}; set warm_start=False to fit from scratch")
            else:
                Xt = check_X(self, X, reset=True, device=self.device, dtype=self.dtype, min_samples=2)
            Xt = self._transform_input(Xt)
            if Xt.shape[0] < self.n_components:
                raise ValueError(f"n_components={self.n_components} > n_samples={Xt.shape[0]}: use at most "
                                 f"{Xt.shape[0]} components, or more data")
            self._device, self._dtype = Xt.device, Xt.dtype
            self._fit_numpy = not isinstance(X, torch.Tensor)
            return self._fit(Xt, lanes_for(Xt.device, self._work(Xt.shape[0]), threads), warm)

    def _fit(self, X: torch.Tensor, lanes: int, warm: bool):
        """The EM loop of ``fit_predict`` on checked data. Returns: labels of shape (N,)."""
        data = self._prepare(X, lanes)
        gen = make_generator(self.random_state, self._device)
        given = {} if warm else self._user_init()

        best = None
        for init in range(1 if warm else self.n_init):
            self._verbose_init_start(init)
            params = self._params if warm else self._initialize(data, given, gen)
            lower_bound = self.lower_bound_ if warm else -math.inf
            run = EMRun(lower_bound, params, 0, False, [], [params] if self.keep_history else None)
            for n_iter in range(1, self.max_iter + 1):
                prev = lower_bound
                wlp = self._weighted_log_prob(data, params)  # [N, K]
                log_prob_norm, resp = log_normalize(wlp)  # E-step: [N], [N, K]
                new_params, fail = self._m_step(data, resp)  # M-step
                lower_bound = self._sync(self._objective(log_prob_norm, params), fail)  # of the E-step's params
                params = new_params
                run.lower_bounds.append(lower_bound)
                if run.snapshots is not None:
                    run.snapshots.append(params)
                run.n_iter = n_iter
                self._verbose_iteration(n_iter, lower_bound - prev)
                if abs(lower_bound - prev) < self.tol:
                    run.converged = True
                    break
            run.params = params
            run.lower_bound = lower_bound if self.max_iter > 0 else -math.inf
            if self.max_iter > 0:
                self._verbose_init_end(lower_bound, run.converged)
            if best is None or self.max_iter == 0 or run.lower_bound > best.lower_bound:
                best = run

        if not best.converged and self.max_iter > 0:
            warnings.warn(
                f"Best of n_init={self.n_init} EM runs did not converge in max_iter={self.max_iter} "
                f"iterations (tol={self.tol}). Increase max_iter or tol, try other init_params, or "
                "check for degenerate data.",
                ConvergenceWarning, stacklevel=3,
            )
        # A final E-step: labels consistent with predict, and the objective of the final fit.
        wlp = self._weighted_log_prob(data, best.params)
        labels = wlp.argmax(1)
        final = self._sync(self._objective(log_normalize(wlp)[0], best.params), None)

        self._params = best.params
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = best.lower_bounds
        self._snapshots = best.snapshots
        self.history_ = EMHistory(lower_bound=best.lower_bounds + [final])
        if best.snapshots is not None:
            for name in self._param_names:
                self.history_[name] = self._out(torch.stack([s[name] for s in best.snapshots]), self._fit_numpy)
        return self._out(labels, self._fit_numpy)

    def _initialize(self, data, given: dict, gen: torch.Generator) -> dict:
        """Initial parameters: the user's, completed by the M-step of ``init_params``' responsibilities."""
        if given and len(given) == len(self._user_init_names):
            return self._apply_user_init(None, given)
        resp = initial_responsibilities(data.X, self.n_components, self.init_params, gen, self._dtype)  # [N, K]
        params, fail = self._m_step(data, resp)
        if fail is not None and bool(fail):
            raise ValueError(self._fail_message_for_dtype())
        return self._apply_user_init(params, given)

    def _objective(self, log_prob_norm: torch.Tensor, params: dict) -> torch.Tensor:
        """Per-sample objective: mean_n log p(x_n) (+ log p(theta) / N). A 0-d tensor."""
        obj = log_prob_norm.mean()
        prior = self._log_prior(params)
        return obj if prior is None else obj + prior / log_prob_norm.shape[0]

    def _sync(self, obj: torch.Tensor, fail: torch.Tensor | None) -> float:
        """The one host sync of an iteration: the objective; raises when the M-step failed."""
        if fail is not None:
            obj = torch.where(fail, torch.full_like(obj, math.nan), obj)
        value = obj.item()
        if not math.isfinite(value):
            if fail is not None and bool(fail):
                raise ValueError(self._fail_message_for_dtype())
            raise ValueError(
                f"the EM objective became {value} (not finite): the data or the initial parameters are too "
                f"extreme for {self._dtype}. Scale the data, use dtype=torch.float64, or check the *_init arguments."
            )
        return value

    def _fail_message_for_dtype(self) -> str:
        return self._fail_message + (" Using dtype=torch.float64 also helps." if self._dtype == torch.float32 else "")

    # ------------------------------------------------------------------ verbose (scikit-learn's messages)

    def _verbose_init_start(self, init: int) -> None:
        if self.verbose >= 1:
            print("Initialization %d" % init)
            self._init_prev_time = self._iter_prev_time = time()

    def _verbose_iteration(self, n_iter: int, change: float) -> None:
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % n_iter)
            elif self.verbose >= 2:
                now = time()
                print("  Iteration %d\t time lapse %.5fs\t ll change %.5f" % (n_iter, now - self._iter_prev_time,
                                                                                change))
                self._iter_prev_time = now

    def _verbose_init_end(self, lower_bound: float, converged: bool) -> None:
        msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {msg}.")
        elif self.verbose >= 2:
            print(f"Initialization {msg}. time lapse {time() - self._init_prev_time:.5f}s\t lower bound "
                  f"{lower_bound:.5f}.")

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def _log_prob_resp(self, X):
        """(log p(x_n) [N], log r_nk [N, K]) under the fitted parameters."""
        check_is_fitted(self)
        with single_threaded() as threads:
            Xt = self._transform_input(check_X(self, X, reset=False, device=self._device, dtype=self._dtype))
            lanes = lanes_for(self._device, self._work(Xt.shape[0]), threads)
            wlp = self._weighted_log_prob(self._prepare(Xt, lanes), self._params)  # [N, K]
            lpn = torch.logsumexp(wlp, 1)  # [N]
            return lpn, wlp - lpn[:, None]

    def score_samples(self, X):
        """log p(x_n) = logsumexp_k (log pi_k + log p(x_n | theta_k)), per row. Returns: shape (N,)."""
        return self._out(self._log_prob_resp(X)[0], X)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood (1/N) sum_n log p(x_n), a float."""
        return float(self._log_prob_resp(X)[0].mean())

    def predict_proba(self, X):
        """Responsibilities p(z = k | x_n). Returns: shape (N, K), rows summing to 1."""
        return self._out(self._log_prob_resp(X)[1].exp(), X)

    def predict(self, X):
        """The most likely component argmax_k p(z = k | x_n). Returns: labels of shape (N,), int64."""
        return self._out(self._log_prob_resp(X)[1].argmax(1), X)

    def bic(self, X) -> float:
        """Bayesian information criterion -2 log L + p log N (lower is better), a float."""
        lpn = self._log_prob_resp(X)[0]
        return -2.0 * float(lpn.sum()) + self.n_parameters() * math.log(lpn.shape[0])

    def aic(self, X) -> float:
        """Akaike information criterion -2 log L + 2 p (lower is better), a float."""
        return -2.0 * float(self._log_prob_resp(X)[0].sum()) + 2.0 * self.n_parameters()

    @torch.no_grad()
    def sample(self, n_samples: int = 1, random_state=None):
        """Draw from the fitted mixture: z ~ Categorical(pi), x ~ p(x | theta_z), grouped by component.

        Args:
            n_samples: how many (>= 1).
            random_state: overrides the model's ``random_state`` for this call (an int
                repeats the same draws; a ``torch.Generator`` advances).

        Returns:
            (X, y): X of shape (n_samples, D), y of shape (n_samples,) int64 labels;
            NumPy if the model was fit on NumPy, else tensors on its device.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, (Integral, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        with single_threaded():
            gen = make_generator(self.random_state if random_state is None else random_state, self._device)
            w = self._params["weights"].to(gen.device, wide_float(gen.device))
            labels = torch.multinomial(w, int(n_samples), replacement=True, generator=gen)
            counts = torch.bincount(labels, minlength=self.n_components).tolist()
            X = self._sample_from(self._params, counts, gen)  # [n, D]
            y = torch.repeat_interleave(torch.arange(self.n_components, device=self._device),
                                        torch.tensor(counts, device=self._device))
            return self._out(X, self._fit_numpy), self._out(y, self._fit_numpy)

    # ------------------------------------------------------------------ history

    def at_step(self, step: int):
        """A copy of the fitted model with the parameters of EM snapshot ``step``.

        Step 0 is the initialization, step ``n_iter_`` (or -1) the fitted model.  Needs
        ``keep_history=True``.  Every method works on the copy, e.g.
        ``model.at_step(3).predict_proba(X)``.

        Returns:
            a model of the same class.
        """
        check_is_fitted(self)
        snaps = self.__dict__.get("_snapshots")
        if snaps is None:
            raise ValueError("no parameter snapshots: build the model with keep_history=True and refit")
        if not isinstance(step, (Integral, np.integer)) or not -len(snaps) <= step < len(snaps):
            raise ValueError(f"step must be an int in [0, {len(snaps) - 1}] (or negative from the end), got {step!r}")
        other = copy.copy(self)
        other._params = snaps[int(step)]
        return other

    def predict_proba_at(self, X, step: int):
        """Responsibilities of X under EM snapshot ``step`` (see ``at_step``). Returns: shape (N, K)."""
        return self.at_step(step).predict_proba(X)

    def score_samples_at(self, X, step: int):
        """log p(x_n) under EM snapshot ``step`` (see ``at_step``). Returns: shape (N,)."""
        return self.at_step(step).score_samples(X)


def em_bound(x: torch.Tensor, weights, means, covariances, resp, *, device=None) -> float:
    """The EM lower bound L(q, theta) for q(z_n = k) = resp[n, k], per data point:

    (1/N) sum_n sum_k q_nk [log pi_k + log N(x_n; mu_k, Sigma_k) - log q_nk]  <=  (1/N) sum_n log p(x_n),

    with equality when q is the posterior under theta (Bishop, PRML eq. 9.70-9.72).

    Args:
        x: (N, D).  weights: (K,).  means: (K, D).  covariances: full, (K, D, D).  resp: (N, K).
        device: where to compute (default: x's device when x is a tensor, else the CPU).

    Returns:
        a float.

    Taught in notebook 02 (Mixtures of Gaussians and EM).
    """
    device = (x.device if isinstance(x, torch.Tensor) else None) if device is None else device
    x = torch.as_tensor(x, dtype=torch.float64, device=device)
    weights, means, cov, resp = (torch.as_tensor(a, dtype=torch.float64, device=device)
                                 for a in (weights, means, covariances, resp))
    with one_thread():
        components = MultivariateNormal(means, scale_tril=torch.linalg.cholesky(cov), validate_args=False)
        log_joint = torch.log(weights) + components.log_prob(x[:, None, :])  # [N, K]
        terms = torch.where(resp > 0, resp * log_joint, torch.zeros_like(log_joint)) - torch.special.xlogy(resp, resp)
        return float(terms.sum(1).mean())

