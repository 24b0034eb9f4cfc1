"""Notebook 01, the generative story: z ~ p(z), then x ~ p(x | z) from a neural decoder."""

from __future__ import annotations

from typing import Callable, Mapping

import ipywidgets as W
import numpy as np
import torch

from lvmlib._util import noise
from lvmlib.plotting import BinnedPoints, describe, new_figure
from lvmlib.widgets.app import SliderApp


def sample_story(decoders: Mapping[int, Callable], num_samples: int, data_dim: int = 2, *,
                 generator: torch.Generator | None = None, dtype=torch.float32, device=None,
                 sampler: Callable | None = None) -> dict:
    """Draw everything the slider will show, once.

    For each latent size d, z ~ N(0, I_d) (shape [N, d]) and the decoder's mean and scale of
    p(x | z) (shape [N, data_dim] each); one shared standard-normal noise eps [N, data_dim],
    so that the slider's x = loc + noise * scale * eps only rescales, never resamples.

    Args:
        decoders: latent size -> ``likelihood(z)`` returning a Distribution over x with
            ``.mean`` and ``.stddev`` of shape [N, data_dim].
        num_samples: the largest number of samples the slider offers.
        generator: draws z and eps (on its own device, then moved to ``device``).
        device: where z is made and decoded (the decoders must live there); default CPU.
        sampler: ``sampler(decoder, num_samples, generator) -> (z, x)`` (exercise 1.1, or
            :func:`story_recipe`): draws (z, x) for every latent size; then each size keeps the
            noise its x was drawn with, ``eps_by_size[d] = (x - loc) / scale``, so the noise slider
            rescales the sampler's own draws.

    Returns:
        dict with ``"z"``: {d: [N, d]}, ``"loc"``/``"scale"``: {d: [N, data_dim]}, ``"eps"``: [N, data_dim]
        (NumPy arrays, ready to draw); with ``sampler`` also ``"eps_by_size"``: {d: [N, data_dim]}.
    """
    out = {"z": {}, "loc": {}, "scale": {}}
    if sampler is not None:
        out["eps_by_size"] = {}
        with torch.no_grad():
            for d, decoder in decoders.items():
                z, x = sampler(decoder, num_samples, generator)  # [N, d], [N, Dx]
                px = decoder(z)
                out["z"][d] = z.cpu().numpy()
                out["loc"][d], out["scale"][d] = px.mean.cpu().numpy(), px.stddev.cpu().numpy()  # [N, Dx]
                out["eps_by_size"][d] = ((x - px.mean) / px.stddev).cpu().numpy()  # the noise x was drawn with
        out["eps"] = out["eps_by_size"][min(decoders)]
        return out
    with torch.no_grad():
        for d, likelihood in decoders.items():
            z = noise("randn", (num_samples, d), generator, dtype=dtype, device=device)  # [N, d]
            px = likelihood(z)
            out["z"][d] = z.cpu().numpy()
            out["loc"][d] = px.mean.cpu().numpy()  # [N, Dx]
            out["scale"][d] = px.stddev.cpu().numpy()  # [N, Dx]
    out["eps"] = noise("randn", (num_samples, data_dim), generator, dtype=dtype, device=device).cpu().numpy()
    return out


