"""Notebook 04's helpers and apps: estimates through lvmlib.inference, callbacks only pick."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lvmlib import inference as est
from lvmlib.lessons import nb04

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def samples_pre():
    model = nb04.demo_model()
    x = torch.tensor([[nb04.DEMO_X]], dtype=F64)
    ns = (10, 100, 1000)
    log_p_hat = est.repeated_estimates(x, model, ns, 30, generator=gen(1))
    return nb04.num_samples_precompute(log_p_hat, ns, float(model.log_marginal(x)), est.relative_std_one_sample(x, model))


@pytest.fixture(scope="module")
def peaked_pre():
    return nb04.peaked_precompute(nb04.PEAKED_X[:3], sigmas=(0.1, 1.0), dims=(1, 3), num_samples=50, repetitions=40,
                                  generator=gen(2))


def test_num_samples_precompute(samples_pre):
    assert samples_pre.shares.shape == (3, len(samples_pre.edges) - 1)
    np.testing.assert_allclose(samples_pre.shares.sum(1), 1.0)
    np.testing.assert_allclose(samples_pre.se, samples_pre.std / math.sqrt(30))
    assert samples_pre.rel_std[0] > samples_pre.rel_std[-1]


def test_num_samples_app_shows_the_chosen_n(samples_pre):
    app = nb04.num_samples_app(samples_pre, num_samples=10)
    app.set(num_samples=1000.0)
    assert "N = 1,000" in app.text.value
    assert f"{samples_pre.mean[2]:.4f}" in app.text.value and f"{samples_pre.p:.4f}" in app.text.value
    stairs = [a for a in app.fig.axes[0].patches if type(a).__name__ == "StepPatch"][0]
    np.testing.assert_allclose(stairs.get_data().values, samples_pre.shares[2])
    dot = app.fig.axes[1].lines[-1]
    assert list(dot.get_xdata()) == [1000] and dot.get_ydata()[0] == pytest.approx(samples_pre.rel_std[2])
    app.set(num_samples=90.0)  # snaps to the nearest N on the grid (log scale)
    assert "N = 100:" in app.text.value


def test_peaked_precompute_collapses_with_small_noise_and_more_dimensions(peaked_pre):
    st = peaked_pre.settings
    assert set(st) == {(0.1, 1), (1.0, 1), (0.1, 3), (1.0, 3)}
    assert st[(1.0, 1)].fraction99 > st[(0.1, 1)].fraction99 > st[(0.1, 3)].fraction99
    assert st[(1.0, 1)].ess > st[(0.1, 3)].ess
    for s in st.values():
        assert s.ratio_shares.sum() == pytest.approx(1.0)
        assert s.curve[-1] == pytest.approx(1.0) and np.all(np.diff(s.curve) >= -1e-12)
    model = nb04.peaked_model(3, 0.1)
    assert st[(0.1, 3)].log_p == pytest.approx(float(model.log_marginal(torch.tensor([nb04.PEAKED_X[:3]], dtype=F64))))
    with pytest.raises(ValueError, match="x_full"):
        nb04.peaked_precompute(nb04.PEAKED_X, dims=(1, 2))


def test_peaked_app_picks_the_setting_without_sampling(peaked_pre, monkeypatch):
    app = nb04.peaked_app(peaked_pre, sigma=1.0, dim=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("the callback must not sample")

    monkeypatch.setattr(nb04, "log_weights", forbidden)
    monkeypatch.setattr(est, "log_weights", forbidden)
    app.set(sigma=0.1, dim=3)
    st = peaked_pre.settings[(0.1, 3)]
    assert "σ = 0.1, d = 3" in app.text.value and f"{100 * st.fraction99:.3g}%" in app.text.value
    stairs = [a for a in app.fig.axes[2].patches if type(a).__name__ == "StepPatch"][0]
    np.testing.assert_allclose(stairs.get_data().values, st.ratio_shares)
    mark = app.fig.axes[1].lines[-1]
    assert mark.get_xdata()[0] == st.fraction99
