"""Tests of lvmlib.inference against exact answers, in float64.

Statistical tests use a fixed ``torch.Generator``, compare with tolerances of several
standard errors estimated from the same run, and also assert that the standard error is
small enough for the comparison to mean something.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import (
    Bernoulli,
    Categorical,
    Independent,
    MultivariateNormal,
    Normal,
    Uniform,
    kl_divergence,
)

from lvmlib import distributions
from lvmlib import inference as est
from lvmlib.models import BinaryLatentModel, LinearGaussian, MixtureOfGaussians, NonlinearLVM

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def linear_model(dx=3, dz=2, sigma=0.5, seed=0) -> LinearGaussian:
    g = gen(seed)
    W = torch.randn(dx, dz, generator=g, dtype=F64)
    b = torch.randn(dx, generator=g, dtype=F64)
    return LinearGaussian(W, b, sigma)


def mixture() -> MixtureOfGaussians:
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
    means = torch.tensor([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.5]], dtype=F64)
    covs = torch.stack([torch.eye(2, dtype=F64), torch.tensor([[1.0, 0.6], [0.6, 0.8]], dtype=F64),
                        0.3 * torch.eye(2, dtype=F64)])
    return MixtureOfGaussians(weights, means, covs)


def gaussian(loc, scale) -> Independent:
    return Independent(Normal(loc, scale), 1)


def repeat_point(x: torch.Tensor, n: int) -> torch.Tensor:
    """n copies of one point, [n, Dx]: each copy gets its own independent samples."""
    return x[:1].expand(n, -1).contiguous()


# ----------------------------------------------------------------------------------------
# zero variance at the exact posterior
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, 100])
def test_importance_sampling_with_exact_posterior_is_exact(k):
    model = linear_model()
    _, x = model.sample(6, gen(1))
    exact = model.log_marginal(x)
    q = model.posterior(x)
    for fn in (est.importance_sampling, est.iwae_bound, est.elbo):
        got = fn(x, model, q, k, generator=gen(2))
        torch.testing.assert_close(got, exact, rtol=0, atol=1e-10)
    log_w = est.log_weights(x, model, q, k, generator=gen(3))
    assert log_w.shape == (k, 6)
    torch.testing.assert_close(est.effective_sample_size(log_w), torch.full((6,), float(k), dtype=F64))


def test_exact_posterior_of_a_mixture_gives_exact_log_marginal():
    model = mixture()
    _, x = model.sample(8, gen(1))
    got = est.importance_sampling(x, model, model.posterior(x), 7, generator=gen(2))
    torch.testing.assert_close(got, model.log_marginal(x), rtol=0, atol=1e-10)
    # the posterior is also a callable proposal (an "encoder")
    got = est.elbo(x, model, model.posterior, 3, generator=gen(2))
    torch.testing.assert_close(got, model.log_marginal(x), rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------------------
# unbiased in p-space, biased low in log space
# ----------------------------------------------------------------------------------------


def _ratio_stats(log_p_hat: torch.Tensor, log_p: float):
    """p-hat / p for every repetition, its mean and standard error."""
    r = torch.exp(log_p_hat - log_p)
    return float(r.mean()), float(r.std() / math.sqrt(r.numel()))


def test_importance_sampling_unbiased_in_p_and_biased_low_in_log_p():
    model = linear_model(sigma=0.5)
    _, x0 = model.sample(1, gen(4))
    log_p = float(model.log_marginal(x0))
    post = model.posterior(x0)
    # a deliberately imperfect proposal: shifted and 1.5x wider than the posterior
    q = MultivariateNormal(post.loc + 0.3, covariance_matrix=2.25 * post.covariance_matrix)
    reps = 4000
    x = repeat_point(x0, reps)
    est_log = est.importance_sampling(x, model, q, 5, generator=gen(5))  # [reps]
    mean_r, se_r = _ratio_stats(est_log, log_p)
    assert se_r < 0.02, "not enough repetitions for the test to have power"
    assert abs(mean_r - 1.0) < 5 * se_r
    # Jensen: E[log p-hat] < log p, by many standard errors
    gap = log_p - float(est_log.mean())
    se_log = float(est_log.std() / math.sqrt(reps))
    assert gap > 5 * se_log


def test_naive_monte_carlo_unbiased_but_far_noisier_on_a_peaked_likelihood():
    model = linear_model(dx=2, dz=2, sigma=0.15, seed=1)  # peaked likelihood: posterior much narrower than prior
    _, x0 = model.sample(1, gen(6))
    log_p = float(model.log_marginal(x0))
    reps, k = 20000, 50
    x = repeat_point(x0, reps)
    naive = est.naive_monte_carlo(x, model, k, generator=gen(7))
    mean_r, se_r = _ratio_stats(naive, log_p)
    assert se_r < 0.05
    assert abs(mean_r - 1.0) < 5 * se_r
    good = est.importance_sampling(x, model, model.posterior(x0), k, generator=gen(8))
    wide = MultivariateNormal(model.posterior(x0).loc, covariance_matrix=1.5 * model.posterior(x0).covariance_matrix)
    decent = est.importance_sampling(x, model, wide, k, generator=gen(9))
    assert float(naive.var()) > 10 * float(decent.var())
    assert float(good.var()) < 1e-20


def test_uniform_box_proposal_is_unbiased_in_p():
    model = linear_model(dx=2, dz=1, sigma=0.5, seed=2)
    _, x0 = model.sample(1, gen(10))
    log_p = float(model.log_marginal(x0))
    box = distributions.uniform_box(-6.0, 6.0, dim=1, dtype=F64)
    assert box.event_shape == (1,) and box.batch_shape == ()
    reps = 4000
    got = est.naive_monte_carlo(repeat_point(x0, reps), model, 20, proposal=box, generator=gen(11))
    mean_r, se_r = _ratio_stats(got, log_p)
    assert se_r < 0.05
    assert abs(mean_r - 1.0) < 5 * se_r


def test_uniform_proposal_over_mixture_components():
    model = mixture()
    _, x0 = model.sample(1, gen(12))
    log_p = float(model.log_marginal(x0))
    q = Categorical(logits=torch.zeros(3, dtype=F64))
    got = est.naive_monte_carlo(repeat_point(x0, 4000), model, 4, proposal=q, generator=gen(13))
    mean_r, se_r = _ratio_stats(got, log_p)
    assert se_r < 0.05
    assert abs(mean_r - 1.0) < 5 * se_r


def test_naive_monte_carlo_on_binary_latents_matches_enumeration():
    model = BinaryLatentModel(6, 4, generator=gen(14), dtype=F64)
    _, x0 = model.sample(1, gen(15))
    log_p = float(model.log_marginal(x0))
    got = est.naive_monte_carlo(repeat_point(x0, 3000), model, 10, generator=gen(16))
    mean_r, se_r = _ratio_stats(got, log_p)
    assert se_r < 0.05
    assert abs(mean_r - 1.0) < 5 * se_r


def test_importance_sampling_on_nonlinear_model_matches_quadrature():
    model = NonlinearLVM(1, 3, sigma=0.2, generator=gen(17), dtype=F64)
    _, x = model.sample(4, gen(18))
    exact = model.log_marginal(x, resolution=4001).detach()
    # proposal: a Gaussian matched to the grid posterior's mean and variance, 1.3x wider
    gp = model.grid_posterior(x, resolution=4001)
    w = torch.exp(gp.log_posterior.detach()) * gp.cell_volume  # [B, R]
    z = gp.axes[0]
    mean = (w * z).sum(-1, keepdim=True)
    std = ((w * (z - mean) ** 2).sum(-1, keepdim=True)).sqrt()
    q = gaussian(mean, 1.3 * std)
    with torch.no_grad():
        log_w = est.log_weights(x, model, q, 20000, generator=gen(19))
    got = est.log_mean_exp(log_w, 0)
    # delta method: sd(log p-hat) ~ sd(w) / (sqrt(K) mean(w))
    w_n = torch.exp(log_w - log_w.max(0).values)
    se = w_n.std(0) / (math.sqrt(log_w.shape[0]) * w_n.mean(0))
    assert bool((se < 0.01).all())
    assert bool(((got - exact).abs() < 5 * se + 1e-6).all())


# ----------------------------------------------------------------------------------------
# the ELBO and its gap, the IWAE bound
# ----------------------------------------------------------------------------------------


def test_elbo_gap_is_kl_to_posterior():
    model = linear_model(sigma=0.5, seed=3)
    _, x = model.sample(3, gen(20))
    post = model.posterior(x)
    q = MultivariateNormal(post.loc + torch.tensor([0.4, -0.2], dtype=F64),
                           covariance_matrix=torch.tensor([[0.5, 0.1], [0.1, 0.3]], dtype=F64).expand(3, 2, 2))
    k = 200000
    log_w = est.log_weights(x, model, q, k, generator=gen(21))  # [K, B]
    elbo = log_w.mean(0)
    torch.testing.assert_close(est.elbo(x, model, q, k, generator=gen(21)), elbo)
    se = log_w.std(0) / math.sqrt(k)
    gap = model.log_marginal(x) - elbo
    kl = kl_divergence(q, post)
    assert bool((kl > 0.1).all()), "q should be visibly off the posterior"
    assert bool((se < 0.01).all())
    assert bool(((gap - kl).abs() < 5 * se).all())


def test_iwae_with_one_sample_is_the_elbo():
    model = linear_model()
    _, x = model.sample(5, gen(22))
    q = gaussian(torch.zeros(5, 2, dtype=F64), torch.ones(5, 2, dtype=F64))
    torch.testing.assert_close(est.iwae_bound(x, model, q, 1, generator=gen(23)),
                               est.elbo(x, model, q, 1, generator=gen(23)), rtol=0, atol=0)


def test_iwae_bound_rises_with_k_and_stays_below_log_p():
    model = linear_model(sigma=0.4, seed=4)
    _, x0 = model.sample(1, gen(24))
    log_p = float(model.log_marginal(x0))
    post = model.posterior(x0)
    q = MultivariateNormal(post.loc - 0.3, covariance_matrix=3.0 * post.covariance_matrix)
    reps = 3000
    x = repeat_point(x0, reps)
    means, ses = [], []
    for i, k in enumerate([1, 5, 50]):
        b = est.iwae_bound(x, model, q, k, generator=gen(25 + i))
        means.append(float(b.mean()))
        ses.append(float(b.std() / math.sqrt(reps)))
    for (m0, s0), (m1, s1) in zip(zip(means, ses), zip(means[1:], ses[1:])):
        assert m1 - m0 > 4 * math.hypot(s0, s1)
    assert log_p - means[-1] > 4 * ses[-1]
    assert log_p - means[-1] < 0.2


# ----------------------------------------------------------------------------------------
# log space: p(x) around exp(-2000)
# ----------------------------------------------------------------------------------------


def test_log_space_when_p_of_x_underflows():
    model = linear_model(dx=40, dz=2, sigma=0.05, seed=5)
    _, x = model.sample(3, gen(26))
    x = x + 0.9  # far from the data manifold: tiny p(x)
    exact = model.log_marginal(x)
    assert bool((exact < -1500).all()) and bool((exact > -1e5).all())
    assert float(torch.exp(exact).max()) == 0.0, "exp-then-average would give log(0) = -inf here"
    post = model.posterior(x)
    got = est.importance_sampling(x, model, post, 100, generator=gen(27))
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-8)
    wider = MultivariateNormal(post.loc, covariance_matrix=1.2 * post.covariance_matrix)
    for fn in (est.importance_sampling, est.iwae_bound, est.elbo):
        v = fn(x, model, wider, 1000, generator=gen(28))
        assert bool(torch.isfinite(v).all())
        assert bool(((v - exact).abs() < 0.5).all())
    ess = est.effective_sample_size(est.log_weights(x, model, wider, 1000, generator=gen(29)))
    assert bool(((ess > 500) & (ess <= 1000)).all())


def test_effective_sample_size_bounds_and_shift_invariance():
    log_w = torch.randn(50, 4, generator=gen(30), dtype=F64)
    ess = est.effective_sample_size(log_w)
    assert ess.shape == (4,)
    assert bool(((ess >= 1) & (ess <= 50)).all())
    torch.testing.assert_close(est.effective_sample_size(log_w - 2000.0), ess)
    w = torch.exp(log_w)
    torch.testing.assert_close(ess, w.sum(0) ** 2 / (w**2).sum(0))
    one_heavy = torch.full((10, 1), -1000.0, dtype=F64)
    one_heavy[3] = 0.0
    torch.testing.assert_close(est.effective_sample_size(one_heavy), torch.ones(1, dtype=F64))
    with pytest.raises(ValueError):
        est.effective_sample_size(torch.zeros(5))


# ----------------------------------------------------------------------------------------
# chunking, randomness, shapes
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 7, 64, None, 1000])
def test_chunks_score_their_samples_exactly(chunk):
    """Chunked: each sample's weight is exactly what scoring all samples at once gives."""
    model = NonlinearLVM(2, 3, generator=gen(31), dtype=F64)
    _, x = model.sample(5, gen(32))
    q = gaussian(torch.zeros(5, 2, dtype=F64), 0.7 * torch.ones(5, 2, dtype=F64))
    with torch.no_grad():
        log_w, z = est.log_weights(x, model, q, 120, generator=gen(33), chunk_size=chunk, return_samples=True)
        assert log_w.shape == (120, 5) and z.shape == (120, 5, 2)
        whole = model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)  # [K, B]
        torch.testing.assert_close(log_w, whole, rtol=0, atol=1e-10)
        again = est.log_weights(x, model, q, 120, generator=gen(33), chunk_size=chunk)
        torch.testing.assert_close(again, log_w, rtol=0, atol=0)  # reproducible for a given chunk size
        for fn in (est.importance_sampling, est.iwae_bound, est.elbo):
            torch.testing.assert_close(fn(x, model, q, 120, generator=gen(34), chunk_size=chunk),
                                       fn(x, model, q, 120, generator=gen(34), chunk_size=chunk), rtol=0, atol=0)


