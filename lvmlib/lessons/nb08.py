"""Notebook 08, walking the latent space: interpolation (linear and slerp), the 2-D latent map,
one latent coordinate at a time, and the aggregate posterior against the prior.

Everything a slider can show is decoded once by a precompute function (a few thousand 8x8
images, well under a second): :func:`interpolation_paths` (every ordered pair of the chosen
test digits, both methods, every t of the slider), :func:`latent_map` (every grid point of
the two sliders) and :func:`coordinate_sweeps` (every digit, coordinate and value).  The
apps' callbacks only pick images and update artists in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as W
import numpy as np
import torch
from matplotlib.patches import Circle, Rectangle

from lvmlib._util import noise
from lvmlib.plotting import IMG, BinnedPoints, describe, new_figure, tile_images
from lvmlib.vae import (
    INTERPOLATIONS,
    VAE,
    per_class,
    slerp,
    train_vaes,
)
from lvmlib.widgets.app import SliderApp

_library_slerp = slerp  # (interpolation_paths has a parameter of that name)

__all__ = ["Paths", "interpolation_paths", "interpolation_app", "gaussian_norms", "norms_figure", "LatentMap", "latent_map", "latent_map_app", "Sweeps", "coordinate_sweeps", "coordinate_app", "label_share", "examples"]


def _digit_options(picks, labels) -> list[tuple[str, int]]:
    return [(f"a {lab} (test #{idx})", m) for m, (idx, lab) in enumerate(zip(picks, labels))]


def _plain(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------------------
# interpolation
# ----------------------------------------------------------------------------------------


@dataclass
class Paths:
    """Decoded interpolation paths between every ordered pair of M chosen test digits.

    ``images[k, i, j]`` is the path from digit i to digit j with method ``methods[k]``,
    shape [T, D] (decoder means); ``norms[k, i, j]`` the norms |z(t)|, shape [T].
    """

    picks: np.ndarray  # [M] indices into the test set
    labels: np.ndarray  # [M]
    data: np.ndarray  # [M, D] the digits
    recon: np.ndarray  # [M, D] their reconstructions
    t: np.ndarray  # [T]
    methods: tuple  # ("linear", "slerp")
    images: np.ndarray  # [2, M, M, T, D]
    norms: np.ndarray  # [2, M, M, T]
    t_fine: np.ndarray  # [F] a finer t grid for the norm curves
    norms_fine: np.ndarray  # [2, M, M, F]
    latent_dim: int
    image_shape: tuple
    norm_band: tuple  # (5%, 95%) quantiles of |z| under the prior N(0, I_d)

    def index(self, t: float) -> int:
        return int(np.argmin(np.abs(self.t - t)))


@torch.no_grad()
def interpolation_paths(model: VAE, x: torch.Tensor, y: torch.Tensor, picks, *, steps: int = 11,
                        fine: int = 101, image_shape=(8, 8), slerp=None) -> Paths:
    """Decode ``model.interpolate(x_i, x_j, steps, method, return_latents=True)`` for every ordered
    pair (i, j) of ``x[picks]`` and both methods; the norms |z(t)| also on ``fine`` values of t
    (``lvmlib.vae.slerp`` and the linear path between the same encoder means).

    With ``slerp`` (a function ``slerp(z0 [Dz], z1 [Dz], t: float) -> [Dz]``, e.g. the student's once
    its check passed), the slerp paths are built with it instead: its points at every t, decoded with
    the decoder's mean (``model.likelihood(z).mean``, as ``interpolate`` does)."""
    from scipy.stats import chi

    custom = slerp  # the given slerp (or None: lvmlib's, vectorized over t)
    picks = np.asarray(picks)
    xs = x[picks]
    m = len(picks)
    images = np.empty((len(INTERPOLATIONS), m, m, steps, x.shape[1]), dtype=np.float32)
    norms = np.empty((len(INTERPOLATIONS), m, m, steps), dtype=np.float32)
    norms_fine = np.empty((len(INTERPOLATIONS), m, m, fine), dtype=np.float32)
    codes = model.encoder(xs).mean  # [M, Dz], on the model's device
    t_fine = torch.linspace(0.0, 1.0, fine, dtype=codes.dtype, device=codes.device).unsqueeze(-1)  # [F, 1]
    ts = [float(v) for v in np.linspace(0.0, 1.0, steps)]
    for k, method in enumerate(INTERPOLATIONS):
        for i in range(m):
            for j in range(m):
                z0, z1 = codes[i], codes[j]
                if method == "slerp" and custom is not None:  # the given slerp, one t at a time
                    z = torch.stack([custom(z0, z1, t) for t in ts])  # [T, Dz]
                    path = model.likelihood(z).mean  # [T, D]
                    zf = torch.stack([custom(z0, z1, float(t)) for t in t_fine[:, 0]])  # [F, Dz]
                else:
                    path, z = model.interpolate(xs[i], xs[j], steps, method, return_latents=True)  # [T, D], [T, Dz]
                    zf = _library_slerp(z0, z1, t_fine) if method == "slerp" else (1 - t_fine) * z0 + t_fine * z1
                images[k, i, j] = path.cpu().numpy()
                norms[k, i, j] = z.norm(dim=1).cpu().numpy()
                norms_fine[k, i, j] = zf.norm(dim=1).cpu().numpy()
    d = model.latent_dim
    return Paths(picks=picks, labels=np.asarray(y)[picks], data=xs.cpu().numpy(), recon=model.reconstruct(xs).cpu().numpy(),
                 t=np.linspace(0.0, 1.0, steps), methods=tuple(INTERPOLATIONS), images=images, norms=norms,
                 t_fine=t_fine[:, 0].cpu().numpy(), norms_fine=norms_fine,
                 latent_dim=d, image_shape=tuple(image_shape), norm_band=(float(chi.ppf(0.05, d)), float(chi.ppf(0.95, d))))


