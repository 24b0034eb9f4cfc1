"""Notebook 07's app: the gallery, and a latent-size slider that only picks what was decoded before
(the scores and baselines are tested in tests/vae/test_baselines.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvmlib.mixtures import BernoulliMixture
from lvmlib.data import load_dataset
from lvmlib.plotting import tile_images
from lvmlib.lessons import nb07
from lvmlib.vae import DigitsRecipe, VAEScore, baseline_scores, independent_pixels, per_class, score_vaes, train_vaes
from lvmlib.device import one_thread

RECIPE = DigitsRecipe(hidden=(32,), epochs=4, lr=3e-3, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize=True)


@pytest.fixture(scope="module")
def trained(digits):
    with one_thread():
        g = torch.Generator().manual_seed(0)
        models, histories = train_vaes(digits.x_train, (2, 3), 4, x_valid=digits.x_test[:100], recipe=RECIPE,
                                            generator=g, progress=False)
        scores = score_vaes(models, digits.x_test[:60], num_samples=200, elbo_samples=20, generator=g)
    return models, histories, scores


@pytest.fixture(scope="module")
def gal(digits, trained):
    models, histories, scores = trained
    baselines = baseline_scores(independent_pixels(digits.x_train),
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
        assert isinstance(gal.scores[d], VAEScore)


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
    assert f"held-out ELBO {s.elbo:.2f}" in app.text.value and f"&asymp; {s.log_p:.2f}" in app.text.value
    assert f"k = {s.k}" in app.text.value and f"gap {s.gap:.2f}" in app.text.value
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