class _RecordingNormal(Normal):
    """A Normal that records every sample shape asked of it (a subclass: the generic path)."""

    asked: list = []

    def rsample(self, sample_shape=torch.Size()):
        _RecordingNormal.asked.append(tuple(sample_shape))
        return super().rsample(sample_shape)


@pytest.mark.parametrize("with_generator", [True, False])
def test_samples_are_drawn_chunk_by_chunk(monkeypatch, with_generator):
    """Memory bounded by the chunk: never all K samples (nor their noise) at once."""
    model = NonlinearLVM(2, 3, generator=gen(36), dtype=F64)
    _, x = model.sample(4, gen(37))
    shapes = []
    from lvmlib.inference import estimators as est_module

    real_noise = est_module.noise
    monkeypatch.setattr(est_module, "noise", lambda kind, shape, g=None, **kw: shapes.append(tuple(shape)) or real_noise(kind, shape, g, **kw))
    real_randn = torch.randn
    monkeypatch.setattr(torch, "randn", lambda *a, **k: shapes.append(tuple(a[0])) or real_randn(*a, **k))
    g = gen(38) if with_generator else None
    q = gaussian(torch.zeros(4, 2, dtype=F64), torch.ones(4, 2, dtype=F64))
    est.importance_sampling(x, model, q, 1000, generator=g, chunk_size=10)
    assert shapes and max(s[0] for s in shapes) == 10, shapes[:3]
    _RecordingNormal.asked = []
    q2 = Independent(_RecordingNormal(torch.zeros(4, 2, dtype=F64), torch.ones(4, 2, dtype=F64)), 1)
    monkeypatch.setattr(torch, "randn", real_randn)
    est.importance_sampling(x, model, q2, 1000, chunk_size=10)
    assert _RecordingNormal.asked and max(s[0] for s in _RecordingNormal.asked) == 10


