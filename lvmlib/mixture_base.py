"""The EM driver shared by the mixture models (`GaussianMixture`, `BernoulliMixture`).

A mixture p(x) = sum_k pi_k p(x | theta_k) is fit by expectation-maximization
(Dempster, Laird, Rubin 1977; Bishop, PRML ch. 9): the E-step computes the
responsibilities r_nk = p(z_n = k | x_n), the M-step maximizes the expected complete-data
log-likelihood (plus a log prior for MAP fits) given them.  Each EM iteration never
decreases the objective (up to rounding; a ``GaussianMixture`` with ``reg_covar > 0`` is not
exactly EM and can dip by ~(reg_covar / variance)^2 near convergence, as scikit-learn's does).

This module holds what is the same for every mixture, following scikit-learn's
``sklearn/mixture/_base.py`` step for step: input checks, initialization (k-means++,
k-means, random), the ``n_init`` restarts keeping the best run, the convergence rule
(``abs(change) < tol`` on the per-sample objective), the ``ConvergenceWarning``, the
per-iteration history, ``predict`` / ``predict_proba`` / ``score_samples`` / ``score`` /
``sample`` / ``bic`` / ``aic``.  A subclass supplies the component family: the weighted
log-probabilities (E-step), the M-step, the number of free parameters and sampling.

The loop keeps everything on the model's device; the only host synchronization per EM
iteration is the one scalar of the convergence test.
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = ["MixtureBase", "EMHistory", "Workspace", "kmeans_plusplus", "make_generator", "single_threaded",
           "lanes_for", "log_normalize", "mm", "ConvergenceWarning"]

INIT_METHODS = ("kmeans", "k-means++", "kmeans++", "random", "random_from_data")
_FLOAT_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: multiply-adds per EM iteration from which CPU work is split over threads (see ``lanes_for``)
PARALLEL_MIN_WORK = 2e7

#: which BLAS multiplies CPU matrices in the EM loops: ``"numpy"`` (NumPy's, OpenBLAS in the
#: PyPI wheels) or ``"torch"`` (MKL in the x86 wheels).  On this project's 2-core AMD EPYC box,
#: single-threaded, float64: the full-covariance M-step products take 2.8 ms with OpenBLAS vs
#: 4.9 ms with MKL, the E-step product 4.2 vs 4.7 ms, the 5000 x 784 diag products 11 + 9 ms vs
#: 15 + 18 ms.  Set to ``"torch"`` where MKL is the faster one (results agree to rounding).
CPU_MATMUL = "numpy"

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_BLAS: Any = None  # a threadpoolctl.ThreadpoolController, made on first use


def _blas_controller():
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS


def mm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b`` (2-D, or batched 3-D); CPU float matrices go through NumPy's BLAS (``CPU_MATMUL``).

    Returns: tensor of shape (..., a.shape[-2], b.shape[-1]), ``out`` when given.
    """
    if (CPU_MATMUL == "numpy" and a.device.type == "cpu" and b.device.type == "cpu"
            and a.dtype == b.dtype and a.dtype in (torch.float32, torch.float64)):
        result = np.matmul(a.numpy(), b.numpy(), out=None if out is None else out.numpy())
        return out if out is not None else torch.from_numpy(result)
    return torch.matmul(a, b, out=out)


def _one_torch_thread() -> None:
    torch.set_num_threads(1)  # the lanes' own torch ops stay single-threaded


def _pool(workers: int) -> ThreadPoolExecutor:
    """The lanes' worker threads (idle between calls), grown on demand."""
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < workers:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lvmlib-em", initializer=_one_torch_thread)
        _POOL_SIZE = workers
    return _POOL


_STATE = threading.local()  # .threads: torch's thread count outside the outermost single_threaded()


