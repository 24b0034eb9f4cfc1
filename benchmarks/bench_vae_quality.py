"""Held-out log p(x) on binarized 8x8 digits, in nats: lookup tables against VAEs.

    .venv/bin/python benchmarks/bench_vae_quality.py [--epochs N] [--threads T]

Models (all trained on the 1347 training digits, scored on the 450 test digits):
- independent pixels: p(x) = prod_d Bernoulli(x_d; p_d), p_d the smoothed MLE
  (count of ones + 1) / (N + 2); exact log p(x).
- ``BernoulliMixture`` with K = 10, 50, 100 (EM, Laplace smoothing alpha = 1, k-means init,
  random_state 0); exact log p(x).
- VAE (``lvmlib.vae.DIGITS_RECIPE``: 64-128-Dz encoder, mirrored decoder, Adam) with latent
  size 2, 4, 8, 16, trained on the ELBO and on the IWAE bound with k = 5 (Burda et al. 2016),
  same epochs, lr, batch and seed.  For each VAE, 5000 importance samples per test point from
  the encoder give, from the same log weights (``lvmlib.inference.log_weights``): the ELBO
  (their mean), L_5 (the mean of logsumexp over groups of 5, minus log 5) and the k = 5000
  estimate of log p(x) (logsumexp over all, minus log 5000).

Means over points, +- the standard error across points.  The train column is the same
estimate on the first 450 training digits, to show overfitting.
"""

from __future__ import annotations

import argparse
import math
import dataclasses
import time

import torch
from torch.distributions import Bernoulli, Independent

from lvmlib import inference as estimators
from lvmlib.data import load_dataset
from lvmlib.vae import DIGITS_RECIPE, VAE, train

K_EVAL = 5000
LATENTS = (2, 4, 8, 16)
MIXTURE_K = (10, 50, 100)


def fmt(values: torch.Tensor) -> str:
    values = values.double()
    return f"{values.mean().item():.2f} ± {values.std().item() / math.sqrt(values.numel()):.2f}"


def independent_pixels(x_train, x_test):
    p = (x_train.sum(0) + 1.0) / (x_train.shape[0] + 2.0)  # [D], Laplace-smoothed MLE
    model = Independent(Bernoulli(probs=p), 1)
    return model.log_prob(x_test), model.log_prob(x_train[: x_test.shape[0]])  # [B] each


def mixtures(x_train, x_test):
    try:
        from lvmlib.mixtures import BernoulliMixture
    except ImportError:
        print("TODO: lvmlib.mixtures.bernoulli is not there yet; mixture rows skipped")
        return {}
    out = {}
    for k in MIXTURE_K:
        t0 = time.perf_counter()
        bm = BernoulliMixture(k, random_state=0).fit(x_train)
        test = torch.as_tensor(bm.score_samples(x_test))
        train_ = torch.as_tensor(bm.score_samples(x_train[: x_test.shape[0]]))
        out[k] = (test, train_, time.perf_counter() - t0, bm.n_iter_)
    return out


@torch.no_grad()
def vae_numbers(model, x, generator):
    """ELBO, L_5 and the k=5000 estimate, each [B], from one set of 5000 log weights."""
    log_w = estimators.log_weights(x, model, model.encoder, K_EVAL, generator=generator)  # [K, B]
    elbo = log_w.mean(0)  # [B]
    l5 = estimators.log_mean_exp(log_w.reshape(K_EVAL // 5, 5, -1), 1).mean(0)  # [B]
    return elbo, l5, estimators.log_mean_exp(log_w, 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=DIGITS_RECIPE.epochs)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = dataclasses.replace(DIGITS_RECIPE, epochs=args.epochs)
    data = load_dataset("digits", binarize=True)
    x_train, x_test = data.x_train, data.x_test
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; digits binarized: train "
          f"{tuple(x_train.shape)}, test {tuple(x_test.shape)}")
    print(f"VAE recipe: {recipe}; IWAE training k=5; evaluation k={K_EVAL}\n")
    t_start = time.perf_counter()

    rows = []
    test, train_ = independent_pixels(x_train, x_test)
    rows.append(("independent pixels", "exact", "", "", "", fmt(test), fmt(train_), ""))
    for k, (test, train_, sec, n_iter) in mixtures(x_train, x_test).items():
        rows.append((f"BernoulliMixture K={k}", f"EM, {n_iter} it", f"{sec:.1f}", "", "", fmt(test), fmt(train_), ""))

    for dz in LATENTS:
        for objective, k in (("elbo", 1), ("iwae", 5)):
            g = torch.Generator().manual_seed(0)
            model = VAE(x_train.shape[1], dz, recipe.hidden, generator=g)
            t0 = time.perf_counter()
            train(model, x_train, recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr,
                  objective=objective, num_samples=k, generator=g, progress=False)
            sec = time.perf_counter() - t0
            elbo, l5, log_p = vae_numbers(model, x_test, g)
            _, _, log_p_train = vae_numbers(model, x_train[: x_test.shape[0]], g)
            name = "ELBO" if objective == "elbo" else "IWAE k=5"
            rows.append((f"VAE z={dz}", name, f"{sec:.1f}", fmt(elbo), fmt(l5), fmt(log_p), fmt(log_p_train),
                         f"{(log_p - elbo).mean().item():.2f}"))
            print(f"  done: VAE z={dz} {name} ({sec:.1f} s)", flush=True)

    print("\n| model | trained with | train s | test ELBO | test L_5 | test log p(x) | train log p(x) | "
          "gap log p - ELBO |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nlog p(x) column: exact for pixels and mixtures, the k={K_EVAL} importance-sampling estimate "
          f"(encoder proposal) for VAEs. Total {time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()
