import socket
import time

import numpy as np
import pytest
import torch

import lvmlib.data as data
from lvmlib import load_dataset


def test_digits_shapes_ranges_and_types():
    d = load_dataset("digits")
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert d.y_train.shape == (1347,) and d.y_test.shape == (450,)
    assert d.image_shape == (8, 8) and d.data_dim == 64
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    for x in (d.x_train, d.x_test):
        assert x.min() >= 0 and x.max() <= 1
    assert d.x_train.max() == 1.0  # scaled by 16, the digits' maximum
    assert set(d.y_train.tolist()) == set(range(10))


def test_digits_split_is_fixed_and_stratified():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    c = load_dataset("digits", seed=1)
    assert not torch.equal(a.x_train, c.x_train)
    # stratified: class proportions in train and test agree to within one sample per class
    tr = torch.bincount(a.y_train, minlength=10).double() / len(a.y_train)
    te = torch.bincount(a.y_test, minlength=10).double() / len(a.y_test)
    assert torch.allclose(tr, te, atol=1.5 / len(a.y_test))
    # train and test are disjoint: no test image appears in train with its label
    train_rows = {tuple(r) for r in a.x_train.numpy().tolist()}
    assert sum(tuple(r) in train_rows for r in a.x_test.numpy().tolist()) < 5  # digits has a few exact duplicates


def test_binarize_gives_zero_one_by_threshold():
    raw, binary = load_dataset("digits"), load_dataset("digits", binarize=True)
    assert set(binary.x_train.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(binary.x_train, (raw.x_train > 0.5).float())
    assert torch.equal(binary.y_train, raw.y_train)


def test_device_argument():
    d = load_dataset("digits", device="cpu")
    assert d.x_train.device.type == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_digits_on_cuda():
    d = load_dataset("digits", device="cuda")
    assert d.x_train.is_cuda and d.y_test.is_cuda


@pytest.mark.parametrize("name", ["cifar10", "MNISTT", "", None])
def test_unknown_name_lists_choices(name):
    with pytest.raises(ValueError, match="'digits'.*'mnist'"):
        load_dataset(name)


def test_mnist_offline_is_fast_and_clear(monkeypatch, tmp_path):
    def offline(data_home):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_fetch_mnist", offline)
    with pytest.raises(RuntimeError) as err:  # fast: the socket timeout is the next test's
        load_dataset("mnist", data_home=tmp_path)
    msg = str(err.value)
    assert "network" in msg and 'load_dataset("digits")' in msg


def test_mnist_sets_a_short_socket_timeout(monkeypatch):
    seen = {}

    def record(data_home):
        seen["timeout"] = socket.getdefaulttimeout()
        raise TimeoutError("timed out")

    monkeypatch.setattr(data, "_fetch_mnist", record)
    before = socket.getdefaulttimeout()
    with pytest.raises(RuntimeError):
        load_dataset("mnist")
    assert seen["timeout"] == data.MNIST_TIMEOUT <= 10
    assert socket.getdefaulttimeout() == before


def test_mnist_path_with_fake_openml(monkeypatch):
    class Bunch:
        data = np.tile(np.arange(784, dtype=np.float64) % 256, (70000, 1))
        target = np.array([str(i % 10) for i in range(70000)], dtype=object)

    monkeypatch.setattr(data, "_fetch_mnist", lambda data_home: Bunch)
    d = load_dataset("mnist", binarize=True)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert d.image_shape == (28, 28)
    assert d.y_test[:3].tolist() == [0, 1, 2]
    assert set(d.x_train.unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("name", data.TOYS)
def test_toy_2d_seeded(name):
    x1, y1 = data.toy_2d(name, n=300, seed=3)
    x2, y2 = data.toy_2d(name, n=300, seed=3)
    assert x1.shape == (300, 2) and y1.shape == (300,)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.isfinite(x1).all()
    assert not torch.equal(x1, data.toy_2d(name, n=300, seed=4)[0])


def test_toy_unknown():
    with pytest.raises(ValueError, match="'blobs'"):
        data.toy_2d("spirals")


def test_a_corrupt_mnist_cache_is_named_and_removed(monkeypatch, tmp_path):
    """A cached OpenML answer that is valid gzip but not JSON must not block MNIST for good."""
    import gzip
    import json

    cache = tmp_path / "openml" / "openml.org" / "api" / "v1" / "json" / "data"
    cache.mkdir(parents=True)
    corrupt, fine = cache / "554.gz", cache / "other.gz"
    with gzip.open(corrupt, "wb") as f:
        f.write(b"{not json")
    with gzip.open(fine, "wb") as f:
        f.write(json.dumps({"ok": 1}).encode())

    def fetch(data_home):  # what scikit-learn does with it: fails on the JSON, then on the network
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data, "_fetch_mnist", fetch)
    with pytest.raises(RuntimeError) as err:
        load_dataset("mnist", data_home=tmp_path)
    msg = str(err.value)
    assert "corrupt" in msg and str(corrupt) in msg and "removed" in msg and 'load_dataset("digits")' in msg
    assert not corrupt.exists() and fine.exists()
    with pytest.raises(RuntimeError) as err:  # next time: the plain offline message
        load_dataset("mnist", data_home=tmp_path)
    assert "was corrupt" not in str(err.value) and "network" in str(err.value)


def test_ppca_data_has_the_stated_columns_and_covariance():
    from lvmlib.data import ppca_data

    x, W = ppca_data(20000, 6, (2.0, 1.0), 0.3, generator=torch.Generator().manual_seed(0))
    assert x.shape == (20000, 6) and W.shape == (6, 2) and x.dtype == torch.float64
    np.testing.assert_allclose(W.norm(dim=0).numpy(), [2.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose((W.mT @ W).numpy(), np.diag([4.0, 1.0]), atol=1e-12)  # orthogonal columns
    # the closed form of pPCA: Cov[x] = W W^T + sigma^2 I
    np.testing.assert_allclose(torch.cov(x.T).numpy(), (W @ W.mT).numpy() + 0.09 * np.eye(6), atol=0.2)
