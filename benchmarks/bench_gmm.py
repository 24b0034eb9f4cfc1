"""Gaussian-mixture EM: lvmlib.mixtures.GaussianMixture vs scikit-learn, side by side in one run.

What is measured:

- **ms per EM iteration**, both libraries started from the same weights / means /
  precisions (lvmlib's k-means++ initialization), ``tol=0`` and a fixed number of
  iterations n: ``(t(fit with max_iter=n) - t(fit with max_iter=1)) / (n - 1)`` (median over repeats), so input
  checks, set-up and the final E-step cancel (scikit-learn cannot fit with ``max_iter=0``
  from ``precisions_init``).  Median of ``--repeats`` runs, the libraries
  interleaved within each repeat.  Cases: scikit-learn's 8x8 digits (1797 x 64, X / 16),
  K = 10, full and diag covariances, float64 and float32; and a synthetic 5000 x 784 diag
  case (10 random prototypes in [0, 1]^784 plus N(0, 0.1^2) noise, clipped to [0, 1]:
  MNIST-sized rows), K = 10.
- **K-slider refit**: a whole fit to convergence (default ``tol=1e-3``, ``init_params=
  "k-means++"`` in both libraries, ``random_state=0``) on 2000 2-D points
  (``lvmlib.data.toy_2d("blobs", 2000, centers=5)``), for K = 2..10, as a notebook slider
  callback would do; median ms per K.  The initializations draw from different random
  generators, so the EM iteration counts (shown) differ between the libraries.

scikit-learn is shown twice: with its default threads, and under
``threadpoolctl.threadpool_limits(1)`` (on 2 cores numpy's and scipy's two OpenBLAS copies
fight).  lvmlib runs torch single-threaded and splits iterations of at least
``lvmlib.mixtures._cpu.PARALLEL_MIN_WORK`` multiply-adds over ``torch.get_num_threads()``
Python threads ("lanes", see ``lvmlib.mixtures._cpu``): the "lvmlib, 1 thread" column is
lvmlib without lanes.  ``--matmul torch`` multiplies with torch's BLAS (MKL on x86 wheels)
instead of NumPy's (OpenBLAS): it measures the choice of ``lvmlib.mixtures._cpu.CPU_MATMUL``.  NumPy input for both; lvmlib computes on the CPU.
The machine's load average is printed: other processes on a 2-core box slow every column,
and the multi-threaded ones most.

Run:  .venv/bin/python benchmarks/bench_gmm.py        (prints a markdown table; ~2 min)
      .venv/bin/python benchmarks/bench_gmm.py --quick
      .venv/bin/python benchmarks/bench_gmm.py --matmul torch
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from threadpoolctl import threadpool_limits

from lvmlib.data import toy_2d
from lvmlib.mixtures import GaussianMixture

warnings.simplefilter("ignore", ConvergenceWarning)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def sk_fit(one_thread: bool, **kw):
    def run(X):
        if one_thread:
            with threadpool_limits(1):
                return SkGaussianMixture(**kw).fit(X)
        return SkGaussianMixture(**kw).fit(X)
    return run


def lv_fit(one_thread: bool = False, **kw):
    def run(X):
        if not one_thread:
            return GaussianMixture(**kw).fit(X)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # lvmlib then uses one lane
        try:
            return GaussianMixture(**kw).fit(X)
        finally:
            torch.set_num_threads(threads)
    return run


def per_iteration(X, k, cov_type, n_iter, repeats):
    """ms per EM iteration for lvmlib and sklearn (each also on 1 thread), same initial parameters."""
    init = GaussianMixture(k, covariance_type=cov_type, max_iter=0, init_params="k-means++", random_state=0)
    init.fit(X.astype(np.float64))
    kw = dict(n_components=k, covariance_type=cov_type, tol=0, weights_init=init.weights_.astype(X.dtype),
              means_init=init.means_.astype(X.dtype), precisions_init=init.precisions_.astype(X.dtype))
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    runners = {
        "lvmlib": (lv_fit(max_iter=n_iter, dtype=dtype, **kw), lv_fit(max_iter=1, dtype=dtype, **kw)),
        "lvmlib_1thread": (lv_fit(True, max_iter=n_iter, dtype=dtype, **kw),
                           lv_fit(True, max_iter=1, dtype=dtype, **kw)),
        "sklearn": (sk_fit(False, max_iter=n_iter, **kw), sk_fit(False, max_iter=1, **kw)),
        "sklearn_1thread": (sk_fit(True, max_iter=n_iter, **kw), sk_fit(True, max_iter=1, **kw)),
    }
    diffs = {name: [] for name in runners}
    for name, (full, one) in runners.items():  # warm-up
        full(X), one(X)
    for _ in range(repeats):
        for name, (full, one) in runners.items():
            diffs[name].append(timed(lambda: full(X)) - timed(lambda: one(X)))  # paired
    return {name: 1e3 * statistics.median(d) / (n_iter - 1) for name, d in diffs.items()}


def slider_refit(X, ks, repeats):
    """Median ms of a whole fit to convergence per K, with the EM iterations used."""
    rows = []
    for k in ks:
        runners = {
            "lvmlib": lv_fit(n_components=k, init_params="k-means++", random_state=0),
            "sklearn": sk_fit(False, n_components=k, init_params="k-means++", random_state=0),
            "sklearn_1thread": sk_fit(True, n_components=k, init_params="k-means++", random_state=0),
        }
        n_iters = {name: run(X).n_iter_ for name, run in runners.items()}  # warm-up
        times = {name: [] for name in runners}
        for _ in range(repeats):
            for name, run in runners.items():
                times[name].append(timed(lambda: run(X)))
        rows.append((k, {name: 1e3 * statistics.median(t) for name, t in times.items()}, n_iters))
    return rows


def synthetic_784(n=5000, d=784, k=10, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((k, d))
    return np.clip(protos[rng.integers(0, k, n)] + 0.1 * rng.standard_normal((n, d)), 0.0, 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and iterations")
    parser.add_argument("--matmul", choices=("numpy", "torch"), default=None,
                        help="lvmlib's CPU matmul backend (default: lvmlib.mixtures._cpu.CPU_MATMUL)")
    args = parser.parse_args()
    if args.matmul is not None:
        from lvmlib.mixtures import _cpu as mixture_cpu

        mixture_cpu.CPU_MATMUL = args.matmul
    repeats = 3 if args.quick else args.repeats
    scale = 0.5 if args.quick else 1.0

    digits = load_digits().data / 16.0
    big = synthetic_784()
    cases = [
        ("digits 1797x64, K=10, full, float64", digits, "full", 20, 2.0),
        ("digits 1797x64, K=10, full, float32", digits.astype(np.float32), "full", 20, None),
        ("digits 1797x64, K=10, diag, float64", digits, "diag", 40, 1.0),
        ("digits 1797x64, K=10, diag, float32", digits.astype(np.float32), "diag", 40, None),
        ("synthetic 5000x784, K=10, diag, float64", big, "diag", 10, 1.0),
        ("synthetic 5000x784, K=10, diag, float32", big.astype(np.float32), "diag", 10, None),
    ]
    load0 = os.getloadavg()
    lines = [
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
        + (f", lvmlib matmul: {args.matmul}" if args.matmul else ""),
        "",
        "ms per EM iteration (median of %d, same initial parameters, tol=0)" % repeats,
        "",
        "| case | lvmlib | lvmlib, 1 thread | sklearn | sklearn, 1 thread | speed-up vs sklearn's best | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, X, cov_type, n_iter, target in cases:
        r = per_iteration(X, 10, cov_type, max(6, int(n_iter * scale)), repeats)
        best = min(r["sklearn"], r["sklearn_1thread"])
        ratio = best / r["lvmlib"]
        verdict = "" if target is None else (f">= {target:g}x: " + ("met" if ratio >= target else "NOT met"))
        lines.append(f"| {name} | {r['lvmlib']:.2f} | {r['lvmlib_1thread']:.2f} | {r['sklearn']:.2f} | "
                     f"{r['sklearn_1thread']:.2f} | {ratio:.1f}x | {verdict} |")

    x2, _ = toy_2d("blobs", 2000, centers=5, seed=0)
    x2 = x2.numpy()
    rows = slider_refit(x2, range(2, 11), max(3, repeats * 2 + 1))
    lines += [
        "",
        "K-slider refit: 2000 2-D points, fit to convergence (tol=1e-3, init k-means++), median ms "
        "(EM iterations)",
        "",
        "| K | lvmlib | sklearn | sklearn, 1 thread |",
        "|---:|---:|---:|---:|",
    ]
    for k, t, it in rows:
        lines.append(f"| {k} | {t['lvmlib']:.1f} ({it['lvmlib']}) | {t['sklearn']:.1f} ({it['sklearn']}) | "
                     f"{t['sklearn_1thread']:.1f} ({it['sklearn_1thread']}) |")
    med = {name: statistics.median(t[name] for _, t, _ in rows) for name in ("lvmlib", "sklearn", "sklearn_1thread")}
    worst = max(t["lvmlib"] for _, t, _ in rows)
    lines.append(f"| median over K | {med['lvmlib']:.1f} | {med['sklearn']:.1f} | {med['sklearn_1thread']:.1f} |")
    lines += ["", f"K-slider target: median <= 25 ms: {'met' if med['lvmlib'] <= 25 else 'NOT met'} "
                  f"(lvmlib median {med['lvmlib']:.1f} ms, slowest K {worst:.1f} ms)",
              f"load average before / after: {load0[0]:.2f} / {os.getloadavg()[0]:.2f}"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
