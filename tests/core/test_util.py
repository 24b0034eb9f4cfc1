"""lvmlib._util (the shared private helpers) and the per-run reduction of lvmlib.inference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lvmlib import _util
from lvmlib import inference as est

F64 = torch.float64


def test_positive_int_accepts_ints_and_numpy_ints_and_names_the_argument():
    assert _util.positive_int(3, "k") == 3 and _util.positive_int(np.int64(2), "k") == 2
    with pytest.raises(TypeError, match="k must be a positive int"):
        _util.positive_int(2.5, "k")
    with pytest.raises(TypeError, match="k"):
        _util.positive_int(True, "k")
    with pytest.raises(ValueError, match="k must be a positive int"):
        _util.positive_int(0, "k")


def test_noise_from_a_cpu_generator_is_the_same_wherever_it_lands():
    a = _util.noise("randn", (4, 3), torch.Generator().manual_seed(1), dtype=F64, device="cpu")
    b = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.testing.assert_close(a, b)
    m = _util.noise("rand", (2,), torch.Generator().manual_seed(1), device="meta")
    assert m.device.type == "meta"
    with pytest.raises(ValueError, match="randn"):
        _util.noise("gumbel", (2,))


def test_check_x_and_chunks():
    with pytest.raises(ValueError, match=r"x\[None\]"):
        _util.check_x(torch.zeros(3))
    with pytest.raises(ValueError, match="data_dim is 2"):
        _util.check_x(torch.zeros(4, 3), 2)
    with pytest.raises(ValueError, match="NaN"):
        _util.check_x(torch.full((1, 2), math.nan))
    _util.check_x(torch.full((1, 2), math.nan), nan=False)
    assert _util.chunk_length(10, 1, 3) == 3 and _util.chunk_length(2, 1, 3) == 2
    assert _util.chunk_length(10**9, 10**9) == 1
    with pytest.raises(ValueError, match="chunk_size"):
        _util.chunk_length(10, 1, 0)
    assert [(s.start, s.stop) for s in _util.chunks(7, 3)] == [(0, 3), (3, 6), (6, 7)]


def test_run_estimates_reduce_each_run_like_the_estimators():
    g = torch.Generator().manual_seed(0)
    log_w = torch.randn(6, 5, 3, generator=g, dtype=F64) * 3 - 1000.0  # [R, N, B], tiny weights
    out = est.run_estimates(log_w)
    assert isinstance(out, est.RunEstimates) and out.runs == 6 and out.num_samples == 5
    assert out.log_estimate.shape == out.ess.shape == (6, 3)
    for r in range(6):
        torch.testing.assert_close(out.log_estimate[r], est.log_mean_exp(log_w[r], 0))
        torch.testing.assert_close(out.ess[r], est.effective_sample_size(log_w[r]))
    w = torch.exp(log_w + 1000.0)  # shifted: linear space is safe here
    torch.testing.assert_close(out.ess, w.sum(1) ** 2 / (w**2).sum(1))
    assert bool(((out.ess >= 1 - 1e-12) & (out.ess <= 5 + 1e-12)).all())


def test_a_run_of_one_sample_has_ess_one_even_when_its_weight_underflows():
    """The NaN of issue 12: linear-space (sum w)^2 / sum w^2 is 0 / 0 for a weight of exp(-400)."""
    log_w = torch.tensor([[[-400.0]], [[-800.0]], [[0.0]]], dtype=F64)  # [R=3, N=1, B=1]
    out = est.run_estimates(log_w)
    torch.testing.assert_close(out.ess, torch.ones(3, 1, dtype=F64))
    w = torch.exp(log_w)
    assert math.isnan(float((w.sum(1) ** 2 / (w**2).sum(1))[0, 0]))  # what the old code computed
    with pytest.raises(ValueError, match=r"\[R, N, B\]"):
        est.run_estimates(torch.zeros(4, 2))


def test_effective_sample_size_along_another_dim():
    log_w = torch.randn(4, 7, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    torch.testing.assert_close(est.effective_sample_size(log_w, dim=1)[2], est.effective_sample_size(log_w[2]))


def test_positive_number_accepts_numpy_scalars_and_names_the_argument():
    assert _util.positive_number(1e-3, "lr") == 1e-3 and _util.positive_number(2, "lr") == 2.0
    value = _util.positive_number(np.float32(1e-3), "lr")
    assert type(value) is float and value == pytest.approx(1e-3)
    assert _util.positive_number(np.array(0.5), "lr") == 0.5 and _util.positive_number(torch.tensor(0.5), "lr") == 0.5
    for bad in (True, "0.1", None, [0.1]):
        with pytest.raises(TypeError, match="lr must be a positive number"):
            _util.positive_number(bad, "lr")
    for bad in (0, -1.0, float("nan"), float("inf"), np.float32("nan")):
        with pytest.raises(ValueError, match="lr must be a positive number"):
            _util.positive_number(bad, "lr")


def test_check_generator_says_what_a_generator_is():
    g = torch.Generator()
    assert _util.check_generator(g) is g and _util.check_generator(None) is None
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator.*manual_seed\(0\)"):
        _util.check_generator(0)
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator.*device='cuda'"):
        _util.check_generator("cuda")
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        _util.noise("randn", (2,), np.random.default_rng(0))


def test_the_library_checks_the_generator_where_it_first_uses_one():
    from lvmlib import inference as gradients
    from lvmlib.vae import MixturePrior

    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        MixturePrior(3, 2).sample(4, generator=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        gradients.gradient_samples(lambda z: z.sum(-1), torch.zeros(2), torch.ones(2), 8, generator="cuda")