@contextlib.contextmanager
def single_threaded():
    """Run torch ops and NumPy BLAS calls (see ``mm``) on one thread; restore the settings after.

    The mixtures' public methods run inside it; big problems then use several threads of
    their own ("lanes", see ``lanes_for``).  Why not torch's own (OpenMP) threads: an EM
    iteration is ~30 kernels, each a parallel region ending in a spinning barrier; on a busy
    2-core machine a descheduled worker stalls every one of them for a time slice (measured:
    17 ms vs 500 ms for one small fit, 15 ms vs 180 ms of CPU per digits iteration).  Lanes
    meet twice per iteration and wait without spinning.  Nested uses are free.

    Yields:
        int, torch's thread count outside (the lanes a big problem may use).
    """
    outer = getattr(_STATE, "threads", None)
    if outer is not None:
        yield outer
        return
    n = torch.get_num_threads()
    _STATE.threads = n
    try:
        with contextlib.ExitStack() as stack:
            if CPU_MATMUL == "numpy":  # NumPy's BLAS on one thread too (threadpoolctl)
                stack.enter_context(_blas_controller().limit(limits=1, user_api="blas"))
            if n > 1:
                torch.set_num_threads(1)
                stack.callback(torch.set_num_threads, n)
            yield n
    finally:
        _STATE.threads = None


def lanes_for(device: torch.device, work: float, threads: int) -> int:
    """Threads for the E/M steps: all ``threads`` on the CPU from ``PARALLEL_MIN_WORK``
    multiply-adds per iteration, else 1 (GPUs parallelize inside their kernels).

    Each lane takes a contiguous block of components (or rows, or columns), so results do
    not depend on the number of lanes beyond BLAS rounding (bitwise equal with OpenBLAS).
    """
    return threads if device.type == "cpu" and work >= PARALLEL_MIN_WORK else 1


def run_lanes(fn, n_items: int, lanes: int) -> None:
    """Call ``fn(lane, start, stop)`` on ``lanes`` contiguous blocks of ``range(n_items)`` in parallel.

    The calling thread runs block 0; the others go to a small thread pool.
    """
    lanes = max(1, min(lanes, n_items))
    if lanes == 1:
        fn(0, 0, n_items)
        return
    edges = [round(i * n_items / lanes) for i in range(lanes + 1)]
    futures = [_pool(lanes - 1).submit(fn, i, edges[i], edges[i + 1]) for i in range(1, lanes)]
    try:
        fn(0, edges[0], edges[1])
    finally:
        for f in futures:
            f.result()


class Workspace:
    """One data set as the E/M steps see it: X, the lanes, reusable work buffers.

    Subclasses add per-data-set precomputations.  Buffers are allocated once per fit instead
    of twice per iteration: fresh multi-MB allocations cost a page fault per 4 kB, which on a
    VM was half the time of a digits EM iteration.
    """

    def __init__(self, X: torch.Tensor, lanes: int = 1):
        self.X = X  # [N, D]
        self.lanes = lanes
        self._buffers: dict = {}

    def buffer(self, key, *shape: int) -> torch.Tensor:
        """A contiguous tensor of ``shape`` backed by the reusable buffer ``key`` (one per lane)."""
        numel = math.prod(shape)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < numel:
            buf = self._buffers[key] = torch.empty(numel, dtype=self.X.dtype, device=self.X.device)
        return buf[:numel].view(shape)

    def split(self, fn, n_items: int) -> None:
        """``run_lanes(fn, n_items, self.lanes)``."""
        run_lanes(fn, n_items, self.lanes)


