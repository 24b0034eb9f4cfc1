"""Speed of lvmlib.vae on this CPU: train overhead, time to a usable model, k=5000 evaluation.

    .venv/bin/python benchmarks/bench_vae.py [--rounds 7] [--epochs 10]

1. One epoch of ``lvmlib.vae.train`` against a plain PyTorch loop of the same architecture
   (64-128-2x8 encoder, 8-128-64 decoder, ReLU, Adam lr 1e-3, batch 128, the same shuffling
   and noise from a seeded generator), side by side, rounds interleaved so that machine
   noise hits every row alike; medians reported.  Plain loops (a script, global RNG seeded):
   - "plain, MC ELBO": the *same objective* as lvmlib (one-sample Monte Carlo ELBO,
     log p(z) + log p(x | z) - log q(z | x) written out with tensor ops), the reference for
     the overhead ratio (target <= 15 %), with torch's default Adam (what pytorch/examples
     uses) and with the fused Adam kernel that lvmlib's ``train`` uses (the abstraction's
     cost alone).
   - "plain, analytic KL": pytorch/examples' VAE loss (BCE + closed-form KL to the prior),
     a slightly different estimator of the same ELBO, for reference.
2. Time to train a digits VAE good enough for the notebooks (``lvmlib.vae.DIGITS_RECIPE``,
   latent sizes 2, 4, 8, 16; target <= 30 s each, all four well under a minute), with its
   held-out ELBO.
3. ``lvmlib.vae.evaluate`` with k = 5000 on 500 test digits (target <= 2 s).  The digits
   test split has 450 points, so 500 rows are drawn from train + test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from lvmlib.data import load_dataset
from lvmlib.vae import DIGITS_RECIPE, VAE, evaluate, train

LOG_2PI = math.log(2 * math.pi)


class PlainVAE(nn.Module):
    """pytorch/examples' VAE shape at digits size, with the same layers as lvmlib's VAE."""

    def __init__(self, d=64, h=128, z=8):
        super().__init__()
        self.z = z
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, 2 * z))
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, d))

    def loss_mc(self, x, g):
        """Negative one-sample MC ELBO, batch mean (lvmlib's objective, written out)."""
        out = self.enc(x)
        mu, std = out[:, : self.z], F.softplus(out[:, self.z:]) + 1e-5
        eps = torch.randn(mu.shape, generator=g)
        z = mu + std * eps
        logits = self.dec(z)
        log_px = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_qz = (-0.5 * (eps.pow(2) + LOG_2PI) - std.log()).sum(-1)
        return -(log_px + log_pz - log_qz).mean()

    def loss_kl(self, x, g):
        """pytorch/examples: BCE + analytic KL(q || N(0, I)), per point (mean over the batch)."""
        out = self.enc(x)
        mu, std = out[:, : self.z], F.softplus(out[:, self.z:]) + 1e-5
        z = mu + std * torch.randn(mu.shape, generator=g)
        bce = F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="sum")
        kld = -0.5 * torch.sum(1 + 2 * std.log() - mu.pow(2) - std.pow(2))
        return (bce + kld) / x.shape[0]


def plain_epochs(x, epochs, loss_name, seed, fused=False, batch_size=128, lr=1e-3):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = PlainVAE()
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=fused or None)
    loss_fn = getattr(model, loss_name)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        train_loss = 0.0
        xs = x[torch.randperm(x.shape[0], generator=g)]
        for start in range(0, xs.shape[0], batch_size):
            loss = loss_fn(xs[start : start + batch_size], g)
            opt.zero_grad()
            loss.backward()
            opt.step()
            train_loss += loss.item()  # pytorch/examples syncs every batch; free on the CPU
    return (time.perf_counter() - t0) / epochs, (time.process_time() - c0) / epochs


def lvmlib_epochs(x, epochs, seed, progress, batch_size=128, lr=1e-3):
    g = torch.Generator().manual_seed(seed)
    model = VAE(64, 8, (128,), generator=g)
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stderr(io.StringIO()):  # the bar is drawn, into a buffer
        train(model, x, epochs, batch_size=batch_size, lr=lr, generator=g, progress=progress)
    return (time.perf_counter() - t0) / epochs, (time.process_time() - c0) / epochs


