"""An EM run of notebook 02 read like a ``keep_history`` ``GaussianMixture`` fit, and how far two runs differ.

The student's E-step and M-step (or :mod:`lvmlib.mixtures.reference`'s) drive :func:`em_loop
<lvmlib.mixtures.reference.em_loop>`; :func:`lvmlib.lessons.nb02.fit_em_start` wraps the iterates in an
:class:`EMPath`, which the EM app draws like the fast path's fit, and :func:`path_difference`
compares the two iterate by iterate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

__all__ = ["EMPath", "path_difference"]


@dataclass
class EMPath:
    """An EM run with given steps, read like a ``keep_history`` ``GaussianMixture`` fit (what the
    EM app of notebook 02 draws and checks: ``lvmlib.lessons.nb02.fit_em_start`` makes it).

    ``history_``: ``lower_bound`` (T + 1 mean log-likelihoods) and ``weights`` [T + 1, K], ``means``
    [T + 1, K, D], ``covariances`` [T + 1, K, D, D]; ``n_iter_`` = T; ``converged_``; ``e_step`` the
    E-step it ran (used by :meth:`predict_proba_at`).
    """

    history_: dict
    n_iter_: int
    converged_: bool
    e_step: Callable

    def predict_proba_at(self, x, step: int):
        """Responsibilities [N, K] of ``x`` under snapshot ``step`` (from this run's E-step)."""
        theta = (self.history_[name][step] for name in ("weights", "means", "covariances"))
        with torch.no_grad():
            return self.e_step(torch.as_tensor(x, dtype=torch.float64), *theta)

    @property
    def lower_bound_(self) -> float:
        return self.history_["lower_bound"][-1]


def path_difference(path, gm) -> tuple[float, int]:
    """(largest difference of weights, means, covariances and mean log-likelihood, number of
    iterations compared) between two EM runs from the same start, over the iterations both made."""
    steps = min(path.n_iter_, gm.n_iter_)
    worst = float(np.abs(np.asarray(path.history_["lower_bound"][:steps + 1])
                         - np.asarray(gm.history_["lower_bound"][:steps + 1])).max())
    for name in ("weights", "means", "covariances"):
        a, b = (np.asarray(torch.as_tensor(h.history_[name][:steps + 1]).cpu()) for h in (path, gm))
        worst = max(worst, float(np.abs(a - b).max()))
    return worst, steps
