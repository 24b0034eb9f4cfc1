import random

import numpy as np
import pytest
import torch

import lvmlib
from lvmlib.device import get_device, set_seed


def test_exported_from_package():
    assert lvmlib.get_device is get_device and lvmlib.set_seed is set_seed


def test_default_is_best_available(monkeypatch):
    monkeypatch.delenv("LVMLIB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert get_device().type == expected


def test_env_override_cpu(monkeypatch):
    monkeypatch.setenv("LVMLIB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_default_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("LVMLIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device().type == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "tpu0", "cuda:x", "banana"])
def test_invalid_env_value_raises_clearly(monkeypatch, bad):
    monkeypatch.setenv("LVMLIB_DEVICE", bad)
    with pytest.raises(ValueError, match="LVMLIB_DEVICE"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_without_cuda(monkeypatch):
    monkeypatch.setenv("LVMLIB_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        get_device()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_override(monkeypatch):
    monkeypatch.setenv("LVMLIB_DEVICE", "cuda:0")
    assert get_device() == torch.device("cuda:0")


def test_set_seed_repeats_every_generator():
    g1 = set_seed(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g1).item())
    g2 = set_seed(123)
    b = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g2).item())
    assert a == b
    with pytest.raises(TypeError):
        set_seed(1.5)


@pytest.mark.threads(2)  # restoring 1 to 1 would show nothing
def test_one_thread_restores_the_thread_count():
    from lvmlib.device import one_thread

    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with one_thread():
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
