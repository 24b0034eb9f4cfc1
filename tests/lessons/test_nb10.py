"""Notebook 10's precomputations and apps, on small untrained models: what the apps show is the models' own
numbers (densities, codes, decoded styles), picked by the callbacks."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lvmlib.lessons import nb10
from lvmlib.vae import M2, VAE, aggregate_posterior

D = 64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits():
    g = gen(1)
    x = (torch.rand(120, D, generator=g) > 0.5).float()
    return x[:80], x[80:], torch.arange(40) % 10


@pytest.fixture(scope="module")
def view(digits):
    x_train, x_test, y_test = digits
    models = {"N(0, I)": VAE(D, 2, (16,), generator=gen(2)), "other": VAE(D, 2, (16,), generator=gen(3))}
    return models, nb10.prior_views(models, x_train, x_test, y_test, grid=81, batches=2, per_batch=9, mc=500,
                                    generator=gen(4))


def test_setting_name():
    assert nb10.setting_name(None) == "all" and nb10.setting_name(10) == "10"


def test_prior_views_are_the_models_densities_and_codes(view, digits):
    models, v = view
    x_train, x_test, _ = digits
    assert v.names == ("N(0, I)", "other")
    assert v.prior_density.shape == v.aggregate_density.shape == (2, 81, 81)
    assert v.codes.shape == (2, 40, 2) and v.samples.shape == (2, 2, 9, D)
    cell = float(v.values[1] - v.values[0]) ** 2
    for p in range(2):  # both densities integrate to about 1 over [-4, 4]^2
        assert v.prior_density[p].sum() * cell == pytest.approx(1.0, abs=0.01)
        assert v.aggregate_density[p].sum() * cell == pytest.approx(1.0, abs=0.05)
    with torch.no_grad():
        np.testing.assert_allclose(v.codes[1], models["other"].encoder(x_test).mean.numpy(), rtol=1e-5)
    z = torch.tensor([[v.values[10], v.values[50]]], dtype=torch.float32)  # grid rows are z2
    with torch.no_grad():
        want = models["N(0, I)"].prior().log_prob(z).exp().item()
        agg = aggregate_posterior(models["other"].encoder(x_train)).log_prob(z).exp().item()
    assert v.prior_density[0, 50, 10] == pytest.approx(want, rel=1e-5)
    assert v.aggregate_density[1, 50, 10] == pytest.approx(agg, rel=1e-4)
    assert np.all((v.hole_mass >= 0) & (v.hole_mass <= 1)) and np.all(v.kl_aggregate >= -0.1)


def test_prior_views_refuse_a_latent_that_is_not_2d(digits):
    x_train, x_test, y_test = digits
    with pytest.raises(ValueError, match="latent_dim=3"):
        nb10.prior_views({"3-D": VAE(D, 3, (8,), generator=gen())}, x_train, x_test, y_test, mc=10)


def test_prior_app_shows_the_view(view):
    _, v = view
    app = nb10.prior_app(v, prior="N(0, I)")
    app.set(prior="other", batch=1)
    assert app.text.value.startswith("prior other: ")
    assert f"{100 * v.hole_mass[1]:.0f}%" in app.text.value and f"{v.kl_prior[1]:.2f} nats" in app.text.value


@pytest.fixture(scope="module")
def analogies(digits):
    _, x_test, y_test = digits
    results = {k: SimpleNamespace(model=M2(D, 10, 2, (16,), generator=gen(5 + i)), m2_accuracy=0.5 + 0.1 * i,
                                  classifier_accuracy=0.4)
               for i, k in enumerate((1, None))}
    return results, nb10.analogies(results, x_test, y_test, [0, 3, 7], styles=4, generator=gen(6))


def test_analogies_decode_each_style_with_every_label(analogies, digits):
    results, an = analogies
    _, x_test, y_test = digits
    assert an.settings == (1, None) and an.by_style.shape == (2, 3, 10, D) and an.by_label.shape == (2, 10, 4, D)
    m = results[None].model
    z = m.style(x_test[[3]], y_test[[3]])  # [1, Dz]: test #3's style, with its true label
    np.testing.assert_allclose(an.by_style[1, 1, 7], m.generate(z[0], 7).numpy(), rtol=1e-5)
    np.testing.assert_allclose(an.predicted[0], results[1].model.predict(x_test[[0, 3, 7]]).numpy())
    np.testing.assert_allclose(an.m2_accuracy, [0.5, 0.6])


def test_labels_app_reports_the_setting(analogies):
    _, an = analogies
    app = nb10.labels_app(an, labels="1", digit=0, label=3)
    app.set(labels="all", digit=2)
    assert app.text.value == ("all labels per class: M2 60.0% against the classifier's 40.0%; M2 reads test #7 as a "
                              f"{int(an.predicted[1, 2])}")
