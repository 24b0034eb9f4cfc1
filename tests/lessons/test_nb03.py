"""Notebook 03's helpers and apps: the numbers on screen are the model's, picked from what is ready."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from lvmlib.models import MixtureOfGaussians, NonlinearLVM
from lvmlib.lessons import nb03

F64 = torch.float64


@pytest.fixture(scope="module")
def mixture_pre():
    return nb03.mixture_precompute(nb03.mixture_family())


@pytest.fixture(scope="module")
def integral_pre():
    x_values = np.round(np.arange(-1.0, 1.0 + 1e-9, 0.25), 10)
    return nb03.integral_precompute(nb03.integral_model(), x_values=x_values, resolutions=(4, 16, 64, 2048),
                                    reference_resolution=4001)


def test_mixture_family_adds_components_and_renormalizes():
    fam = nb03.mixture_family(4)
    assert sorted(fam) == [1, 2, 3, 4]
    for k, m in fam.items():
        assert isinstance(m, MixtureOfGaussians) and m.n_components == k and m.data_dim == 1
        assert m.weights.dtype == F64 and abs(float(m.weights.sum()) - 1) < 1e-12
    torch.testing.assert_close(fam[4].means[:3], fam[3].means)
    with pytest.raises(ValueError, match="max_k"):
        nb03.mixture_family(0)


def test_mixture_app_shows_the_terms_of_the_chosen_x_and_k(mixture_pre):
    app = nb03.mixture_app(mixture_pre)
    app.set(x=-0.5, k=4)
    model = nb03.mixture_family()[4]
    x = torch.tensor([[-0.5]], dtype=F64)
    terms = model.log_joint(x)[0].exp().numpy()
    p = math.exp(float(model.log_marginal(x)))
    assert f"p(x) = {p:.4f}" in app.text.value and "K = 4" in app.text.value
    ax_b = app.fig.axes[1]
    heights = [r.get_height() for r in ax_b.patches[:6]]
    np.testing.assert_allclose(heights[:4], terms)
    assert heights[4:] == [0.0, 0.0]
    stack = ax_b.patches[6:12]
    assert stack[3].get_y() + stack[3].get_height() == pytest.approx(p)  # the stacked bar reaches p(x)
    # the slider value between grid points snaps to the nearest precomputed x
    app.set(x=-0.47)
    assert "x = -0.5" in app.text.value


def test_integral_precompute_matches_the_model(integral_pre):
    model = nb03.integral_model()
    x = torch.as_tensor(integral_pre.x_values, dtype=F64)[:, None]
    assert integral_pre.log_p_r.shape == (4, len(x)) and integral_pre.rel_error.shape == (4, len(x))
    np.testing.assert_allclose(integral_pre.log_p, model.log_marginal(x, resolution=4001).numpy())
    np.testing.assert_allclose(integral_pre.log_p_r[1], model.log_marginal(x, resolution=16).numpy())
    edges, heights = integral_pre.cells[16]
    assert edges.shape == (17,) and heights.shape == (len(x), 16)
    np.testing.assert_allclose(heights.sum(1) * (edges[1] - edges[0]), np.exp(integral_pre.log_p_r[1]))
    # the drawn integrand is p(x | z) p(z)
    z = torch.as_tensor(integral_pre.z_plot[::100], dtype=F64)[:, None]
    ref = (model.prior().log_prob(z) + model.likelihood(z).log_prob(x[3])).exp().numpy()
    np.testing.assert_allclose(integral_pre.integrand[3, ::100], ref)
    assert integral_pre.rel_error[0].max() > 1e-2 and integral_pre.rel_error[-1].max() < 1e-10


def test_integral_app_picks_precomputed_numbers_without_the_model(integral_pre, monkeypatch):
    app = nb03.integral_app(integral_pre, x=0.0, resolution=16)

    def forbidden(*args, **kwargs):
        raise AssertionError("the callback must not evaluate the model")

    monkeypatch.setattr(NonlinearLVM, "log_marginal", forbidden)
    monkeypatch.setattr(NonlinearLVM, "likelihood", forbidden)
    app.set(x=0.5, resolution=64)
    i = list(integral_pre.x_values).index(0.5)
    p = math.exp(integral_pre.log_p[i])
    p_r = math.exp(integral_pre.log_p_r[2, i])
    assert f"p(x) = {p:.6f}" in app.text.value and f": {p_r:.6f}" in app.text.value
    stairs = [a for a in app.fig.axes[2].patches if type(a).__name__ == "StepPatch"][0]
    np.testing.assert_allclose(stairs.get_data().values, integral_pre.cells[64][1][i])
    dot = app.fig.axes[3].lines[-1]
    assert list(dot.get_xdata()) == [64]


def test_the_apps_say_what_they_take(mixture_pre, integral_pre):
    with pytest.raises(TypeError, match=r"nb03\.mixture_precompute\(mixtures\)"):
        nb03.mixture_app(dataclasses.asdict(mixture_pre))
    with pytest.raises(TypeError, match=r"nb03\.integral_precompute\(model\)"):
        nb03.integral_app(dataclasses.asdict(integral_pre))


def test_enumeration_helpers():
    seconds = {10: 1e-3, 12: 4e-3, 14: 1.6e-2, 16: 6.4e-2}
    assert nb03.seconds_per_term(seconds) == pytest.approx(1e-3 / 1024)
    assert nb03.doubling_factor(seconds) == pytest.approx(2.0)
    assert nb03.human_time(5e-4) == "500 µs"
    assert nb03.human_time(0.25) == "250 ms"
    assert nb03.human_time(90) == "1.5 minutes"
    assert nb03.human_time(2 * 3600) == "2 hours"
    assert nb03.human_time(3 * nb03.SECONDS_PER_YEAR) == "3 years"
    assert nb03.human_time(1e20 * nb03.SECONDS_PER_YEAR) == "1e+20 years"


def test_enumeration_app_extrapolates_the_measured_rate():
    seconds = {10: 1e-3, 12: 4e-3, 14: 1.6e-2}
    app = nb03.enumeration_app(seconds, n=20)
    app.set(n=64)
    rate = 1e-3 / 1024
    assert "2<sup>64</sup> = 1.845e+19 terms" in app.text.value
    assert nb03.human_time(rate * 2.0**64) in app.text.value
    dot = app.fig.axes[0].lines[-1]
    assert dot.get_ydata()[0] == pytest.approx(rate * 2.0**64)


def test_time_enumeration_reports_seconds_per_n():
    seconds = nb03.time_enumeration([2, 4, 6], data_dim=3, num_points=2, generator=torch.Generator().manual_seed(29))
    assert list(seconds) == [2, 4, 6]
    assert all(isinstance(s, float) and s > 0 for s in seconds.values())


@pytest.mark.threads(2)  # the cpu clock times on one thread: restoring 1 to 1 would show nothing
def test_time_enumeration_cpu_clock_restores_threads():
    threads = torch.get_num_threads()
    seconds = nb03.time_enumeration([2, 12], data_dim=3, num_points=1, clock="cpu", generator=torch.Generator().manual_seed(30))
    assert list(seconds) == [2, 12] and all(s >= 0 for s in seconds.values())
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="clock"):
        nb03.time_enumeration([2], clock="gpu")
