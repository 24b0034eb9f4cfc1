"""Notebook 08's precomputations and apps: paths, the 2-D map, coordinate sweeps, the aggregate
posterior, checked against direct calls of the model; callbacks only pick."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvmlib.data import load_dataset
from lvmlib.plotting import tile_images
from lvmlib.vae import slerp
from lvmlib.lessons import nb08
from lvmlib.vae import DigitsRecipe, aggregate_moments, per_class, train_vaes
from lvmlib.device import one_thread

RECIPE = DigitsRecipe(hidden=(32,), epochs=3, lr=3e-3, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize=True)


@pytest.fixture(scope="module")
def models(digits):
    with one_thread():
        models, _ = train_vaes(digits.x_train, (2, 4), 3, recipe=RECIPE, generator=torch.Generator().manual_seed(0),
                                    progress=False)
    return models


@pytest.fixture(scope="module")
def picks(digits):
    return per_class(digits.y_test, 1)[:5]


@pytest.fixture(scope="module")
def paths(models, digits, picks):
    return nb08.interpolation_paths(models[4], digits.x_test, digits.y_test, picks, steps=5, fine=21)


@pytest.fixture(scope="module")
def lmap(models, digits):
    return nb08.latent_map(models[2], digits.x_test, digits.y_test, limit=2.0, step=0.5, tiles=5)


@pytest.fixture(scope="module")
def sweeps(models, digits, picks):
    return nb08.coordinate_sweeps(models[4], digits.x_test, digits.y_test, picks, limit=2.0, num_values=5)


@pytest.fixture
def no_network(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the callback must not run a network")

    monkeypatch.setattr(torch.nn.Linear, "forward", forbidden)


# ------------------------------------------------------------------------------------------
# interpolation
# ------------------------------------------------------------------------------------------


def test_paths_start_and_end_at_the_reconstructions(paths, models, digits, picks):
    recon = models[4].reconstruct(digits.x_test[picks]).numpy()
    m = len(picks)
    assert paths.images.shape == (2, m, m, 5, 64) and paths.norms.shape == (2, m, m, 5)
    for k in range(2):
        np.testing.assert_allclose(paths.images[k, :, :, 0], np.broadcast_to(recon[:, None], (m, m, 64)), atol=1e-6)
        np.testing.assert_allclose(paths.images[k, :, :, -1], np.broadcast_to(recon[None, :], (m, m, 64)), atol=1e-6)
    np.testing.assert_allclose(paths.recon, recon, atol=1e-6)


def test_paths_latents_and_norms(paths, models, digits, picks):
    with torch.no_grad():
        codes = models[4].encoder(digits.x_test[picks]).mean
    z0, z1 = codes[0], codes[2]
    t = torch.tensor(paths.t, dtype=torch.float32)[:, None]
    np.testing.assert_allclose(paths.norms[0, 0, 2], ((1 - t) * z0 + t * z1).norm(dim=1).numpy(), atol=1e-5)
    np.testing.assert_allclose(paths.norms[1, 0, 2], slerp(z0, z1, t).norm(dim=1).numpy(), atol=1e-5)
    # the fine grid agrees with the slider grid where they meet, and ends at |z0|, |z1|
    fine_at = [int(np.argmin(np.abs(paths.t_fine - v))) for v in paths.t]
    np.testing.assert_allclose(paths.norms_fine[:, :, :, fine_at], paths.norms, atol=1e-5)
    # slerp's midpoint is the linear midpoint / cos(omega / 2): never shorter
    mid = paths.index(0.5)
    assert np.all(paths.norms[1, :, :, mid] >= paths.norms[0, :, :, mid] - 1e-5)
    # from a digit to itself nothing moves
    np.testing.assert_allclose(paths.images[:, 1, 1], np.broadcast_to(paths.images[:, 1, 1, :1], (2, 5, 64)), atol=1e-6)
    lo, hi = paths.norm_band
    assert lo < np.sqrt(4) < hi


def test_interpolation_callback_picks(paths, no_network):
    app = nb08.interpolation_app(paths, start=0, end=1, t=0.0)
    before = app.full_draws
    app.set(start=3, end=2, t=0.75)
    i = paths.index(0.75)
    animated = [im for ax in app.fig.axes for im in ax.images if im.get_animated()]
    strip_lin, strip_sl, big_lin, big_sl, end0, end1 = animated
    np.testing.assert_array_equal(strip_sl.get_array(), tile_images(paths.images[1, 3, 2], paths.image_shape, ncols=5))
    np.testing.assert_array_equal(big_lin.get_array(), paths.images[0, 3, 2, i].reshape(8, 8))
    np.testing.assert_array_equal(big_sl.get_array(), paths.images[1, 3, 2, i].reshape(8, 8))
    np.testing.assert_array_equal(end0.get_array(), paths.data[3].reshape(8, 8))
    assert f"linear {paths.norms[0, 3, 2, i]:.2f}" in app.text.value and f"slerp {paths.norms[1, 3, 2, i]:.2f}" in app.text.value
    assert app.full_draws == before


def test_gaussian_norms_concentrate():
    out = nb08.gaussian_norms((4, 256), 500, generator=torch.Generator().manual_seed(0))
    big = out[256]
    assert abs(big["norm"].mean() - 1) < 0.01 and abs(np.median(big["linear"]) - 2**-0.5) < 0.01
    assert abs(np.median(big["slerp"]) - 1) < 0.02
    assert big["norm"].std() < out[4]["norm"].std()


# ------------------------------------------------------------------------------------------
# the 2-D map
# ------------------------------------------------------------------------------------------


def test_latent_map_decodes_the_slider_grid(lmap, models, digits):
    assert lmap.values.tolist() == [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    i, j = 2, 7
    with torch.no_grad():
        want = models[2].likelihood(torch.tensor([[lmap.values[i], lmap.values[j]]], dtype=torch.float32)).mean[0]
    np.testing.assert_allclose(lmap.images[i, j], want.numpy(), atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(lmap.codes, models[2].encoder(digits.x_test).mean.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="2-D latent"):
        nb08.latent_map(models[4], digits.x_test, digits.y_test)


def test_manifold_tiles_sit_at_their_z(lmap, models):
    """The tile in row r, column c decodes z = (coarse[c], coarse[-1 - r]), and the extent maps its
    centre pixel to that z."""
    coarse = np.linspace(-2, 2, 5)
    left, right, bottom, top = lmap.manifold_extent
    width = lmap.manifold.shape[1]
    for r, c in [(0, 0), (1, 3), (4, 2)]:
        tile = lmap.manifold[r * 9: r * 9 + 8, c * 9: c * 9 + 8].ravel()
        with torch.no_grad():
            want = models[2].likelihood(torch.tensor([[coarse[c], coarse[-1 - r]]], dtype=torch.float32)).mean[0]
        np.testing.assert_allclose(tile, want.numpy(), atol=1e-6)
        px = c * 9 + 3.5  # centre of the tile in pixel coordinates
        x = left + (px + 0.5) / width * (right - left)
        y = top - (r * 9 + 3.5 + 0.5) / width * (top - bottom)
        assert x == pytest.approx(coarse[c]) and y == pytest.approx(coarse[-1 - r])


def test_latent_map_callback_picks(lmap, no_network):
    app = nb08.latent_map_app(lmap)
    before = app.full_draws
    app.set(z1=1.5, z2=-0.5)
    i, j = lmap.index(1.5), lmap.index(-0.5)
    im = [im for ax in app.fig.axes for im in ax.images if im.get_animated()][0]
    np.testing.assert_array_equal(im.get_array(), lmap.images[i, j].reshape(8, 8))
    marks = [l for ax in app.fig.axes for l in ax.lines if l.get_animated()]
    assert all(list(m.get_xdata()) == [1.5] and list(m.get_ydata()) == [-0.5] for m in marks)
    near = np.argmin(np.hypot(lmap.codes[:, 0] - 1.5, lmap.codes[:, 1] + 0.5))
    assert f"nearest encoded test digit: a {lmap.labels[near]}" in app.text.value
    assert app.full_draws == before


# ------------------------------------------------------------------------------------------
# one coordinate at a time
# ------------------------------------------------------------------------------------------


def test_coordinate_sweeps_change_one_coordinate(sweeps, models, digits, picks):
    m, i, k = 3, 2, 4
    z = torch.as_tensor(sweeps.codes[m]).clone()
    z[i] = float(sweeps.values[k])
    with torch.no_grad():
        want = models[4].likelihood(z[None]).mean[0]
    np.testing.assert_allclose(sweeps.images[m, i, k], want.numpy(), atol=1e-6)
    assert sweeps.images.shape == (5, 4, 5, 64)
    with torch.no_grad():
        codes = models[4].encoder(digits.x_test).mean.numpy()
    np.testing.assert_allclose(sweeps.activity, codes.var(0), rtol=1e-5)


def test_label_share_against_a_naive_reference():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    codes = np.column_stack([labels * 1.0, rng.normal(size=400), labels + rng.normal(size=400)])
    share = nb08.label_share(codes, labels)
    assert share[0] == pytest.approx(1.0) and share[1] < 0.05
    # naive: 1 - within-class sum of squares / total sum of squares
    col = codes[:, 2]
    within = sum(((col[labels == c] - col[labels == c].mean()) ** 2).sum() for c in range(4))
    assert share[2] == pytest.approx(1 - within / ((col - col.mean()) ** 2).sum())


def test_coordinate_callback_picks(sweeps, no_network):
    app = nb08.coordinate_app(sweeps, digit=0, coordinate=1, value=0.0)
    before = app.full_draws
    app.set(digit=2, coordinate=3, value=-1.0)
    k = sweeps.index(-1.0)
    ims = [im for ax in app.fig.axes for im in ax.images if im.get_animated()]
    grid, data, recon, now = ims
    np.testing.assert_array_equal(now.get_array(), sweeps.images[2, 2, k].reshape(8, 8))
    np.testing.assert_array_equal(grid.get_array(), tile_images(sweeps.images[2].reshape(-1, 64), (8, 8), ncols=5))
    np.testing.assert_array_equal(recon.get_array(), sweeps.recon[2].reshape(8, 8))
    assert f"its own z_3 = {sweeps.codes[2, 2]:+.2f}" in app.text.value
    assert f"{100 * sweeps.share[2]:.0f}% of it explained by the label" in app.text.value
    assert app.full_draws == before


# ------------------------------------------------------------------------------------------
# the aggregate posterior
# ------------------------------------------------------------------------------------------


def test_aggregate_posterior_moments_match_sampling(models, digits):
    model, x = models[2], digits.x_test[:200]
    mean, cov = aggregate_moments(model, x)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        q = model.encoder(x)
        z = (q.mean + q.stddev * torch.randn(500, *q.mean.shape, generator=g)).reshape(-1, 2).double()  # [500 * 200, 2]
    np.testing.assert_allclose(mean, z.mean(0).numpy(), atol=0.02)
    np.testing.assert_allclose(cov, torch.cov(z.T).numpy(), atol=0.03)
    assert cov.shape == (2, 2) and np.allclose(cov, cov.T)


def test_paths_with_a_given_slerp_match_lvmlibs(models, digits, picks):
    """interpolation_paths(slerp=f) builds the slerp paths with f (the student's, in the notebook): with lvmlib's
    slerp written as the exercise's signature, the same images and norms; and f really runs (a shifted f shows)."""
    from lvmlib.vae import slerp

    calls = []

    def student(z0, z1, t):
        calls.append(t)
        return slerp(z0, z1, torch.tensor([[float(t)]], dtype=z0.dtype, device=z0.device))[0]

    few = picks[:3]
    lib = nb08.interpolation_paths(models[4], digits.x_test, digits.y_test, few, steps=5, fine=21)
    own = nb08.interpolation_paths(models[4], digits.x_test, digits.y_test, few, steps=5, fine=21, slerp=student)
    assert len(calls) == 9 * (5 + 21)
    np.testing.assert_allclose(own.images, lib.images, atol=1e-5)
    np.testing.assert_allclose(own.norms_fine, lib.norms_fine, atol=1e-5)
    off = nb08.interpolation_paths(models[4], digits.x_test, digits.y_test, few, steps=5, fine=21,
                                   slerp=lambda z0, z1, t: student(z0, z1, t) * 0.5)
    assert np.abs(off.norms[1] - lib.norms[1]).max() > 0.1 and np.allclose(off.norms[0], lib.norms[0])
