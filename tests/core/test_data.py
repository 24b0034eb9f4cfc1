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


@pytest.mark.parametrize("name", ["cifar10", "MNISTT", "", None, "fashion_mnist"])
def test_unknown_name_lists_choices(name):
    with pytest.raises(ValueError, match="'digits'.*'mnist'.*'fashion-mnist'"):
        load_dataset(name)


def test_mnist_offline_is_fast_and_clear(monkeypatch, tmp_path):
    def offline(data_home):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_fetch_mnist", offline)
    with pytest.raises(RuntimeError) as err:  # fast: the socket timeout is the next test's
        load_dataset("mnist", data_home=tmp_path)
    msg = str(err.value)
    assert "network" in msg and 'load_dataset("digits")' in msg


@pytest.mark.filterwarnings("ignore:A network error occurred")
def test_mnist_sets_a_short_timeout_per_request_not_per_process(monkeypatch, tmp_path):
    from urllib.error import URLError

    import sklearn.datasets._openml as openml

    seen = {}

    def record(req, *args, **kwargs):
        seen["timeout"], seen["default"] = kwargs.get("timeout"), socket.getdefaulttimeout()
        raise URLError("timed out")

    monkeypatch.setattr(openml, "urlopen", record)
    before = socket.getdefaulttimeout()
    with pytest.raises(RuntimeError):
        load_dataset("mnist", data_home=tmp_path)
    assert seen["timeout"] == data.MNIST_TIMEOUT <= 10
    assert seen["default"] == before and socket.getdefaulttimeout() == before


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


# ------------------------------------------------------------------------------------------
# reliability (issue 24): binarize validated, the MNIST cache and timeout
# ------------------------------------------------------------------------------------------


def test_binarize_takes_true_false_or_a_threshold_like_bernoulli_mixture():
    from lvmlib.mixtures import BernoulliMixture

    raw = load_dataset("digits").x_train
    assert torch.equal(load_dataset("digits", binarize=True).x_train, (raw > 0.5).float())
    assert torch.equal(load_dataset("digits", binarize=np.bool_(True)).x_train, (raw > 0.5).float())
    assert torch.equal(load_dataset("digits", binarize=False).x_train, raw)
    low = load_dataset("digits", binarize=0.3).x_train
    assert torch.equal(low, (raw > 0.3).float())
    assert torch.equal(load_dataset("digits", binarize=np.float32(0.3)).x_train, low)
    assert torch.equal(BernoulliMixture(binarize=0.3)._transform_input(raw), low)  # the same meaning
    for bad in ("no", "False", 1.5, 0.0, 1.0, float("nan"), None, 2):
        with pytest.raises((TypeError, ValueError), match=r"binarize must be True, False or a threshold in \(0, 1\)"):
            load_dataset("digits", binarize=bad)


def _fake_openml_cache(tmp_path):
    """A cache with MNIST's answers where scikit-learn keeps them, and one for another data set."""
    import gzip
    import json

    root = tmp_path / "openml" / "openml.org" / "api" / "v1" / "json" / "data"
    listing = root / "list" / "data_name" / "mnist_784" / "limit" / "2" / "data_version" / "1.gz"
    description = root / "554.gz"
    other = root / "61.gz"
    for path, content in ((listing, {"data": {"dataset": [{"did": 554, "name": "mnist_784"}]}}),
                          (description, {"data_set_description": {"id": "554"}}),
                          (other, {"data_set_description": {"id": "61"}})):
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wb") as f:
            f.write(json.dumps(content).encode())
    return listing, description, other