def interpolation_app(paths: Paths, *, start: int = 0, end: int = 1, t: float = 0.5,
                      name: str = "08_interpolation") -> SliderApp:
    """Two digits, a walk between their codes: linear and slerp side by side, and |z(t)|."""
    options = _digit_options(paths.picks, paths.labels)
    step = float(paths.t[1] - paths.t[0])
    controls = {
        "start": W.Dropdown(options=options, value=start, description="from"),
        "end": W.Dropdown(options=options, value=end, description="to"),
        "t": W.FloatSlider(value=t, min=0.0, max=1.0, step=step, description="t", readout_format=".2f"),
    }
    shape, T = paths.image_shape, len(paths.t)
    h, w = shape
    fig = new_figure(10.5, 4.7)
    strips, boxes = [], []
    labels = {"linear": "linear:  z(t) = (1 - t) z0 + t z1", "slerp": "slerp:  along the great circle, |z| stays near the endpoints'"}
    for row, method in enumerate(paths.methods):
        ax = fig.add_axes([0.02, 0.74 - 0.27 * row, 0.62, 0.16])
        strips.append(ax.imshow(tile_images(paths.images[row, start, end], shape, ncols=T), animated=True, **IMG))
        _plain(ax)
        ax.set_title(labels.get(method, method), fontsize=10, loc="left")
        box = Rectangle((-1, -1), w + 1, h + 1, fill=False, ec="red", lw=2, animated=True, clip_on=False)
        ax.add_patch(box)
        boxes.append(box)
    # right: the two images at t, the two endpoints
    bigs, big_axes = [], []
    for col, method in enumerate(paths.methods):
        ax = fig.add_axes([0.68 + 0.16 * col, 0.50, 0.14, 0.38])
        bigs.append(ax.imshow(paths.images[col, start, end, 0].reshape(shape), animated=True, **IMG))
        _plain(ax)
        ax.title.set_animated(True)
        big_axes.append(ax)
    ends = []
    for col, what in enumerate(("from", "to")):
        ax = fig.add_axes([0.70 + 0.16 * col, 0.07, 0.10, 0.27])
        ends.append(ax.imshow(paths.data[start].reshape(shape), animated=True, **IMG))
        _plain(ax)
        ax.set_title(f"{what} (data)", fontsize=9)
    # bottom left: the norm along both paths
    ax_n = fig.add_axes([0.07, 0.10, 0.55, 0.27])
    lo, hi = paths.norm_band
    ax_n.axhspan(lo, hi, color="0.85", zorder=0, label=f"90% of |z| under N(0, I_{paths.latent_dim})")
    ax_n.axhline(np.sqrt(paths.latent_dim), color="0.4", ls=":", lw=1.2, label=f"sqrt(d) = {np.sqrt(paths.latent_dim):.2f}")
    top = max(float(paths.norms_fine.max()), hi) * 1.08
    ax_n.set(xlim=(-0.02, 1.02), ylim=(0, top))
    ax_n.set_xlabel("t", fontsize=9, labelpad=1)
    ax_n.set_ylabel("|z(t)|", fontsize=9)
    ax_n.tick_params(labelsize=8)
    colors = {"linear": "C0", "slerp": "C1"}
    curves = [ax_n.plot([], [], color=colors.get(mt, f"C{i}"), lw=2, animated=True, label=mt)[0]
              for i, mt in enumerate(paths.methods)]
    dots = [ax_n.plot([], [], "o", color=colors.get(mt, f"C{i}"), ms=6, animated=True)[0]
            for i, mt in enumerate(paths.methods)]
    vline = ax_n.axvline(t, color="red", lw=1, animated=True)
    ax_n.legend(loc="lower left", fontsize=8, ncol=4, frameon=False)

    def redraw(start: int, end: int, t: float) -> str:
        i = paths.index(t)
        tt = paths.t[i]
        for k, method in enumerate(paths.methods):
            strips[k].set_data(tile_images(paths.images[k, start, end], shape, ncols=T))
            boxes[k].set_x(i * (w + 1) - 1)
            bigs[k].set_data(paths.images[k, start, end, i].reshape(shape))
            big_axes[k].set_title(f"{method}, t = {tt:.2f}", fontsize=10)
            curves[k].set_data(paths.t_fine, paths.norms_fine[k, start, end])
            dots[k].set_data([tt], [paths.norms[k, start, end, i]])
        ends[0].set_data(paths.data[start].reshape(shape))
        ends[1].set_data(paths.data[end].reshape(shape))
        vline.set_xdata([tt, tt])
        n_lin, n_sl = paths.norms[0, start, end, i], paths.norms[1, start, end, i]
        return (f"from a {paths.labels[start]} to a {paths.labels[end]}, t = {tt:.2f}: |z(t)| linear {n_lin:.2f}, "
                f"slerp {n_sl:.2f}; endpoints |z0| = {paths.norms[0, start, end, 0]:.2f}, "
                f"|z1| = {paths.norms[0, start, end, -1]:.2f}; sqrt(d) = {np.sqrt(paths.latent_dim):.2f}")

    return SliderApp(fig, controls, redraw, name=name)


