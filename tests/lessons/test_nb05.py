"""Notebook 05's precomputation and app: the numbers on screen are the estimators' numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from lvmlib import inference as est
from lvmlib.lessons import nb05
from lvmlib.distributions import gaussian_proposals
from lvmlib.inference import block_estimates
from lvmlib.models.toy import second_moment_of_weights, toy_problem

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def problem():
    return toy_problem()


@pytest.fixture(scope="module")
def small_grid(problem):
    model, x = problem
    return nb05.precompute(model, x, means=(0.0, 1.5, 3.0), log2_scales=(-3.0, -2.0, 0.0), counts=(1, 10, 100),
                           total=4000, generator=gen(0))


@pytest.mark.parametrize("m,s", [(1.5, 0.25), (-0.7, 0.6), (2.0, 0.1)])
def test_toy_problem_has_the_requested_posterior(m, s):
    model, x = toy_problem(m, s)
    post = model.posterior(x)
    assert model.W.dtype == F64 and x.shape == (1, 1)
    assert abs(post.loc.item() - m) < 1e-12 and abs(post.stddev.item() - s) < 1e-12
    with pytest.raises(ValueError):
        toy_problem(0.0, 1.5)


@pytest.mark.parametrize("mean,scale", [(1.5, 0.25), (1.2, 0.4), (0.0, 1.0), (2.0, 0.2)])
def test_second_moment_of_weights_matches_quadrature(mean, scale):
    m, s = 1.5, 0.25
    f = lambda z: np.exp(2 * stats.norm.logpdf(z, m, s) - stats.norm.logpdf(z, mean, scale))  # noqa: E731
    ref, _ = integrate.quad(f, -10, 10, points=[m], limit=200)
    assert second_moment_of_weights(mean, scale, m, s) == pytest.approx(ref, rel=1e-7)


def test_second_moment_is_infinite_for_a_narrow_proposal():
    assert math.isinf(second_moment_of_weights(1.5, 0.17))
    assert math.isinf(second_moment_of_weights(1.5, 0.25 / math.sqrt(2)))  # the boundary itself
    out = second_moment_of_weights(np.array([1.5, 1.5]), np.array([0.1, 0.5]))
    assert out.shape == (2,) and math.isinf(out[0]) and np.isfinite(out[1])


def test_block_estimates_are_the_library_estimators_on_disjoint_runs(problem):
    model, x = problem
    q = gaussian_proposals([0.5, 1.5, 2.0], [0.7, 0.25, 0.3])  # batch [3]
    total, counts = 600, (1, 3, 20)
    got = block_estimates(x, model, q, counts, total, log_p=model.log_marginal(x).item(), keep=5,
                               generator=gen(3))
    log_w = est.log_weights(x.expand(3, -1), model, q, total, generator=gen(3))  # the same stream, [600, 3]
    torch.testing.assert_close(torch.as_tensor(got["log_w"]), log_w[:5])
    for i, n in enumerate(counts):
        R = total // n
        assert got["runs"][i] == R
        for b in range(3):
            runs = log_w[:, b].reshape(R, n).T  # [N, R]: one column per run
            log_p_hat = est.log_mean_exp(runs, 0)
            ess = est.effective_sample_size(runs)
            assert got["log_mean"][i, b] == pytest.approx(log_p_hat.mean().item(), abs=1e-12)
            assert got["ess_mean"][i, b] == pytest.approx(ess.mean().item(), rel=1e-12)
            assert got["hist"][i, b].sum() == R
    # q_1 is the posterior: zero variance, ESS = N
    assert np.all(got["ratio_sd"][:, 1] < 1e-12) and np.allclose(got["ess_mean"][:, 1], counts)


def test_block_estimates_survive_runs_that_underflow(problem):
    """A run whose weights are all > 745 nats below the stream's largest: the slow path."""
    model, x = problem
    q = gaussian_proposals([1.5], [40.0])  # absurdly wide: log w spans thousands of nats
    got = block_estimates(x, model, q, (1, 2), 200, generator=gen(4))
    log_w = est.log_weights(x, model, q, 200, generator=gen(4))[:, 0]
    assert (log_w.max() - log_w.min()).item() > 745
    ref = est.log_mean_exp(log_w.reshape(100, 2).T, 0).mean().item()
    assert np.isfinite(got["log_mean"]).all() and got["log_mean"][1, 0] == pytest.approx(ref, rel=1e-12)


def test_grid_at_the_posterior_and_unbiased_elsewhere(small_grid):
    g = small_grid
    i, j = g.index(1.5, 0.25)
    assert np.all(g.stats["ratio_sd"][i, j] < 1e-12)
    assert np.allclose(g.stats["ess_mean"][i, j], g.counts) and np.allclose(g.stats["run_ess"][i, j], g.counts)
    i, j = g.index(1.5, 1.0)  # wide, finite variance
    se = g.stats["ratio_sd"][i, j, 0] / math.sqrt(g.total)
    assert abs(g.stats["ratio_mean"][i, j, 0] - 1) < 4 * se
    assert g.stats["hist"].shape[-1] == g.bins == 61