def test_a_failed_fetch_leaves_another_calls_download_in_progress_alone(monkeypatch, tmp_path):
    listing, description, other = _fake_openml_cache(tmp_path)
    in_progress = description.parent / "tmpab12cd_e" / "554.gz"  # scikit-learn's TemporaryDirectory
    in_progress.parent.mkdir()
    in_progress.write_bytes(b"\x1f\x8b half a download")  # not readable gzip yet
    not_ours = other.parent / "61.gz"
    not_ours.write_bytes(b"\x1f\x8b another data set's broken file")

    def offline(data_home):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data, "_fetch_mnist", offline)
    with pytest.raises(RuntimeError, match="network"):
        load_dataset("mnist", data_home=tmp_path)
    assert in_progress.exists() and not_ours.exists() and listing.exists() and description.exists()


def test_a_cached_answer_of_the_wrong_content_is_found_and_named(monkeypatch, tmp_path):
    """Valid gzip, valid JSON, but an empty data set list: scikit-learn fails on it every time."""
    import gzip
    import json

    listing, description, other = _fake_openml_cache(tmp_path)
    with gzip.open(listing, "wb") as f:
        f.write(json.dumps({"data": {"dataset": []}}).encode())

    def fetch(data_home):  # what fetch_openml does with that listing
        raise IndexError("list index out of range")

    monkeypatch.setattr(data, "_fetch_mnist", fetch)
    with pytest.raises(RuntimeError) as err:
        load_dataset("mnist", data_home=tmp_path)
    msg = str(err.value)
    assert str(listing) in msg and "removed" in msg and 'load_dataset("digits")' in msg
    assert not listing.exists() and description.exists() and other.exists()


def test_an_unexplained_failure_with_a_cache_names_the_files_to_delete(monkeypatch, tmp_path):
    listing, description, other = _fake_openml_cache(tmp_path)

    def fetch(data_home):
        raise KeyError("features")  # the cache looks fine, yet scikit-learn cannot use it

    monkeypatch.setattr(data, "_fetch_mnist", fetch)
    with pytest.raises(RuntimeError) as err:
        load_dataset("mnist", data_home=tmp_path)
    msg = str(err.value)
    assert "KeyError" in msg and str(listing) in msg and str(description) in msg and "delete" in msg
    assert str(other) not in msg
    assert listing.exists() and description.exists()


