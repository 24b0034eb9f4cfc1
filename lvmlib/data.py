"""Data sets for the notebooks: 8x8 digits offline, MNIST and Fashion-MNIST at the lecture's scale, 2-D toys.

``load_dataset("digits")`` is the default everywhere: scikit-learn ships it, so it works
with no network.  ``load_dataset("mnist")`` fetches ``mnist_784`` from OpenML once and
caches it on disk; offline it fails within seconds with a message naming ``"digits"``.
``load_dataset("fashion-mnist")`` (Xiao, Rasul and Vollgraf 2017: 70,000 28x28 images of clothing) reads
the four IDX files of Debian's ``dataset-fashion-mnist`` package where it is installed (offline), or a
folder named by ``LVMLIB_FASHION_MNIST_DIR``, and otherwise fetches ``Fashion-MNIST`` from OpenML.
"""

from __future__ import annotations

import contextvars
import functools
import numbers
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lvmlib import _util

DATASETS = ("digits", "mnist", "fashion-mnist")
#: where Debian's ``dataset-fashion-mnist`` package puts the IDX files (``LVMLIB_FASHION_MNIST_DIR`` overrides)
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                  "t10k-labels-idx1-ubyte.gz")
TOYS = ("blobs", "moons", "rings")

#: seconds to wait for OpenML before giving up (scikit-learn's default retries for minutes).
MNIST_TIMEOUT = 5.0
#: OpenML's id of ``mnist_784`` version 1 (its cached API answers are named after it).
MNIST_OPENML_ID = 554

#: the timeout of the OpenML requests made by this thread's current MNIST fetch (None: none under way)
_REQUEST_TIMEOUT: contextvars.ContextVar = contextvars.ContextVar("lvmlib_openml_timeout", default=None)
_URLOPEN_LOCK = threading.Lock()
#: the folder names of ``tempfile.TemporaryDirectory`` (where scikit-learn puts a download in progress)
_TEMP_DIR = re.compile(r"tmp[a-z0-9_]{8}")


@dataclass
class Dataset:
    """Images as flat rows in [0, 1] (or {0, 1} when binarized), with labels.

    Attributes:
        x_train: tensor of shape (N_train, D), float32.
        y_train: tensor of shape (N_train,), int64 labels 0-9.
        x_test: tensor of shape (N_test, D), float32.
        y_test: tensor of shape (N_test,), int64.
        image_shape: (H, W) with H * W = D, to reshape a row into an image.
        name: the data set's name.

    Taught in notebook 02 (Mixtures of Gaussians and EM).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    image_shape: tuple[int, int]
    name: str

    @property
    def data_dim(self) -> int:
        return int(self.x_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: train {tuple(self.x_train.shape)}, test {tuple(self.x_test.shape)}, "
            f"images {self.image_shape[0]}x{self.image_shape[1]}, device {self.x_train.device})"
        )


def binarize_pixels(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Fixed binarization: a pixel is 1 where its intensity in [0, 1] is above ``threshold``.

    Fixed (deterministic) binarization is used so that every notebook and benchmark sees the
    same data and the numbers on screen repeat.  Note the trap: a model trained on one fixed
    binarization overfits it (the IWAE paper, Burda et al. 2016, reports ~3.5 nats on MNIST);
    the dynamic alternative redraws x ~ Bernoulli(intensity) every epoch.
    """
    return (x > threshold).to(x.dtype)


def _digits(seed: int, test_size: float):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0  # pixel values 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return x_tr, y_tr, x_te, y_te, (8, 8)


def _request_timeout() -> None:
    """Give each of scikit-learn's OpenML requests ``timeout=`` while an lvmlib fetch runs in this thread.

    ``fetch_openml`` takes no timeout and calls ``urlopen(req)``; setting the process-wide
    socket default would change every other socket of the process (and two overlapping calls
    could leave it changed).  Instead its ``urlopen`` is wrapped, once: the wrapper adds the
    timeout of the current thread's fetch (a context variable) and is a plain pass-through
    otherwise, for other callers, other threads and after the fetch.

    ``_openml.urlopen`` is scikit-learn's private name, used knowingly (pyproject.toml says why no
    public route exists); if it moves, fetches run without the timeout and tests/core/test_data.py fails.
    """
    try:
        from sklearn.datasets import _openml
    except ImportError:  # scikit-learn moved it: requests run without lvmlib's timeout
        return
    with _URLOPEN_LOCK:
        inner = getattr(_openml, "urlopen", None)
        if inner is None or getattr(inner, "_lvmlib_timeout", False):
            return

        @functools.wraps(inner)
        def urlopen(url, *args, **kwargs):
            timeout = _REQUEST_TIMEOUT.get()
            if timeout is not None and not args and "timeout" not in kwargs:
                kwargs["timeout"] = timeout
            return inner(url, *args, **kwargs)

        urlopen._lvmlib_timeout = True
        _openml.urlopen = urlopen