def log_normalize(wlp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(x_n) = logsumexp_k wlp_nk and the responsibilities exp(wlp_nk - log p(x_n)).

    ``wlp`` is overwritten.  Arguments of exp below log(smallest subnormal) - 1 are clamped
    there first: exp gives exactly 0 either way, but torch's vectorized exp takes a slow path
    for them (4x slower on digits, where most log-responsibilities are near -1e5).

    Returns:
        (log_prob_norm of shape (N,), resp of shape (N, K)).
    """
    floor = -746.0 if wlp.dtype == torch.float64 else -105.0
    m = wlp.amax(1, keepdim=True)  # [N, 1]
    lpn = (wlp - m).clamp_(min=floor).exp_().sum(1).log_().add_(m.squeeze(1))  # [N]
    resp = wlp.sub_(lpn[:, None]).clamp_(min=floor).exp_()  # [N, K]
    return lpn, resp


# --------------------------------------------------------------------------- helpers


def make_generator(random_state, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` from a ``random_state`` argument, never touching global seeds.

    Args:
        random_state: ``None`` (a fresh seed drawn from torch's default generator), an int
            (a new generator on ``device`` seeded with it, so refits repeat), a
            ``torch.Generator`` (used as is; its state advances), or a NumPy
            ``Generator`` / ``RandomState`` (a seed is drawn from it).
        device: where random numbers are wanted (used for a new generator).

    Returns:
        torch.Generator
    """
    if isinstance(random_state, torch.Generator):
        return random_state
    if random_state is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        seed = int(random_state)
        if seed < 0:
            raise ValueError(f"random_state must be a non-negative int, got {seed}")
    elif isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(0, 2**62))
    elif isinstance(random_state, np.random.RandomState):
        seed = int(random_state.randint(0, 2**31 - 1))
    else:
        raise ValueError(
            f"random_state must be None, an int, a torch.Generator or a NumPy Generator/RandomState, "
            f"got {type(random_state).__name__}"
        )
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except RuntimeError:  # a device without its own generator type
        return torch.Generator().manual_seed(seed)


def _rand(gen: torch.Generator, shape, dtype, device) -> torch.Tensor:
    """Uniform [0, 1) draws from ``gen`` (on the generator's device), moved to ``device``."""
    return torch.rand(shape, generator=gen, dtype=dtype, device=gen.device).to(device)


def _randn(gen: torch.Generator, shape, dtype, device) -> torch.Tensor:
    """Standard-normal draws from ``gen``, moved to ``device``."""
    return torch.randn(shape, generator=gen, dtype=dtype, device=gen.device).to(device)


def sum_last(t: torch.Tensor) -> torch.Tensor:
    """``t.sum(-1)``, as a matrix-vector product when the last dimension is short.

    torch's reduction over a short contiguous last dimension is slow (510 us vs 24 us for a
    [2000, 10, 2] tensor); the product with a ones vector is the same sum.

    Returns: tensor of shape ``t.shape[:-1]``.
    """
    if t.shape[-1] > 16:
        return t.sum(-1)
    return t @ torch.ones(t.shape[-1], dtype=t.dtype, device=t.device)


def _wide_float(device: torch.device) -> torch.dtype:
    """float64 where the device has it (for cumulative sums), else float32 (Apple MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _sq_distances(A: torch.Tensor, X: torch.Tensor, x_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ||a_i - x_n||^2, clamped at 0.

    Returns: tensor of shape (len(A), len(X)).
    """
    d = sum_last(A * A)[:, None] - 2.0 * mm(A, X.T)  # [M, N]
    return d.add_(x_sq).clamp_min_(0.0)


def kmeans_plusplus(X: torch.Tensor, n_clusters: int, generator: torch.Generator,
                    n_local_trials: int | None = None) -> torch.Tensor:
    """Greedy k-means++ seeding (Arthur and Vassilvitskii 2007), as scikit-learn does it.

    The first center is a uniformly drawn point; each next one is the best (lowest
    potential sum_n min_c ||x_n - c||^2) of ``n_local_trials`` candidates drawn with
    probability proportional to the squared distance to the closest chosen center.

    Args:
        X: tensor of shape (N, D).
        n_clusters: K <= N.
        generator: the randomness.
        n_local_trials: candidates per center (default 2 + int(log K), scikit-learn's).

    Returns:
        tensor of shape (K,): indices of the chosen rows of ``X`` (on X's device).
    """
    n = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    x_sq = sum_last(X * X)  # [N]
    wide = _wide_float(X.device)
    first = (_rand(generator, (1,), wide, X.device) * n).long().clamp_(max=n - 1)
    indices = [first]
    closest = _sq_distances(X[first], X, x_sq)[0]  # [N]
    for _ in range(1, n_clusters):
        cum = torch.cumsum(closest.to(wide), 0)  # [N]
        u = _rand(generator, (n_local_trials,), wide, X.device) * cum[-1]
        cand = torch.searchsorted(cum, u).clamp_(max=n - 1)  # [T]
        d = torch.minimum(_sq_distances(X[cand], X, x_sq), closest)  # [T, N]
        best = d.sum(1).argmin()
        closest = d[best]
        indices.append(cand[best].reshape(1))
    return torch.cat(indices)


