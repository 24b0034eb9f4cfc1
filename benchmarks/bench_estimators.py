"""IWAE bound with k = 5000 samples on 500 points of a 64-dimensional decoder.

Compares :func:`lvmlib.inference.iwae_bound` (chunked over samples, several chunk
sizes) with the loop a user would otherwise write (one data point at a time) and with the
unchunked computation (all K x B samples decoded at once), in the same run.

The model is a random MLP of VAE size: z in R^8 -> 128 hidden (ReLU) -> 64 Bernoulli logits,
with a per-point Gaussian proposal N(mu_i, s_i^2), as an encoder would give.

What is measured, honestly:
- seconds: wall clock of one call under ``torch.no_grad()`` (evaluation), best of
  ``--repeats`` after one warm-up call, with torch's default threads (2 on this machine)
  or ``--threads``; and the process's CPU time over the same call, which other processes
  sharing the machine inflate much less than the wall clock (with ``--threads 1`` it is
  the wall time the call would take on an idle core);
- peak RSS: each method runs in its own subprocess; ``resource.getrusage(...).ru_maxrss``
  after set-up (torch imported, model and data built) and again after the calls.  The
  difference is the extra peak resident memory the method needed (torch's CPU allocator
  returns large blocks to the OS, so this is close to the method's peak allocation, but
  it is RSS, not an allocation count).  tracemalloc would not see torch's allocations.

A second table: memory bounded by the chunk.  ``importance_sampling(x, vae, vae.encoder, 10000)``
with B = 1000 points and a 32-dimensional latent (a VAE of lvmlib, 64 -> 128 -> 32 -> 128 -> 64),
peak RSS per chunk size, each in its own subprocess.  Before the samples were drawn inside the chunk
loop, all K x B x Dz samples and their noise existed at once (+2.4 GB).

Run:  .venv/bin/python benchmarks/bench_estimators.py            (prints two markdown tables)
      .venv/bin/python benchmarks/bench_estimators.py --memory-only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal

from lvmlib._util import DEFAULT_CHUNK_ELEMENTS

DATA_DIM, LATENT_DIM, HIDDEN = 64, 8, 128


class RandomDecoder(nn.Module):
    """z ~ N(0, I_8), x | z ~ Bernoulli(logits = MLP(z)), the model protocol."""

    def __init__(self, generator: torch.Generator):
        super().__init__()
        from lvmlib.nets import mlp

        self.data_dim, self.latent_dim = DATA_DIM, LATENT_DIM
        self.net = mlp([LATENT_DIM, HIDDEN, DATA_DIM], nn.ReLU, generator=generator, gain=2.0)

    def prior(self):
        zeros = torch.zeros(LATENT_DIM)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def likelihood(self, z):
        return Independent(Bernoulli(logits=self.net(z), validate_args=False), 1)


def setup(num_points: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    model = RandomDecoder(g)
    z_true = torch.randn(num_points, LATENT_DIM, generator=g)
    with torch.no_grad():
        x = torch.bernoulli(torch.sigmoid(model.net(z_true)), generator=g)  # [B, 64]
    loc = z_true + 0.3 * torch.randn(num_points, LATENT_DIM, generator=g)  # an imperfect encoder
    scale = torch.full((num_points, LATENT_DIM), 0.5)
    return model, x, loc, scale


def per_point_loop(x, model, loc, scale, k, generator):
    """What one would write by hand: a Python loop over the data points."""
    out = torch.empty(x.shape[0])
    prior = model.prior()
    for i in range(x.shape[0]):
        q = Independent(Normal(loc[i], scale[i]), 1)
        z = loc[i] + scale[i] * torch.randn(k, LATENT_DIM, generator=generator)  # [K, Dz]
        log_w = prior.log_prob(z) + model.likelihood(z).log_prob(x[i]) - q.log_prob(z)  # [K]
        out[i] = torch.logsumexp(log_w, 0) - math.log(k)
    return out


def worker(method: str, chunk: int | None, k: int, num_points: int, repeats: int, threads: int) -> dict:
    from lvmlib import inference as estimators

    if threads:
        torch.set_num_threads(threads)

    model, x, loc, scale = setup(num_points)
    q = Independent(Normal(loc, scale), 1)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def run():
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            if method == "loop":
                return per_point_loop(x, model, loc, scale, k, g)
            return estimators.iwae_bound(x, model, q, k, generator=g, chunk_size=chunk)

    result = run()  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": min(times),
        "cpu_seconds": min(cpu),
        "base_mb": base_kb / 1024,
        "peak_mb": peak_kb / 1024,
        "mean_iwae": float(result.mean()),
    }


def analytic_mb(chunk: int, k: int, b: int, latent_dim: int = LATENT_DIM) -> float:
    """Bytes the chunked path holds at once (float32): log_w [K, B], and per chunk the noise, z,
    log q, the hidden layer, the logits and the Bernoulli log-prob terms."""
    whole = k * b
    per_chunk = chunk * b * (HIDDEN + 2 * DATA_DIM + 4 * latent_dim)
    return 4 * (whole + per_chunk) / 2**20


MEM_K, MEM_B, MEM_DZ = 10_000, 1000, 32


def memory_worker(chunk: int | None) -> dict:
    """Peak RSS of importance_sampling(x, vae, vae.encoder, 10 000) on 1000 points, Dz = 32."""
    from lvmlib import inference as estimators
    from lvmlib.vae import VAE

    g = torch.Generator().manual_seed(0)
    vae = VAE(DATA_DIM, MEM_DZ, hidden=(HIDDEN,), generator=g)
    x = (torch.rand(MEM_B, DATA_DIM, generator=g) < 0.3).float()
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with torch.no_grad():
        out = estimators.importance_sampling(x, vae, vae.encoder, MEM_K, generator=g, chunk_size=chunk)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"extra_mb": (peak_kb - base_kb) / 1024, "seconds": seconds, "mean": float(out.mean())}


def memory_table() -> None:
    auto = max(1, min(MEM_K, DEFAULT_CHUNK_ELEMENTS // (MEM_B * DATA_DIM)))
    print(f"\nMemory bounded by the chunk: importance_sampling(x, vae, vae.encoder, {MEM_K}), B = {MEM_B}, "
          f"Dz = {MEM_DZ}, Dx = {DATA_DIM}, float32, no grad; each row in its own process; 1-minute load "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| chunk_size | extra peak RSS (MB) | analytic working set (MB) | wall s | mean log p-hat |")
    print("|---|---:|---:|---:|---:|")
    for chunk in ("auto",):   # one row: 10^7 decoder passes take minutes on 2 cores
        cmd = [sys.executable, __file__, "--memory-worker", chunk]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        c = auto if chunk == "auto" else int(chunk)
        label = f"None (auto = {auto})" if chunk == "auto" else chunk
        print(f"| {label} | {res['extra_mb']:.0f} | {analytic_mb(c, MEM_K, MEM_B, MEM_DZ):.0f} | "
              f"{res['seconds']:.2f} | {res['mean']:.3f} |")
    all_at_once = 4 * 2 * MEM_K * MEM_B * MEM_DZ / 2**20
    print(f"\n(Drawing all samples at once would hold z and its noise, {all_at_once:.0f} MB, whatever the chunk.)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", default="8,16,32,64,128,256",
                        help="chunk sizes (samples per chunk) to sweep; 'auto' is always added")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-unchunked", action="store_true", help="skip the all-at-once run (needs ~3 GB)")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "CHUNK"), help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", metavar="CHUNK", help=argparse.SUPPRESS)
    parser.add_argument("--memory-only", action="store_true", help="only the memory table")
    args = parser.parse_args()

    if args.memory_worker:
        print(json.dumps(memory_worker(None if args.memory_worker == "auto" else int(args.memory_worker))))
        return
    if args.memory_only:
        memory_table()
        return

    if args.worker:
        method, chunk = args.worker
        chunk_size = None if chunk == "auto" else int(chunk)
        print(json.dumps(worker(method, chunk_size, args.k, args.points, args.repeats, args.threads)))
        return

    auto = max(1, min(args.k, DEFAULT_CHUNK_ELEMENTS // (args.points * DATA_DIM)))
    runs = [("per-point loop (by hand)", "loop", "0")]
    runs += [(f"lvmlib iwae_bound, chunk_size={c}", "lvmlib", c) for c in args.chunks.split(",")]
    runs += [(f"lvmlib iwae_bound, chunk_size=None (auto = {auto})", "lvmlib", "auto")]
    if not args.no_unchunked:
        runs += [(f"lvmlib iwae_bound, unchunked (chunk_size={args.k})", "lvmlib", str(args.k))]

    load_before = os.getloadavg()[0]
    rows = []
    for label, method, chunk in runs:
        cmd = [sys.executable, __file__, "--worker", method, chunk, "--k", str(args.k),
               "--points", str(args.points), "--repeats", str(args.repeats), "--threads", str(args.threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        c = auto if chunk == "auto" else int(chunk)
        res["analytic"] = "" if method == "loop" else f"{analytic_mb(c, args.k, args.points):.0f}"
        rows.append((label, res))
        print(f"done: {label}: {res['seconds']:.3f} s", file=sys.stderr)

    loop_s = rows[0][1]["seconds"]
    threads = args.threads or torch.get_num_threads()
    print(f"\nIWAE bound, k = {args.k}, {args.points} points, decoder {LATENT_DIM} -> {HIDDEN} -> "
          f"{DATA_DIM} (Bernoulli), float32, torch {torch.__version__}, {threads} thread(s) on "
          f"{os.cpu_count()} cores, best of {args.repeats}; 1-minute load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes share the CPU)\n")
    loop_cpu = rows[0][1]["cpu_seconds"]
    print("| method | wall s | CPU s | speed-up vs loop (wall / CPU) | peak RSS (MB) "
          "| extra peak RSS over set-up (MB) | analytic working set (MB) | mean IWAE (nats) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in rows:
        print(f"| {label} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {loop_s / r['seconds']:.2f}x / "
              f"{loop_cpu / r['cpu_seconds']:.2f}x | {r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} | "
              f"{r['analytic']} | {r['mean_iwae']:.3f} |")
    print("\nwall s: wall clock of one call; CPU s: CPU time of the process over that call "
          "(with 1 thread, the wall time it would take on an idle core).")
    memory_table()


if __name__ == "__main__":
    main()
