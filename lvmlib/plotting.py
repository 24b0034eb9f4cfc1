"""Matplotlib helpers shared by the notebooks, and the one place figures are written.

Figures for the repository's ``figures/`` folder are written only by :func:`savefig`, and
only when the environment variable ``LVMLIB_FIGURES`` is set (``make figures`` sets it and
runs every notebook), so running a notebook never litters the disk.

Import it on its own (``import lvmlib.plotting``) or reach it as ``lvmlib.plotting`` after
``import lvmlib`` (loaded on first use).  Every notebook's setup cell calls
:func:`retina_figures` so that its static figures are as sharp as the text around them.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FIGURES_ENV = "LVMLIB_FIGURES"


def figures_dir() -> Path | None:
    """The folder figures go to: ``$LVMLIB_FIGURES`` if it names a folder, ``figures/`` of
    the repository if it is set to ``1``, and None (write nothing) when it is unset."""
    value = os.environ.get(FIGURES_ENV, "").strip()
    if not value or value == "0":
        return None
    if value == "1":
        return Path(__file__).resolve().parent.parent / "figures"
    return Path(value)


def savefig(fig: Figure | bytes | memoryview, name: str, *, dpi: int = 110) -> Path | None:
    """Write ``fig`` as ``<figures>/<name>.png`` when ``LVMLIB_FIGURES`` is set.

    Args:
        fig: a matplotlib figure, or PNG bytes already rendered (a slider app's picture).
        name: file stem, letters, digits, ``-`` and ``_`` only (e.g. ``"02_em_steps"``).

    Returns:
        the path written, or None when figure export is off.
    """
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise ValueError(f"figure name {name!r} must be letters, digits, '-' or '_' (no folders, no suffix)")
    folder = figures_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if isinstance(fig, (bytes, bytearray, memoryview)):  # an Image widget's value is a memoryview
        path.write_bytes(bytes(fig))
    else:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def retina_figures() -> bool:
    """Show this notebook's inline matplotlib figures as 2x ("retina") PNGs: twice the pixels,
    displayed at the usual size, so they are sharp on hi-DPI screens.

    Chosen over SVG (measured on the notebooks' kinds of figures, see the README): a retina PNG
    has a size bounded by its area, while an SVG of a scatter of thousands of samples is ~3x
    larger and slow for the browser to draw; SVG wins only on plain line plots.

    Returns:
        True when set (in IPython), False outside IPython (a script: nothing to do).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    if get_ipython() is None:
        return False
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")  # keeps the inline backend's other settings (bbox_inches="tight")
    return True


def new_figure(width: float = 8.0, height: float = 3.2, *, dpi: int = 72, layout: str | None = None) -> Figure:
    """A figure that is not managed by pyplot, so it is shown only where a widget puts it
    (no duplicate inline copy).  Sizes are in inches; a ``SliderApp`` sets the dpi it renders at
    (``lvmlib.widgets.core.CSS_PX_PER_INCH`` CSS pixels per inch, times the pixel ratio).

    No automatic layout by default: a constrained layout costs ~100 ms per draw, which a
    slider cannot afford; call ``fig.subplots_adjust`` or pass ``layout="constrained"``."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def canvas_png(canvas) -> bytes:
    """PNG bytes of what an Agg canvas holds now (no redraw), encoded for speed.

    A slider redraws on every move, so the encoder matters: each row gets PNG's *Up* filter
    (the difference to the row above: zero wherever the picture is flat or has vertical
    edges, one numpy subtraction) and zlib compresses at level 1 in run-length mode
    (``Z_RLE``).  For a 2x picture (1-3 Mpx) this is about twice as fast as Pillow's
    ``compress_level=1`` (which tries five filters per row), for ~25% more bytes.
    The RGBA buffer is kept as it is (dropping alpha costs a strided copy).
    Spec: PNG (ISO/IEC 15948), sections 9 (filters) and 11.2 (IHDR, colour type 6).
    """
    import numpy as np

    width, height = canvas.get_width_height(physical=True)
    rgba = np.asarray(canvas.buffer_rgba()).reshape(height, width * 4)
    rows = np.empty((height, width * 4 + 1), dtype=np.uint8)  # filter byte + filtered row
    rows[:, 0] = 2  # Up
    rows[0, 1:] = rgba[0]
    np.subtract(rgba[1:], rgba[:-1], out=rows[1:, 1:])  # uint8 arithmetic wraps mod 256, as PNG wants
    packer = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = packer.compress(rows) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def image_grid(ax, images, image_shape, *, ncols: int | None = None, pad: int = 1, cmap: str = "gray_r",
               vmin: float = 0.0, vmax: float = 1.0):
    """Draw a batch of flat images as one tiled picture on ``ax``.

    Args:
        images: array or tensor of shape (n, H * W), values in [vmin, vmax].
        image_shape: (H, W).
        ncols: images per row (default: ceil(sqrt(n))).

    Returns:
        the ``AxesImage`` (update it in place with ``set_data(tile_images(...))``).
    """
    tiles = tile_images(images, image_shape, ncols=ncols, pad=pad, fill=vmin)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax.imshow(tiles, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")


def tile_images(images, image_shape, *, ncols: int | None = None, pad: int = 1, fill: float = 0.0):
    """Tile flat images (n, H * W) into one array of shape (rows * (H + pad) - pad, ...)."""
    import numpy as np

    arr = _to_numpy(images)
    n = arr.shape[0]
    h, w = image_shape
    if arr.ndim != 2 or arr.shape[1] != h * w:
        raise ValueError(f"images must have shape (n, {h * w}) for image_shape {image_shape}, got {arr.shape}")
    ncols = ncols or max(1, int(np.ceil(np.sqrt(n))))
    nrows = max(1, int(np.ceil(n / ncols)))
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill, dtype=float)
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = arr[i].reshape(h, w)
    return out


def _to_numpy(a):
    import numpy as np

    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


__all__ = ["savefig", "retina_figures", "new_figure", "canvas_png", "image_grid", "tile_images", "figures_dir"]


class BinnedPoints:
    """Many points coloured by a value, drawn fast: one ``Line2D`` of markers per colour bin.

    A ``scatter`` with per-point colours costs ~10 ms per 1000 points in Agg; markers of one
    line are stamped, ~1 ms per 1000.  Values are cut into ``bins`` colours of ``cmap``
    between ``vmin`` and ``vmax``.  The lines are animated (see ``SliderApp``).

    Usage: ``pts = BinnedPoints(ax, vmin=-2, vmax=2)``; then ``pts.set(xy, values)`` with
    xy of shape (n, 2) and values of shape (n,) (or integer labels with ``bins=K``).
    """

    def __init__(self, ax, *, vmin: float, vmax: float, bins: int = 12, cmap: str = "viridis",
                 markersize: float = 3.0, alpha: float = 1.0, animated: bool = True):
        import matplotlib as mpl
        import numpy as np

        self.vmin, self.vmax, self.bins = vmin, vmax, bins
        colors = mpl.colormaps[cmap](np.linspace(0, 1, bins))
        self.lines = [ax.plot([], [], ".", ms=markersize, color=c, alpha=alpha, animated=animated)[0]
                      for c in colors]

    def set(self, xy, values) -> None:
        import numpy as np

        xy = _to_numpy(xy)
        values = _to_numpy(values)
        idx = np.clip(((values - self.vmin) / (self.vmax - self.vmin) * self.bins).astype(int), 0, self.bins - 1)
        order = np.argsort(idx, kind="stable")
        bounds = np.searchsorted(idx[order], np.arange(self.bins + 1))
        for b, line in enumerate(self.lines):
            sel = order[bounds[b]: bounds[b + 1]]
            line.set_data(xy[sel, 0], xy[sel, 1])