@pytest.mark.parametrize("dtype,scale", [(torch.float32, 1e-25), (torch.float64, 1e-170)])
def test_a_very_narrow_proposal_gives_finite_weights(dtype, scale):
    """torch's Normal.log_prob squares the scale (underflow -> NaN); the estimators stay finite."""
    model = linear_model()
    model = LinearGaussian(model.W.to(dtype), model.b.to(dtype), float(model.sigma))
    x = torch.tensor([[0.3, -0.2, 0.1]], dtype=dtype)
    q = gaussian(torch.zeros(1, 2, dtype=dtype), torch.full((1, 2), scale, dtype=dtype))
    assert torch.isnan(q.log_prob(q.mean)).all()  # what torch alone gives
    for fn in (est.importance_sampling, est.iwae_bound, est.elbo):
        out = fn(x, model, q, 8, generator=gen(39))
        assert torch.isfinite(out).all(), fn.__name__
    # exact: every z equals loc = 0, so log w = log p(x, 0) - log q(0) for a point mass of that width
    log_w = est.log_weights(x, model, q, 3, generator=gen(40))
    want = (model.prior().log_prob(torch.zeros(1, 2, dtype=dtype)) + model.likelihood(torch.zeros(1, 2, dtype=dtype)).log_prob(x)
            + 2 * math.log(scale) + math.log(2 * math.pi))  # - log q(loc) = 2 log s + log 2 pi (+ eps^2/2 terms)
    assert (log_w >= want.to(dtype) - 1e-3).all() and (log_w <= want.to(dtype) + 40).all()


