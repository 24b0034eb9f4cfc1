"""Tests of lvmlib.models against closed forms and brute force, in float64."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from lvmlib.models import BinaryLatentModel, GridPosterior, LinearGaussian, MixtureOfGaussians, NonlinearLVM, binary_configurations, grid_log_marginal
from lvmlib.models import best_gaussian, binomial_mixture, grid_kl, grid_posterior, weight_moments

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_linear(dx, dz, sigma, seed=0) -> LinearGaussian:
    g = gen(seed)
    return LinearGaussian(torch.randn(dx, dz, generator=g, dtype=F64), torch.randn(dx, generator=g, dtype=F64), sigma)


# ----------------------------------------------------------------------------------------
# LinearGaussian
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dx,dz,sigma", [(3, 2, 0.5), (5, 1, 1.3), (2, 2, 0.05)])
def test_linear_gaussian_log_marginal_matches_scipy(dx, dz, sigma):
    model = random_linear(dx, dz, sigma, seed=dx)
    _, x = model.sample(7, gen(1))
    W, b = model.W.numpy(), model.b.numpy()
    ref = stats.multivariate_normal(mean=b, cov=W @ W.T + sigma**2 * np.eye(dx)).logpdf(x.numpy())
    np.testing.assert_allclose(model.log_marginal(x).numpy(), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dx,dz,sigma", [(3, 2, 0.5), (6, 3, 0.8), (4, 1, 0.1)])
def test_linear_gaussian_posterior_matches_textbook_formula(dx, dz, sigma):
    model = random_linear(dx, dz, sigma, seed=10 + dx)
    _, x = model.sample(5, gen(2))
    post = model.posterior(x)
    assert post.batch_shape == (5,) and post.event_shape == (dz,)
    # Bishop (2006), eq. 2.116-2.117: Sigma = (I + W^T W / s^2)^-1, mu = Sigma W^T (x - b) / s^2
    W, b = model.W.numpy(), model.b.numpy()
    cov = np.linalg.inv(np.eye(dz) + W.T @ W / sigma**2)
    mean = (x.numpy() - b) @ W @ cov.T / sigma**2
    np.testing.assert_allclose(post.loc.numpy(), mean, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(post.covariance_matrix.numpy(), np.broadcast_to(cov, (5, dz, dz)), rtol=1e-9, atol=1e-12)


def test_linear_gaussian_bayes_rule_holds():
    """log p(z | x) = log p(z) + log p(x | z) - log p(x) at arbitrary z."""
    model = random_linear(4, 2, 0.7, seed=3)
    _, x = model.sample(6, gen(3))
    z = torch.randn(6, 2, generator=gen(4), dtype=F64)
    lhs = model.posterior(x).log_prob(z)
    rhs = model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - model.log_marginal(x)
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-10)


def test_linear_gaussian_sampling_matches_marginal_moments():
    model = random_linear(3, 2, 0.5, seed=5)
    z, x = model.sample(100000, gen(6))
    assert z.shape == (100000, 2) and x.shape == (100000, 3)
    cov = model.marginal().covariance_matrix
    torch.testing.assert_close(x.mean(0), model.b, rtol=0, atol=5 * float(cov.diagonal().max().sqrt()) / math.sqrt(1e5))
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0.03, atol=0.03)


def test_sample_reproducible_with_generator():
    model = random_linear(3, 2, 0.5)
    a, b = model.sample(10, gen(7)), model.sample(10, gen(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    state = torch.get_rng_state()
    model.sample(10, gen(8))
    assert torch.equal(torch.get_rng_state(), state)


def test_linear_gaussian_to_dtype_and_errors():
    model = random_linear(3, 2, 0.5).to(torch.float32)
    assert model.W.dtype == model.sigma.dtype == torch.float32
    _, x = model.sample(2, gen(9))
    assert model.log_marginal(x).dtype == torch.float32
    with pytest.raises(ValueError, match="data_dim"):
        model.log_marginal(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\[B, 3\]"):
        model.log_marginal(torch.zeros(3))
    with pytest.raises(ValueError):
        LinearGaussian(torch.ones(3), sigma=1.0)
    with pytest.raises(ValueError):
        LinearGaussian(torch.ones(3, 2), sigma=-1.0)
    with pytest.raises(ValueError):
        LinearGaussian(torch.ones(3, 2), b=torch.zeros(2))
    with pytest.raises(ValueError):
        model.sample(0)


# ----------------------------------------------------------------------------------------
# MixtureOfGaussians
# ----------------------------------------------------------------------------------------


def blobs(seed=0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return np.concatenate([rng.randn(80, 3), rng.randn(60, 3) * 0.5 + 3.0, rng.randn(60, 3) @ rng.randn(3, 3) - 2.0])


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_mixture_matches_sklearn(covariance_type):
    X = blobs()
    gm = SkGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    model = MixtureOfGaussians.from_gmm(gm)
    assert model.means.dtype == F64 and model.n_components == 3 and model.data_dim == 3
    x = torch.from_numpy(X)
    np.testing.assert_allclose(model.log_marginal(x).numpy(), gm.score_samples(X), rtol=1e-10, atol=1e-10)
    post = model.posterior(x)
    assert post.batch_shape == (200,)
    np.testing.assert_allclose(post.probs.numpy(), gm.predict_proba(X), rtol=1e-8, atol=1e-10)
    full = {"full": lambda c: c, "diag": lambda c: np.stack([np.diag(v) for v in c]),
            "spherical": lambda c: np.stack([v * np.eye(3) for v in c]),
            "tied": lambda c: np.broadcast_to(c, (3, 3, 3))}[covariance_type](gm.covariances_)
    comps = model.components()
    cov = comps.covariance_matrix if covariance_type in ("full", "tied") else torch.diag_embed(comps.variance)
    np.testing.assert_allclose(cov.numpy(), full, rtol=1e-10, atol=1e-12)


def test_mixture_from_tensor_attributes():
    """lvmlib.mixtures holds its fitted attributes as tensors; from_gmm takes those too."""
    X = blobs(1)
    gm = SkGaussianMixture(2, random_state=0).fit(X)
    fitted = SimpleNamespace(weights_=torch.from_numpy(gm.weights_), means_=torch.from_numpy(gm.means_),
                             covariances_=torch.from_numpy(gm.covariances_), covariance_type="full")
    model = MixtureOfGaussians.from_gmm(fitted)
    np.testing.assert_allclose(model.log_marginal(torch.from_numpy(X)).numpy(), gm.score_samples(X), rtol=1e-10)
    model32 = MixtureOfGaussians.from_gmm(gm, dtype=torch.float32)
    assert model32.means.dtype == torch.float32
    with pytest.raises(ValueError, match="fit"):
        MixtureOfGaussians.from_gmm(SkGaussianMixture(2))


def test_mixture_from_lvmlib_gmm():
    gmm = pytest.importorskip("lvmlib.mixtures")
    X = blobs(2)
    fitted = gmm.GaussianMixture(3, random_state=0, dtype=F64).fit(torch.from_numpy(X))
    model = MixtureOfGaussians.from_gmm(fitted)
    score = fitted.score_samples(torch.from_numpy(X))
    np.testing.assert_allclose(model.log_marginal(torch.from_numpy(X)).numpy(), np.asarray(score), rtol=1e-8, atol=1e-8)


def test_mixture_is_a_latent_variable_model():
    model = MixtureOfGaussians(
        torch.tensor([0.2, 0.8], dtype=F64), torch.tensor([[0.0], [4.0]], dtype=F64),
        torch.tensor([1.0, 0.25], dtype=F64), "spherical")
    x = torch.tensor([[-0.5], [2.0], [4.1]], dtype=F64)
    # brute force: sum over z of p(z) p(x | z), with scipy's normal density
    ref = np.log(0.2 * stats.norm(0, 1).pdf(x.numpy()[:, 0]) + 0.8 * stats.norm(4, 0.5).pdf(x.numpy()[:, 0]))
    np.testing.assert_allclose(model.log_marginal(x).numpy(), ref, rtol=1e-12)
    # posterior by Bayes rule through the protocol
    z = torch.arange(2)[:, None].expand(2, 3)  # [K, B]
    log_joint = model.prior().log_prob(z) + model.likelihood(z).log_prob(x)  # [K, B]
    torch.testing.assert_close(model.posterior(x).logits.T, log_joint - torch.logsumexp(log_joint, 0))
    z, xs = model.sample(50000, gen(10))
    assert z.shape == (50000,) and xs.shape == (50000, 1)
    frac = float((z == 1).to(F64).mean())
    assert abs(frac - 0.8) < 5 * math.sqrt(0.16 / 50000)


def test_mixture_bad_inputs():
    m, c = torch.zeros(2, 2), torch.eye(2).expand(2, 2, 2)
    with pytest.raises(ValueError, match="sum to 1"):
        MixtureOfGaussians(torch.tensor([0.5, 0.6]), m, c)
    with pytest.raises(ValueError, match="weights"):
        MixtureOfGaussians(torch.tensor([1.0]), m, c)
    with pytest.raises(ValueError, match="covariance_type"):
        MixtureOfGaussians(torch.tensor([0.5, 0.5]), m, c, "banana")
    with pytest.raises(ValueError, match="shape"):
        MixtureOfGaussians(torch.tensor([0.5, 0.5]), m, torch.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        MixtureOfGaussians(torch.tensor([0.5, 0.5]), m, torch.zeros(2, 2, 2))
    model = MixtureOfGaussians(torch.tensor([0.5, 0.5]), m, c)
    with pytest.raises(ValueError, match="data_dim"):
        model.log_marginal(torch.zeros(4, 3))


# ----------------------------------------------------------------------------------------
# NonlinearLVM: quadrature
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("latent_dim,resolution", [(1, 3001), (2, 401)])
@pytest.mark.parametrize("hidden", [(), (5,)])
def test_linear_decoder_quadrature_equals_closed_form(latent_dim, resolution, hidden):
    model = NonlinearLVM(latent_dim, 3, hidden=hidden, sigma=0.3, linear=True, generator=gen(11), dtype=F64)
    lg = model.as_linear_gaussian()
    assert lg.W.shape == (3, latent_dim)
    z = torch.randn(4, latent_dim, generator=gen(12), dtype=F64)
    torch.testing.assert_close(model.likelihood(z).mean, lg.likelihood(z).mean)
    _, x = model.sample(5, gen(13))
    with torch.no_grad():
        got = model.log_marginal(x, resolution=resolution)
    torch.testing.assert_close(got, lg.log_marginal(x), rtol=0, atol=1e-8)


@pytest.mark.parametrize("latent_dim,resolutions", [(1, [50, 100, 200, 400, 800]), (2, [40, 80, 160, 320])])
def test_quadrature_converges(latent_dim, resolutions):
    model = NonlinearLVM(latent_dim, 3, sigma=0.2, generator=gen(14), dtype=F64)
    _, x = model.sample(4, gen(15))
    values = [model.log_marginal(x, resolution=r) for r in resolutions]
    errors = [float((v - values[-1]).abs().max()) for v in values[:-1]]
    assert errors[0] > 1e-6, "the coarsest grid should be visibly wrong, or the test says nothing"
    assert all(e1 < e0 for e0, e1 in zip(errors, errors[1:]))
    fine = model.log_marginal(x, resolution=2 * resolutions[-1])
    assert float((fine - values[-1]).abs().max()) < 1e-6


def test_quadrature_matches_scipy_quad_for_a_tanh_decoder():
    """An independent reference: the decoder re-written in numpy, densities from scipy."""
    for likelihood in ("gaussian", "bernoulli"):
        model = NonlinearLVM(1, 4, sigma=0.3, likelihood=likelihood, generator=gen(16), dtype=F64)
        lin1, lin2 = model.decoder[0], model.decoder[2]
        W1, b1, W2, b2 = (t.numpy() for t in (lin1.weight[:, 0], lin1.bias, lin2.weight, lin2.bias))
        _, x = model.sample(3, gen(17))
        got = model.log_marginal(x)
        for i in range(3):
            xi = x[i].numpy()

            def joint(z, xi=xi):
                f = W2 @ np.tanh(W1 * z + b1) + b2
                if likelihood == "gaussian":
                    log_lik = stats.norm(f, 0.3).logpdf(xi).sum()
                else:
                    log_lik = stats.bernoulli(1.0 / (1.0 + np.exp(-f))).logpmf(xi).sum()
                return math.exp(stats.norm.logpdf(z) + log_lik)

            ref, _ = integrate.quad(joint, -10, 10, limit=200, epsabs=0, epsrel=1e-10)
            assert abs(float(got[i]) - math.log(ref)) < 1e-7


def test_grid_posterior_is_normalized_and_matches_the_linear_posterior():
    model = NonlinearLVM(2, 3, sigma=0.4, linear=True, generator=gen(18), dtype=F64)
    _, x = model.sample(2, gen(19))
    gp = model.grid_posterior(x, resolution=201)
    assert isinstance(gp, GridPosterior)
    assert gp.log_joint.shape == gp.log_posterior.shape == (2, 201, 201)
    assert gp.grid.shape == (201 * 201, 2) and len(gp.axes) == 2
    total = torch.exp(gp.log_posterior).sum((-2, -1)) * gp.cell_volume
    torch.testing.assert_close(total, torch.ones(2, dtype=F64))
    exact = model.as_linear_gaussian().posterior(x)
    ref = exact.log_prob(gp.grid.unsqueeze(1)).T.reshape(2, 201, 201)  # [B, R, R]
    mask = ref > -20  # where the posterior has mass
    torch.testing.assert_close(gp.log_posterior[mask], ref[mask], rtol=0, atol=1e-6)
    # grid order: axis 0 of the picture is z_1, axis 1 is z_2
    torch.testing.assert_close(gp.grid.reshape(201, 201, 2)[:, 0, 0], gp.axes[0])
    gp1 = NonlinearLVM(1, 2, generator=gen(20), dtype=F64).grid_posterior(x[:, :2], resolution=101)
    assert gp1.log_posterior.shape == (2, 101)


def test_grid_log_marginal_works_on_any_protocol_model():
    lg = LinearGaussian(torch.tensor([[1.0, 0.5], [0.2, -1.0], [0.3, 0.3]], dtype=F64), sigma=0.5)
    _, x = lg.sample(3, gen(21))
    torch.testing.assert_close(grid_log_marginal(x, lg, resolution=301), lg.log_marginal(x), rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        grid_log_marginal(torch.zeros(1, 3, dtype=F64), LinearGaussian(torch.ones(3, 3, dtype=F64)))


def test_nonlinear_lvm_weights_are_seeded_and_dtyped():
    a = NonlinearLVM(2, 5, generator=gen(22))
    b = NonlinearLVM(2, 5, generator=gen(22))
    c = NonlinearLVM(2, 5, generator=gen(23))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert a.dtype == torch.float32
    assert not any(p.requires_grad for p in a.parameters()), "a fixed model: exact numbers need no graph"
    assert not a.log_marginal(torch.zeros(2, 5), resolution=50).requires_grad
    assert a.to(F64).dtype == F64
    z, x = a.sample(6, gen(24))
    assert z.shape == (6, 2) and x.shape == (6, 5) and x.dtype == F64
    bern = NonlinearLVM(1, 5, likelihood="bernoulli", generator=gen(25))
    _, xb = bern.sample(100, gen(26))
    assert set(xb.unique().tolist()) <= {0.0, 1.0}
    custom = NonlinearLVM(1, 2, decoder=torch.nn.Linear(1, 2, dtype=F64))
    assert custom.dtype == F64
    with pytest.raises(ValueError, match="latent_dim"):
        NonlinearLVM(3, 2)
    with pytest.raises(ValueError, match="likelihood"):
        NonlinearLVM(1, 2, likelihood="poisson")
    with pytest.raises(ValueError, match="linear=True"):
        a.as_linear_gaussian()


# ----------------------------------------------------------------------------------------
# binary latents: enumeration
# ----------------------------------------------------------------------------------------


def test_binary_configurations():
    c = binary_configurations(4, dtype=torch.int64)
    assert c.shape == (16, 4)
    assert len({tuple(r) for r in c.tolist()}) == 16
    torch.testing.assert_close(binary_configurations(4, 5, 9, dtype=torch.int64), c[5:9])
    assert c[5].tolist() == [1, 0, 1, 0]  # least significant bit first


@pytest.mark.parametrize("likelihood,hidden", [("gaussian", ()), ("bernoulli", (6,))])
def test_binary_latent_log_marginal_matches_brute_force(likelihood, hidden):
    n, dx = 5, 4
    model = BinaryLatentModel(n, dx, likelihood, hidden=hidden, sigma=0.7, prior_prob=0.3,
                              generator=gen(27), dtype=F64)
    _, x = model.sample(3, gen(28))
    xs = x.numpy()
    ref = np.zeros(3)
    for bits in itertools.product([0.0, 1.0], repeat=n):  # a Python loop over 2^n terms
        z = torch.tensor(bits, dtype=F64)
        log_prior = sum(math.log(0.3 if b else 0.7) for b in bits)
        f = model.decoder(z).numpy()
        if likelihood == "gaussian":
            lik = stats.norm(f, 0.7).pdf(xs).prod(-1)
        else:
            lik = stats.bernoulli(1 / (1 + np.exp(-f))).pmf(xs).prod(-1)
        ref += math.exp(log_prior) * lik
    np.testing.assert_allclose(model.log_marginal(x).numpy(), np.log(ref), rtol=1e-10)
    for chunk in (1, 3, 7):
        torch.testing.assert_close(model.log_marginal(x, chunk_size=chunk), model.log_marginal(x))
    assert model.configurations().shape == (2**n, n)


def test_binary_latent_model_errors():
    with pytest.raises(ValueError):
        BinaryLatentModel(0, 3)
    with pytest.raises(ValueError):
        BinaryLatentModel(3, 3, prior_prob=1.5)
    with pytest.raises(ValueError, match="likelihood"):
        BinaryLatentModel(3, 3, likelihood="poisson")


def test_mixture_log_joint_is_the_k_terms_of_the_marginal_and_the_posterior():
    w, mu, var = [0.2, 0.5, 0.3], [-1.0, 0.5, 2.0], [0.3, 1.0, 0.5]
    m = MixtureOfGaussians(torch.tensor(w, dtype=F64), torch.tensor(mu, dtype=F64)[:, None], torch.tensor(var, dtype=F64),
                           "spherical")
    x = torch.linspace(-4, 4, 17, dtype=F64)[:, None]
    log_joint = m.log_joint(x)  # [17, 3]
    ref = np.log(w) + stats.norm.logpdf(x.numpy(), loc=mu, scale=np.sqrt(var))  # scipy, term by term
    np.testing.assert_allclose(log_joint.numpy(), ref, rtol=1e-12)
    torch.testing.assert_close(torch.logsumexp(log_joint, -1), m.log_marginal(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(log_joint.softmax(-1), m.posterior(x).probs, rtol=0, atol=1e-12)


def test_equal_effects_collapse_to_a_binomial_mixture():
    kw = dict(effect=[1.0, -0.3, 0.4], offset=[0.5, 0.0, -1.0], sigma=0.6, prior_prob=0.2)
    model = BinaryLatentModel.equal_effect(7, **kw)
    closed = binomial_mixture(7, **kw)
    assert closed.n_components == 8 and model.dtype == F64
    _, x = model.sample(5, generator=gen(1))
    torch.testing.assert_close(model.log_marginal(x), closed.log_marginal(x), rtol=0, atol=1e-12)  # 2^7 terms vs 8
    z = model.configurations()
    torch.testing.assert_close(model.likelihood(z).mean,
                               torch.tensor(kw["offset"], dtype=F64) + z.sum(1, keepdim=True) * torch.tensor(kw["effect"], dtype=F64))
    np.testing.assert_allclose(closed.weights.numpy(), stats.binom.pmf(np.arange(8), 7, 0.2), rtol=1e-12)


def test_a_gaussian_binary_latent_model_is_a_mixture_of_its_configurations():
    model = BinaryLatentModel(5, 2, hidden=(4,), sigma=0.3, generator=gen(2), dtype=F64)
    mix = model.as_mixture()
    assert mix.n_components == 32
    _, x = model.sample(4, generator=gen(3))
    with torch.no_grad():
        torch.testing.assert_close(model.log_marginal(x), mix.log_marginal(x), rtol=0, atol=1e-12)
    also = BinaryLatentModel.equal_effect(6, [0.8, -0.5], [-2.0, 1.0], sigma=0.5, prior_prob=0.3)
    _, x = also.sample(6, generator=gen(4))  # three ways to one log p(x)
    torch.testing.assert_close(also.as_mixture().log_marginal(x), binomial_mixture(6, [0.8, -0.5], [-2.0, 1.0], sigma=0.5,
                               prior_prob=0.3).log_marginal(x), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="Gaussian"):
        BinaryLatentModel(3, 2, "bernoulli", dtype=F64).as_mixture()


def test_weight_moments_match_the_gaussian_closed_form():
    w, s = 1.5, 0.3
    model = LinearGaussian(torch.tensor([[w]], dtype=F64), torch.zeros(1, dtype=F64), s)
    x = torch.tensor([[0.7]], dtype=F64)
    m1, m2 = weight_moments(x, model)
    assert m1 == pytest.approx(float(model.log_marginal(x)), abs=1e-10)
    # E_p(z)[N(x; w z, s^2)^2] = N(x; 0, w^2 + s^2 / 2) / (2 s sqrt(pi))
    ref = stats.norm.logpdf(0.7, scale=math.sqrt(w**2 + s**2 / 2)) - math.log(2 * s * math.sqrt(math.pi))
    assert m2 == pytest.approx(ref, abs=1e-6)
    # a uniform box on [-5, 5]: E[w] is still p(x) (the box covers the posterior), E[w^2] larger
    box = torch.distributions.Independent(torch.distributions.Uniform(torch.full((1,), -5.0, dtype=F64),
                                                                      torch.full((1,), 5.0, dtype=F64)), 1)
    b1, b2 = weight_moments(x, model, box, low=-5.0, high=5.0)
    assert b1 == pytest.approx(m1, abs=1e-6) and b2 > m2


def test_best_gaussian_finds_the_exact_posterior_on_its_grid():
    model = LinearGaussian(torch.tensor([[1.5]], dtype=F64), torch.zeros(1, dtype=F64), 0.5)
    x = torch.tensor([[1.2]], dtype=F64)
    post = model.posterior(x)
    mu, sd = float(post.mean[0, 0]), float(post.variance[0, 0]) ** 0.5
    gp = grid_posterior(x, model, resolution=4001)
    means, scales = [mu - 0.2, mu, mu + 0.3], [0.7 * sd, sd, 1.4 * sd]
    m, s, kl = best_gaussian(gp, means, scales)
    assert (m, s) == pytest.approx((mu, sd), rel=1e-12) and abs(kl) < 1e-8
    # every other KL is the closed form of two Gaussians, and larger
    q = torch.distributions.Normal(torch.tensor(mu + 0.3, dtype=F64), torch.tensor(0.7 * sd, dtype=F64))
    closed = torch.distributions.kl_divergence(q, torch.distributions.Normal(torch.tensor(mu, dtype=F64),
                                                                             torch.tensor(sd, dtype=F64)))
    torch.testing.assert_close(grid_kl(q, gp), closed, rtol=0, atol=1e-8)
