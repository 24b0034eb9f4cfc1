"""Notebook 09's precomputation: the gradient grid (the pPCA data and the gap runs are the library's)."""

import numpy as np
import torch

from lvmlib.inference import estimator_variance, quadratic
from lvmlib.lessons import nb09


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gradient_grid_orders_the_estimators_and_falls_with_n():
    grid = nb09.gradient_grid((2, 50), (1.0,), (1, 4), repeats=400, generator=gen())
    for e in ("score", "baseline", "reparam"):
        assert grid.variance[e].shape == (2, 1, 2) and grid.first[e].shape == (2, 1, 2, 400)
        if e != "baseline":  # the leave-one-out baseline itself improves with N, so it falls faster than 1/N
            ratio = grid.variance[e][1] / grid.variance[e][0]
            assert np.all((ratio > 0.02) & (ratio < 0.07)), (e, ratio)  # 1/N: 2/50 = 0.04
    assert np.all(grid.variance["score"] > grid.variance["reparam"])
    # the estimates of d/dmu_1 centre on the exact -2
    assert abs(grid.first["reparam"][1, 0, 1].mean() - grid.exact_first) < 0.05


def test_gradient_grid_variance_is_estimator_variance():
    grid = nb09.gradient_grid((5,), (0.3,), (2,), repeats=50, generator=gen(7))
    g = gen(7)
    f = quadratic(torch.ones(2, dtype=torch.float64))
    for e in ("score", "baseline", "reparam"):  # the grid's loop order: one draw per estimator
        ref = estimator_variance(f, torch.zeros(2, dtype=torch.float64), 0.3, 5, e, repeats=50, generator=g)
        assert grid.variance[e][0, 0, 0] == float(ref)