def test_a_nan_proposal_raises_a_clear_error():
    model = linear_model()
    x = torch.tensor([[0.3, -0.2, 0.1]], dtype=F64)
    q = gaussian(torch.zeros(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64))
    q.base_dist.scale[0, 0] = float("nan")
    with pytest.raises(ValueError, match="proposal"):
        est.importance_sampling(x, model, q, 4, generator=gen(41))


def test_empty_batches_give_empty_results():
    model = linear_model()
    x = torch.zeros(0, 3, dtype=F64)
    for chunk in (None, 3):
        assert est.log_weights(x, model, model.prior(), 5, chunk_size=chunk).shape == (5, 0)
        for fn in (est.importance_sampling, est.iwae_bound):
            assert fn(x, model, model.prior(), 5, chunk_size=chunk).shape == (0,)
        assert est.naive_monte_carlo(x, model, 5, chunk_size=chunk).shape == (0,)
        assert est.elbo(x, model, model.prior(), 5, chunk_size=chunk).shape == (0,)


def test_generator_reproducible_and_global_rng_untouched():
    model = linear_model()
    _, x = model.sample(4, gen(35))
    q = model.prior()
    state = torch.get_rng_state()
    a = est.naive_monte_carlo(x, model, 50, generator=gen(36))
    b = est.naive_monte_carlo(x, model, 50, generator=gen(36))
    c = est.naive_monte_carlo(x, model, 50, generator=gen(37))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)
    est.importance_sampling(x, model, q, 50)  # generator=None uses torch's global generator
    assert not torch.equal(torch.get_rng_state(), state)


