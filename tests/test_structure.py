"""The written rule (CONTRIBUTING.md), checked: the model protocol, where lesson math lives,
no widget module importing another, and the exact quantities against closed forms."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from lvmlib import exact
from lvmlib.models import LinearGaussian, MixtureOfGaussians, NonlinearLVM, grid_posterior
from lvmlib.protocol import ExactModel, LatentVariableModel
from lvmlib.vae import VAE

ROOT = Path(__file__).resolve().parents[1]
F64 = torch.float64


def test_the_models_satisfy_the_protocol():
    lin = LinearGaussian(torch.ones(2, 1, dtype=F64), None, 0.5)
    mix = MixtureOfGaussians(torch.tensor([0.5, 0.5]), torch.zeros(2, 1), torch.ones(2), "spherical")
    nl = NonlinearLVM(1, 2, generator=torch.Generator().manual_seed(0))
    vae = VAE(4, 2, (8,))
    for m in (lin, mix, nl, vae):
        assert isinstance(m, LatentVariableModel), type(m).__name__
    assert isinstance(lin, ExactModel) and isinstance(mix, ExactModel)
    assert not isinstance(vae, ExactModel)  # no exact log p(x) for a VAE
    assert not isinstance(object(), LatentVariableModel)  # the check can fail


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "lvmlib" / "widgets").glob("nb*.py")), ids=lambda p: p.name)
def test_no_widget_module_imports_another(path):
    others = {f"lvmlib.widgets.{p.stem}" for p in (ROOT / "lvmlib" / "widgets").glob("nb*.py")} - {
        f"lvmlib.widgets.{path.stem}"}
    assert not (_imports(path) & others), f"{path.name} imports {_imports(path) & others}"


#: the mixture modules are being split by another change (issue 15); they still share privates
MIXTURE_MODULES = {"bernoulli_mixture.py", "gmm.py", "mixture_base.py"}


def test_no_lvmlib_module_imports_a_private_name_of_another():
    for path in sorted((ROOT / "lvmlib").rglob("*.py")):
        if path.name in MIXTURE_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lvmlib"):
                if node.module.split(".")[-1] == "_util":
                    continue  # the one private utility module, meant to be shared
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"


# ----------------------------------------------------------------------------------------
# the exact quantities, against closed forms
# ----------------------------------------------------------------------------------------


def _mixture():
    w = torch.tensor([0.3, 0.7], dtype=F64)
    mu = torch.tensor([[-1.0, 0.0], [2.0, 1.0]], dtype=F64)
    cov = torch.stack([torch.eye(2, dtype=F64) * 0.5, torch.tensor([[1.0, 0.3], [0.3, 0.8]], dtype=F64)])
    x = torch.tensor([[0.0, 0.0], [1.5, 1.0], [-2.0, 0.5], [3.0, 2.0]], dtype=F64)
    return MixtureOfGaussians(w, mu, cov, "full"), w, mu, cov, x


def test_em_bound_equals_the_log_likelihood_at_the_posterior_and_is_below_elsewhere():
    model, w, mu, cov, x = _mixture()
    post = model.posterior(x).probs  # [N, K]
    exact_ll = float(model.log_marginal(x).mean())
    assert exact.em_bound(x, w, mu, cov, post) == pytest.approx(exact_ll, abs=1e-12)
    other = torch.full_like(post, 0.5)
    assert exact.em_bound(x, w, mu, cov, other) < exact_ll - 1e-3
    # the gap is the mean KL(q_n || posterior_n) (Bishop, PRML eq. 9.70)
    kl = (other * (other.log() - post.log())).sum(1).mean()
    assert exact_ll - exact.em_bound(x, w, mu, cov, other) == pytest.approx(float(kl), abs=1e-10)


def test_grid_kl_matches_the_closed_form_for_a_gaussian_posterior():
    model = LinearGaussian(torch.tensor([[1.2]], dtype=F64), None, 0.6)
    x = torch.tensor([[0.7]], dtype=F64)
    gp = grid_posterior(x, model, resolution=4001, bound=8.0)
    post = model.posterior(x)  # MultivariateNormal, event [1]
    p = Normal(post.loc[0, 0], post.covariance_matrix[0, 0, 0].sqrt())
    q = Normal(torch.tensor([0.0, 0.5], dtype=F64), torch.tensor([1.0, 0.3], dtype=F64))
    torch.testing.assert_close(exact.grid_kl(q, gp), kl_divergence(q, p), atol=1e-8, rtol=1e-6)


class _FixedEncoder:
    """A stand-in for a VAE: encoder(x) = N(mu_n, diag sigma_n^2) from fixed tables."""

    def __init__(self, mu, sd):
        self.mu, self.sd = mu, sd

    def encoder(self, x):
        return torch.distributions.Independent(Normal(self.mu, self.sd), 1)


def test_aggregate_posterior_moments_match_sampling_the_mixture():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 2, generator=g, dtype=F64)
    sd = torch.rand(5, 2, generator=g, dtype=F64) + 0.2
    mean, cov = exact.aggregate_posterior(_FixedEncoder(mu, sd), torch.zeros(5, 3))
    n = 400_000
    comp = torch.randint(0, 5, (n,), generator=g)
    z = mu[comp] + sd[comp] * torch.randn(n, 2, generator=g, dtype=F64)
    np.testing.assert_allclose(mean, z.mean(0).numpy(), atol=0.01)
    np.testing.assert_allclose(cov, np.cov(z.numpy().T), atol=0.02)
    assert math.isclose(cov[0, 1], cov[1, 0])