def _lloyd(X: torch.Tensor, centers: torch.Tensor, max_iter: int = 100) -> torch.Tensor:
    """Lloyd's k-means iterations from ``centers`` until the labels stop changing.

    Returns: tensor of shape (N,), int64 labels.
    """
    x_sq = sum_last(X * X)
    labels = _sq_distances(X, centers, sum_last(centers * centers)).argmin(1)  # [N]
    k = centers.shape[0]
    for _ in range(max_iter):
        counts = torch.bincount(labels, minlength=k).to(X.dtype)  # [K]
        sums = torch.zeros_like(centers).index_add_(0, labels, X)  # [K, D]
        centers = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centers)
        new = _sq_distances(centers, X, x_sq).argmin(0)  # [N]
        if torch.equal(new, labels):  # one host sync per k-means step (initialization only)
            break
        labels = new
    return labels


def _nearest(X: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """Index of the nearest seed for every row. Returns: tensor of shape (N,)."""
    return _sq_distances(seeds, X, sum_last(X * X)).argmin(0)


def _one_hot(labels: torch.Tensor, k: int, dtype) -> torch.Tensor:
    """Returns: tensor of shape (N, K) with a single 1 per row."""
    resp = torch.zeros(labels.shape[0], k, dtype=dtype, device=labels.device)
    return resp.scatter_(1, labels[:, None], 1.0)


class EMHistory(dict):
    """The per-iteration record of the best EM run, a ``dict``.

    Keys (T = ``n_iter_``, snapshot t = the parameters after t EM iterations, t = 0 the
    initial ones):

    - ``"lower_bound"``: list of T + 1 floats; entry t is the per-sample objective (mean
      log-likelihood of the training data, plus the log prior / N for MAP fits) under
      snapshot t.  Non-decreasing (up to rounding, and for ``GaussianMixture`` up to the tiny
      dips ``reg_covar > 0`` allows near convergence: compare with a tolerance, e.g. 1e-8).
      Entries 0..T-1 equal scikit-learn's ``lower_bounds_``.
    - with ``keep_history=True``, one entry per fitted parameter, e.g. ``"weights"``,
      ``"means"``, ``"covariances"``, ``"precisions_cholesky"``: the snapshots stacked,
      shape (T + 1, *shape of the fitted attribute*), same type as the fitted attributes.
    """

    def __missing__(self, key):
        raise KeyError(
            f"{key!r} is not in the history (keys: {sorted(self)}). Parameter snapshots are kept "
            "only when the model is built with keep_history=True."
        )


class _Fitted:
    """A read-only fitted attribute ``name_`` served from ``self._params[name]``.

    Converted with the model's output rule: NumPy if it was fit on NumPy, else a tensor.
    """

    def __init__(self, name: str, doc: str = ""):
        self.name = name
        self.__doc__ = doc

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        params = obj.__dict__.get("_params")
        if params is None:
            raise AttributeError(
                f"{type(obj).__name__} has no attribute {self.name + '_'!r}: call fit(X) first"
            )
        return obj._out(params[self.name], obj._fit_numpy)

    def __set__(self, obj, value):
        raise AttributeError(f"{self.name}_ is a fitted attribute; refit to change it")


# --------------------------------------------------------------------------- the driver


class MixtureBase(BaseEstimator):
    """Common base of the EM mixtures; see the subclasses for the parameters.

    Subclasses define ``_param_names`` (the fitted tensors, in ``self._params``) and the
    hooks ``_prepare``, ``_weighted_log_prob``, ``_m_step``, ``_user_init``,
    ``_apply_user_init``, ``_n_parameters``, ``_sample_from`` and optionally
    ``_check_values`` and ``_log_prior``.
    """

    _param_names: tuple[str, ...] = ()
    _fail_message = "EM failed"

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1, init_params="kmeans",
                 random_state=None, keep_history=False, device=None, dtype=torch.float64):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.keep_history = keep_history
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ checks

    def _validate_hyperparameters(self) -> None:
        def is_int(v):
            return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)

        if not is_int(self.n_components) or self.n_components < 1:
            raise ValueError(f"n_components must be an int >= 1, got {self.n_components!r}")
        if not is_int(self.max_iter) or self.max_iter < 0:
            raise ValueError(f"max_iter must be an int >= 0, got {self.max_iter!r}")
        if not is_int(self.n_init) or self.n_init < 1:
            raise ValueError(f"n_init must be an int >= 1, got {self.n_init!r}")
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}")
        if self.init_params not in INIT_METHODS:
            raise ValueError(f"init_params must be one of {INIT_METHODS}, got {self.init_params!r}")
        self._resolve_dtype()

    def _resolve_dtype(self, x: torch.Tensor | None = None) -> torch.dtype:
        dt = self.dtype
        if isinstance(dt, str):
            if dt not in _FLOAT_DTYPES:
                raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dt!r}")
            dt = _FLOAT_DTYPES[dt]
        if dt is None:
            dt = x.dtype if (x is not None and x.dtype in (torch.float32, torch.float64)) else torch.float64
        if dt not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dt!r}")
        return dt

    def _check_X(self, X, *, fitting: bool) -> torch.Tensor:
        """X as a 2-D finite tensor on the model's device and dtype; sets them when fitting.

        Returns: tensor of shape (N, D).
        """
        if X is None:
            raise ValueError("X is None; pass an array of shape (n_samples, n_features)")
        is_tensor = isinstance(X, torch.Tensor)
        if not is_tensor:
            try:
                X = np.asarray(X)
            except Exception as err:  # ragged lists and the like
                raise ValueError(f"X could not be read as an array: {err}") from None
            if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
                raise ValueError(f"X must hold numbers, got an array of dtype {X.dtype}")
            if np.iscomplexobj(X):
                raise ValueError("X must be real-valued, got complex numbers")
        elif X.is_complex():
            raise ValueError("X must be real-valued, got a complex tensor")
        shape = tuple(X.shape)
        if len(shape) == 1:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got a 1-D array of shape {shape}. "
                "Use X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample."
            )
        if len(shape) != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got shape {shape}. Flatten each sample, "
                "e.g. X.reshape(len(X), -1) for images."
            )
        if shape[0] == 0 or shape[1] == 0:
            raise ValueError(f"X is empty (shape {shape}); need at least one sample and one feature")
        if fitting:
            device = self.device
            if device is None:
                device = X.device if is_tensor else torch.device("cpu")
            device = torch.device(device)
            dtype = self._resolve_dtype(X if is_tensor else None)
            if device.type == "mps" and dtype == torch.float64:
                raise ValueError("Apple MPS has no float64: pass dtype=torch.float32 or device='cpu'")
            self._device, self._dtype = device, dtype
        else:
            self._check_fitted()
            if shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {shape[1]} features, but {type(self).__name__} was fit on "
                    f"{self.n_features_in_} features"
                )
        if not is_tensor:
            X = torch.from_numpy(np.ascontiguousarray(X))
        X = X.detach().to(device=self._device, dtype=self._dtype)
        if not bool(torch.isfinite(X).all()):
            bad = (~torch.isfinite(X)).any(1).nonzero().flatten()[:5].tolist()
            raise ValueError(
                f"X contains NaN or infinity (e.g. in rows {bad}; "
                f"after conversion to {self._dtype}); drop or impute those rows first"
            )
        self._check_values(X)
        return X

    def _check_values(self, X: torch.Tensor) -> None:
        """Subclass hook: extra checks of the data's values (e.g. binary)."""

    def _check_fitted(self) -> None:
        if "_params" not in self.__dict__:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(X) first")

    @staticmethod
    def _out(t: torch.Tensor, numpy: bool):
        """The output rule: NumPy (on the host) when ``numpy`` is True, else the tensor."""
        return t.detach().cpu().numpy() if numpy else t

    def _check_weights_init(self, w) -> torch.Tensor:
        w = self._as_param(w, "weights_init", (self.n_components,))
        if bool((w < 0).any()) or bool((w > 1).any()):
            raise ValueError(f"weights_init must lie in [0, 1], got min {w.min().item():.5g}, "
                             f"max {w.max().item():.5g}")
        atol = 1e-6 if self._dtype == torch.float32 else 1e-8
        if abs(float(w.sum()) - 1.0) > atol:
            raise ValueError(f"weights_init must sum to 1, got {float(w.sum()):.10g}; divide by its sum")
        return w

    def _as_param(self, value, name: str, shape: tuple) -> torch.Tensor:
        t = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else np.asarray(value))
        t = t.to(device=self._device, dtype=self._dtype)
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"{name} must have shape {tuple(shape)} (n_components={self.n_components}, "
                             f"n_features={self.n_features_in_}), got {tuple(t.shape)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinity")
        return t

    # ------------------------------------------------------------------ subclass hooks

    def _prepare(self, X: torch.Tensor, lanes: int = 1) -> Workspace:
        """X with its per-data-set precomputations, reused by every EM iteration."""
        return Workspace(X, lanes)

    def _weighted_log_prob(self, data, params: dict) -> torch.Tensor:
        """log pi_k + log p(x_n | theta_k). Returns: tensor of shape (N, K)."""
        raise NotImplementedError

    def _m_step(self, data, resp: torch.Tensor) -> tuple[dict, torch.Tensor | None]:
        """Parameters from responsibilities ``resp`` [N, K], and a bool scalar tensor
        that is True when they are invalid (e.g. a failed Cholesky), or None."""
        raise NotImplementedError

    def _user_init(self) -> dict:
        """The validated ``*_init`` arguments given by the user, by parameter name."""
        return {}

    def _init_complete(self, given: dict) -> bool:
        """True when the user gave every initial parameter (no data-driven init needed)."""
        return False

    def _apply_user_init(self, params: dict | None, given: dict) -> dict:
        """Initial parameters: ``params`` from the data with the user's ones put in."""
        raise NotImplementedError

    def _log_prior(self, params: dict) -> torch.Tensor | None:
        """log p(theta) (up to a constant) for MAP fits; None for maximum likelihood."""
        return None

    def _n_parameters(self) -> int:
        raise NotImplementedError

    def _sample_from(self, params: dict, counts: list[int], gen: torch.Generator) -> torch.Tensor:
        """``counts[k]`` draws from component k, stacked in component order. Returns: (n, D)."""
        raise NotImplementedError

    def _work(self, n_samples: int) -> float:
        """Multiply-adds of one EM iteration (decides the CPU threads, see ``lanes_for``)."""
        return float(n_samples) * self.n_components * self.n_features_in_

    # ------------------------------------------------------------------ EM

    def _objective_tensor(self, log_prob_norm: torch.Tensor, params: dict) -> torch.Tensor:
        """Per-sample objective: mean_n log p(x_n) (+ log p(theta) / N). A 0-d tensor."""
        obj = log_prob_norm.mean()
        prior = self._log_prior(params)
        if prior is not None:
            obj = obj + prior / log_prob_norm.shape[0]
        return obj

    def _sync(self, obj: torch.Tensor, fail: torch.Tensor | None) -> float:
        """The one host sync of an iteration: the objective, NaN when the M-step failed."""
        if fail is not None:
            obj = torch.where(fail, torch.full_like(obj, math.nan), obj)
        value = obj.item()
        if not math.isfinite(value):
            if fail is not None and bool(fail):
                raise ValueError(self._fail_message_for_dtype())
            raise ValueError(
                f"the EM objective became {value} (not finite): the data or the initial parameters "
                "are too extreme for " + str(self._dtype) + ". Scale the data, use dtype=torch.float64, "
                "or check the *_init arguments."
            )
        return value

    def _fail_message_for_dtype(self) -> str:
        msg = self._fail_message
        if self._dtype == torch.float32:
            msg += " Using dtype=torch.float64 also helps."
        return msg

    def _initialize(self, data, given: dict, gen: torch.Generator) -> dict:
        """Initial parameters: the user's, completed from responsibilities by ``init_params``."""
        if self._init_complete(given):
            return self._apply_user_init(None, given)
        X = data.X
        n, k = X.shape[0], self.n_components
        method = self.init_params
        if method == "random":
            resp = _rand(gen, (n, k), self._dtype, self._device)
            resp /= resp.sum(1, keepdim=True)  # [N, K]
        else:
            if method == "random_from_data":
                u = _rand(gen, (n,), _wide_float(self._device), self._device)
                seeds = u.argsort()[:k]  # k distinct rows, uniformly
            else:
                seeds = kmeans_plusplus(X, k, gen)  # [K]
            if method == "kmeans":
                labels = _lloyd(X, X[seeds])
            else:
                labels = _nearest(X, X[seeds])  # each point to its nearest seed
            resp = _one_hot(labels, k, self._dtype)  # [N, K]
        params, fail = self._m_step(data, resp)
        if fail is not None and bool(fail):
            raise ValueError(self._fail_message_for_dtype())
        return self._apply_user_init(params, given)

    def fit(self, X, y=None):
        """Estimate the parameters with EM (``n_init`` runs, the best one kept).

        Each run iterates E- and M-steps until the per-sample objective changes by less
        than ``tol`` or ``max_iter`` iterations are done; a ``ConvergenceWarning`` says when
        the best run did not converge.

        Args:
            X: array or tensor of shape (N, D).
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
            labels of shape (N,), int64; NumPy for NumPy input, else a tensor on the
            model's device.
        """
        self._validate_hyperparameters()
        numpy_in = not isinstance(X, torch.Tensor)
        with single_threaded() as threads:
            Xt = self._check_X(X, fitting=True)
            n = Xt.shape[0]
            if n < 2:
                raise ValueError(f"need at least 2 samples to fit, got {n}")
            if n < self.n_components:
                raise ValueError(
                    f"n_components={self.n_components} > n_samples={n}: use at most {n} components, "
                    "or more data"
                )
            self.n_features_in_ = int(Xt.shape[1])
            self._fit_numpy = numpy_in
            return self._fit(Xt, numpy_in, lanes_for(self._device, self._work(n), threads))

    def _fit(self, Xt: torch.Tensor, numpy_in: bool, lanes: int):
        """The EM loop of ``fit_predict`` on checked data. Returns: labels of shape (N,)."""
        given = self._user_init()
        data = self._prepare(Xt, lanes)
        gen = make_generator(self.random_state, self._device)

        best = None  # (lower bound, params, n_iter, converged, per-iteration objectives, snapshots)
        for _ in range(self.n_init):
            params = self._initialize(data, given, gen)
            snapshots = [params] if self.keep_history else None
            lower_bounds: list[float] = []
            lower_bound, converged, n_iter = -math.inf, False, 0
            for n_iter in range(1, self.max_iter + 1):
                prev = lower_bound
                wlp = self._weighted_log_prob(data, params)  # [N, K]
                log_prob_norm, resp = log_normalize(wlp)  # [N], [N, K]: from log space
                new_params, fail = self._m_step(data, resp)
                lower_bound = self._sync(self._objective_tensor(log_prob_norm, params), fail)
                lower_bounds.append(lower_bound)
                params = new_params
                if snapshots is not None:
                    snapshots.append(params)
                if abs(lower_bound - prev) < self.tol:
                    converged = True
                    break
            if self.max_iter == 0 or best is None or lower_bound > best[0]:
                best = (lower_bound, params, n_iter, converged, lower_bounds, snapshots)

        lower_bound, params, n_iter, converged, lower_bounds, snapshots = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                f"Best of n_init={self.n_init} EM runs did not converge in max_iter={self.max_iter} "
                f"iterations (tol={self.tol}). Increase max_iter or tol, try other init_params, or "
                "check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        # A final E-step: labels consistent with predict, and the objective of the final fit.
        wlp = self._weighted_log_prob(data, params)
        labels = wlp.argmax(1)
        final = self._sync(self._objective_tensor(log_normalize(wlp)[0], params), None)

        self._params = params
        self.converged_ = converged
        self.n_iter_ = n_iter
        self.lower_bound_ = lower_bound
        self.lower_bounds_ = lower_bounds
        history = EMHistory(lower_bound=lower_bounds + [final])
        self._snapshots = snapshots
        if snapshots is not None:
            for name in self._param_names:
                history[name] = self._out(torch.stack([s[name] for s in snapshots]), numpy_in)
        self.history_ = history
        return self._out(labels, numpy_in)

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def _log_prob_resp(self, X):
        with single_threaded() as threads:
            Xt = self._check_X(X, fitting=False)
            lanes = lanes_for(self._device, self._work(Xt.shape[0]), threads)
            wlp = self._weighted_log_prob(self._prepare(Xt, lanes), self._params)  # [N, K]
            lpn = torch.logsumexp(wlp, 1)  # [N]
            return lpn, wlp - lpn[:, None]

    def score_samples(self, X):
        """log p(x_n) = logsumexp_k (log pi_k + log p(x_n | theta_k)), per row.

        Returns:
            log-densities of shape (N,); NumPy for NumPy input, else a tensor.
        """
        return self._out(self._log_prob_resp(X)[0], not isinstance(X, torch.Tensor))

    def score(self, X, y=None) -> float:
        """Mean log-likelihood (1/N) sum_n log p(x_n), a float."""
        return float(self._log_prob_resp(X)[0].mean())

    def predict_proba(self, X):
        """Responsibilities p(z = k | x_n).

        Returns:
            array of shape (N, K), rows summing to 1; NumPy for NumPy input, else a tensor.
        """
        with single_threaded():
            return self._out(self._log_prob_resp(X)[1].exp(), not isinstance(X, torch.Tensor))

    def predict(self, X):
        """The most likely component argmax_k p(z = k | x_n).

        Returns:
            labels of shape (N,), int64; NumPy for NumPy input, else a tensor.
        """
        return self._out(self._log_prob_resp(X)[1].argmax(1), not isinstance(X, torch.Tensor))

    def bic(self, X) -> float:
        """Bayesian information criterion -2 log L + p log N (lower is better), a float."""
        n = len(X)
        return -2.0 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion -2 log L + 2 p (lower is better), a float."""
        return -2.0 * self.score(X) * len(X) + 2.0 * self._n_parameters()

    @torch.no_grad()
    def sample(self, n_samples: int = 1, random_state=None):
        """Draw from the fitted mixture: z ~ Categorical(pi), x ~ p(x | theta_z).

        As in scikit-learn the draws come grouped by component (labels sorted).

        Args:
            n_samples: how many (>= 1).
            random_state: overrides the model's ``random_state`` for this call (an int
                repeats the same draws; a ``torch.Generator`` advances).

        Returns:
            (X, y): X of shape (n_samples, D), y of shape (n_samples,) int64 labels;
            NumPy if the model was fit on NumPy, else tensors on its device.
        """
        self._check_fitted()
        if not isinstance(n_samples, (numbers.Integral, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        with single_threaded():
            return self._sample(int(n_samples), random_state)

    def _sample(self, n_samples: int, random_state):
        gen = make_generator(self.random_state if random_state is None else random_state, self._device)
        weights = self._params["weights"]
        labels = torch.multinomial(weights.to(gen.device, _wide_float(gen.device)), int(n_samples), replacement=True,
                                   generator=gen)
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
        self._check_fitted()
        snaps = self.__dict__.get("_snapshots")
        if snaps is None:
            raise ValueError("no parameter snapshots: build the model with keep_history=True and refit")
        if not isinstance(step, (numbers.Integral, np.integer)) or not -len(snaps) <= step < len(snaps):
            raise ValueError(f"step must be an int in [0, {len(snaps) - 1}] (or negative from the end), "
                             f"got {step!r}")
        other = copy.copy(self)
        other._params = snaps[int(step)]
        return other

    def predict_proba_at(self, X, step: int):
        """Responsibilities of X under EM snapshot ``step`` (see ``at_step``).

        Returns:
            array of shape (N, K); NumPy for NumPy input, else a tensor.
        """
        return self.at_step(step).predict_proba(X)

    def score_samples_at(self, X, step: int):
        """log p(x_n) under EM snapshot ``step`` (see ``at_step``). Returns: shape (N,)."""
        return self.at_step(step).score_samples(X)