def bench_overhead(x, rounds, epochs):
    runs = {
        "plain loop, MC ELBO, default Adam": lambda r: plain_epochs(x, epochs, "loss_mc", r),
        "plain loop, MC ELBO, fused Adam": lambda r: plain_epochs(x, epochs, "loss_mc", r, fused=True),
        "plain loop, analytic KL (pytorch/examples), default Adam": lambda r: plain_epochs(x, epochs, "loss_kl", r),
        "lvmlib train, progress=False": lambda r: lvmlib_epochs(x, epochs, r, False),
        "lvmlib train, progress bar": lambda r: lvmlib_epochs(x, epochs, r, True),
    }
    times = {name: [] for name in runs}
    for name, run in runs.items():  # warm-up
        run(100)
    for r in range(rounds):  # interleaved, so load changes hit every row alike
        for name, run in runs.items():
            times[name].append(run(r))
    med = {name: statistics.median(t[0] for t in ts) for name, ts in times.items()}
    cpu = {name: statistics.median(t[1] for t in ts) for name, ts in times.items()}
    base, base_fused = "plain loop, MC ELBO, default Adam", "plain loop, MC ELBO, fused Adam"
    print(f"\n## 1. One epoch on digits (N={x.shape[0]}, batch 128, 64-128-8 ReLU, lr 1e-3), median of "
          f"{rounds} interleaved rounds x {epochs} epochs\n")
    print("| loop | wall ms / epoch | CPU ms / epoch | vs plain, default Adam (wall / CPU) "
          "| vs plain, fused Adam (wall / CPU) |\n|---|---:|---:|---:|---:|")
    for name in times:
        def rel(ref):
            return f"{100 * (med[name] / med[ref] - 1):+.0f} % / {100 * (cpu[name] / cpu[ref] - 1):+.0f} %"
        print(f"| {name} | {1e3 * med[name]:.1f} | {1e3 * cpu[name]:.1f} | {rel(base)} | {rel(base_fused)} |")
    print("\nCPU time (process_time) is the robust column on a shared machine with 1 thread; with more "
          "threads it adds up the threads' time.")
    print("\nlvmlib's train uses fused Adam; 'vs plain, fused Adam' is the cost of the abstraction alone "
          "(torch.distributions objects, lvmlib.inference' checks, the loop's bookkeeping).")


def bench_recipe(data):
    r = DIGITS_RECIPE
    print(f"\n## 2. Time to a notebook-ready digits VAE: DIGITS_RECIPE = {r}\n")
    print("| latent | train s | ms / epoch | held-out ELBO (nats, 100 samples) |\n|---:|---:|---:|---:|")
    total = 0.0
    for dz in (2, 4, 8, 16):
        g = torch.Generator().manual_seed(0)
        model = VAE(64, dz, r.hidden, generator=g)
        t0 = time.perf_counter()
        train(model, data.x_train, r.epochs, batch_size=r.batch_size, lr=r.lr, generator=g, progress=False)
        sec = time.perf_counter() - t0
        total += sec
        with torch.no_grad():
            held = model.elbo(data.x_test, 100, generator=g).mean().item()
        print(f"| {dz} | {sec:.1f} | {1e3 * sec / r.epochs:.0f} | {held:.2f} |")
    print(f"\nall four: {total:.1f} s")


def bench_evaluate(data, rounds):
    g = torch.Generator().manual_seed(0)
    model = VAE(64, 8, (128,), generator=g)
    train(model, data.x_train, 30, batch_size=64, lr=3e-3, generator=g, progress=False)  # weights matter little
    x = torch.cat([data.x_test, data.x_train])[:500]
    evaluate(model, x[:50], 500, generator=g)  # warm-up
    times, value = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        value = evaluate(model, x, 5000, generator=g)
        times.append(time.perf_counter() - t0)
    print(f"\n## 3. evaluate(model, x[500, 64], num_samples=5000), 64-128-8, median of {rounds}\n")
    print(f"| seconds (median) | seconds (min) | log p(x) estimate |\n|---:|---:|---:|\n"
          f"| {statistics.median(times):.2f} | {min(times):.2f} | {value[0]:.2f} +- {value[1]:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    data = load_dataset("digits", binarize=True)
    bench_overhead(data.x_train, args.rounds, args.epochs)
    bench_recipe(data)
    bench_evaluate(data, 5)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other processes share this CPU)")


if __name__ == "__main__":
    main()
