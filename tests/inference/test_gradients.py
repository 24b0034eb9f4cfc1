"""lvmlib.inference.gradients: the three estimators are unbiased for the closed-form quadratic, and ordered in variance."""

import pytest
import torch

from lvmlib import inference as G

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def setup():
    loc = torch.tensor([0.5, -1.0, 0.0], dtype=F64)
    scale = torch.tensor([0.8, 1.2, 0.3], dtype=F64)
    a = torch.tensor([1.0, 1.0, -2.0], dtype=F64)
    return loc, scale, a


def test_exact_gradient_matches_autograd_of_the_closed_form(setup):
    loc, scale, a = setup
    mu, sig = loc.clone().requires_grad_(), scale.clone().requires_grad_()
    value = ((mu - a) ** 2).sum() + (sig**2).sum()  # E_q ||z - a||^2
    g_mu, g_sig = torch.autograd.grad(value, (mu, sig))
    e_mu, e_sig = G.exact_quadratic_gradient(loc, scale, a)
    torch.testing.assert_close(e_mu, g_mu)
    torch.testing.assert_close(e_sig, g_sig)


@pytest.mark.parametrize("estimator", G.ESTIMATORS)
def test_unbiased_against_the_closed_form(setup, estimator):
    loc, scale, a = setup
    gs = G.gradient_samples(G.quadratic(a), loc, scale, 40_000, estimator, generator=gen(1))
    exact = torch.cat(G.exact_quadratic_gradient(loc, scale, a))
    z = (torch.cat(gs.mean()) - exact) / torch.cat(gs.stderr())
    assert z.abs().max() < 4.5, z
    assert gs.loc.shape == (40_000, 3) and gs.loc.dtype == F64


def test_a_biased_estimator_is_caught(setup):
    """The unbiasedness test can fail: the score function without the -1/sigma term is biased."""
    loc, scale, a = setup
    gs = G.gradient_samples(G.quadratic(a), loc, scale, 40_000, "score", generator=gen(1))
    f = G.quadratic(a)(loc + scale * torch.randn(40_000, 3, generator=gen(1), dtype=F64))
    wrong = gs.scale + f[:, None] / scale  # adds back the missing -1/sigma term's contribution
    z = (wrong.mean(0) - 2 * scale) / (wrong.std(0) / 200)
    assert z.abs().max() > 10


def test_reparam_terms_are_the_derivative_of_f(setup):
    loc, scale, a = setup
    gs = G.gradient_samples(G.quadratic(a), loc, scale, 5, "reparam", generator=gen(2))
    eps = torch.randn(5, 3, generator=gen(2), dtype=F64)
    z = loc + scale * eps
    torch.testing.assert_close(gs.loc, 2 * (z - a))
    torch.testing.assert_close(gs.scale, 2 * (z - a) * eps)


def test_variance_order_and_one_over_n(setup):
    loc, scale, a = setup
    f = G.quadratic(a)
    v = {e: float(G.estimator_variance(f, loc, scale, 10, e, repeats=3000, generator=gen(3))) for e in G.ESTIMATORS}
    assert v["score"] > v["baseline"] > v["reparam"]
    v100 = float(G.estimator_variance(f, loc, scale, 100, "reparam", repeats=3000, generator=gen(4)))
    assert 0.07 < v100 / v["reparam"] < 0.13  # 1/N


def test_baseline_is_leave_one_out():
    loc, scale = torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64)
    f = lambda z: z[..., 0] * 0 + 5.0  # constant f: the baseline removes it exactly  # noqa: E731
    gs = G.gradient_samples(f, loc, scale, 7, "baseline", generator=gen())
    assert gs.loc.abs().max() < 1e-12 and gs.scale.abs().max() < 1e-12


def test_bad_input():
    loc = torch.zeros(2, dtype=F64)
    f = G.quadratic(torch.ones(2, dtype=F64))
    with pytest.raises(ValueError, match="unknown estimator"):
        G.gradient_samples(f, loc, 1.0, 5, "reinforce")
    with pytest.raises(ValueError, match="positive"):
        G.gradient_samples(f, loc, -1.0, 5)
    with pytest.raises(ValueError, match="num_samples"):
        G.gradient_samples(f, loc, 1.0, 0)
    with pytest.raises(ValueError, match="baseline needs"):
        G.gradient_samples(f, loc, 1.0, 1, "baseline")
    with pytest.raises(ValueError, match="loc must have shape"):
        G.gradient_samples(f, torch.zeros(2, 2), 1.0, 5)
    with pytest.raises(ValueError, match=r"f must map"):
        G.gradient_samples(lambda z: z, loc, 1.0, 5)
    with pytest.raises(ValueError, match="repeats"):
        G.estimator_variance(f, loc, 1.0, 5, "score", repeats=1)


def test_gradient_runs_variance_is_the_closed_form_for_reparameterization():
    """f = ||z - a||^2, z = mu + s eps: per sample d/dmu = 2 (mu + s eps - a) and
    d/ds = 2 (mu + s eps - a) eps, so one sample's variances are 4 s^2 and 4 (mu - a)^2 + 8 s^2 per
    coordinate; an N-sample estimate divides them by N."""
    d, n, s = 2, 5, 1.0
    loc, a = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    runs = G.gradient_runs(G.quadratic(a), loc, s, n, "reparam", repeats=4000, generator=gen(5))
    assert runs.loc.shape == runs.scale.shape == (4000, d)
    exact = d * (4 * s**2 + 4 * 1.0 + 8 * s**2) / n
    assert float(runs.variance()) == pytest.approx(exact, rel=0.1)
    same = G.estimator_variance(G.quadratic(a), loc, s, n, "reparam", repeats=4000, generator=gen(5))
    assert float(same) == float(runs.variance())
    torch.testing.assert_close(runs.loc.mean(0), 2 * (loc - a), rtol=0, atol=0.15)  # unbiased
