"""Private helpers shared by lvmlib's modules (not part of the API; import nothing else here).

One home for each: noise from a ``torch.Generator`` on any device, the input checks
(a positive int, a positive number, a generator, a batch x of shape [B, D]), the chunked loop over
samples and the mean with its standard error.  The
one-thread context manager lives in :mod:`lvmlib.device` (``one_thread``).
"""

from __future__ import annotations

import math
import numbers
from typing import Iterator, NamedTuple

import numpy as np
import torch

#: Default work per chunk, in elements of the [chunk, B, Dx] tensors: a chunk holds
#: ``max(1, DEFAULT_CHUNK_ELEMENTS // (B * Dx))`` samples (32 for B = 500, Dx = 64: 4 MB per
#: float32 temporary, which stays in cache).  Chosen with ``benchmarks/bench_estimators.py``
#: (see the README for the measurements).
DEFAULT_CHUNK_ELEMENTS = 2**20


def noise(kind: str, shape, generator: torch.Generator | None = None, *, dtype: torch.dtype | None = None,
          device: torch.device | str | None = None) -> torch.Tensor:
    """Standard normal (``"randn"``) or uniform [0, 1) (``"rand"``) noise of ``shape``.

    Drawn from ``generator`` on the generator's own device (a CPU generator gives the same
    numbers whatever the target device), then moved to ``device``; without a generator,
    drawn from torch's global generator directly on ``device``.

    Returns:
        tensor of shape ``shape`` with ``dtype`` on ``device`` (default: CPU).
    """
    if kind not in ("randn", "rand"):
        raise ValueError(f"kind must be 'randn' or 'rand', got {kind!r}")
    fn = torch.randn if kind == "randn" else torch.rand
    check_generator(generator)
    if generator is None:
        return fn(shape, dtype=dtype, device=device)
    return fn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def positive_int(value, name: str) -> int:
    """``value`` as a Python int >= 1 (NumPy integers accepted), or a clear error.

    Raises:
        TypeError: not an integer (a bool or a float is not one).
        ValueError: smaller than 1.
    """
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive int (at least 1), got {value}")
    return value


def positive_number(value, name: str) -> float:
    """``value`` as a finite Python float > 0 (NumPy scalars and 0-d arrays accepted), or a clear error.

    Raises:
        TypeError: not a real number (a bool, a string or a tensor of several values is not one).
        ValueError: zero, negative, NaN or infinite.
    """
    if isinstance(value, (np.generic, np.ndarray, torch.Tensor)) and getattr(value, "ndim", 0) == 0 \
            and not isinstance(value, (np.bool_, bool)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def check_generator(generator, name: str = "generator") -> torch.Generator | None:
    """``generator`` if it is a ``torch.Generator`` or None, else a TypeError that says what to pass.

    A seed (``0``) or a device (``"cuda"``) is a common slip: the message shows how to make one.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    hint = ""
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        hint = f" (for seed {generator}: torch.Generator().manual_seed({generator}))"
    elif isinstance(generator, (str, torch.device)):
        hint = f" (on that device: torch.Generator(device={str(generator)!r}).manual_seed(0))"
    raise TypeError(
        f"{name} must be a torch.Generator or None, got {generator!r} ({type(generator).__name__}){hint}"
    )


def check_x(x: torch.Tensor, data_dim: int | None = None, *, nan: bool = True) -> torch.Tensor:
    """A batch of points x of shape [B, D] (D = ``data_dim`` when given), or a clear error.

    Args:
        x: the data.
        data_dim: the model's D, or None not to check it.
        nan: also reject NaN in a floating x (one host sync on a GPU).

    Returns:
        x, unchanged.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape [B, D], got {type(x).__name__}")
    if x.dim() != 2:
        this = f" = [B, {int(data_dim)}] for this model" if data_dim is not None else ""
        raise ValueError(
            f"x must have shape [B, D]{this} (a batch of points); got shape {tuple(x.shape)}. "
            f"For a single point use x.unsqueeze(0) (or x[None])."
        )
    if data_dim is not None and x.shape[-1] != int(data_dim):
        raise ValueError(f"x has {x.shape[-1]} features per point but the model's data_dim is {int(data_dim)}")
    if nan and x.is_floating_point() and has_nan(x):
        raise ValueError("x contains NaN")
    return x


def has_nan(t: torch.Tensor) -> bool:
    """Whether ``t`` holds a NaN (one host sync); False on the ``meta`` device, which has no values
    (tests stand in for a GPU with it, see lvmlib.exercises._device)."""
    return t.device.type != "meta" and bool(torch.isnan(t).any())


def chunk_length(total: int, width: int, chunk_size: int | None = None) -> int:
    """Items per chunk of a loop over ``total`` items that each make ``width`` elements.

    ``chunk_size=None`` picks ``DEFAULT_CHUNK_ELEMENTS // width`` (at least 1); an explicit
    ``chunk_size`` must be a positive int.  Never more than ``total``.
    """
    if chunk_size is None:
        return max(1, min(total, DEFAULT_CHUNK_ELEMENTS // max(1, width)))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    return max(1, min(chunk_size, total))


def chunks(total: int, step: int) -> Iterator[slice]:
    """Slices ``[0, step), [step, 2 step), ...`` covering ``range(total)``."""
    for start in range(0, total, step):
        yield slice(start, min(total, start + step))


class MeanSE(NamedTuple):
    """A mean over points and its standard error across points (unpacks as ``mean, se``)."""

    mean: float
    se: float


def mean_se(values) -> MeanSE:
    """Mean of ``values`` and its standard error std / sqrt(B) (std with B - 1; NaN for B = 1).

    Computed in the dtype of ``values`` (pass ``.double()`` for float64); any shape, flattened.

    Raises:
        ValueError: ``values`` is empty.
    """
    values = torch.as_tensor(values).detach().flatten()
    b = values.numel()
    if b == 0:
        raise ValueError("mean_se needs at least one value; got an empty tensor")
    se = float(values.std() / math.sqrt(b)) if b > 1 else float("nan")
    return MeanSE(float(values.mean()), se)
