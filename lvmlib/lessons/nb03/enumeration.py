"""Notebook 03, why marginalizing is hard: exact p(x) of n binary latents sums 2^n terms.

:func:`time_enumeration` measures the cost (``BinaryLatentModel.log_marginal``), :func:`seconds_per_term` and
:func:`doubling_factor` read it, and :func:`enumeration_app` extrapolates it up to image-sized latents, against
reference times (a second ... the age of the universe).
"""

from __future__ import annotations

import math
import time
from typing import Mapping, Sequence

import ipywidgets as W
import numpy as np
import torch

from lvmlib.models import BinaryLatentModel
from lvmlib.plotting import new_figure
from lvmlib.widgets.app import SliderApp

__all__ = ["ENUMERATION_NS", "time_enumeration", "SECONDS_PER_YEAR", "AGE_OF_UNIVERSE_YEARS", "seconds_per_term",
           "doubling_factor", "human_time", "enumeration_app"]

#: the n at which the notebook times enumeration (float32, 16-dimensional x, 8 points)
ENUMERATION_NS = tuple(range(2, 23, 2))  # up to 2^22 terms: far enough that the doubling shows


def time_enumeration(
    n_values: Sequence[int] = tuple(range(2, 17, 2)),
    data_dim: int = 16,
    num_points: int = 8,
    *,
    repeats: int = 1,
    clock: str = "wall",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[int, float]:
    """Seconds to compute exact log p(x) by enumeration, as the number of latents grows.

    For each n, builds a ``BinaryLatentModel(n, data_dim)``, samples ``num_points`` points
    from it and times ``log_marginal`` (best of ``repeats``).  The cost doubles per latent:
    plot the result on a log axis.

    Args:
        clock: ``"wall"`` (wall-clock time, torch's threads as they are) or ``"cpu"`` (CPU time
            of the calling thread with torch limited to one thread while timing: the work of
            one core, which other programs on a busy machine disturb far less than the wall clock).

    Returns:
        {n: seconds}.
    """
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    timer = time.perf_counter if clock == "wall" else time.thread_time
    threads = torch.get_num_threads()
    seconds: dict[int, float] = {}
    try:
        if clock == "cpu":
            torch.set_num_threads(1)
        for n in n_values:
            model = BinaryLatentModel(int(n), data_dim, generator=generator, dtype=dtype)
            _, x = model.sample(num_points, generator=generator)
            best = math.inf
            for _ in range(max(1, repeats)):
                t0 = timer()
                with torch.no_grad():
                    model.log_marginal(x)
                best = min(best, timer() - t0)
            seconds[int(n)] = best
    finally:
        torch.set_num_threads(threads)
    return seconds


SECONDS_PER_YEAR = 365.25 * 24 * 3600
AGE_OF_UNIVERSE_YEARS = 1.38e10


def seconds_per_term(seconds: Mapping[int, float], *, last: int = 1) -> float:
    """The measured cost of one configuration: t_n / 2^n at the largest n (the median over the
    ``last`` largest n; small n are dominated by fixed overheads)."""
    ns = sorted(seconds)[-last:]
    return float(np.median([seconds[n] / 2.0**n for n in ns]))


def doubling_factor(seconds: Mapping[int, float], *, last: int = 4) -> float:
    """Measured growth of the cost per added latent: 2 ** (slope of log2 t against n) over
    the ``last`` largest n (should be about 2)."""
    ns = np.array(sorted(seconds)[-last:], dtype=float)
    t = np.log2([seconds[int(n)] for n in ns])
    return float(2.0 ** np.polyfit(ns, t, 1)[0])


def human_time(sec: float) -> str:
    """'3.2 ms', '4.1 hours', '5.8e+03 years' ..."""
    if sec < 1e-3:
        return f"{sec * 1e6:.3g} µs"
    if sec < 1:
        return f"{sec * 1e3:.3g} ms"
    for unit, size in (("seconds", 60), ("minutes", 60), ("hours", 24), ("days", 365.25)):
        if sec < size:
            return f"{sec:.3g} {unit}"
        sec /= size
    return f"{sec:.3g} years" if sec < 1e4 else f"{sec:.2g} years"


def enumeration_app(seconds: Mapping[int, float], *, n: int = 20, n_max: int = 100,
                    name: str = "03_enumeration_cost") -> SliderApp:
    """Seconds to sum over 2^n configurations: measured points, the 2^n line through them,
    reference times (a second ... the age of the universe) and the chosen n.  Slider: n."""
    ns = np.array(sorted(seconds))
    ts = np.array([seconds[int(k)] for k in ns])
    rate = seconds_per_term(seconds)
    controls = {"n": W.IntSlider(value=n, min=1, max=n_max, description="binary latents n")}
    fig = new_figure(8.4, 3.8)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.09, right=0.86, bottom=0.13, top=0.9)
    grid = np.arange(1, n_max + 1)
    ax.plot(grid, rate * 2.0**grid, "C0-", lw=1.5, label=f"$2^n$ terms at {rate:.2g} s per term (extrapolated)")
    ax.plot(ns, ts, "ko", ms=5, label="measured (time_enumeration)")
    refs = (("1 second", 1.0), ("1 hour", 3600.0), ("1 year", SECONDS_PER_YEAR),
            ("age of the universe", AGE_OF_UNIVERSE_YEARS * SECONDS_PER_YEAR))
    for label, sec in refs:
        ax.axhline(sec, color="0.6", lw=0.8, ls="--")
        ax.text(1.5, sec * 1.8, label, fontsize=8, color="0.35")
    ax.set(yscale="log", xlim=(0, n_max + 1), ylim=(min(ts.min(), rate * 2) / 5, rate * 2.0**n_max * 30),
           xlabel="binary latents n",
           ylabel="seconds to compute p(x) exactly")
    sec_ax = ax.secondary_yaxis("right", functions=(lambda s: s / rate, lambda c: c * rate))
    sec_ax.set_ylabel("terms $2^n$")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("exact p(x) by enumerating every configuration of n binary latents")
    vline = ax.axvline(n, color="C3", lw=1.2, animated=True)
    dot, = ax.plot([], [], "o", color="C3", ms=9, animated=True)

    def redraw(n: int) -> str:
        t = rate * 2.0**n
        vline.set_xdata([n, n])
        dot.set_data([n], [t])
        return (f"n = {n} binary latents: 2<sup>{n}</sup> = {2 ** n:.4g} terms; at the measured {rate:.2g} s "
                f"per term that is about {human_time(t)}")

    return SliderApp(fig, controls, redraw, name=name)