@torch.no_grad()
def gaussian_norms(dims=(2, 8, 64, 512), num: int = 2000, *, generator: torch.Generator | None = None,
                   device=None) -> dict:
    """Norms of z ~ N(0, I_d), and of the linear and slerp midpoints of independent pairs
    (drawn from ``generator`` on its device, computed on ``device``, default CPU).

    Returns:
        dict d -> {"norm": (num,), "linear": (num,), "slerp": (num,)} arrays, each divided by sqrt(d).
    """
    half = torch.tensor([[0.5]], device=device)
    out = {}
    for d in dims:
        z0 = noise("randn", (num, d), generator, device=device)  # [num, d]
        z1 = noise("randn", (num, d), generator, device=device)
        mid_lin = 0.5 * (z0 + z1)  # [num, d]
        mid_sl = torch.cat([slerp(a, b, half) for a, b in zip(z0, z1)])  # [num, d]
        s = d**0.5
        out[d] = {"norm": (z0.norm(dim=1) / s).cpu().numpy(), "linear": (mid_lin.norm(dim=1) / s).cpu().numpy(),
                  "slerp": (mid_sl.norm(dim=1) / s).cpu().numpy()}
    return out


def norms_figure(norms: dict):
    """Histograms of |z| / sqrt(d) for prior draws and for the two kinds of midpoints (pyplot)."""
    import matplotlib.pyplot as plt

    dims = list(norms)
    fig, axes = plt.subplots(1, len(dims), figsize=(2.6 * len(dims), 2.6), sharey=False)
    bins = np.linspace(0, 2.0, 61)
    for ax, d in zip(np.atleast_1d(axes), dims):
        for key, label, color in (("norm", "z ~ N(0, I)", "0.5"), ("linear", "linear midpoint", "C0"),
                                  ("slerp", "slerp midpoint", "C1")):
            ax.hist(norms[d][key], bins=bins, histtype="stepfilled" if key == "norm" else "step", color=color,
                    alpha=0.6 if key == "norm" else 1.0, lw=1.5, label=label, density=True)
        ax.axvline(1 / np.sqrt(2), color="C0", ls=":", lw=1)
        ax.set(title=f"d = {d}", xlabel="|z| / sqrt(d)", yticks=[])
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return describe(fig, "Histograms of the length |z| / sqrt(d) for draws from the prior and for the two kinds of "
                       "midpoints, straight-line (lerp) and spherical (slerp): the lerp midpoints are shorter than "
                       "typical prior draws, the slerp midpoints are not.")


