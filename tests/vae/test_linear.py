"""lvmlib.vae.linear: the pPCA ML solution against the eigendecomposition, scikit-learn and LinearGaussian;
the linear VAE's exact ELBO against Monte Carlo and torch's KL; training reaches the ML answer."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from lvmlib import inference as est
from lvmlib.models import LinearGaussian
from lvmlib.vae import LinearVAE, column_coherence, ppca_ml, principal_angles, train_linear_vae
from lvmlib.data import ppca_data

F64 = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def data():
    x, W = ppca_data(400, 8, (2.0, 1.2), 0.4, generator=gen(0))
    return x, W


def test_ppca_ml_against_sklearn(data):
    from sklearn.decomposition import PCA

    x, _ = data
    ml = ppca_ml(x, 2)
    pca = PCA(2).fit(x.numpy())
    n = x.shape[0]
    np.testing.assert_allclose(ml.eigenvalues[:2].numpy(), pca.explained_variance_ * (n - 1) / n, rtol=1e-10)
    assert math.isclose(float(ml.sigma) ** 2, pca.noise_variance_ * (n - 1) / n, rel_tol=1e-10)
    # same subspace as sklearn's components
    assert float(principal_angles(ml.W, torch.as_tensor(pca.components_.T)).max()) < 1e-6


def test_ppca_ml_is_a_maximum_of_the_exact_likelihood(data):
    x, _ = data
    ml = ppca_ml(x, 2)
    best = float(ml.model().log_marginal(x).mean())
    g = gen(5)
    for _ in range(5):  # perturbations of W, sigma and rotations: never better; a rotation: the same
        W = ml.W + 0.05 * torch.randn(ml.W.shape, generator=g, dtype=F64)
        assert float(LinearGaussian(W, ml.b, ml.sigma).log_marginal(x).mean()) < best
        assert float(LinearGaussian(ml.W, ml.b, ml.sigma * 1.05).log_marginal(x).mean()) < best
        R, _ = torch.linalg.qr(torch.randn(2, 2, generator=g, dtype=F64))
        assert math.isclose(float(LinearGaussian(ml.W @ R, ml.b, ml.sigma).log_marginal(x).mean()), best, abs_tol=1e-10)


def test_fixed_sigma_zeroes_small_directions(data):
    x, _ = data
    ml = ppca_ml(x, 3, sigma=math.sqrt(float(ppca_ml(x, 3).eigenvalues[1]) + 0.01))
    norms = ml.W.norm(dim=0)
    assert norms[0] > 0 and norms[1] == 0 and norms[2] == 0


@pytest.mark.parametrize("q", ["full", "diag"])
def test_exact_elbo_matches_monte_carlo_and_torch_kl(data, q):
    x, _ = data
    m = LinearVAE(8, 2, q, generator=gen(1))
    with torch.no_grad():
        m.log_s.copy_(torch.tensor([-0.3, 0.2], dtype=F64))
        if q == "full":
            m.L_off.copy_(torch.tensor([[0.0, 0.0], [0.4, 0.0]], dtype=F64))
        m.log_sigma.fill_(math.log(0.7))
        xb = x[:5]
        rec, kl = m.elbo_terms(xb)
        qd = m.encoder(xb)
        prior = MultivariateNormal(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64)) if q == "full" else m.prior()
        torch.testing.assert_close(kl, kl_divergence(qd, prior))
        mc = est.elbo(xb, m, qd, 200_000, generator=gen(2))
        torch.testing.assert_close(rec - kl, mc, atol=0.03, rtol=0)


def test_training_reaches_the_ml_solution(data):
    x, _ = data
    ml = ppca_ml(x, 2)
    target = float(ml.model().log_marginal(x).mean())
    for q in ("full", "diag"):
        m = LinearVAE(8, 2, q, generator=gen(3))
        h = train_linear_vae(m, x, 600, 0.05, record_every=100)
        assert abs(float(h.log_p[-1]) - target) < 0.01
        assert float(principal_angles(m.W.detach(), ml.W).max()) < math.radians(1)
        assert bool((h.elbo <= h.log_p + 1e-9).all())
        if q == "diag":
            assert column_coherence(m.W.detach()) < 0.05
        else:
            assert float(h.log_p[-1] - h.elbo[-1]) < 0.01
    assert h.W.shape == (len(h.steps), 8, 2) and h.kl_per_dim.shape == (len(h.steps), 2)


def test_principal_angles_known_case():
    A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=F64)
    t = 0.3
    B = torch.tensor([[1.0, 0.0], [0.0, math.cos(t)], [0.0, math.sin(t)]], dtype=F64)
    torch.testing.assert_close(principal_angles(A, B), torch.tensor([0.0, t], dtype=F64), atol=1e-7, rtol=0)


def test_bad_input(data):
    x, _ = data
    with pytest.raises(ValueError, match="latent_dim"):
        ppca_ml(x, 8)
    with pytest.raises(ValueError, match="sigma"):
        ppca_ml(x, 2, sigma=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        ppca_ml(torch.full((3, 4), float("nan"), dtype=F64), 1)
    with pytest.raises(ValueError, match="q must be"):
        LinearVAE(8, 2, "lowrank")
    with pytest.raises(ValueError, match="shape"):
        LinearVAE(8, 2).elbo(x[:, :3])
    with pytest.raises(ValueError, match="lr"):
        train_linear_vae(LinearVAE(8, 2), x, 10, lr=0.0)
    with pytest.raises(ValueError, match="same D"):
        principal_angles(torch.ones(3, 1), torch.ones(4, 1))
