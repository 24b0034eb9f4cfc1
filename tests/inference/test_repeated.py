"""lvmlib.inference.repeated's nested estimates and weight statistics, against brute force and closed forms (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from lvmlib import inference as est
from lvmlib.models import LinearGaussian

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def demo_model(w: float = 1.5, s: float = 0.3) -> LinearGaussian:
    """z ~ N(0, 1), x | z ~ N(w z, s^2): p(x) = N(x; 0, w^2 + s^2)."""
    return LinearGaussian(torch.tensor([[w]], dtype=F64), torch.zeros(1, dtype=F64), s)


def test_repeated_estimates_are_nested_averages_of_log_weights():
    model = demo_model()
    x = torch.tensor([[1.0]], dtype=F64)
    got = est.repeated_estimates(x, model, (5, 20, 50), 6, generator=gen(3), block=4)
    assert got.shape == (3, 6)
    g = gen(3)
    first = est.log_weights(x.expand(4, -1), model, model.prior(), 50, generator=g)  # runs 0..3
    second = est.log_weights(x.expand(2, -1), model, model.prior(), 50, generator=g)  # runs 4..5
    log_w = torch.cat([first, second], 1)  # [50, 6]
    for i, n in enumerate((5, 20, 50)):
        np.testing.assert_allclose(got[i], (torch.logsumexp(log_w[:n], 0) - math.log(n)).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="increasing"):
        est.repeated_estimates(x, model, (10, 5), 2)


def test_repeated_estimates_are_unbiased_with_the_spread_of_the_closed_form():
    model = demo_model()
    x = torch.tensor([[1.0]], dtype=F64)
    ratio = np.exp(est.repeated_estimates(x, model, (20,), 3000, generator=gen(4)) - float(model.log_marginal(x)))
    se = ratio.std() / math.sqrt(ratio.size)
    assert se < 0.01 and abs(ratio.mean() - 1) < 4 * se
    # the spread of p-hat_20 / p is the relative std of one weight over sqrt(20)
    assert ratio.std() == pytest.approx(est.relative_std_one_sample(x, model) / math.sqrt(20), rel=0.1)


def test_relative_std_one_sample_is_the_closed_form():
    w, s, x0 = 1.5, 0.3, 0.7
    x = torch.tensor([[x0]], dtype=F64)
    # E_p(z)[N(x; w z, s^2)^2] = N(x; 0, w^2 + s^2 / 2) / (2 s sqrt(pi)); p(x) = N(x; 0, w^2 + s^2)
    log_m2 = stats.norm.logpdf(x0, scale=math.sqrt(w**2 + s**2 / 2)) - math.log(2 * s * math.sqrt(math.pi))
    log_p = stats.norm.logpdf(x0, scale=math.sqrt(w**2 + s**2))
    assert est.relative_std_one_sample(x, demo_model(w, s)) == pytest.approx(math.sqrt(math.expm1(log_m2 - 2 * log_p)),
                                                                           rel=1e-6)


def test_weight_shares_and_fraction_carrying():
    equal = torch.zeros(1000, dtype=F64)
    assert est.fraction_carrying(equal) == pytest.approx(0.99, abs=0.002)
    one = torch.full((1000,), -50.0, dtype=F64)
    one[17] = 0.0
    assert est.fraction_carrying(one) == pytest.approx(1 / 1000)
    shares = est.weight_shares(torch.log(torch.tensor([1.0, 3.0, 6.0], dtype=F64)))
    torch.testing.assert_close(shares, torch.tensor([0.6, 0.9, 1.0], dtype=F64))
    assert est.fraction_carrying(torch.log(torch.tensor([1.0, 3.0, 6.0], dtype=F64)), 0.8) == pytest.approx(2 / 3)