def test_log_weights_shapes_and_samples():
    model = linear_model()
    _, x = model.sample(4, gen(38))
    log_w, z = est.log_weights(x, model, model.prior(), 6, generator=gen(39), return_samples=True)
    assert log_w.shape == (6, 4) and z.shape == (6, 4, 2)
    # a proposal with batch shape [1] is broadcast over the batch
    q1 = gaussian(torch.zeros(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64))
    assert est.log_weights(x, model, q1, 6, generator=gen(39)).shape == (6, 4)
    mog = mixture()
    _, xm = mog.sample(4, gen(40))
    log_w, z = est.log_weights(xm, mog, mog.prior(), 6, generator=gen(41), return_samples=True)
    assert log_w.shape == (6, 4) and z.shape == (6, 4) and z.dtype == torch.long


def test_dtype_and_device_follow_inputs():
    model = linear_model().to(torch.float32)
    assert model.W.dtype == torch.float32
    _, x = model.sample(3, gen(42))
    assert x.dtype == torch.float32
    out = est.importance_sampling(x, model, model.posterior(x), 10, generator=gen(43))
    assert out.dtype == torch.float32 and out.device == x.device
    torch.testing.assert_close(out, model.log_marginal(x), rtol=0, atol=1e-4)


def test_numpy_integer_num_samples():
    model = linear_model()
    _, x = model.sample(2, gen(44))
    assert est.elbo(x, model, model.prior(), np.int64(3), generator=gen(45)).shape == (2,)


# ----------------------------------------------------------------------------------------
# gradients (reparameterization)
# ----------------------------------------------------------------------------------------


