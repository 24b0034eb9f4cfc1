"""lvmlib.vae.priors: the mixture prior against scipy and a brute-force sum; the aggregate posterior; the VAE hook."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from torch.distributions import Independent, Normal

from lvmlib.vae import MixturePrior, aggregate_posterior
from lvmlib.vae.priors import from_config
from lvmlib.vae import VAE, train


def _prior(k=3, d=2, seed=0):
    p = MixturePrior(k, d, generator=torch.Generator().manual_seed(seed)).double()
    with torch.no_grad():
        p.logits.copy_(torch.tensor([0.3, -1.0, 2.0][:k], dtype=torch.float64))
        p.raw_scale.add_(torch.linspace(-1, 1, k * d, dtype=torch.float64).reshape(k, d))
    return p


def test_log_prob_matches_scipy_sum():
    p = _prior()
    z = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    w, loc, s = p.weights().detach().numpy(), p.loc.detach().numpy(), p.scale().detach().numpy()
    want = np.log(sum(w[k] * multivariate_normal(loc[k], np.diag(s[k] ** 2)).pdf(z.numpy()) for k in range(3)))
    np.testing.assert_allclose(p.log_prob(z).detach().numpy(), want, rtol=1e-12)
    assert abs(p.weights().sum().item() - 1) < 1e-15


def test_log_prob_far_away_stays_finite():
    p = _prior()
    z = torch.full((2, 2), 80.0, dtype=torch.float64)
    lp = p.log_prob(z)
    assert torch.isfinite(lp).all() and (lp < -500).all()


def test_sampling_moments():
    p = _prior()
    z = p.sample(200000, generator=torch.Generator().manual_seed(2))
    w, loc, s = p.weights().detach(), p.loc.detach(), p.scale().detach()
    mean = (w[:, None] * loc).sum(0)
    second = (w[:, None] * (s**2 + loc**2)).sum(0)
    assert torch.allclose(z.mean(0), mean, atol=0.02)
    assert torch.allclose((z**2).mean(0), second, atol=0.05)


def test_sample_is_reproducible_and_checks_n():
    p = _prior()
    a = p.sample(5, generator=torch.Generator().manual_seed(3))
    b = p.sample(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (5, 2)
    with pytest.raises(ValueError, match="positive int"):
        p.sample(0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_components"):
        MixturePrior(0, 2)
    with pytest.raises(TypeError, match="latent_dim"):  # _util.positive_int: not an int is a TypeError
        MixturePrior(3, 2.5)
    with pytest.raises(ValueError, match="last dimension 2"):
        _prior().log_prob(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="over 3 dimensions"):
        VAE(4, 2, prior=MixturePrior(2, 3))
    with pytest.raises(ValueError, match="unknown prior"):
        from_config({"kind": "vamp"})


def test_aggregate_posterior_is_the_average_density():
    loc = torch.tensor([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]], dtype=torch.float64)
    scale = torch.tensor([[1.0, 0.5], [0.3, 0.7], [2.0, 1.0]], dtype=torch.float64)
    q = Independent(Normal(loc, scale), 1)
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    want = np.log(np.mean([multivariate_normal(loc[n].numpy(), np.diag(scale[n].numpy() ** 2)).pdf(z.numpy())
                           for n in range(3)], axis=0))
    np.testing.assert_allclose(aggregate_posterior(q).log_prob(z).numpy(), want, rtol=1e-12)
    with pytest.raises(ValueError, match="batch shape"):
        aggregate_posterior(Normal(loc, scale))
    with pytest.raises(ValueError, match="empty"):
        aggregate_posterior(Independent(Normal(loc[:0], scale[:0]), 1))


def test_vae_with_mixture_prior_trains_saves_and_loads(tmp_path):
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(64, 6, generator=g) < 0.5).float()
    model = VAE(6, 2, (8,), prior=MixturePrior(3, 2, generator=g), generator=g)
    before = model.prior_net.loc.detach().clone()
    train(model, x, 3, batch_size=16, generator=g, progress=False)
    assert not torch.equal(before, model.prior_net.loc.detach())  # the prior learned with the ELBO
    lp = model.prior().log_prob(torch.zeros(2))
    assert torch.allclose(lp, model.prior_net.log_prob(torch.zeros(1, 2))[0])
    assert model.sample(4, generator=g).shape == (4, 6)
    model.save(tmp_path / "m.pt")
    back = VAE.load(tmp_path / "m.pt")
    assert back.config["prior"] == model.config["prior"]
    z = torch.randn(3, 2, generator=g)
    assert torch.allclose(back.prior().log_prob(z), model.prior().log_prob(z))
    assert VAE(6, 2).config["prior"] is None


def test_mixture_prior_with_one_component_at_the_origin_is_the_standard_normal():
    p = MixturePrior(1, 3, init_scale=0.0).double()
    z = torch.randn(5, 3, dtype=torch.float64)
    want = Independent(Normal(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)), 1).log_prob(z)
    assert torch.allclose(p.log_prob(z), want, atol=1e-4)  # scale 1 up to MIN_PRIOR_SCALE
    assert math.isclose(p.scale()[0, 0].item(), 1.0, abs_tol=1e-6)


class _FixedCodes(torch.nn.Module):
    """A stand-in VAE whose every code is q(z | x) = N(0, scale^2 I) and whose prior is N(0, I)."""

    latent_dim = 2
    prior_net = None

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale
        self.register_buffer("prior_loc", torch.zeros(2))

    def prior(self):
        return Independent(Normal(torch.zeros(2), torch.ones(2)), 1)

    def encoder(self, x):
        return Independent(Normal(torch.zeros(x.shape[0], 2), torch.full((x.shape[0], 2), self.scale)), 1)


def test_prior_coverage_against_the_closed_forms_of_two_gaussians():
    from lvmlib.vae import prior_coverage

    s = 0.5
    cover = prior_coverage(_FixedCodes(s), torch.zeros(7, 3), 40000, generator=torch.Generator().manual_seed(0))
    # q(z) = N(0, s^2 I) in 2-D: KL(q || p) = s^2 - 1 - log s^2, KL(p || q) = 1 / s^2 - 1 + log s^2
    assert cover.kl_aggregate == pytest.approx(s**2 - 1 - math.log(s**2), abs=0.02)
    assert cover.kl_prior == pytest.approx(1 / s**2 - 1 + math.log(s**2), abs=0.05)
    # a hole: log p - log q = |z|^2 (1/s^2 - 1) / 2 + 2 log s > log 2 ; |z|^2 ~ chi^2_2 under p: P = exp(-t / 2)
    t = (math.log(2) - 2 * math.log(s)) * 2 / (1 / s**2 - 1)
    assert cover.hole_mass == pytest.approx(math.exp(-t / 2), abs=0.01)
    same = prior_coverage(_FixedCodes(1.0), torch.zeros(7, 3), 1000, generator=torch.Generator().manual_seed(0))
    assert abs(same.kl_aggregate) < 1e-5 and abs(same.kl_prior) < 1e-5 and same.hole_mass == 0.0


def test_sample_aggregate_draws_from_the_pooled_gaussians():
    from lvmlib.vae import sample_aggregate

    q = Independent(Normal(torch.tensor([[-3.0], [3.0]], dtype=torch.float64), torch.tensor([[0.5], [0.5]],
                                                                                             dtype=torch.float64)), 1)
    z = sample_aggregate(q, 20000, torch.Generator().manual_seed(1))
    assert z.shape == (20000, 1) and z.dtype == torch.float64
    assert float(z.mean()) == pytest.approx(0.0, abs=0.06)
    assert float(z.var()) == pytest.approx(9.0 + 0.25, rel=0.03)  # a mixture's variance