def story_samples(story: dict, latent_size: int, noise: float, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(z [n, d], x [n, Dx]) as the slider shows them: x = loc(z) + noise * scale(z) * eps."""
    z = story["z"][latent_size][:samples]
    eps = story.get("eps_by_size", {}).get(latent_size, story["eps"])[:samples]
    x = story["loc"][latent_size][:samples] + noise * story["scale"][latent_size][:samples] * eps
    return z, x


def generative_story_app(story: dict, *, latent_size: int | None = None, noise: float = 1.0,
                         samples: int = 1000, name: str = "01_generative_story") -> SliderApp:
    """Left: z ~ p(z) (first two coordinates); right: x ~ p(x | z); colour = z's first coordinate.

    Sliders: latent size, noise scale (multiplies the decoder's scale), number of samples.
    """
    sizes = sorted(story["z"])
    n_max = len(story["eps"])
    latent_size = sizes[0] if latent_size is None else latent_size
    controls = {
        "latent_size": W.SelectionSlider(options=sizes, value=latent_size, description="latent size"),
        "noise": W.FloatSlider(value=noise, min=0.0, max=2.0, step=0.05, description="noise scale"),
        "samples": W.IntSlider(value=samples, min=10, max=n_max, step=10, description="samples"),
    }
    fig = new_figure(8.4, 3.6)
    ax_z, ax_x = fig.subplots(1, 2)
    pts_z = BinnedPoints(ax_z, vmin=-2.5, vmax=2.5)
    pts_x = BinnedPoints(ax_x, vmin=-2.5, vmax=2.5)
    ax_x.title.set_animated(True)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
    ax_z.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), xlabel="$z_1$", ylabel="$z_2$ (jitter when d = 1)",
             title="latent: z ~ N(0, I)")
    limits = {}  # per latent size: room for the largest noise the slider offers
    for d in sizes:
        reach = np.concatenate([story["loc"][d] - 2 * story["scale"][d], story["loc"][d] + 2 * story["scale"][d]])
        lo, hi = np.percentile(reach, [0.5, 99.5], axis=0)
        pad = 0.1 * (hi - lo).max()
        limits[d] = ((lo[0] - pad, hi[0] + pad), (lo[1] - pad, hi[1] + pad))
    ax_x.set(xlabel="$x_1$", ylabel="$x_2$")
    jitter = story["eps"][:, 1] * 0.15

    def redraw(latent_size: int, noise: float, samples: int) -> str:
        z, x = story_samples(story, latent_size, noise, samples)
        if (ax_x.get_xlim(), ax_x.get_ylim()) != limits[latent_size]:
            ax_x.set(xlim=limits[latent_size][0], ylim=limits[latent_size][1])  # a full draw, once per size
        zy = z[:, 1] if z.shape[1] > 1 else jitter[:samples]
        pts_z.set(np.column_stack([z[:, 0], zy]), z[:, 0])
        pts_x.set(x, z[:, 0])
        ax_x.set_title(f"data: x ~ p(x | z), d = {latent_size}, noise x{noise:.2f}")
        return f"{samples} samples; latent size {latent_size}; x spread (std per axis) = " \
               f"{x[:, 0].std():.2f}, {x[:, 1].std():.2f}"

    return SliderApp(fig, controls, redraw, name=name)


def story_recipe(decoder, num_samples: int, generator: torch.Generator | None = None):
    """The generative story, lvmlib's version of exercise 1.1: z ~ N(0, I) [num_samples, latent_dim],
    then x ~ p(x | z) = decoder(z) [num_samples, Dx] (the same draws, in the same order, as the
    notebook's solution; in the decoder's dtype and on its device)."""
    ref = next(decoder.parameters())
    z = noise("randn", (num_samples, decoder.latent_dim), generator, dtype=ref.dtype, device=ref.device)  # [N, d]
    px = decoder(z)
    return z, px.mean + px.stddev * noise("randn", tuple(px.mean.shape), generator, dtype=ref.dtype, device=ref.device)


def story_decoders(sizes=(1, 2, 3, 4, 8), *, data_dim: int = 2, seed: int = 0, device=None) -> dict:
    """One random ``GaussianDecoder`` per latent size, each seeded from ``seed`` (weights drawn
    on the CPU, the same on every device) and moved to ``device`` (default CPU)."""
    from lvmlib.nets import GaussianDecoder

    return {d: GaussianDecoder(d, data_dim, generator=torch.Generator().manual_seed(seed + d)).to(device)
            for d in sizes}


def examples():
    """The apps as notebook 01 builds them (for tests and the slider benchmark)."""
    story = sample_story(story_decoders(), 5000, generator=torch.Generator().manual_seed(0))
    yield "generative_story", generative_story_app(story)


def conditionals_figure(likelihood: Callable, z_values, marginal_x, *, num_samples: int = 300,
                        generator: torch.Generator | None = None, device=None):
    """p(x) (grey samples) against p(x | z) for a few fixed z (coloured samples and means).

    Args:
        likelihood: z [n, Dz] -> Distribution over x (event shape [2]).
        z_values: tensor [m, Dz] of latents to condition on (moved to ``device``).
        device: where the decoder lives; default: ``z_values``' device.
        marginal_x: array [N, 2] of samples from p(x).

    Returns:
        a pyplot figure (shown inline by the notebook).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    mx = np.asarray(marginal_x)
    ax.plot(mx[:, 0], mx[:, 1], ".", ms=2, color="0.75", label="x ~ p(x)")
    colors = plt.get_cmap("tab10").colors
    with torch.no_grad():
        for i, z in enumerate(torch.as_tensor(z_values, device=device)):
            px = likelihood(z.expand(num_samples, -1))
            eps = noise("randn", (num_samples, 2), generator, dtype=px.mean.dtype, device=px.mean.device)
            x = (px.mean + px.stddev * eps).cpu().numpy()
            label = "z = " + ", ".join(f"{v:.1f}" for v in z.tolist())
            ax.plot(x[:, 0], x[:, 1], ".", ms=3, color=colors[i % 10], label=f"x ~ p(x | {label})")
            ax.plot(*px.mean[0].cpu().numpy(), "k+", ms=12, mew=2)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title="conditioning on z leaves a simple Gaussian")
    ax.legend(loc="best", fontsize=8, markerscale=3)
    return describe(fig, "Samples of x from the model: the marginal p(x) as grey points, and for a few fixed values "
                       "of z the conditional p(x | z) as coloured points around their means; each conditional "
                       "covers a small part of what the marginal covers.")