def test_elbo_gradient_matches_analytic_gradient():
    """E[grad ELBO-hat] = grad (log p(x) - KL(q || posterior)): the reparameterization
    gradient is unbiased, and it would be zero w.r.t. q's location if samples were detached."""
    model = linear_model(sigma=0.5, seed=6)
    _, x = model.sample(2, gen(46))
    post = model.posterior(x)
    loc = (post.loc + 0.5).detach().requires_grad_(True)
    log_scale = torch.full((2, 2), math.log(0.4), dtype=F64, requires_grad=True)
    k = 100000
    est.elbo(x, model, gaussian(loc, log_scale.exp()), k, generator=gen(47)).sum().backward()
    g_mc_loc, g_mc_scale = loc.grad.clone(), log_scale.grad.clone()
    loc.grad = None
    log_scale.grad = None
    analytic = model.log_marginal(x) - kl_divergence(
        MultivariateNormal(loc, scale_tril=torch.diag_embed(log_scale.exp())), post)
    analytic.sum().backward()
    # per-sample gradients are linear in eps with slope ~ |Sigma_post^-1| * scale: a generous SE bound
    prec = torch.linalg.inv(post.covariance_matrix[0])
    se = float(prec.abs().max()) * 0.4 * 2 / math.sqrt(k)
    assert float(loc.grad.abs().max()) > 100 * se, "the test needs a non-trivial gradient"
    torch.testing.assert_close(g_mc_loc, loc.grad, rtol=0, atol=5 * se)
    torch.testing.assert_close(g_mc_scale, log_scale.grad, rtol=0, atol=5 * se)


def test_gradients_flow_through_elbo_and_iwae_to_model_and_encoder():
    model = NonlinearLVM(2, 4, generator=gen(48), dtype=F64).requires_grad_(True)
    _, x = model.sample(6, gen(49))
    encoder = torch.nn.Linear(4, 4, dtype=F64)

    def q_of_x(xb):
        out = encoder(xb)
        return gaussian(out[:, :2], torch.nn.functional.softplus(out[:, 2:]) + 1e-3)

    for fn, k in ((est.elbo, 1), (est.elbo, 4), (est.iwae_bound, 8), (est.importance_sampling, 8)):
        model.zero_grad()
        encoder.zero_grad()
        fn(x, model, q_of_x, k, generator=gen(50), chunk_size=3).mean().backward()
        for p in list(model.parameters()) + list(encoder.parameters()):
            assert p.grad is not None and bool(torch.isfinite(p.grad).all())
            assert float(p.grad.abs().sum()) > 0


def test_gradients_flow_to_mixture_parameters():
    weights = torch.tensor([0.6, 0.4], dtype=F64)
    means = torch.tensor([[0.0, 0.0], [2.0, 2.0]], dtype=F64, requires_grad=True)
    model = MixtureOfGaussians(weights, means, torch.eye(2, dtype=F64).expand(2, 2, 2))
    x = torch.tensor([[0.1, 0.2], [1.9, 2.2]], dtype=F64)
    est.elbo(x, model, model.prior(), 20, generator=gen(51)).sum().backward()
    assert means.grad is not None and float(means.grad.abs().sum()) > 0


# ----------------------------------------------------------------------------------------
# the sampler with an explicit generator
# ----------------------------------------------------------------------------------------


