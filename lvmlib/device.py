"""Where tensors live, and the one place a notebook seeds its randomness."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

_CHOICES = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device() -> torch.device:
    """The device to compute on: CUDA, then Apple MPS, then the CPU.

    The environment variable ``LVMLIB_DEVICE`` overrides the choice: ``cpu``, ``cuda``,
    ``cuda:N`` or ``mps``.  Asking for a device that is not there raises ``ValueError``
    naming what is available, rather than failing later deep inside torch.

    Returns:
        torch.device

    Taught in notebook 01 (Latent variable models); also used in 02, 03, 04, 05, 06, 07, 08, 09 and 10.
    """
    wanted = os.environ.get("LVMLIB_DEVICE", "").strip()
    if wanted:
        kind = wanted.split(":", 1)[0].lower()
        if kind not in _CHOICES:
            raise ValueError(
                f"LVMLIB_DEVICE={wanted!r} is not a device; use one of 'cpu', 'cuda', "
                f"'cuda:N' or 'mps', or unset it to pick automatically."
            )
        try:
            device = torch.device(wanted.lower())
        except RuntimeError as err:
            raise ValueError(f"LVMLIB_DEVICE={wanted!r} is not a valid device string: {err}") from None
        if kind == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    f"LVMLIB_DEVICE={wanted!r} but this PyTorch sees no CUDA device "
                    f"(torch {torch.__version__}); set LVMLIB_DEVICE=cpu or unset it."
                )
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(
                    f"LVMLIB_DEVICE={wanted!r} but only {torch.cuda.device_count()} CUDA "
                    f"device(s) exist; use cuda:0 .. cuda:{torch.cuda.device_count() - 1}."
                )
        if kind == "mps" and not _mps_available():
            raise ValueError(f"LVMLIB_DEVICE={wanted!r} but MPS is not available here; set LVMLIB_DEVICE=cpu.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators, for the top of a notebook.

    Library code never calls this: it takes a ``generator`` / ``random_state`` instead.

    Returns:
        a ``torch.Generator`` on the CPU seeded with ``seed``, to pass into lvmlib calls.

    Taught in notebook 01 (Latent variable models); also used in 02, 03, 04, 05, 06, 07, 08, 09 and 10.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    return torch.Generator().manual_seed(int(seed))


@contextlib.contextmanager
def one_thread():
    """Run torch on one CPU thread inside the block, restoring the thread count afterwards.

    For the many small kernels of toy models and small networks: every torch op is an
    OpenMP parallel region ending in a spinning barrier, and on a busy machine a descheduled
    second thread stalls each one (measurements: ``benchmarks/`` and the README).  On an idle
    machine one thread costs at most about a factor of two for these sizes.  GPU work is
    unaffected.

    Taught in notebook 02 (Mixtures of Gaussians and EM); also used in 05, 06, 07, 08, 09 and 10.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