# ----------------------------------------------------------------------------------------
# the 2-D latent map
# ----------------------------------------------------------------------------------------


@dataclass
class LatentMap:
    """A 2-D VAE decoded on the sliders' grid, and the test set encoded in the plane."""

    values: np.ndarray  # [G] slider values, the same for z1 and z2
    images: np.ndarray  # [G, G, D]: images[i, j] decodes z = (values[i], values[j])
    manifold: np.ndarray  # tiled picture of the decoded grid, rows z2 descending
    manifold_extent: tuple
    codes: np.ndarray  # [N, 2] encoder means of the test set
    labels: np.ndarray  # [N]
    image_shape: tuple

    def index(self, v: float) -> int:
        return int(np.argmin(np.abs(self.values - v)))


@torch.no_grad()
def latent_map(model: VAE, x: torch.Tensor, y: torch.Tensor, *, limit: float = 3.0, step: float = 0.1,
               tiles: int = 13, image_shape=(8, 8)) -> LatentMap:
    """Decode a 2-D VAE at every slider position (a (2 limit / step + 1)^2 grid) and on a coarser
    ``tiles`` x ``tiles`` grid for the manifold picture; encode ``x`` (means of q(z | x))."""
    if model.latent_dim != 2:
        raise ValueError(f"the latent map needs a 2-D latent, got latent_dim={model.latent_dim}")
    n = int(round(2 * limit / step)) + 1
    values = np.round(np.linspace(-limit, limit, n), 10)
    device = next(model.parameters()).device
    v = torch.as_tensor(values, dtype=torch.float32, device=device)
    z = torch.stack(torch.meshgrid(v, v, indexing="ij"), dim=-1)  # [G, G, 2]
    images = model.likelihood(z).mean.cpu().numpy()  # [G, G, D]
    coarse = torch.linspace(-limit, limit, tiles, device=device)
    zc = torch.stack(torch.meshgrid(coarse.flip(0), coarse, indexing="ij"), dim=-1)[..., [1, 0]]  # rows: z2 down
    tiles_img = tile_images(model.likelihood(zc.reshape(-1, 2)).mean.cpu(), image_shape, ncols=tiles)
    h = image_shape[0]
    spacing = 2 * limit / (tiles - 1)
    half = limit + spacing * (h / 2) / (h + 1)  # tile centres land on their z: pixel p <-> z = -limit + spacing * (p - (h-1)/2) / (h+1)
    codes = model.encoder(x).mean.cpu().numpy()
    return LatentMap(values=values, images=images, manifold=tiles_img, manifold_extent=(-half, half, -half, half),
                     codes=codes, labels=np.asarray(y), image_shape=tuple(image_shape))