@pytest.mark.filterwarnings("ignore:A network error occurred")
def test_the_timeout_is_per_request_and_overlapping_calls_leave_the_socket_default_alone(monkeypatch, tmp_path):
    import threading
    from urllib.error import URLError

    import sklearn.datasets._openml as openml

    seen = []

    def fake_urlopen(req, *args, **kwargs):
        seen.append((kwargs.get("timeout"), socket.getdefaulttimeout()))
        time.sleep(0.05)
        raise URLError("offline")

    monkeypatch.setattr(openml, "urlopen", fake_urlopen)
    before = socket.getdefaulttimeout()
    errors = []

    def call(home):
        try:
            load_dataset("mnist", data_home=home)
        except RuntimeError as err:
            errors.append(err)

    threads = [threading.Thread(target=call, args=(tmp_path / str(i),)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 3 and seen
    assert all(timeout == data.MNIST_TIMEOUT and default == before for timeout, default in seen), seen
    assert socket.getdefaulttimeout() == before
def test_ppca_data_has_the_stated_columns_and_covariance():
    from lvmlib.data import ppca_data

    x, W = ppca_data(20000, 6, (2.0, 1.0), 0.3, generator=torch.Generator().manual_seed(0))
    assert x.shape == (20000, 6) and W.shape == (6, 2) and x.dtype == torch.float64
    np.testing.assert_allclose(W.norm(dim=0).numpy(), [2.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose((W.mT @ W).numpy(), np.diag([4.0, 1.0]), atol=1e-12)  # orthogonal columns
    # the closed form of pPCA: Cov[x] = W W^T + sigma^2 I
    np.testing.assert_allclose(torch.cov(x.T).numpy(), (W @ W.mT).numpy() + 0.09 * np.eye(6), atol=0.2)


# ---------------------------------------------------------------- Fashion-MNIST (the lecture's scale)

def _write_idx(path, array, *, gz=True):
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)


def _fake_fashion(folder, n_train=12, n_test=8):
    rng = np.random.default_rng(0)
    parts = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
             "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
             "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
             "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) + 3) % 10}
    for name, arr in parts.items():
        _write_idx(folder / name, arr)
    return parts


def test_fashion_mnist_reads_the_idx_files_of_a_folder(monkeypatch, tmp_path):
    parts = _fake_fashion(tmp_path)
    monkeypatch.setenv("LVMLIB_FASHION_MNIST_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_fetch_fashion_mnist", lambda home: pytest.fail("no network when the files are there"))
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (12, 784) and ds.x_test.shape == (8, 784) and ds.image_shape == (28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    want = torch.as_tensor(parts["train-images-idx3-ubyte.gz"].reshape(12, -1) / 255.0, dtype=torch.float32)
    assert torch.equal(ds.x_train, want)
    assert ds.y_test.tolist() == parts["t10k-labels-idx1-ubyte.gz"].tolist()
    small = load_dataset("fashion-mnist", binarize=True, n_images=8)
    assert small.x_train.shape == (8, 784) and small.x_test.shape == (2, 784)
    assert set(small.x_train.unique().tolist()) <= {0.0, 1.0}


def test_read_idx_names_a_truncated_or_foreign_file(tmp_path):
    _write_idx(tmp_path / "ok.idx", np.zeros((2, 3)), gz=False)
    assert data.read_idx(tmp_path / "ok.idx").shape == (2, 3)
    (tmp_path / "cut.idx").write_bytes((tmp_path / "ok.idx").read_bytes()[:-2])
    with pytest.raises(ValueError, match="cut.idx.*truncated"):
        data.read_idx(tmp_path / "cut.idx")
    (tmp_path / "text.idx").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="text.idx is not an IDX"):
        data.read_idx(tmp_path / "text.idx")


def test_fashion_mnist_offline_without_the_files_is_fast_and_says_what_to_install(monkeypatch, tmp_path):
    import urllib.error

    monkeypatch.setenv("LVMLIB_FASHION_MNIST_DIR", str(tmp_path))  # an empty folder

    def offline(home):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(data, "_fetch_fashion_mnist", offline)
    with pytest.raises(RuntimeError) as err:  # no retry loop: the message comes straight after the failed fetch
        load_dataset("fashion-mnist")
    text = str(err.value)
    assert "dataset-fashion-mnist" in text and "LVMLIB_FASHION_MNIST_DIR" in text and '"digits"' in text


def test_fashion_mnist_from_a_fake_openml(monkeypatch, tmp_path):
    from types import SimpleNamespace

    monkeypatch.setenv("LVMLIB_FASHION_MNIST_DIR", str(tmp_path))
    fake = SimpleNamespace(data=np.full((70000, 784), 255, dtype=np.uint8), target=np.array(["3"] * 70000))
    monkeypatch.setattr(data, "_fetch_fashion_mnist", lambda home: fake)
    ds = load_dataset("fashion-mnist", n_images=40)
    assert ds.x_train.shape == (40, 784) and ds.x_test.shape == (10, 784) and float(ds.x_train.max()) == 1.0
    assert ds.y_train.tolist() == [3] * 40


@pytest.mark.parametrize("bad", [0, -3, 2.5, "100"])
def test_n_images_must_be_a_positive_int(bad):
    with pytest.raises((TypeError, ValueError), match="n_images"):
        load_dataset("digits", n_images=bad)


@pytest.mark.skipif(not data.FASHION_MNIST_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed "
                                                                 "(sudo apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_the_debian_package(monkeypatch):
    monkeypatch.delenv("LVMLIB_FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data, "_fetch_fashion_mnist", lambda home: pytest.fail("the files are installed"))
    ds = load_dataset("fashion-mnist", n_images=4000)
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # the data set's published first labels
    assert torch.bincount(ds.y_train, minlength=10).min() > 300  # ten classes, roughly balanced