def test_sample_families_with_generator():
    g = gen(52)
    n = 200000
    loc = torch.tensor([1.0, -2.0], dtype=F64)
    cases = [
        (Normal(loc, torch.tensor([0.5, 2.0], dtype=F64)), loc, torch.tensor([0.25, 4.0], dtype=F64)),
        (MultivariateNormal(loc, covariance_matrix=torch.tensor([[1.0, 0.5], [0.5, 2.0]], dtype=F64)),
         loc, torch.tensor([1.0, 2.0], dtype=F64)),
        (Uniform(torch.tensor([0.0, -1.0], dtype=F64), torch.tensor([1.0, 3.0], dtype=F64)),
         torch.tensor([0.5, 1.0], dtype=F64), torch.tensor([1 / 12, 16 / 12], dtype=F64)),
        (Bernoulli(probs=torch.tensor([0.2, 0.7], dtype=F64)), torch.tensor([0.2, 0.7], dtype=F64),
         torch.tensor([0.16, 0.21], dtype=F64)),
    ]
    for dist, mean, var in cases:
        s = distributions.sample(dist, (n,), g)
        assert s.shape == (n, 2)
        se = (var / n).sqrt()
        assert bool(((s.mean(0) - mean).abs() < 5 * se).all()), type(dist).__name__
        assert bool(((s.var(0) - var).abs() < 0.02 * var + 1e-3).all()), type(dist).__name__
    if True:  # the covariance of the MVN sampler
        mvn = cases[1][0]
        s = distributions.sample(mvn, (n,), g)
        torch.testing.assert_close(torch.cov(s.T), mvn.covariance_matrix, rtol=0, atol=0.03)
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], dtype=F64)
    s = distributions.sample(Categorical(probs=probs), (n,), g)
    assert s.shape == (n, 2) and s.dtype == torch.long
    freq = torch.stack([torch.bincount(s[:, i], minlength=3) for i in range(2)]).to(F64) / n
    se = (probs * (1 - probs) / n).sqrt()
    assert bool(((freq - probs).abs() < 5 * se).all())
    # Independent reinterprets batch dims; the samples are the base's
    ind = Independent(Normal(torch.zeros(4, 3, dtype=F64), torch.ones(4, 3, dtype=F64)), 1)
    assert distributions.sample(ind, (5,), gen(0)).shape == (5, 4, 3)
    assert torch.equal(distributions.sample(ind, (5,), gen(0)), distributions.sample(ind.base_dist, (5,), gen(0)))


def test_sample_is_reparameterized():
    loc = torch.zeros(3, dtype=F64, requires_grad=True)
    scale = torch.ones(3, dtype=F64, requires_grad=True)
    distributions.sample(gaussian(loc, scale), (10,), gen(53)).sum().backward()
    torch.testing.assert_close(loc.grad, torch.full((3,), 10.0, dtype=F64))
    assert scale.grad is not None


# ----------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    model = linear_model()
    _, x = model.sample(4, gen(54))
    prior = model.prior()
    with pytest.raises(ValueError, match="data_dim"):
        est.importance_sampling(x[:, :2], model, prior, 5)
    with pytest.raises(ValueError, match="event shape"):
        est.importance_sampling(x, model, gaussian(torch.zeros(3, dtype=F64), torch.ones(3, dtype=F64)), 5)
    with pytest.raises(ValueError, match="event shape"):
        est.elbo(x, model, Normal(torch.zeros(4, dtype=F64), 1.0), 5)
    with pytest.raises(ValueError, match="batch shape"):
        est.elbo(x, model, gaussian(torch.zeros(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64)), 5)
    with pytest.raises(ValueError, match="num_samples"):
        est.iwae_bound(x, model, prior, 0)
    with pytest.raises(TypeError, match="num_samples"):
        est.iwae_bound(x, model, prior, 2.5)
    with pytest.raises(ValueError, match="NaN"):
        est.naive_monte_carlo(torch.full_like(x, float("nan")), model, 5)
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        est.naive_monte_carlo(x[0], model, 5)
    with pytest.raises(ValueError, match="chunk_size"):
        est.naive_monte_carlo(x, model, 5, chunk_size=0)
    with pytest.raises(TypeError, match="proposal"):
        est.elbo(x, model, "prior", 5)
    with pytest.raises(ValueError):
        distributions.uniform_box(1.0, -1.0, dim=2)


# ----------------------------------------------------------------------------------------
# CUDA
# ----------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_estimators_on_cuda():
    model = linear_model().to("cuda")
    _, x = model.sample(5, torch.Generator(device="cuda").manual_seed(0))
    assert x.is_cuda
    exact = model.log_marginal(x)
    for g in (gen(55), torch.Generator(device="cuda").manual_seed(1), None):
        out = est.importance_sampling(x, model, model.posterior(x), 50, generator=g, chunk_size=7)
        assert out.is_cuda
        torch.testing.assert_close(out, exact, rtol=0, atol=1e-8)
    mog = mixture().to("cuda")
    _, xm = mog.sample(5, gen(56))
    out = est.naive_monte_carlo(xm, mog, 100, generator=gen(57))
    assert out.is_cuda and bool(torch.isfinite(out).all())