def latent_map_app(lm: LatentMap, *, z1: float = 0.0, z2: float = 0.0, name: str = "08_latent_map") -> SliderApp:
    """The decoded plane next to the encoded test set; two sliders move a point that decodes live."""
    lo, hi = float(lm.values[0]), float(lm.values[-1])
    step = float(lm.values[1] - lm.values[0])
    controls = {
        "z1": W.FloatSlider(value=z1, min=lo, max=hi, step=step, description="z1", readout_format=".1f"),
        "z2": W.FloatSlider(value=z2, min=lo, max=hi, step=step, description="z2", readout_format=".1f"),
    }
    fig = new_figure(10.5, 4.1)
    ax_m = fig.add_axes([0.04, 0.11, 0.30, 0.77])
    ax_c = fig.add_axes([0.40, 0.11, 0.30, 0.77])
    ax_x = fig.add_axes([0.76, 0.25, 0.21, 0.54])
    ax_m.imshow(lm.manifold, extent=lm.manifold_extent, **IMG)
    ax_m.set_title("decoder means on a grid of z", fontsize=10)
    pad = 0.5
    for ax in (ax_m, ax_c):
        ax.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad), aspect="equal")
        ax.set_xlabel("$z_1$", fontsize=9, labelpad=1)
        ax.tick_params(labelsize=8)
    ax_m.set_ylabel("$z_2$", fontsize=9)
    pts = BinnedPoints(ax_c, vmin=-0.5, vmax=9.5, bins=10, cmap="tab10", markersize=3.5, animated=False)
    pts.set(lm.codes, lm.labels)
    for c in np.unique(lm.labels):
        cx, cy = np.median(lm.codes[lm.labels == c], axis=0)
        ax_c.text(cx, cy, str(c), fontsize=13, weight="bold", ha="center", va="center",
                  color="black", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
    for r in (1, 2):
        ax_c.add_patch(Circle((0, 0), r, fill=False, ls="--", lw=0.8, ec="0.5"))
    ax_c.set_title("test digits encoded, mu(x), by label", fontsize=10)
    marks = [ax.plot([], [], "+", color="red", ms=16, mew=2.5, animated=True)[0] for ax in (ax_m, ax_c)]
    im = ax_x.imshow(lm.images[0, 0].reshape(lm.image_shape), animated=True, **IMG)
    _plain(ax_x)
    ax_x.title.set_animated(True)

    def redraw(z1: float, z2: float) -> str:
        i, j = lm.index(z1), lm.index(z2)
        a, b = lm.values[i], lm.values[j]
        for mk in marks:
            mk.set_data([a], [b])
        im.set_data(lm.images[i, j].reshape(lm.image_shape))
        ax_x.set_title(f"decoded at z = ({a:+.1f}, {b:+.1f})", fontsize=10)
        dist = np.hypot(lm.codes[:, 0] - a, lm.codes[:, 1] - b)
        near = int(np.argmin(dist))
        return (f"z = ({a:+.1f}, {b:+.1f}), |z| = {np.hypot(a, b):.2f}; nearest encoded test digit: a "
                f"{lm.labels[near]} at distance {dist[near]:.2f}")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# one coordinate at a time
# ----------------------------------------------------------------------------------------


@dataclass
class Sweeps:
    """For each chosen digit, its code mu(x) with one coordinate replaced by each slider value."""

    picks: np.ndarray  # [M]
    labels: np.ndarray  # [M]
    data: np.ndarray  # [M, D]
    codes: np.ndarray  # [M, Dz]
    values: np.ndarray  # [V]
    images: np.ndarray  # [M, Dz, V, D]
    recon: np.ndarray  # [M, D]
    activity: np.ndarray  # [Dz] variance over the test set of mu_i(x)
    share: np.ndarray  # [Dz] fraction of that variance explained by the label
    image_shape: tuple

    def index(self, v: float) -> int:
        return int(np.argmin(np.abs(self.values - v)))


def label_share(codes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per coordinate, between-class variance / total variance of the codes (eta squared, in [0, 1]):
    1 would mean the coordinate is a function of the label, 0 that it ignores it.

    Args:
        codes: (N, Dz); labels: (N,).

    Returns:
        array of shape (Dz,).
    """
    codes, labels = np.asarray(codes, dtype=float), np.asarray(labels)
    mean = codes.mean(0)
    between = sum((labels == c).sum() * (codes[labels == c].mean(0) - mean) ** 2 for c in np.unique(labels))
    return between / ((codes - mean) ** 2).sum(0)


@torch.no_grad()
def coordinate_sweeps(model: VAE, x: torch.Tensor, y: torch.Tensor, picks, *, limit: float = 3.0,
                      num_values: int = 13, image_shape=(8, 8)) -> Sweeps:
    """Decode mu(x_m) with coordinate i set to v, for every chosen digit m, coordinate i and
    value v of ``linspace(-limit, limit, num_values)``; plus each coordinate's activity and label
    share over all of ``x``."""
    picks = np.asarray(picks)
    xs = x[picks]
    codes = model.encoder(xs).mean  # [M, Dz]
    m, dz = codes.shape
    values = np.round(np.linspace(-limit, limit, num_values), 10)
    z = codes[:, None, None, :].repeat(1, dz, num_values, 1).clone()  # [M, Dz, V, Dz]
    vals = torch.as_tensor(values, dtype=z.dtype, device=z.device)
    for i in range(dz):
        z[:, i, :, i] = vals
    images = model.likelihood(z).mean.cpu().numpy()  # [M, Dz, V, D]
    all_codes = model.encoder(x).mean.cpu().numpy()  # [N, Dz]
    return Sweeps(picks=picks, labels=np.asarray(y)[picks], data=xs.cpu().numpy(), codes=codes.cpu().numpy(), values=values,
                  images=images, recon=model.reconstruct(xs).cpu().numpy(), activity=all_codes.var(0),
                  share=label_share(all_codes, np.asarray(y)), image_shape=tuple(image_shape))


def coordinate_app(sw: Sweeps, *, digit: int = 0, coordinate: int = 1, value: float = 0.0,
                   name: str = "08_one_coordinate") -> SliderApp:
    """Pick a digit and a coordinate z_i; the value slider moves z_i alone, the other coordinates
    stay at the digit's code.  Left: every coordinate swept (rows) for that digit."""
    dz, nv = sw.images.shape[1], len(sw.values)
    step = float(sw.values[1] - sw.values[0])
    controls = {
        "digit": W.Dropdown(options=_digit_options(sw.picks, sw.labels), value=digit, description="digit"),
        "coordinate": W.IntSlider(value=coordinate, min=1, max=dz, description="coordinate i"),
        "value": W.FloatSlider(value=value, min=float(sw.values[0]), max=float(sw.values[-1]), step=step,
                               description="z_i =", readout_format=".2f"),
    }
    shape = sw.image_shape
    h, w = shape
    fig = new_figure(10.5, 4.3)
    ax_g = fig.add_axes([0.11, 0.12, 0.55, 0.76])
    grid = ax_g.imshow(tile_images(sw.images[digit].reshape(dz * nv, -1), shape, ncols=nv), animated=True, **IMG)
    ax_g.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(dz)],
                    [f"$z_{{{i + 1}}}$ (var {sw.activity[i]:.2f})" for i in range(dz)], fontsize=8)
    ticks = [0, nv // 4, nv // 2, nv - 1 - nv // 4, nv - 1]
    ax_g.set_xticks([c * (w + 1) + (w - 1) / 2 for c in ticks], [f"{sw.values[c]:+.1f}" for c in ticks], fontsize=8)
    ax_g.set_xlabel("value given to that coordinate (the others stay at the digit's code)", fontsize=9)
    ax_g.set_title("one coordinate at a time: row i sweeps $z_i$; red dots: the digit's own code", fontsize=10)
    box = Rectangle((-1, -1), w + 1, h + 1, fill=False, ec="red", lw=2, animated=True, clip_on=False)
    ax_g.add_patch(box)
    (own,) = ax_g.plot([], [], "o", color="red", ms=4, animated=True)

    def col_of(v):  # x position in the tiled image of value v
        return (np.asarray(v) - sw.values[0]) / step * (w + 1) + (w - 1) / 2

    axes = {}
    for key, rect, title in (("data", [0.70, 0.52, 0.12, 0.33], "the digit"),
                             ("recon", [0.85, 0.52, 0.12, 0.33], "reconstruction"),
                             ("now", [0.76, 0.06, 0.15, 0.38], None)):
        ax = fig.add_axes(rect)
        _plain(ax)
        if title:
            ax.set_title(title, fontsize=9)
        axes[key] = ax
    ims = {"data": axes["data"].imshow(sw.data[digit].reshape(shape), animated=True, **IMG),
           "recon": axes["recon"].imshow(sw.recon[digit].reshape(shape), animated=True, **IMG),
           "now": axes["now"].imshow(sw.images[digit, 0, 0].reshape(shape), animated=True, **IMG)}
    axes["now"].title.set_animated(True)

    def redraw(digit: int, coordinate: int, value: float) -> str:
        i, k = coordinate - 1, sw.index(value)
        grid.set_data(tile_images(sw.images[digit].reshape(dz * nv, -1), shape, ncols=nv))
        box.set_xy((k * (w + 1) - 1, i * (h + 1) - 1))
        own.set_data(col_of(np.clip(sw.codes[digit], sw.values[0], sw.values[-1])),
                     np.arange(dz) * (h + 1) + (h - 1) / 2)
        ims["data"].set_data(sw.data[digit].reshape(shape))
        ims["recon"].set_data(sw.recon[digit].reshape(shape))
        ims["now"].set_data(sw.images[digit, i, k].reshape(shape))
        axes["now"].set_title(f"$z_{{{coordinate}}}$ = {sw.values[k]:+.2f}", fontsize=10)
        return (f"a {sw.labels[digit]}: its own z_{coordinate} = {sw.codes[digit, i]:+.2f}, shown at "
                f"{sw.values[k]:+.2f}; over the test set z_{coordinate} has variance {sw.activity[i]:.2f}, "
                f"{100 * sw.share[i]:.0f}% of it explained by the label")

    return SliderApp(fig, controls, redraw, name=name)


# ----------------------------------------------------------------------------------------
# the aggregate posterior
# ----------------------------------------------------------------------------------------


def examples():
    """The three apps as notebook 08 builds them, from tiny models trained for a few epochs."""
    from lvmlib.data import load_dataset
    from lvmlib.device import one_thread

    with one_thread():
        g = torch.Generator().manual_seed(0)
        data = load_dataset("digits", binarize=True)
        models, _ = train_vaes(data.x_train, (2, 8), 3, generator=g, progress=False)
        picks = per_class(data.y_test, 1)
        paths = interpolation_paths(models[8], data.x_test, data.y_test, picks)
        lm = latent_map(models[2], data.x_test, data.y_test)
        sw = coordinate_sweeps(models[8], data.x_test, data.y_test, picks)
    yield "interpolation", interpolation_app(paths, start=3, end=8)
    yield "latent_map", latent_map_app(lm, z1=0.5, z2=-1.0)
    yield "one_coordinate", coordinate_app(sw, digit=0, coordinate=1)