def _fetch_mnist(data_home):
    """The network call, kept on its own so tests can replace it."""
    from sklearn.datasets import fetch_openml

    return fetch_openml("mnist_784", version=1, as_frame=False, parser="liac-arff", data_home=data_home,
                        n_retries=1, delay=0.1)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (LeCun's MNIST format, gzipped or not) as a NumPy array of unsigned bytes.

    Format: two zero bytes, a type byte (0x08: unsigned byte), the number of dimensions, one
    big-endian int32 per dimension, then the data in C order.  Raises ValueError naming the file
    when the header or the size does not match.
    """
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (its header is {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    start, count = 4 + 4 * ndim, int(np.prod(shape)) if shape else 0
    if len(raw) - start != count:
        raise ValueError(f"{path}: the header says {shape} ({count} bytes) but the file holds {len(raw) - start}; "
                         "it is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


def _fashion_mnist(data_home):
    """Fashion-MNIST: the IDX files of a local folder if all four are there, else OpenML."""
    folder = Path(os.environ.get("LVMLIB_FASHION_MNIST_DIR", "").strip() or FASHION_MNIST_DIR)
    if all((folder / name).is_file() for name in _FASHION_FILES):
        x_tr, y_tr, x_te, y_te = (read_idx(folder / name) for name in _FASHION_FILES)
        flat = lambda a: a.reshape(a.shape[0], -1).astype(np.float32) / 255.0  # noqa: E731
        return flat(x_tr), y_tr.astype(np.int64), flat(x_te), y_te.astype(np.int64), (28, 28)
    token = _REQUEST_TIMEOUT.set(MNIST_TIMEOUT)
    try:
        _request_timeout()
        bunch = _fetch_fashion_mnist(data_home)
    except Exception as err:  # noqa: BLE001 - offline, timeouts, HTTP errors: one clear message
        raise RuntimeError(
            f"Fashion-MNIST is not in {folder} and could not be fetched from OpenML ({type(err).__name__}: {err}). "
            "Offline: install Debian's package (sudo apt-get install dataset-fashion-mnist) or point "
            "LVMLIB_FASHION_MNIST_DIR at a folder with its four IDX files, or use load_dataset(\"digits\")."
        ) from None
    finally:
        _REQUEST_TIMEOUT.reset(token)
    return _openml_28x28(bunch)


def _openml_28x28(bunch):
    """OpenML's 70,000 28x28 images (MNIST, Fashion-MNIST) as the standard split: the first 60,000 train."""
    x = np.asarray(bunch.data, dtype=np.float32) / 255.0
    y = np.asarray(bunch.target).astype(np.int64)
    return x[:60000], y[:60000], x[60000:], y[60000:], (28, 28)


def _fetch_fashion_mnist(data_home):
    """The network call, kept on its own so tests can replace it."""
    from sklearn.datasets import fetch_openml

    return fetch_openml("Fashion-MNIST", version=1, as_frame=False, parser="liac-arff", data_home=data_home,
                        n_retries=1, delay=0.1)


def _openml_cache(data_home) -> Path:
    """The folder where scikit-learn's ``fetch_openml`` caches OpenML's responses."""
    from sklearn.datasets import get_data_home

    return Path(get_data_home(data_home)) / "openml"


def _mnist_cache_files(cache: Path) -> list[Path]:
    """MNIST's own entries in scikit-learn's OpenML cache: files at the final names that
    ``fetch_openml("mnist_784")`` reads (its data set list, description, features, qualities and
    the ARFF download), never another data set's, never a download in progress (those sit in a
    ``tmpXXXXXXXX`` folder until scikit-learn moves them into place)."""
    root = cache / "openml.org"
    found = []
    for path in sorted(root.rglob("*.gz")) if root.is_dir() else []:
        parts = path.relative_to(root).parts
        if any(_TEMP_DIR.fullmatch(part) for part in parts[:-1]):
            continue
        if "mnist_784" in parts or path.name.startswith("mnist_784") or (
                "json" in parts and path.name == f"{MNIST_OPENML_ID}.gz"):
            found.append(path)
    return found


def _expected_json(path: Path, content) -> bool:
    """Whether a cached OpenML API answer has the content ``fetch_openml`` needs from that address."""
    parts = path.parts
    if not isinstance(content, dict):
        return False
    if "list" in parts:  # the data set list: at least one entry
        listed = content.get("data", {}).get("dataset") if isinstance(content.get("data"), dict) else None
        return isinstance(listed, list) and len(listed) > 0
    if "features" in parts:
        return isinstance(content.get("data_features"), dict)
    if "qualities" in parts:
        return isinstance(content.get("data_qualities"), dict)
    return isinstance(content.get("data_set_description"), dict)


def _corrupt_cache_files(cache: Path) -> list[Path]:
    """MNIST's cached OpenML files (:func:`_mnist_cache_files`) that cannot be used: not gzip, or
    (an API answer) not JSON or JSON of the wrong content, such as an empty data set list."""
    import gzip
    import json
    import zlib

    bad = []
    for path in _mnist_cache_files(cache):
        try:
            with gzip.open(path, "rb") as f:
                raw = f.read()
            if "json" in path.parts and not _expected_json(path, json.loads(raw.decode("utf-8"))):
                bad.append(path)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError):
            bad.append(path)
    return bad


