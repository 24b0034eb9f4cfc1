"""Repository-wide pytest set-up.

Numbers downstream of training or sampling are compared within a declared tolerance: a cell
whose first line is ``# NBVAL_TOLERANCE abs=X`` (or ``rel=Y``) — see ``tools/nbval_tolerance.py``.

nbval executes cells with ``store_history=False``; IPython then ignores a trailing ``;``
(which in JupyterLab silences a cell's last value, e.g. a matplotlib artist list), so the
stored notebook and the nbval run would differ.  Run cells as JupyterLab does.
"""

try:
    from nbval.kernel import RunningKernel
except ImportError:  # nbval not installed: nothing to patch
    RunningKernel = None

if RunningKernel is not None and not getattr(RunningKernel, "_lvmlib_store_history", False):

    def _execute_cell_input(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)

    RunningKernel.execute_cell_input = _execute_cell_input
    RunningKernel._lvmlib_store_history = True


import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent / "tools"))
import nbval_tolerance  # noqa: E402

nbval_tolerance.install()
