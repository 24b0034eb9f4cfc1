"""Notebook 06's precomputation and app: ELBO + KL = log p(x) on every q the sliders show."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from lvmlib import inference as est
from lvmlib.models import grid_posterior
from lvmlib.distributions import gaussian_mvn, gaussian_proposals
from lvmlib.models.toy import toy_problem
from lvmlib.models import best_gaussian, grid_kl
from lvmlib.lessons import nb06


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def problem():
    return toy_problem()


@pytest.fixture(scope="module")
def small_grid(problem):
    model, x = problem
    return nb06.precompute(model, x, means=(0.0, 1.5, 3.0), log2_scales=(-3.0, -2.0, 0.0), ks=(1, 10, 100),
                           total=4000, surface_means=np.linspace(0, 3, 13), surface_log2_scales=np.linspace(-3, 0, 13),
                           surface_samples=2000, generator=gen(0))


def kl_1d(m_q, s_q, m_p, s_p):
    """KL(N(m_q, s_q^2) || N(m_p, s_p^2)), the textbook formula, for reference."""
    return math.log(s_p / s_q) + (s_q**2 + (m_q - m_p) ** 2) / (2 * s_p**2) - 0.5


def test_mvn_and_independent_proposals_are_the_same_distribution():
    z = torch.linspace(-2, 3, 11, dtype=torch.float64)[:, None, None]  # [11, 1, 1]
    a = gaussian_mvn([0.3, 1.0], [0.5, 2.0])
    b = gaussian_proposals([0.3, 1.0], [0.5, 2.0])
    assert a.batch_shape == b.batch_shape == (2,) and a.event_shape == b.event_shape == (1,)
    torch.testing.assert_close(a.log_prob(z), b.log_prob(z))


def test_exact_kl_and_the_identity_on_every_grid_point(small_grid):
    g = small_grid
    for i, m in enumerate(g.means):
        for j, s in enumerate(g.scales):
            assert g.kl[i, j] == pytest.approx(kl_1d(m, s, 1.5, 0.25), abs=1e-10)
    ip, jp = g.index(1.5, 0.25)
    off = np.ones_like(g.kl, dtype=bool)
    off[ip, jp] = False
    z = (g.elbo + g.kl - g.log_p)[off] / g.elbo_se[off]
    assert np.all(np.abs(z) < 4.5)
    assert abs(g.elbo[ip, jp] - g.log_p) < 1e-12 and np.allclose(g.iwae[ip, jp], g.log_p, atol=1e-12)
    np.testing.assert_array_equal(g.iwae[:, :, 0], g.elbo)  # L_1 is the ELBO


def test_surface_peaks_at_the_posterior(small_grid):
    g = small_grid
    si, sj = np.unravel_index(g.surface.argmax(), g.surface.shape)
    assert g.surface_means[si] == 1.5 and g.surface_log2_scales[sj] == -2.0
    assert abs(g.surface.max() - g.log_p) < 1e-12


def test_fraction_closed(small_grid):
    g = small_grid
    frac, se = g.fraction_closed(*g.index(1.5, 1.0))
    assert frac[0] == 0 and np.all(np.diff(frac) > -3 * se[1:]) and 0.5 < frac[-1] < 1.05
    frac, se = g.fraction_closed(*g.index(1.5, 0.25))  # the posterior: nothing to close, shown as all closed
    assert np.all(frac == 1) and np.all(se == 0)


def test_grid_kl_matches_kl_divergence_for_a_gaussian_posterior(problem):
    model, x = problem
    gp = grid_posterior(x, model, resolution=4001)
    q = Normal(torch.tensor([0.5, 1.5, 2.0], dtype=torch.float64), torch.tensor([0.7, 0.25, 0.3], dtype=torch.float64))
    ref = kl_divergence(gaussian_mvn([0.5, 1.5, 2.0], [0.7, 0.25, 0.3]), model.posterior(x))
    torch.testing.assert_close(grid_kl(q, gp), ref, rtol=0, atol=1e-8)
    m, s, kl = best_gaussian(gp, np.linspace(1.0, 2.0, 21), [0.2, 0.25, 0.3])
    assert (m, s) == (1.5, 0.25) and abs(kl) < 1e-8


def test_nonlinear_problem_has_two_modes_and_a_gap():
    model, x = nb06.nonlinear_problem()
    gp = model.grid_posterior(x, resolution=2001)
    p = torch.exp(gp.log_posterior[0]).numpy()
    peaks = (p[1:-1] > p[:-2]) & (p[1:-1] > p[2:]) & (p[1:-1] > 0.1 * p.max())
    assert peaks.sum() == 2
    m, s, kl = best_gaussian(gp, np.linspace(-2.5, 1.0, 36), np.geomspace(0.05, 2.0, 41))
    assert kl > 0.3
    log_w = est.log_weights(x, model, gaussian_proposals([m], [s]), 50_000, generator=gen(1))
    se = log_w.std().item() / math.sqrt(log_w.shape[0])
    assert abs(log_w.mean().item() + kl - gp.log_marginal.item()) < 4 * se


@pytest.fixture
def app(small_grid, monkeypatch):
    app = nb06.gap_app(small_grid, mean=0.0, scale=1.0, k=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("the callback must not sample")

    monkeypatch.setattr(est, "log_weights", forbidden)
    return app


def test_callback_shows_the_precomputed_numbers(app, small_grid):
    g = small_grid
    app.set(mean=3.0, scale=0.125, k=10)
    i, j = g.index(3.0, 0.125)
    assert f"KL(q ‖ p(z|x)) (exact) = {g.kl[i, j]:.4f}" in app.text.value
    assert f"IWAE L_10 = {g.iwae[i, j, 1]:.4f}" in app.text.value
    ax_d, ax_b, ax_s, ax_k = app.fig.axes[:4]  # then the colorbar's axes
    bars = [p for p in ax_b.patches if p.get_animated()]
    elbo_bar, kl_bar, iwae_bar, gap_bar = bars
    assert elbo_bar.get_height() == g.elbo[i, j] and kl_bar.get_y() == g.elbo[i, j]
    assert kl_bar.get_height() == g.kl[i, j]
    assert iwae_bar.get_height() == g.iwae[i, j, 1] and gap_bar.get_y() + gap_bar.get_height() == pytest.approx(g.log_p)
    k_line = [l for l in ax_k.lines if l.get_animated() and l.get_marker() == "o" and l.get_linestyle() == "-"][0]
    np.testing.assert_allclose(k_line.get_ydata(), g.fraction_closed(i, j)[0])
    app.set(mean=1.5, scale=0.25, k=100)
    assert "the posterior" in app.text.value and "exact to float precision" in app.text.value


def test_moving_sliders_only_blits(app):
    before = app.full_draws
    for m, s, k in [(0.0, 0.125, 1), (3.0, 1.0, 100), (1.5, 0.25, 10)]:
        app.set(mean=m, scale=s, k=k)
    assert app.full_draws == before
