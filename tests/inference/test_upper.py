"""The harmonic-mean estimator (lvmlib.inference.upper) against the closed form on LinearGaussian: 1 / p-hat is
unbiased for 1 / p(x); log p-hat is biased high; its variance is infinite when the likelihood is narrower than
the prior (w^2 >= sigma^2), and then the estimate stays far above log p(x)."""

import math

import pytest
import torch

from lvmlib import inference as est
from lvmlib.models.toy import toy_problem
from lvmlib.models import LinearGaussian


def _wide_likelihood():
    """A 1-D linear Gaussian model with w^2 < sigma^2 (finite variance of 1 / p(x | z) under the posterior)."""
    model = LinearGaussian(torch.tensor([[0.5]], dtype=torch.float64), None, 1.0)
    return model, torch.tensor([[0.8], [-1.2]], dtype=torch.float64)


def test_inverse_estimate_is_unbiased_for_one_over_p():
    model, x = _wide_likelihood()
    log_p = model.log_marginal(x)  # [B], closed form
    g = torch.Generator().manual_seed(0)
    runs = 2000
    hm = est.harmonic_mean_estimate(x.repeat(runs, 1), model, 5, generator=g).reshape(runs, 2)
    ratio = torch.exp(log_p - hm)  # p(x) / p-hat_HM: unbiased for 1
    z = (ratio.mean(0) - 1) / (ratio.std(0) / math.sqrt(runs))
    assert bool((z.abs() < 5).all()), z


def test_consistent_when_the_variance_is_finite():
    model, x = _wide_likelihood()
    g = torch.Generator().manual_seed(1)
    hm = est.harmonic_mean_estimate(x, model, 200_000, generator=g)
    assert torch.allclose(hm, model.log_marginal(x), atol=2e-3)


def test_biased_high_and_slow_on_the_toy_problem():
    """w^2 = 3.75 > sigma^2 = 0.25: infinite variance; a nat above log p(x) even with 10 000 samples."""
    model, x = toy_problem()
    log_p = model.log_marginal(x)[0].item()
    g = torch.Generator().manual_seed(2)
    hm = est.harmonic_mean_estimate(x.expand(100, -1), model, 10_000, generator=g) - log_p
    assert hm.mean() > 0.5 and (hm > 0).double().mean() > 0.9
    iwae = est.iwae_bound(x.expand(100, -1), model, model.posterior(x), 10, generator=g)
    assert torch.allclose(iwae, torch.full_like(iwae, log_p), atol=1e-10)  # the lower bound is exact at the posterior


def test_posterior_argument_and_errors():
    model, x = _wide_likelihood()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = est.harmonic_mean_estimate(x, model, 50, generator=g1)
    b = est.harmonic_mean_estimate(x, model, 50, posterior=model.posterior(x), generator=g2)
    assert torch.equal(a, b) and a.shape == (2,)
    with pytest.raises((TypeError, ValueError)):
        est.harmonic_mean_estimate(x, model, 0)


def test_a_wrong_version_fails():
    """Averaging 1 / p(x | z) under the *prior* (a plausible slip) is not the estimator: it is far off."""
    model, x = _wide_likelihood()
    g = torch.Generator().manual_seed(4)
    right = est.harmonic_mean_estimate(x, model, 50_000, generator=g)
    wrong = est.harmonic_mean_estimate(x, model, 50_000, posterior=model.prior(), generator=g)
    assert (right - model.log_marginal(x)).abs().max() < 0.01 and (wrong - model.log_marginal(x)).abs().max() > 0.05
