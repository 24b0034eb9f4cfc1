"""Notebook 09's precomputations: the gradient grid, the pPCA data, the gap runs."""

import numpy as np
import torch

from lvmlib.vae import VAE
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


def test_ppca_data_has_the_stated_column_norms():
    x, W = nb09.ppca_data(100, 6, (2.0, 1.0), 0.3, generator=gen())
    assert x.shape == (100, 6) and W.shape == (6, 2)
    np.testing.assert_allclose(W.norm(dim=0).numpy(), [2.0, 1.0], rtol=1e-12)


def test_gap_run_splits_add_up_and_start_at_zero_amortization():
    x = (torch.rand(30, 12, generator=gen(1)) < 0.4).float()
    model = VAE(12, 2, (8,), generator=gen(2)).requires_grad_(False)
    run = nb09.gap_run(model, x, steps=20, record_every=10, eval_samples=20, is_samples=50, generator=gen(3))
    assert len(run.splits) == len(run.local.steps) == 3
    assert run.splits[0].amortization == 0.0  # step 0: the "optimized" q is the encoder's
    assert run.splits[-1].amortization >= 0.0
    for s in run.splits:
        assert abs(s.total - (s.approximation + s.amortization)) < 1e-9
