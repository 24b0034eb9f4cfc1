"""Notebook 07's helpers and app: baselines against a naive reference, scores, the gallery, and a
latent-size slider that only picks what was decoded before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvmlib.mixtures import BernoulliMixture
from lvmlib.data import load_dataset
from lvmlib.plotting import tile_images
from lvmlib.lessons import nb07
from lvmlib.vae import per_class, train_vaes
from lvmlib.device import one_thread

RECIPE = {"hidden": (32,), "epochs": 4, "lr": 3e-3, "batch_size": 64}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize=True)


@pytest.fixture(scope="module")
def trained(digits):
    with one_thread():
        g = torch.Generator().manual_seed(0)
        models, histories = train_vaes(digits.x_train, (2, 3), 4, x_valid=digits.x_test[:100], recipe=RECIPE,
                                            generator=g, progress=False)
        scores = nb07.score_vaes(models, digits.x_test[:60], num_samples=200, elbo_samples=20, generator=g)
    return models, histories, scores


@pytest.fixture(scope="module")
def gal(digits, trained):
    models, histories, scores = trained
    baselines = nb07.baseline_scores(nb07.independent_pixels(digits.x_train),
                                     {3: BernoulliMixture(3, random_state=0).fit(digits.x_train)}, digits.x_test)
    return nb07.gallery(models, histories, scores, baselines, digits.x_test, digits.y_test, digits.image_shape,
                        num_samples=20, generator=torch.Generator().manual_seed(1))


def test_train_vaes_is_the_notebook_loop_and_repeats(digits, trained):
    models, histories, _ = trained
    assert sorted(models) == [2, 3] and all(models[d].latent_dim == d for d in models)
    assert all(len(h["train"]) == len(h["valid"]) == 4 for h in histories.values())
    with one_thread():
        again, _ = train_vaes(digits.x_train, (2, 3), 4, x_valid=digits.x_test[:100], recipe=RECIPE,
                                   generator=torch.Generator().manual_seed(0), progress=False)
    for d in models:
        for a, b in zip(models[d].parameters(), again[d].parameters()):
            assert torch.equal(a, b)


def test_scores_importance_sampling_above_elbo(trained):
    _, _, scores = trained
    for s in scores.values():
        assert s["k"] == 200 and s["log_p_points"].shape == s["elbo_points"].shape == (60,)
        assert s["log_p"] > s["elbo"] + 3 * s["gap_se"]
        assert s["gap"] == pytest.approx(s["log_p"] - s["elbo"], abs=1e-5)
        assert s["elbo"] == pytest.approx(float(np.mean(s["elbo_points"])), abs=1e-5)


def test_independent_pixels_is_a_one_component_mixture(digits):
    pixels = nb07.independent_pixels(digits.x_train)
    one = BernoulliMixture(1, alpha=1.0, random_state=0).fit(digits.x_train)
    torch.testing.assert_close(pixels.log_prob(digits.x_test).double(), one.score_samples(digits.x_test).double(),
                               rtol=0, atol=1e-4)
    # the naive formula, pixel by pixel
    p = ((digits.x_train.sum(0) + 1) / (digits.x_train.shape[0] + 2)).double()
    x = digits.x_test[:5].double()
    ref = (x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    torch.testing.assert_close(pixels.log_prob(digits.x_test[:5]).double(), ref, rtol=0, atol=1e-4)


def test_baseline_scores(digits):
    mixtures = {2: BernoulliMixture(2, random_state=0).fit(digits.x_train)}
    out = nb07.baseline_scores(nb07.independent_pixels(digits.x_train), mixtures, digits.x_test)
    assert list(out) == ["independent pixels", "mixture K=2"]
    assert out["mixture K=2"][0] == pytest.approx(float(mixtures[2].score_samples(digits.x_test).mean()))
    assert out["mixture K=2"][0] > out["independent pixels"][0]


def test_per_class_picks_in_class_order():
    y = torch.tensor([3, 1, 1, 0, 3, 0, 1])
    idx = per_class(y, 2)
    assert idx.tolist() == [3, 5, 1, 2, 0, 4]


def test_gallery_holds_decoded_arrays(gal, trained, digits):
    models, _, _ = trained
    assert gal.sizes == (2, 3) and gal.data.shape == (20, 64) and gal.labels.tolist() == sorted(list(range(10)) * 2)
    for d in gal.sizes:
        assert gal.recon[d].shape == (20, 64) and gal.samples[d].shape == (20, 64)
        np.testing.assert_allclose(gal.recon[d], models[d].reconstruct(torch.as_tensor(gal.data)).numpy(), atol=1e-6)
        assert not any(k.endswith("_points") for k in gal.scores[d])


@pytest.fixture
def app(gal, monkeypatch):
    app = nb07.vae_app(gal, latent_size=2)

    def forbidden(*args, **kwargs):
        raise AssertionError("the callback must not run a network")

    monkeypatch.setattr(torch.nn.Linear, "forward", forbidden)
    return app


def test_callback_picks_the_chosen_model(app, gal):
    app.set(latent_size=3)
    s = gal.scores[3]
    assert f"held-out ELBO {s['elbo']:.2f}" in app.text.value and f"&asymp; {s['log_p']:.2f}" in app.text.value
    assert f"k = {s['k']}" in app.text.value and f"gap {s['gap']:.2f}" in app.text.value
    images = [im for ax in app.fig.axes for im in ax.images if im.get_animated()]
    np.testing.assert_array_equal(images[0].get_array(), tile_images(gal.recon[3], gal.image_shape, ncols=10))
    np.testing.assert_array_equal(images[1].get_array(), tile_images(gal.samples[3], gal.image_shape, ncols=10))


def test_moving_the_slider_only_blits(app):
    before = app.full_draws
    for d in (3, 2, 3):
        app.set(latent_size=d)
    assert app.full_draws == before


def test_curves_figure(trained):
    import matplotlib.pyplot as plt

    _, histories, _ = trained
    fig = nb07.curves_figure(histories)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    plt.close(fig)
