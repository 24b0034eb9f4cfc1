"""Exercise cases that more than one notebook's checks use (so no ``nbNN`` imports another's).

:func:`log_weight_cases`: log-weights of shape [K, B] (K samples along dim 0, B data points) with
known answers, the hard ones included (exercises 5.1, 5.2, 6.1, 6.2); :func:`log_mean_exp`, the
reduction log (1/K) sum_k exp(log_w_k) they are checked against (and a named mistake of 6.1).
"""

from __future__ import annotations

import torch

from lvmlib import inference as _est
from lvmlib.exercises._core import Case

__all__ = ["log_weight_cases", "log_mean_exp"]


def log_weight_cases(dtype=torch.float64) -> list[Case]:
    """Log-weights [K, B] with known answers, the hard ones included."""
    t = lambda rows: torch.tensor(rows, dtype=dtype)  # noqa: E731
    return [
        Case("K=4 samples, B=3 points", (t([[0.0, -1.0, 2.0], [-2.0, -3.0, 1.5], [-1.0, 0.5, 0.0], [-0.5, -4.0, 1.0]]),)),
        Case("log-weights near -2000 (exp underflows to 0)", (t([[-2000.0, -2003.0], [-2001.0, -2000.5], [-1999.0, -2002.0]]),)),
        Case("K=1 sample", (t([[-5.0, 1.0, -2000.0]]),)),
        Case("a single data point, K=5", (t([[-3.0], [-1.0], [-7.0], [-2.5], [-1.5]]),)),
        Case("K=2 samples, B=2 points, equal weights", (t([[-4.0, 10.0], [-4.0, 10.0]]),)),
        Case("float32 log-weights near -2000, K=3, B=2",
             (torch.tensor([[-2000.0, -1.0], [-2002.5, -0.5], [-1999.5, -3.0]], dtype=torch.float32),)),
    ]


def log_mean_exp(log_w):
    return _est.log_mean_exp(log_w, 0)
