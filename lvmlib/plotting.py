"""Matplotlib helpers shared by the notebooks, and the one place figures are written.

Figures for the repository's ``figures/`` folder are written only by :func:`savefig`, and
only when the environment variable ``LVMLIB_FIGURES`` is set (``make figures`` sets it and
runs every notebook), so running a notebook never litters the disk.

Import it on its own (``import lvmlib.plotting``) or reach it as ``lvmlib.plotting`` after
``import lvmlib`` (loaded on first use).  Every notebook's setup cell calls
:func:`retina_figures` so that its static figures are as sharp as the text around them, and carry
a text alternative: each inline figure is shown as an HTML ``<img alt=...>`` (JupyterLab shows a
PNG output with no ``alt``), its text the figure's own description (:func:`describe`, given where
the figure is made) or, failing that, one read off the figure (:func:`alt_text`: titles, axis labels,
legend entries).  The PNG output stays beside it for every other reader (the course site uses it,
with the same alt text).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import matplotlib as mpl
import numpy as np
import torch
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
    html = getattr(getattr(get_ipython(), "display_formatter", None), "formatters", {}).get("text/html")
    if html is not None:
        html.for_type(Figure, figure_html)
    return True


# ---------------------------------------------------------------------------------------------
# Text alternatives of static figures (WCAG 1.1.1): given where the figure is made, else read off it
# ---------------------------------------------------------------------------------------------

_ALT = "_lvmlib_alt"
#: the class of the HTML figure output; tools/site.py and tests/nbval_sanitize.cfg recognise it by it
FIGURE_CLASS = "lvmlib-figure"


def describe(fig: Figure, text: str) -> Figure:
    """Give ``fig`` its text alternative: one or two sentences saying what it shows (what a reader
    who cannot see it needs from it, not how it is drawn). Returns ``fig``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a figure's description must be a non-empty string, e.g. 'Left: the ELBO against epochs ...'")
    setattr(fig, _ALT, " ".join(text.split()))
    return fig


def _axes_words(ax) -> str:
    """One panel in words: “its title”: x axis ..., y axis ..., legend: ... (what of it there is)."""
    title = f"“{ax.get_title()}”" if ax.get_title() else ""
    bits = [f"{name} axis {label}" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label]
    legend = ax.get_legend()
    entries = [t.get_text() for t in legend.get_texts() if t.get_text()] if legend is not None else []
    if entries:
        more = f" and {len(entries) - 6} more" if len(entries) > 6 else ""
        bits.append("legend: " + "; ".join(entries[:6]) + more)
    body = ", ".join(bits)
    return f"{title}: {body}" if title and body else title or body


def alt_text(fig: Figure) -> str:
    """The figure's text alternative: its :func:`describe` text, else a description read off the
    figure: its title, then per panel the title, axis labels and legend entries."""
    given = getattr(fig, _ALT, None)
    if given:
        return given
    panels = [ax for ax in fig.get_axes() if ax.get_visible() and ax.get_label() != "<colorbar>"]
    words = [(i, w) for i, w in enumerate((_axes_words(ax) for ax in panels), 1) if w]
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    head = f"Figure “{title}”" if title else "Figure"
    head += f" with {len(panels)} panels" if len(panels) > 1 else ""
    if not words:
        return head + "; the text around it says what it shows"
    if len(panels) == 1:
        return f"{head}: {words[0][1]}"
    return f"{head}. " + " ".join(f"Panel {i}: {w}." for i, w in words)


def figure_html(fig: Figure) -> str | None:
    """An inline figure as ``<img alt>`` (IPython's text/html formatter for figures, set by
    :func:`retina_figures`): the same PNG as the image/png output (the active PNG formatter's),
    with :func:`alt_text`. None where no PNG formatter is active."""
    import html

    from IPython import get_ipython

    ip = get_ipython()
    png = ip.display_formatter.formatters["image/png"](fig) if ip is not None else None
    if not png:
        return None
    data, meta = png if isinstance(png, tuple) else (png, {})
    if isinstance(data, (bytes, bytearray)):
        import base64

        data = base64.b64encode(data).decode("ascii")
    size = "".join(f' {k}="{int(meta[k])}"' for k in ("width", "height") if k in (meta or {}))
    return (f'<img class="{FIGURE_CLASS}" src="data:image/png;base64,{data}"{size} '
            f'alt="{html.escape(alt_text(fig), quote=True)}">')


