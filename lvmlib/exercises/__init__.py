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
implementations, so the tests (``tests/test_exercises*.py``) can feed each one in and assert that
its diagnosis comes out.

A report shows as one coloured line (HTML) with the same words as text; ``report.require()``
raises ``AssertionError`` unless it passed (for autograder cells).  :mod:`lvmlib.exercises.scaffold`
holds the hint ladders (:func:`hints`) and the committed predictions (:func:`predict`).
"""

from lvmlib.exercises._core import Case, Mistake, Report, check_function, same, same_nan
from lvmlib.exercises.nb01 import check_sample_story
from lvmlib.exercises.nb02 import check_e_step, check_m_step
from lvmlib.exercises.nb03 import check_mixture_log_px
from lvmlib.exercises.nb04 import check_naive_mc
from lvmlib.exercises.nb05 import check_ess, check_log_p_hat
from lvmlib.exercises.nb06 import check_elbo, check_iwae_bound
from lvmlib.exercises.nb07 import check_negative_elbo, check_reparameterized_sample
from lvmlib.exercises.nb08 import check_slerp
from lvmlib.exercises.nb09 import check_score_function_terms
from lvmlib.exercises.nb10 import check_m2_unlabelled, check_mixture_log_prob
from lvmlib.exercises.scaffold import hints, predict

__all__ = [
    "Case",
    "Mistake",
    "Report",
    "check_function",
    "same",
    "same_nan",
    "check_sample_story",
    "check_e_step",
    "check_m_step",
    "check_mixture_log_px",
    "check_naive_mc",
    "check_ess",
    "check_log_p_hat",
    "check_elbo",
    "check_iwae_bound",
    "check_negative_elbo",
    "check_reparameterized_sample",
    "check_slerp",
    "check_score_function_terms",
    "check_m2_unlabelled",
    "check_mixture_log_prob",
    "hints",
    "predict",
]
