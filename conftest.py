"""Repository-wide pytest set-up.

**One torch thread** in every test process and notebook kernel unless a test says otherwise
(``@pytest.mark.threads(n)``).  Small kernels gain nothing from more threads, and on a busy machine
a descheduled second thread stalls every op (issue 29: one exercise test took 69 s under load
against 0.32 s).  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` are set
here, before torch loads, so nbval's kernels and other subprocesses inherit them; a value the user
set is kept (``make portability`` runs ``OMP_NUM_THREADS=4``), and ``LVMLIB_TEST_THREADS=N`` picks
another count, ``=default`` leaves every library's own default.  ``OPENBLAS_CORETYPE`` /
``OPENBLAS_L2_SIZE`` are never set.

**The solved edition** (``notebooks/solutions/``) runs only the cells that differ from the student
edition and what they feed (``tools/nbval_editions.py``).

Numbers downstream of training or sampling are compared within a declared tolerance: a cell
whose source starts with ``# NBVAL_TOLERANCE abs=X`` (or ``rel=Y``), kept by the built notebook in
the cell's metadata — see ``tools/nbval_tolerance.py`` and ``tools/nbval_markers.py``.

nbval executes cells with ``store_history=False``; IPython then ignores a trailing ``;``
(which in JupyterLab silences a cell's last value, e.g. a matplotlib artist list), so the
stored notebook and the nbval run would differ.  Run cells as JupyterLab does.
"""

import os as _os
import sys as _sys

import pytest

THREADS_ENV = "LVMLIB_TEST_THREADS"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _pin_threads() -> int | None:
    """Export the thread count (see the module docstring); the count, or None for ``=default``."""
    wanted = _os.environ.get(THREADS_ENV, "").strip() or "1"
    if wanted.lower() == "default":
        return None
    n = _os.environ.get("OMP_NUM_THREADS", "").strip() or wanted
    if not n.isdigit() or int(n) < 1:
        raise pytest.UsageError(f"{THREADS_ENV}={wanted!r} / OMP_NUM_THREADS={n!r}: use a positive integer or "
                                f"{THREADS_ENV}=default")
    for var in THREAD_VARS:
        if not _os.environ.get(var, "").strip():
            _os.environ[var] = n
    if "torch" in _sys.modules:  # loaded before this file: it has read its environment already
        _sys.modules["torch"].set_num_threads(int(n))
    return int(n)


SESSION_THREADS = _pin_threads()


_TORCH_THREADS: list = []  # torch's count when the first test ran (torch caps the variables at the cores)


@pytest.fixture(autouse=True)
def _torch_threads(request):
    """``@pytest.mark.threads(n)`` runs the test with ``n`` torch threads; every test ends with the
    session's count (a test that changed it does not leak into the next)."""
    marker = request.node.get_closest_marker("threads")
    if marker is None and "torch" not in _sys.modules:
        yield  # a test that imports torch itself reads OMP_NUM_THREADS
        return
    import torch

    if not _TORCH_THREADS:
        _TORCH_THREADS.append(torch.get_num_threads())
    if marker is not None:
        torch.set_num_threads(int(marker.args[0]))
    try:
        yield
    finally:
        torch.set_num_threads(_TORCH_THREADS[0])


try:
    from nbval.kernel import RunningKernel
except ImportError:  # nbval not installed: nothing to patch
    RunningKernel = None

if RunningKernel is not None and not getattr(RunningKernel, "_lvmlib_store_history", False):

    def _execute_cell_input(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)

    RunningKernel.execute_cell_input = _execute_cell_input
    RunningKernel._lvmlib_store_history = True


from tools import nbval_editions, nbval_tolerance  # noqa: E402 - after the thread pinning above

nbval_tolerance.install()


def pytest_configure(config):
    nbval_editions.install(config)
