"""Notebook 01's helpers and app: the slider shows x = loc(z) + noise * scale(z) * eps from one set of draws."""

import numpy as np
import pytest
import torch

from lvmlib.lessons import nb01


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def decoders():
    return nb01.story_decoders((1, 2, 3), seed=4)


def test_sample_story_shapes_and_one_shared_noise(decoders):
    story = nb01.sample_story(decoders, 50, generator=gen())
    for d in (1, 2, 3):
        assert story["z"][d].shape == (50, d)
        assert story["loc"][d].shape == story["scale"][d].shape == (50, 2)
        assert np.all(story["scale"][d] > 0)
        with torch.no_grad():  # loc and scale are the decoder's at the drawn z
            px = decoders[d](torch.as_tensor(story["z"][d]))
        np.testing.assert_allclose(story["loc"][d], px.mean.numpy(), rtol=1e-6)
        np.testing.assert_allclose(story["scale"][d], px.stddev.numpy(), rtol=1e-6)
    assert story["eps"].shape == (50, 2)
    assert "eps_by_size" not in story


def test_story_samples_rescale_the_same_draws(decoders):
    story = nb01.sample_story(decoders, 40, generator=gen(1))
    z, x = nb01.story_samples(story, 2, 0.0, 30)
    np.testing.assert_array_equal(z, story["z"][2][:30])
    np.testing.assert_allclose(x, story["loc"][2][:30])  # no noise: the decoder's mean
    _, x1 = nb01.story_samples(story, 2, 1.0, 30)
    _, x2 = nb01.story_samples(story, 2, 2.0, 30)
    np.testing.assert_allclose(x2 - x, 2 * (x1 - x), rtol=1e-5, atol=1e-6)  # the noise only rescales


def test_the_samplers_draws_are_what_the_slider_shows_at_noise_1(decoders):
    """With the student's sampler (here lvmlib's story_recipe) the slider keeps that sampler's own x."""
    story = nb01.sample_story(decoders, 25, generator=gen(2), sampler=nb01.story_recipe)
    g = gen(2)
    for d, decoder in decoders.items():
        with torch.no_grad():
            z, x = nb01.story_recipe(decoder, 25, g)
        z_shown, x_shown = nb01.story_samples(story, d, 1.0, 25)
        np.testing.assert_allclose(z_shown, z.numpy())
        np.testing.assert_allclose(x_shown, x.numpy(), rtol=1e-4, atol=1e-5)


def test_story_decoders_are_seeded():
    a, b = nb01.story_decoders((2,), seed=3), nb01.story_decoders((2,), seed=3)
    z = torch.randn(5, 2, generator=gen())
    with torch.no_grad():
        torch.testing.assert_close(a[2](z).mean, b[2](z).mean)
        assert not torch.allclose(a[2](z).mean, nb01.story_decoders((2,), seed=4)[2](z).mean)


def test_app_prints_the_spread_of_what_it_draws(decoders):
    story = nb01.sample_story(decoders, 200, generator=gen(5))
    app = nb01.generative_story_app(story, samples=100)
    app.set(latent_size=3, noise=0.5, samples=60)
    _, x = nb01.story_samples(story, 3, 0.5, 60)
    assert app.text.value == (f"60 samples; latent size 3; x spread (std per axis) = "
                              f"{x[:, 0].std():.2f}, {x[:, 1].std():.2f}")
    with pytest.raises(ValueError):
        app.set(noise=float("nan"))