def _mnist(data_home):
    token = _REQUEST_TIMEOUT.set(MNIST_TIMEOUT)
    try:
        _request_timeout()
        bunch = _fetch_mnist(data_home)
    except Exception as err:  # URLError, timeouts, HTTP errors, or a corrupt cache
        cache = _openml_cache(data_home)
        bad = _corrupt_cache_files(cache)
        if bad:
            removed = []
            for path in bad:
                try:
                    path.unlink()
                    removed.append(str(path))
                except OSError:
                    pass
            kept = [str(p) for p in bad if str(p) not in removed]
            raise RuntimeError(
                f"The MNIST download cache in {cache} was corrupt: "
                + (f"removed the unreadable file(s) {', '.join(removed)}. " if removed else "")
                + (f"Could not remove the unreadable file(s) {', '.join(kept)}: delete them by hand. " if kept else "")
                + "Run again with the network on to download them afresh; offline, use "
                'load_dataset("digits") (8x8 digits that ship with scikit-learn). '
                f"(The fetch failed with {type(err).__name__}: {err})"
            ) from None
        cached = [] if isinstance(err, OSError) else _mnist_cache_files(cache)  # OSError: URLError, timeouts
        if cached:  # not the network, yet the cache looks fine: say which files a fresh download replaces
            raise RuntimeError(
                f"Could not load MNIST from the OpenML cache in {cache} ({type(err).__name__}: {err}). "
                f"If it keeps failing, delete these cached files and run again with the network on: "
                f"{', '.join(map(str, cached))}. Offline, use load_dataset(\"digits\") (8x8 digits that ship "
                "with scikit-learn)."
            ) from None
        raise RuntimeError(
            "Could not fetch MNIST from OpenML (needs the network once; afterwards it is cached "
            f"in {data_home or '~/scikit_learn_data'}): {type(err).__name__}: {err}. "
            'Offline, use load_dataset("digits") (8x8 digits that ship with scikit-learn).'
        ) from None
    finally:
        _REQUEST_TIMEOUT.reset(token)
    return _openml_28x28(bunch)