def test_index_snaps_to_the_nearest_grid_point(small_grid):
    assert small_grid.index(1.4, 0.26) == (1, 1)
    assert small_grid.index(-5.0, 100.0) == (0, 2)


@pytest.fixture
def app(small_grid, monkeypatch):
    app = nb05.proposal_app(small_grid, mean=0.0, scale=1.0, samples=10)

    def forbidden(*args, **kwargs):
        raise AssertionError("the callback must not sample")

    monkeypatch.setattr(est, "log_weights", forbidden)
    return app


def test_callback_shows_the_precomputed_numbers(app, small_grid):
    g = small_grid
    app.set(mean=1.5, scale=0.25, samples=100)
    assert "the posterior" in app.text.value and "mean ESS = 100.0 of 100" in app.text.value
    fig = app.fig
    ax_int, ax_w, ax_h, ax_e = fig.axes[:4]
    i, j = g.index(1.5, 0.25)
    q_line = [l for l in ax_int.lines if l.get_animated() and l.get_label() == "p(x) q(z)"][0]
    np.testing.assert_allclose(q_line.get_ydata(), math.exp(g.log_p) * g.q_pdf[i, j])
    stairs = [p for p in ax_h.patches if p.get_animated()][0]
    heights = stairs.get_data().values
    assert heights.argmax() == 20 and heights.max() == 1.0  # every estimate in the bin centred on 1
    marker = [l for l in ax_e.lines if l.get_animated() and l.get_marker() == "o"][0]
    assert list(marker.get_xdata()) == [1.5] and list(marker.get_ydata()) == [-2.0]
    app.set(mean=0.0, scale=1.0, samples=10)
    assert "naive Monte Carlo" in app.text.value
    s = g.at(0.0, 1.0, 10)
    assert f"mean p̂/p(x) = {s['ratio_mean']:.3f}" in app.text.value


def test_moving_sliders_only_blits(app):
    before = app.full_draws
    for m, s, n in [(0.5, 0.125, 1), (3.0, 1.0, 100), (1.5, 0.25, 10)]:
        app.set(mean=m, scale=s, samples=n)
    assert app.full_draws == before


def test_ess_at_one_sample_is_one_not_nan_for_a_far_proposal():
    """Issue 12: q = N(3, sqrt(2)^2) at N = 1 showed "mean ESS = nan of 1": tiny weights whose
    square underflows gave 0 / 0 in a linear-space ESS.  The library's log-space reduction
    gives exactly 1 for a run of one sample, and the app's text has no NaN."""
    model, x = toy_problem()
    q = gaussian_proposals([3.0], [2**0.5])
    out = block_estimates(x, model, q, (1, 3, 10), 40_000, log_p=float(model.log_marginal(x)[0]),
                               generator=torch.Generator().manual_seed(0))
    assert np.isfinite(out["ess_mean"]).all() and np.isfinite(out["log_mean"]).all()
    assert out["ess_mean"][0, 0] == pytest.approx(1.0)
    grid = nb05.precompute(model, x, means=(1.5, 3.0), log2_scales=(0.0, 0.5), total=20_000,
                           generator=torch.Generator().manual_seed(0))
    app = nb05.proposal_app(grid, mean=3.0, scale=2**0.5, samples=1)
    text = app.set(mean=3.0, scale=2**0.5, samples=1).text.value
    assert "nan" not in text.lower() and "mean ESS = 1.0 of 1" in text
    assert np.isfinite(grid.stats["ess_mean"]).all()


def test_precompute_runs_the_given_functions():
    """nb05.precompute(log_weights=, log_p_hat=, ess=) computes its statistics with them (the notebook passes the
    student's): lvmlib's own functions passed in give the same grid; a wrong ESS shows in the ESS statistics."""
    import torch
    from lvmlib import inference as est
    from lvmlib.lessons import nb05

    model, x = nb05.toy_problem()
    # one scale: the app's shown run is then a separate draw of lvmlib's, after the stream (another scale's
    # stream would start from another place of the generator)
    kw = dict(means=(1.0, 1.5, 2.0), log2_scales=(-1.0,), counts=(1, 10), total=200)
    calls = []

    def log_weights(x, model, q, K, generator=None):
        calls.append(K)
        return est.log_weights(x, model, q, K, generator=generator)

    lib = nb05.precompute(model, x, generator=torch.Generator().manual_seed(0), **kw)
    own = nb05.precompute(model, x, generator=torch.Generator().manual_seed(0), log_weights=log_weights,
                          log_p_hat=lambda lw: est.log_mean_exp(lw, 0), ess=est.effective_sample_size, **kw)
    assert calls == [200]
    np.testing.assert_allclose(own.stats["log_mean"], lib.stats["log_mean"], rtol=1e-12)
    np.testing.assert_allclose(own.stats["ess_mean"], lib.stats["ess_mean"], rtol=1e-12)
    half = nb05.precompute(model, x, generator=torch.Generator().manual_seed(0), log_weights=log_weights,
                           ess=lambda lw: est.effective_sample_size(lw) / 2, **kw)
    np.testing.assert_allclose(half.stats["ess_mean"], lib.stats["ess_mean"] / 2, rtol=1e-12)