def test_check_false_skips_only_the_nan_scan():
    model = LinearGaussian(torch.eye(2, dtype=torch.float64), sigma=0.5)
    x = torch.tensor([[float("nan"), 0.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="NaN"):
        est.elbo(x, model, model.prior(), 3)
    with pytest.raises(ValueError) as err:  # torch's own argument validation still catches it here
        est.elbo(x, model, model.prior(), 3, check=False)
    assert "x contains NaN" not in str(err.value)
    with pytest.raises(ValueError, match="features"):
        est.elbo(torch.zeros(1, 3, dtype=torch.float64), model, model.prior(), 3, check=False)


# ------------------------------------------------------------------------------------------
# reliability (issue 24): the box's edge, entry checks
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_generator", [True, False])
def test_a_float32_box_counts_the_samples_on_its_upper_edge(with_generator):
    """100 + u * 1 rounds to 101 in float32 for u within 4e-6 of 1: such a draw must have a density."""
    q = distributions.uniform_box(100.0, 101.0, dim=1)
    if with_generator:
        z = distributions.sample(q, (2_000_000,), gen(0))
    else:
        z = q.rsample((2_000_000,))
    assert bool((z == 101.0).any()), "the test needs a draw on the edge"
    assert bool(((z >= 100.0) & (z <= 101.0)).all())
    log_q = q.log_prob(z)
    assert torch.isfinite(log_q).all() and torch.allclose(log_q, torch.zeros(())), "density 1 on [100, 101]"
    with pytest.raises(ValueError, match="support"):  # outside the box: torch's own check, as before
        q.log_prob(torch.tensor([[101.01], [99.99]]))


def test_naive_monte_carlo_with_a_float32_box_is_never_plus_inf():
    model = LinearGaussian(torch.ones(1, 1), torch.full((1,), 100.5), 1.0)
    x = torch.full((1, 1), 201.0)
    box = distributions.uniform_box(100.0, 101.0, dim=1)
    for seed in range(5):
        value = est.naive_monte_carlo(x, model, 200_000, proposal=box, generator=gen(seed))
        assert torch.isfinite(value).all(), seed


def test_a_proposal_of_another_dtype_than_the_model_is_a_clear_error():
    model = linear_model().to(torch.float32)
    x = torch.zeros(2, 3)
    q64 = Independent(Normal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)), 1)
    for fn in (est.importance_sampling, est.elbo, est.iwae_bound, est.log_weights):
        with pytest.raises(ValueError, match=r"float64.*float32.*dtype"):
            fn(x, model, q64, 4, generator=gen())
    with pytest.raises(ValueError, match=r"float64.*float32"):
        est.naive_monte_carlo(x, model, 4, proposal=distributions.uniform_box(-1.0, 1.0, dim=2, dtype=F64))


@pytest.mark.parametrize("bad", [0, "cuda", np.random.default_rng(0)])
def test_a_generator_that_is_not_one_is_a_type_error(bad):
    model = linear_model()
    x = torch.zeros(2, 3, dtype=F64)
    q = Independent(Normal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)), 1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        est.importance_sampling(x, model, q, 4, generator=bad)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        est.naive_monte_carlo(x, model, 4, generator=bad)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        distributions.sample(Categorical(logits=torch.zeros(3)), (5,), bad)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        est.log_weights(torch.zeros(2, 2, dtype=F64), MixtureOfGaussians(torch.full((2,), 0.5, dtype=F64), torch.zeros(2, 2, dtype=F64), torch.ones(2, 2, dtype=F64), "diag"), Categorical(logits=torch.zeros(2, dtype=F64)), 3, generator=bad)


def test_effective_sample_size_of_no_samples_is_an_error():
    with pytest.raises(ValueError, match="at least one sample"):
        est.effective_sample_size(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="at least one sample"):
        est.effective_sample_size(torch.zeros(2, 0, 3), dim=1)
    assert est.effective_sample_size(torch.zeros(4, 0)).shape == (0,)  # no points is fine