def new_figure(width: float = 8.0, height: float = 3.2, *, dpi: int = 72, layout: str | None = None) -> Figure:
    """A figure that is not managed by pyplot, so it is shown only where a widget puts it
    (no duplicate inline copy).  Sizes are in inches; a ``SliderApp`` sets the dpi it renders at
    (``lvmlib.widgets.app.CSS_PX_PER_INCH`` CSS pixels per inch, times the pixel ratio).

    No automatic layout by default: a constrained layout costs ~100 ms per draw, which a
    slider cannot afford; call ``fig.subplots_adjust`` or pass ``layout="constrained"``."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig






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


__all__ = ["savefig", "retina_figures", "describe", "alt_text", "new_figure", "image_grid", "tile_images", "figures_dir"]


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


# ----------------------------------------------------------------------------------------
# mixtures in 2-D: responsibilities, ellipses, densities on a grid
# ----------------------------------------------------------------------------------------

#: the course's colours for the components of a mixture (matplotlib's tab10, as hex)
COLORS = tuple(mpl.colors.to_hex(c) for c in mpl.colormaps["tab10"].colors)
#: ``imshow`` keywords for an image with pixels in [0, 1]: dark ink on white, no smoothing
IMG = dict(cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")


#: a point is drawn in its most responsible component's colour, paler as max_k r_nk falls below these
CONFIDENCE_EDGES = (0.6, 0.8, 0.95)


FADES = (0.0, 0.4, 0.62, 0.8)  # blend with white for r_max >= 0.95, 0.8-0.95, 0.6-0.8, < 0.6


def _shade(color: str, fade: float) -> tuple:
    rgb = np.asarray(mpl.colors.to_rgb(color))
    return tuple((1 - fade) * rgb + fade)


class ResponsibilityPoints:
    """Points coloured by their responsibilities, drawn fast (one ``Line2D`` per colour).

    Point n gets the colour of its most responsible component k = argmax_k r_nk, blended
    with white the more the responsibility is shared (max_k r_nk below 0.95, 0.8, 0.6), so
    points between components look pale.  K x 4 animated lines, as
    :class:`lvmlib.plotting.BinnedPoints` (much faster than a scatter with per-point colours).
    """

    def __init__(self, ax, n_components: int, *, colors: Sequence[str] = COLORS, markersize: float = 3.0,
                 zorder: float = 1.0):
        self.levels = len(FADES)
        self.lines = [ax.plot([], [], ".", ms=markersize, color=_shade(colors[k % len(colors)], f), animated=True,
                              zorder=zorder)[0]
                      for k in range(n_components) for f in FADES]

    @staticmethod
    def groups(resp) -> np.ndarray:
        """Colour group of every point, component * 4 + paleness level.

        Args:
            resp: responsibilities, shape (N, K).

        Returns:
            int array of shape (N,).
        """
        resp = np.asarray(resp)
        level = len(CONFIDENCE_EDGES) - np.searchsorted(CONFIDENCE_EDGES, resp.max(1), side="right")
        return resp.argmax(1) * len(FADES) + level

    def set(self, xy: np.ndarray, groups: np.ndarray) -> None:
        """Show points ``xy`` (N, 2) in colour ``groups`` (N,) (see :meth:`groups`)."""
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(len(self.lines) + 1))
        for b, line in enumerate(self.lines):
            sel = order[bounds[b]: bounds[b + 1]]
            line.set_data(xy[sel, 0], xy[sel, 1])
            line.set_visible(len(sel) > 0)  # an empty line still costs a draw


def ellipse_outlines(means, covariances, n_std: float, num: int = 73) -> np.ndarray:
    """Points on the ellipses {x : (x - mu)^T Sigma^-1 (x - mu) = n_std^2} of 2-D Gaussians.

    Args:
        means: shape (K, 2).
        covariances: full covariances, shape (K, 2, 2).

    Returns:
        array of shape (K, num, 2) (closed curves: first point = last point).
    """
    means = np.asarray(means, dtype=float)
    L = np.linalg.cholesky(np.asarray(covariances, dtype=float))  # [K, 2, 2]
    angle = np.linspace(0, 2 * np.pi, num)
    circle = np.stack([np.cos(angle), np.sin(angle)])  # [2, num]
    return means[:, None, :] + n_std * np.einsum("kij,jn->kni", L, circle)


def density_grid(model, limits, *, num: int = 160, device=None):
    """log p(x) of a model with ``log_marginal`` on a num x num grid over ``limits``.

    The grid is made on ``device`` (default: the model's ``device`` attribute, else the CPU).

    Returns:
        (g1, g2, log_p): the grid coordinates (num,), (num,) and log p of shape (num, num)
        (rows: x_2, columns: x_1, as ``contour`` wants).
    """
    (a, b), (c, d) = limits
    g1, g2 = np.linspace(a, b, num), np.linspace(c, d, num)
    device = getattr(model, "device", None) if device is None else device
    grid = torch.as_tensor(np.stack(np.meshgrid(g1, g2), -1).reshape(-1, 2), dtype=torch.float64, device=device)
    with torch.no_grad():
        log_p = model.log_marginal(grid).reshape(num, num).cpu().numpy()
    return g1, g2, log_p

