"""Checks for the notebooks' code exercises: run a student's function on known cases, name the mistake.

Each ``check_*`` function takes the student's function, runs it on cases with known answers
(including the hard ones: log-weights around -2000, one sample, one data point), and returns a
:class:`Report` that a notebook shows as its cell's output:

- ``passed``: every case agrees with the reference;
- ``todo``: the function still raises ``NotImplementedError`` (the student edition's stub);
  nothing is raised, so Run All stays clean;
- ``wrong``: a case disagrees; when the answer matches one of the exercise's listed
  :class:`Mistake` s (averaging log-weights where a logsumexp is needed, a missing ``- log K``,
  exponentiating before averaging, ...) the report names it and says what to change;
- ``error``: the function raised something else; the report names the case and the error.

The reference answers are lvmlib's own functions or closed forms; the mistakes are small wrong
implementations, so the tests (``tests/exercises/``) can feed each one in and assert that
its diagnosis comes out.

A report shows as one coloured line (HTML) with the same words as text; ``report.require()``
raises ``AssertionError`` unless it passed (for autograder cells).  ``report.mistake`` is a stable
id of the named mistake, ``report.outcome`` the id to tally (``passed``, a mistake, ``wrong``,
``not-done``, ``error``, ``timeout``).

Each ``lvmlib.exercises.check_*`` runs where it can be stopped (:func:`~lvmlib.exercises._calls.run_check`:
a forked child on Linux, killed at the time limit even when the student's function swallows every
exception) and leaves the notebook's random generators as they were; answers are compared as plain
tensors.  :func:`autograde` (:mod:`lvmlib.exercises.grading`) is the graded re-check for nbgrader's
hidden tests: the answer cell, re-run in a fresh Python process.  :mod:`lvmlib.exercises.scaffold`
holds the hint ladders (:func:`hints`) and the committed predictions (:func:`predict`).
"""

import functools
import importlib
import pkgutil
import re

from lvmlib.exercises._calls import run_check as _run_check
from lvmlib.exercises._core import Case, Mistake, Report, check_function, same, same_nan
from lvmlib.exercises._choose import Chosen, choose
from lvmlib.exercises.grading import autograde  # nbgrader's hidden tests: the graded re-check
from lvmlib.exercises.scaffold import hints, predict

#: one module of checks per notebook, found from the files (not kept by hand)
NOTEBOOK_MODULES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"nb\d\d", m.name)))

def _run_where_it_can_be_stopped(check):
    """``check`` as the notebooks call it: through :func:`~lvmlib.exercises._calls.run_check`."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        return _run_check(check, args, kwargs, check.__name__)
    return run


__all__ = ["autograde", "Case", "Mistake", "Report", "check_function", "same", "same_nan", "hints", "predict", "choose", "Chosen", "NOTEBOOK_MODULES"]

for _name in NOTEBOOK_MODULES:  # every check_* of every notebook's module, as lvmlib.exercises.check_*
    _module = importlib.import_module(f"lvmlib.exercises.{_name}")
    for _check, _fn in vars(_module).items():
        if _check.startswith("check_") and getattr(_fn, "__module__", None) == _module.__name__:
            globals()[_check] = _run_where_it_can_be_stopped(_fn)
            __all__.append(_check)
del _name, _module, _check, _fn
