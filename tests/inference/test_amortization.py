"""lvmlib.inference.amortization: per-point q optimization never lowers the ELBO and reaches the exact posterior's
ELBO on a linear-Gaussian model; the gap split adds up and rejects bad input."""

import math

import pytest
import torch
from torch.distributions import Independent, Normal

from lvmlib.inference import gap_run, gap_split, optimize_local_q
from lvmlib.models import LinearGaussian

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def problem():
    g = gen(0)
    W = torch.tensor([[1.0, 0.0], [0.0, 0.5], [0.3, 0.3], [0.0, 0.0]], dtype=F64)  # orthogonal-ish columns
    W[:, 1] -= (W[:, 0] @ W[:, 1]) / (W[:, 0] @ W[:, 0]) * W[:, 0]  # exactly orthogonal: diagonal posterior
    model = LinearGaussian(W, sigma=0.5)
    _, x = model.sample(6, generator=g)  # (z, x)
    return model, x


def test_never_lowers_and_reaches_the_exact_posterior(problem):
    model, x = problem
    init = Independent(Normal(torch.zeros(6, 2, dtype=F64), torch.ones(6, 2, dtype=F64)), 1)  # the prior
    local = optimize_local_q(model, x, init, 400, lr=0.05, num_samples=8, eval_samples=200, record_every=20,
                             generator=gen(1))
    assert bool((local.elbo[1:] >= local.elbo[:-1]).all())  # never lowers, at any recorded step, any point
    post = model.posterior(x)  # diagonal covariance: in the family
    torch.testing.assert_close(local.loc, post.mean, atol=0.1, rtol=0)  # Monte Carlo optimum: posterior sd ~0.45
    torch.testing.assert_close(local.scale, post.stddev, atol=0.1, rtol=0)
    log_p = model.log_marginal(x)
    gap = log_p - local.elbo[-1]
    assert gap.abs().max() < 0.05  # the best Gaussian is the posterior: ELBO = log p(x) (up to Monte Carlo)
    assert local.elbo.shape == (len(local.steps), 6)


def test_gap_split_adds_up_and_has_standard_errors():
    lp = torch.tensor([-10.0, -12.0, -11.0, -9.0])
    opt = lp - torch.tensor([0.1, 0.3, 0.2, 0.2])
    amo = opt - torch.tensor([1.0, 0.5, 0.7, 0.8])
    s = gap_split(lp, opt, amo)
    assert math.isclose(s.approximation, 0.2, abs_tol=1e-6) and math.isclose(s.amortization, 0.75, abs_tol=1e-6)
    assert math.isclose(s.total, s.approximation + s.amortization, abs_tol=1e-9)
    assert math.isclose(s.approximation_se, float(torch.tensor([0.1, 0.3, 0.2, 0.2], dtype=F64).std()) / 2, rel_tol=1e-6)


def test_bad_input(problem):
    model, x = problem
    with pytest.raises(ValueError, match="same B"):
        gap_split(torch.zeros(3), torch.zeros(4), torch.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        gap_split(torch.tensor([0.0, float("nan")]), torch.zeros(2), torch.zeros(2))
    with pytest.raises(TypeError, match="Independent"):
        optimize_local_q(model, x, Normal(torch.zeros(6, 2), torch.ones(6, 2)))
    init = Independent(Normal(torch.zeros(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64)), 1)
    with pytest.raises(ValueError, match="batch shape"):
        optimize_local_q(model, x, init)
    init = Independent(Normal(torch.zeros(6, 2, dtype=F64), torch.ones(6, 2, dtype=F64)), 1)
    with pytest.raises(ValueError, match="lr"):
        optimize_local_q(model, x, init, 5, lr=-1.0)


def test_gap_run_splits_add_up_and_start_at_zero_amortization():
    from lvmlib.vae import VAE

    x = (torch.rand(30, 12, generator=gen(1)) < 0.4).float()
    model = VAE(12, 2, (8,), generator=gen(2)).requires_grad_(False)
    run = gap_run(model, x, steps=20, record_every=10, eval_samples=20, is_samples=50, generator=gen(3))
    assert len(run.splits) == len(run.local.steps) == 3 and run.latent_dim == 2 and run.log_p.shape == (30,)
    assert run.splits[0].amortization == 0.0  # step 0: the "optimized" q is the encoder's
    assert run.splits[-1].amortization >= 0.0
    for s in run.splits:
        assert abs(s.total - (s.approximation + s.amortization)) < 1e-9