def load_dataset(
    name: str = "digits",
    binarize: bool = False,
    device: torch.device | str | None = None,
    *,
    seed: int = 0,
    test_size: float = 0.25,
    data_home: str | os.PathLike | None = None,
    n_images: int | None = None,
) -> Dataset:
    """Load an image data set as flat tensors in [0, 1].

    Args:
        name: ``"digits"`` (1797 8x8 images from scikit-learn, offline; stratified
            train/test split with ``test_size`` and ``seed``), ``"mnist"`` (70000 28x28
            images from OpenML, the standard first-60000 / last-10000 split, cached in
            ``data_home``) or ``"fashion-mnist"`` (70000 28x28 images of clothing, the same split;
            from Debian's ``dataset-fashion-mnist`` files offline, else OpenML).
        binarize: ``True`` maps pixels to {0, 1} with :func:`binarize_pixels` (threshold 0.5), for
            Bernoulli likelihoods, so that log-likelihoods are in nats of a probability; a number
            in (0, 1) is the threshold (1 where a pixel is above it, as in ``BernoulliMixture(binarize=)``);
            ``False`` keeps the intensities.
        device: where the tensors go (default: the CPU).
        seed: seed of the digits split.
        test_size: fraction of the digits held out.
        data_home: cache folder for MNIST (scikit-learn's default when None).
        n_images: keep the first ``n_images`` training images and the first ``n_images // 4`` test
            images (at least one): the lecture's data sets at a size a laptop trains in a minute.
            None keeps all.

    Returns:
        a :class:`Dataset`.

    Raises:
        ValueError: an unknown name (the message lists the choices), or a ``binarize`` that is not
            True, False or a threshold in (0, 1) (TypeError for a string or None).
        RuntimeError: MNIST could not be fetched (offline); the message names ``"digits"``.

    Taught in notebook 02 (Mixtures of Gaussians and EM); also used in 07, 08, 09 and 10.
    """
    if not isinstance(name, str) or name.lower() not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(map(repr, DATASETS))} "
                         f"(2-D toy sets come from lvmlib.data.toy_2d: {', '.join(TOYS)})")
    name = name.lower()
    threshold = _binarize_threshold(binarize)
    if n_images is not None:
        n_images = _util.positive_int(n_images, "n_images")
    if name == "digits":
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size}")
        x_tr, y_tr, x_te, y_te, shape = _digits(seed, test_size)
    elif name == "fashion-mnist":
        x_tr, y_tr, x_te, y_te, shape = _fashion_mnist(data_home)
    else:
        x_tr, y_tr, x_te, y_te, shape = _mnist(data_home)
    if n_images is not None:
        n_test = max(1, n_images // 4)
        x_tr, y_tr, x_te, y_te = x_tr[:n_images], y_tr[:n_images], x_te[:n_test], y_te[:n_test]
    tensors = [torch.as_tensor(a, device=device) for a in (x_tr, y_tr, x_te, y_te)]
    if threshold is not None:
        tensors[0], tensors[2] = binarize_pixels(tensors[0], threshold), binarize_pixels(tensors[2], threshold)
    return Dataset(*tensors, image_shape=shape, name=name)


def _binarize_threshold(binarize) -> float | None:
    """``load_dataset``'s ``binarize`` as a threshold (None: keep the intensities), or a clear error."""
    if isinstance(binarize, (bool, np.bool_)):
        return 0.5 if binarize else None
    what = "binarize must be True, False or a threshold in (0, 1) (1 where a pixel is above it)"
    if not isinstance(binarize, numbers.Real):
        raise TypeError(f"{what}, got {binarize!r} ({type(binarize).__name__})")
    if not 0.0 < float(binarize) < 1.0:
        raise ValueError(f"{what}, got {binarize!r}")
    return float(binarize)


def toy_2d(name: str = "blobs", n: int = 500, *, noise: float = 0.1, centers: int = 3, seed: int = 0,
           dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """2-D toy data for pictures.

    Args:
        name: ``"blobs"`` (``centers`` Gaussian clusters of different shapes), ``"moons"``
            (two interleaved half circles) or ``"rings"`` (two concentric circles).
        n: number of points.
        noise: noise level of moons and rings.
        seed: the data's seed.

    Returns:
        (x, y): x of shape (n, 2), y of shape (n,) with the generating cluster.

    Taught in notebook 02 (Mixtures of Gaussians and EM).
    """
    from sklearn import datasets

    if name == "blobs":
        rng = np.random.default_rng(seed)
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        means = rng.uniform(-6, 6, size=(centers, 2))
        y = rng.integers(0, centers, size=n)
        x = np.empty((n, 2))
        for k in range(centers):
            a = rng.normal(size=(2, 2)) * 0.8
            cov = a @ a.T + 0.15 * np.eye(2)
            idx = y == k
            x[idx] = rng.multivariate_normal(means[k], cov, size=int(idx.sum()))
    elif name == "moons":
        x, y = datasets.make_moons(n, noise=noise, random_state=seed)
    elif name == "rings":
        x, y = datasets.make_circles(n, noise=noise, factor=0.5, random_state=seed)
    else:
        raise ValueError(f"unknown toy data set {name!r}; choose one of {', '.join(map(repr, TOYS))}")
    return torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=torch.int64)


def ppca_data(n: int = 500, data_dim: int = 10, signal=(2.5, 1.6, 1.0), sigma: float = 0.5, *,
              generator: torch.Generator | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """n points from probabilistic PCA, x = W z + b + sigma eps, with W's columns orthogonal of
    norms ``signal`` (float64; noise from ``generator``, on ``device``).

    Returns:
        (x [n, Dx], W_true [Dx, Dz]).

    Taught in notebook 09 (Learning with the ELBO).
    """
    dz = len(signal)
    r = lambda *s: _util.noise("randn", s, generator, dtype=torch.float64, device=device)  # noqa: E731
    q, _ = torch.linalg.qr(r(data_dim, dz))
    W = q * torch.tensor(signal, dtype=torch.float64, device=device)
    b = r(data_dim)
    x = r(n, dz) @ W.mT + b + sigma * r(n, data_dim)
    return x, W
