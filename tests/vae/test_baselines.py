"""lvmlib.vae.baselines: held-out scores of VAEs and of the latent-free baselines, against naive references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lvmlib._util import MeanSE
from lvmlib.data import load_dataset
from lvmlib.device import one_thread
from lvmlib.mixtures import BernoulliMixture
from lvmlib.vae import VAE, VAEScore, baseline_scores, evaluate_points, independent_pixels, score_vaes


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", binarize=True)


def test_score_vaes_is_the_elbo_and_importance_sampling_with_standard_errors(digits):
    x = digits.x_test[:60]
    with one_thread(), torch.no_grad():
        models = {2: VAE(64, 2, (16,), generator=torch.Generator().manual_seed(0))}
        scores = score_vaes(models, x, num_samples=50, elbo_samples=5, generator=torch.Generator().manual_seed(1))
        g = torch.Generator().manual_seed(1)  # the same draws, by hand
        elbo = models[2].elbo(x, 5, generator=g).double()
        log_p = evaluate_points(models[2], x, 50, generator=g).double()
    s = scores[2]
    assert isinstance(s, VAEScore) and s.k == 50 and s.log_p_points.shape == s.elbo_points.shape == (60,)
    assert s.elbo == pytest.approx(float(elbo.mean()), rel=1e-12)
    assert s.elbo_se == pytest.approx(float(elbo.std()) / math.sqrt(60), rel=1e-12)
    assert s.log_p == pytest.approx(float(log_p.mean()), rel=1e-12)
    assert s.gap == pytest.approx(s.log_p - s.elbo, abs=1e-5)
    assert s.gap_se == pytest.approx(float((log_p - elbo).std()) / math.sqrt(60), rel=1e-5)
    assert s.log_p > s.elbo  # importance sampling is the tighter bound


def test_independent_pixels_is_a_one_component_mixture(digits):
    pixels = independent_pixels(digits.x_train)
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
    out = baseline_scores(independent_pixels(digits.x_train), mixtures, digits.x_test)
    assert list(out) == ["independent pixels", "mixture K=2"]
    assert isinstance(out["mixture K=2"], MeanSE)
    ref = np.asarray(mixtures[2].score_samples(digits.x_test), dtype=float)
    mean, se = out["mixture K=2"]
    assert mean == pytest.approx(float(ref.mean()), rel=1e-10)
    assert se == pytest.approx(float(ref.std(ddof=1) / math.sqrt(ref.size)), rel=1e-10)
    assert out["mixture K=2"].mean > out["independent pixels"].mean
