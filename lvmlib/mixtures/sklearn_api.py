"""Where the mixtures meet scikit-learn's estimator API: parameters, input, fitted attributes, outputs.

- ``BASE_CONSTRAINTS``: scikit-learn's ``_parameter_constraints`` of the shared parameters
  (checked by ``BaseEstimator._validate_params``, which raises ``InvalidParameterError``).
- ``check_X``: input validated the way scikit-learn validates it (``validate_data``: feature
  names recorded at fit and checked after, object arrays converted, sparse input refused with
  scikit-learn's ``TypeError``), then moved to a torch tensor of the model's device and dtype.
  Torch tensors skip the NumPy conversion (they may live on a GPU).
- ``check_param``: a user-given initial parameter (``weights_init`` ...) as a tensor.
- ``FittedParam``, ``to_output``: fitted attributes and method results follow the input type
  (NumPy for NumPy-like input, tensors for tensors); ``EMHistory``: the per-iteration record.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import validate_data

from lvmlib.mixtures.init import INIT_METHODS

__all__ = ["BASE_CONSTRAINTS", "EMHistory", "FittedParam", "check_X", "check_param", "check_weights",
           "resolve_dtype", "to_output"]

BASE_CONSTRAINTS: dict = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0.0, None, closed="left")],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "n_init": [Interval(Integral, 1, None, closed="left")],
    "init_params": [StrOptions(set(INIT_METHODS))],
    "random_state": ["random_state", np.random.Generator, torch.Generator],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
    "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    "keep_history": ["boolean"],
    "device": [None, str, torch.device],
    "dtype": [None, StrOptions({"float32", "float64"}), torch.dtype],
}

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def resolve_dtype(dtype, x_dtype: torch.dtype | None = None) -> torch.dtype:
    """The compute dtype: the ``dtype`` parameter, or for None the input's (float32 stays, else float64).

    Raises: ``InvalidParameterError`` for anything but float32 / float64.
    """
    dt = _TORCH_DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype
    if dt is None:
        return x_dtype if x_dtype in (torch.float32, torch.float64) else torch.float64
    if dt not in (torch.float32, torch.float64):
        raise InvalidParameterError(f"dtype must be None, torch.float32 or torch.float64, got {dtype!r}")
    return dt


def _check_shape_of(estimator, X) -> None:
    """Clear errors for 1-D, >2-D and (tensor) empty or complex input, before any conversion."""
    ndim = getattr(X, "ndim", None)
    if ndim == 1:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got a 1-D array of shape {tuple(X.shape)}. Reshape your data: "
            "X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample."
        )
    if ndim is not None and ndim > 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}. Flatten each sample, "
                         "e.g. X.reshape(len(X), -1) for images.")
    if isinstance(X, torch.Tensor):
        if X.is_complex():
            raise ValueError("Complex data not supported: X must be real-valued, got a complex tensor")
        if ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"Found array with {X.shape[0] if ndim else 0} sample(s) and "
                             f"{X.shape[1] if ndim == 2 else 0} feature(s) (shape={tuple(X.shape)}) while a minimum "
                             f"of 1 is required by {type(estimator).__name__}.")


def check_X(estimator, X, *, reset: bool, device=None, dtype=None, min_samples: int = 1) -> torch.Tensor:
    """X as a finite 2-D tensor on ``device`` with ``dtype`` (None: follow X), scikit-learn's checks first.

    With ``reset=True`` (fit) sets ``n_features_in_`` and ``feature_names_in_``; else checks X against them.

    Returns: tensor of shape (N, D).
    """
    if X is None:
        raise ValueError("X is None; pass an array of shape (n_samples, n_features)")
    dtype = None if dtype is None else resolve_dtype(dtype)
    _check_shape_of(estimator, X)
    if isinstance(X, torch.Tensor):
        if X.shape[0] < min_samples:
            raise ValueError(f"Found array with {X.shape[0]} sample(s) (shape={tuple(X.shape)}) while a minimum of "
                             f"{min_samples} is required by {type(estimator).__name__}.")
        validate_data(estimator, X, reset=reset, skip_check_array=True)  # feature count (and names: none)
        device = X.device if device is None else torch.device(device)
        X = X.detach()
    else:
        np_dtype = [np.float64, np.float32] if dtype is None else _NUMPY_DTYPES[dtype]
        X = validate_data(estimator, X, reset=reset, dtype=np_dtype, ensure_all_finite=False,
                          ensure_min_samples=min_samples)
        X = torch.from_numpy(np.require(X, requirements=("C", "W")))   # read-only arrays are copied
        device = torch.device("cpu") if device is None else torch.device(device)
    dtype = resolve_dtype(dtype, X.dtype)
    if device.type == "mps" and dtype == torch.float64:
        raise ValueError("Apple MPS has no float64: pass dtype=torch.float32 or device='cpu'")
    X = X.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(X).all()):
        bad = (~torch.isfinite(X)).any(1).nonzero().flatten()[:5].tolist()
        raise ValueError(f"X contains NaN or infinity (e.g. in rows {bad}; after conversion to {dtype}); "
                         "drop or impute those rows first")
    return X


def check_param(value, name: str, shape: tuple, device, dtype, context: str = "") -> torch.Tensor:
    """A user-given parameter as a finite tensor of ``shape`` on ``device`` / ``dtype``."""
    t = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else np.asarray(value))
    t = t.to(device=device, dtype=dtype)
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{context}, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinity")
    return t


def check_weights(value, n_components: int, device, dtype) -> torch.Tensor:
    """``weights_init``: shape (K,), in [0, 1], summing to 1 within the rounding of its dtype.

    The tolerance is 10 K eps of the coarser of the given array's and the model's dtype (at
    least 1e-8, scikit-learn's): float32 weights summing to 1.00000009 are accepted.
    """
    given = getattr(value, "dtype", None)
    coarse = np.float32 if dtype == torch.float32 or given in (np.float32, torch.float32) else np.float64
    w = check_param(value, "weights_init", (n_components,), device, dtype)
    if bool((w < 0).any()) or bool((w > 1).any()):
        raise ValueError(f"weights_init must lie in [0, 1], got min {w.min().item():.5g}, max {w.max().item():.5g}")
    atol = max(1e-8, 10 * n_components * float(np.finfo(coarse).eps))
    if abs(float(w.sum()) - 1.0) > atol:
        raise ValueError(f"weights_init must sum to 1, got {float(w.sum()):.10g}; divide by its sum")
    return w


def to_output(t: torch.Tensor, numpy: bool):
    """The output rule: NumPy (on the host) when ``numpy`` is True, else the tensor."""
    return t.detach().cpu().numpy() if numpy else t


class FittedParam:
    """A read-only fitted attribute ``name_`` served from the model's ``_params[name]`` by the output rule.

    (A descriptor reads the state of the class it is declared on: ``MixtureBase`` keeps its
    fitted tensors in ``_params`` and whether it was fit on NumPy in ``_fit_numpy``.)
    """

    def __init__(self, name: str, doc: str = ""):
        self.name = name
        self.__doc__ = doc

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        params = obj.__dict__.get("_params")
        if params is None:
            raise AttributeError(f"{type(obj).__name__} has no attribute {self.name + '_'!r}: call fit(X) first")
        return to_output(params[self.name], obj.__dict__["_fit_numpy"])

    def __set__(self, obj, value):
        raise AttributeError(f"{self.name}_ is a fitted attribute; refit to change it")


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
