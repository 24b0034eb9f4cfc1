"""CPU speed machinery of the mixture EM loops, behind a small interface.

Nothing here changes what EM computes (results agree to rounding; the tests check it): it
only decides *how* the matrix products and the per-iteration work run on a CPU.  On a GPU
every function here falls through to plain torch.  The interface:

- ``single_threaded()``: the context the mixtures' public methods run in (torch and NumPy's
  BLAS on one thread each); yields the thread count a big problem may use as lanes.
- ``lanes_for(device, work, threads)``: how many lanes (Python threads) an EM iteration of
  ``work`` multiply-adds gets.
- ``Workspace(X, lanes)``: one data set as the E/M steps see it: ``split(fn, n_items)`` runs
  ``fn(lane, start, stop)`` over contiguous blocks in parallel, ``buffer(key, *shape)`` hands
  out reusable work buffers.
- ``mm(a, b, out=None)``: a matrix product, through NumPy's BLAS for CPU float matrices.
- ``sum_last(t)``: ``t.sum(-1)`` that is fast for a short last dimension.

Why lanes instead of torch's own (OpenMP) threads.  An EM iteration is ~30 small kernels;
with torch's threads each is a parallel region ending in a spinning barrier, and on a busy
machine one descheduled worker stalls every region for a scheduler time slice.  Lanes split an iteration into a few big blocks (components, rows or
columns) that meet twice per iteration and wait without spinning.  Each lane takes a
contiguous block, so results do not depend on the number of lanes beyond BLAS rounding.

Why NumPy's BLAS for the products (``CPU_MATMUL = "numpy"``).  torch's x86 wheels multiply
with MKL, NumPy's with OpenBLAS; which is faster for the shapes of these EM steps depends on
the machine.  Where MKL is faster, set ``CPU_MATMUL = "torch"``.  ``benchmarks/bench_gmm.py --matmul torch`` measures the
difference and the README's GMM section reports it; the ``lvmlib, 1 thread`` column of that
benchmark shows what the lanes bring.

Why reusable buffers.  Fresh multi-MB temporaries twice per iteration cost a page fault per
page (the measurements are in benchmarks/).
"""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from lvmlib.device import one_thread

__all__ = ["CPU_MATMUL", "PARALLEL_MIN_WORK", "Workspace", "lanes_for", "mm", "run_lanes", "single_threaded",
           "sum_last"]

#: which BLAS multiplies CPU float matrices in the EM loops: ``"numpy"`` or ``"torch"``
CPU_MATMUL = "numpy"

#: multiply-adds per EM iteration from which CPU work is split over lanes (see ``lanes_for``)
PARALLEL_MIN_WORK = 2e7

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_BLAS: Any = None  # a threadpoolctl.ThreadpoolController, made on first use
_STATE = threading.local()  # .threads: torch's thread count outside the outermost single_threaded()


def mm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b`` (2-D, or batched 3-D); CPU float matrices go through NumPy's BLAS (``CPU_MATMUL``).

    Returns: tensor of shape (..., a.shape[-2], b.shape[-1]), ``out`` when given.
    """
    if (CPU_MATMUL == "numpy" and a.device.type == "cpu" and b.device.type == "cpu"
            and a.dtype == b.dtype and a.dtype in (torch.float32, torch.float64)):
        result = np.matmul(a.numpy(), b.numpy(), out=None if out is None else out.numpy())
        return out if out is not None else torch.from_numpy(result)
    return torch.matmul(a, b, out=out)


def sum_last(t: torch.Tensor) -> torch.Tensor:
    """``t.sum(-1)``, as a matrix-vector product when the last dimension is short.

    torch's reduction over a short contiguous last dimension is slow; the product with a
    ones vector is the same sum.

    Returns: tensor of shape ``t.shape[:-1]``.
    """
    if t.shape[-1] > 16:
        return t.sum(-1)
    return t @ torch.ones(t.shape[-1], dtype=t.dtype, device=t.device)


def _blas_controller():
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS


@contextlib.contextmanager
def single_threaded():
    """Run torch ops (``lvmlib.device.one_thread``) and NumPy's BLAS on one thread; restore after.

    Big problems then use several lanes of their own (``lanes_for``).  Nested uses are free.

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
            stack.enter_context(one_thread())
            yield n
    finally:
        _STATE.threads = None


def lanes_for(device: torch.device, work: float, threads: int) -> int:
    """Lanes for the E/M steps: all ``threads`` on the CPU from ``PARALLEL_MIN_WORK``
    multiply-adds per iteration, else 1 (GPUs parallelize inside their kernels).

    Returns: int >= 1.
    """
    return threads if device.type == "cpu" and work >= PARALLEL_MIN_WORK else 1


def _pool(workers: int) -> ThreadPoolExecutor:
    """The lanes' worker threads (idle between calls), grown on demand."""
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < workers:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lvmlib-em",
                                   initializer=torch.set_num_threads, initargs=(1,))
        _POOL_SIZE = workers
    return _POOL


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

    Subclasses add per-data-set precomputations (e.g. ``lvmlib.mixtures.gaussian_steps.GaussianData``).
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
