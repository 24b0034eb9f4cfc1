"""``SliderApp``: sliders that redraw a matplotlib figure shown as a PNG image widget.

Why a PNG in an ``ipywidgets.Image`` rather than ``%matplotlib widget`` or ``interact``:
the figure is updated in place and rendered in the kernel, the browser only swaps an
image, nothing depends on a front-end extension, and the same code runs headless in tests.

Speed: drawing axes with tick labels costs ~20 ms per axes in Agg, so the app blits.
Artists that a callback changes are marked ``animated=True`` by the builder; the app draws
everything else once into a background, and on each change restores the background, draws
only the animated artists and encodes the canvas.  When a callback changes something
static (axis limits, a non-animated title or label), the app notices and draws in full;
backgrounds are cached per static state, so returning to a state seen before (e.g. the axis
limits of a latent size visited earlier) is a blit again.

Resolution: the figure is rendered at ``RATIO`` (2) device pixels per CSS pixel, with
``CSS_PX_PER_INCH`` (100) CSS pixels per figure inch, and the image is shown at its CSS size
(pixel width / ``RATIO``; ``max-width: 100%`` scales it down in a narrower cell, never up).
At that size matplotlib's 10 pt text is ~14 CSS px, the notebook's body text.  The PNG is
encoded by :func:`lvmlib.widgets._png.canvas_png` (one numpy pass and zlib's run-length mode:
about twice as fast as Pillow at these sizes).

Controls: every control gets one style (``CONTROL_STYLE``, ``control_layout()``): the
label as wide as its text, so no label is cut off.
"""

from __future__ import annotations

import contextlib
import gc
import html
import math
import numbers
import time
from typing import Callable, Mapping

import ipywidgets as W
import numpy as np
from matplotlib.text import Text

from lvmlib.plotting import savefig
from lvmlib.widgets._png import canvas_png

RATIO = 2  # device pixels per CSS pixel the picture is rendered for (hi-DPI laptop screens)
CSS_PX_PER_INCH = 100  # CSS pixels per figure inch: 10 pt text shows ~14 CSS px (body text)
MAX_BACKGROUNDS = 16  # cached static states per app (one is 4 bytes per pixel: ~9 MB at 2x)
CONTROL_STYLE = {"description_width": "initial"}  # a label as wide as its text: never cut off


def control_layout() -> W.Layout:
    """The layout every control gets: wide enough for a usable track next to its full label."""
    return W.Layout(width="auto", min_width="20em", max_width="100%")


def style_control(control: W.Widget) -> W.Widget:
    """Give ``control`` the one control style of the course (full label, see ``CONTROL_STYLE``)."""
    if hasattr(control, "style") and hasattr(control.style, "description_width"):
        control.style.description_width = CONTROL_STYLE["description_width"]
    layout = control_layout()
    control.layout.width = layout.width
    control.layout.min_width = layout.min_width
    control.layout.max_width = layout.max_width
    return control


class SliderApp:
    """A figure plus the controls that drive it.

    Args:
        fig: a matplotlib ``Figure`` (see :func:`lvmlib.plotting.new_figure`).  Artists
            that ``redraw`` changes should be created with ``animated=True`` (or get
            ``set_animated(True)``), titles that change too (``ax.title.set_animated(True)``).
        controls: name -> ipywidgets value widget (a slider, a dropdown, ...).  Their
            current values are passed to ``redraw`` as keyword arguments.
        redraw: ``redraw(**values) -> str | None``; updates the figure's artists from
            precomputed results (no fitting, training or heavy sampling) and may return a
            short HTML line of the numbers on screen.
        name: a name for the app, also the file stem under ``figures/`` for ``make figures``.
        continuous_update: whether sliders fire while dragging (True) or on release.
        ratio: device pixels per CSS pixel to render for (default ``RATIO``); the figure's
            dpi becomes ``CSS_PX_PER_INCH * ratio``.
        view: which view a notebook displays: ``"page"`` (default: the page-drawn ``client``,
            every state precomputed, no kernel round trip on a move) or ``"kernel"`` (the
            kernel-drawn ``widget``: each move redraws in the kernel and sends a PNG). One model,
            two views: :meth:`show` picks one explicitly.

    Attributes:
        image: the ``ipywidgets.Image`` holding the rendered PNG.
        text: an ``ipywidgets.HTML`` with what ``redraw`` returned.
        widget: the kernel-drawn app, a ``VBox`` (the PNG path: ``show("kernel")`` or ``view="kernel"``).
        client: the page-drawn app a notebook displays (``lvmlib.widgets.client``): every state
            precomputed once, each move drawn by the page on a canvas, no kernel round trip.
        last_seconds: kernel time of the last redraw + render.
        full_draws: how many times the whole figure was drawn (the rest were blits).
        redraw: the callback above.  With :meth:`static_state`, :meth:`animated_artists` and
            :meth:`quiet` it is what a view (the PNG here, the page's canvas in ``client``) uses.
    """

    def __init__(self, fig, controls: Mapping[str, W.ValueWidget], redraw: Callable[..., str | None], *,
                 name: str, continuous_update: bool = True, ratio: float = RATIO, view: str = "page"):
        self._client = None
        self.view = _view_name(view, name)
        if not ratio > 0:
            raise ValueError(f"{name}: ratio must be a positive number of device pixels per CSS pixel, got {ratio!r}")
        self.ratio = float(ratio)
        fig.set_dpi(CSS_PX_PER_INCH * self.ratio)
        self.fig = fig
        self.canvas = fig.canvas
        self.controls = dict(controls)
        self.name = name
        self.redraw = redraw
        self._hold = False
        self._text_before_refusal: str | None = None  # the text line a refusal message covers
        self._backgrounds: dict = {}  # static state -> saved background
        self.full_draws = 0
        self.last_seconds = float("nan")
        for control in self.controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = continuous_update
            style_control(control)
            control.observe(self._on_change, names="value")
        self.png = b""  # the kernel-drawn picture (``image`` shows it; created on first use)
        self._image = None
        self._widget = None
        self.text = W.HTML()
        self.update()
        savefig(self.png, name)
        self.warm()

    @property
    def image(self) -> W.Image:
        """The kernel-drawn picture as an ``ipywidgets.Image`` (made on first use, so a notebook that
        shows the page-drawn ``client`` stores no PNG widget)."""
        if self._image is None:
            self._image = W.Image(value=self.png, format="png",
                                  layout=W.Layout(width=self.css_width(), height="auto", max_width="100%"))
        return self._image

    @property
    def widget(self) -> W.VBox:
        """The kernel-drawn app (the PNG path): controls, text line and ``image``."""
        if self._widget is None:
            self._widget = W.VBox([W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap")),
                                   self.text, self.image])
        return self._widget

    def css_width(self) -> str:
        """The picture's CSS width: its pixel width / ``ratio`` (shown at this size, never upscaled)."""
        width_px = self.canvas.get_width_height()[0]
        return f"{width_px / self.ratio:g}px"

    # -- values --------------------------------------------------------------------
    def values(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def set(self, **values) -> "SliderApp":
        """Set several controls at once and redraw once (tests and benchmarks use this)."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise KeyError(f"{self.name}: no control named {sorted(unknown)}; controls are {sorted(self.controls)}")
        for k, v in values.items():  # all refused before any is set: the app stays as it was
            reason = self._refusal(k, v)
            if reason is not None:
                self._show_refusal(reason)
                raise ValueError(reason)
        with self.quiet():
            for k, v in values.items():
                self.controls[k].value = v
        self.update()
        return self

    def update(self) -> None:
        """Run the redraw callback on the current values and re-render the picture."""
        t0 = time.perf_counter()
        values = self.values()
        for k, v in values.items():  # e.g. a SelectionSlider left at None by a refused assignment
            reason = self._refusal(k, v)
            if reason is not None:
                self._show_refusal(reason)
                raise ValueError(reason)
        text = self.redraw(**values)
        self._render()
        if text is None and self._text_before_refusal is not None:
            text = self._text_before_refusal  # a refusal message no longer applies
        self._text_before_refusal = None
        if text is not None:
            self.text.value = text
        self.last_seconds = time.perf_counter() - t0

    def warm(self, *, per_control: int = 2, budget_s: float = 2.0) -> int:
        """Pre-render what the first move of each control will need, so that it is a blit.

        For each control, the ``per_control`` values next to its current one (one step each
        way) are drawn once without encoding: the redraw callback runs, a static state not seen
        yet gets its background drawn and cached, and first-call costs (glyph caches, lazily
        built paths) are paid now, during Run All, instead of on the student's first move.
        Then the current values are drawn again.  Stops after ``budget_s`` seconds.

        Returns:
            how many states were drawn.
        """
        t0 = time.perf_counter()
        current = self.values()
        drawn = 0
        try:
            for name in self.controls:
                for value in self._neighbours(name)[:per_control]:
                    if time.perf_counter() - t0 > budget_s:
                        return drawn
                    self.redraw(**{**current, name: value})
                    self._render(encode=False)
                    drawn += 1
        finally:
            if drawn:
                self.redraw(**current)
                self._render(encode=False)  # the picture on screen is already this state's
            # Collect the garbage of the notebook's set-up now (Run All), so that a full
            # collection of the whole heap is not what the first move waits for.
            gc.collect()
        return drawn

    def _neighbours(self, name: str) -> list:
        """The values one step either side of a control's current value (options or range)."""
        c = self.controls[name]
        if hasattr(c, "options") and not hasattr(c, "min"):
            opts = [o[1] if isinstance(o, tuple) else o for o in c.options]
            i = getattr(c, "index", None)
            if i is None:
                return []
            return [opts[j] for j in (i + 1, i - 1) if 0 <= j < len(opts)]
        if isinstance(c, W.FloatLogSlider):
            e = np.log(c.value) / np.log(c.base)
            return [float(c.base ** x) for x in (e + c.step, e - c.step) if c.min - 1e-9 <= x <= c.max + 1e-9]
        if hasattr(c, "step") and hasattr(c, "min"):
            return [type(c.value)(c.value + d) for d in (c.step, -c.step) if c.min <= c.value + d <= c.max]
        return []

    def full_draw(self) -> None:
        """Forget the backgrounds: the next render draws everything (after a static change the
        app cannot see, such as new tick labels)."""
        self._backgrounds.clear()

    @contextlib.contextmanager
    def quiet(self):
        """Inside this block, setting a control does not redraw (a view that already shows the state)."""
        self._hold = True
        try:
            yield self
        finally:
            self._hold = False

    # -- rendering (the view protocol: ``redraw``, ``static_state``, ``animated_artists``) ----------
    def static_state(self) -> tuple:
        """What the figure's static (non-animated) pixels depend on: a saved background's key."""
        key = []
        for ax in self.fig.axes:
            key.append((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(), ax.get_visible()))
            # the three titles and any ax.text are among the axes' children (public API)
            texts = [c for c in ax.get_children() if isinstance(c, Text)] + [ax.xaxis.label, ax.yaxis.label]
            for t in texts:
                if not t.get_animated():
                    key.append(t.get_text())
        for t in self.fig.texts:
            if not t.get_animated():
                key.append(t.get_text())
        return tuple(key)

    def animated_artists(self) -> list:
        """The visible animated artists, in z-order: what ``redraw`` changes, drawn over a background."""
        arts = []
        for ax in self.fig.axes:
            arts.extend(a for a in ax.get_children() if a.get_animated() and a.get_visible())
        arts.extend(a for a in self.fig.get_children() if a.get_animated() and a.get_visible())
        return sorted(arts, key=lambda a: a.get_zorder())

    def _render(self, *, encode: bool = True) -> None:
        key = self.static_state()
        background = self._backgrounds.get(key)
        if background is None:
            self.canvas.draw()  # animated artists are left out of a full draw
            if len(self._backgrounds) >= MAX_BACKGROUNDS:
                self._backgrounds.pop(next(iter(self._backgrounds)))
            self._backgrounds[key] = self.canvas.copy_from_bbox(self.fig.bbox)
            self.full_draws += 1
        else:
            self.canvas.restore_region(background)
        for art in self.animated_artists():
            self.fig.draw_artist(art)
        if encode:
            self.png = canvas_png(self.canvas)
            if self._image is not None:
                self._image.value = self.png

    def _on_change(self, change) -> None:
        if self._hold:
            return
        name = next((k for k, c in self.controls.items() if c is change["owner"]), None)
        reason = None if name is None else self._refusal(name, change["new"])
        if reason is not None:  # set from code (the browser sends only values a control offers)
            with self.quiet():
                change["owner"].value = change["old"]  # back to the value the picture shows
            self._show_refusal(reason)
            raise ValueError(reason)
        self.update()

    def _refusal(self, name: str, value) -> str | None:
        """Why control ``name`` cannot take ``value`` (None, or NaN for a number), or None if it can.

        The one check for every app's callbacks: a redraw never sees a None or NaN it would crash
        on or silently map to some grid point.
        """
        c = self.controls[name]
        is_nan = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isnan(value)
        if value is not None and not is_nan:
            return None
        if hasattr(c, "options") and not hasattr(c, "min"):
            opts = [o[1] if isinstance(o, tuple) else o for o in c.options]
            if value is None and any(o is None for o in opts):
                return None  # None is one of this control's choices
            labels = [str(o[0]) if isinstance(o, tuple) else repr(o) for o in c.options]
            shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
            what = f"choose one of its options ({shown})"
        elif isinstance(c, W.FloatLogSlider):
            what = f"set it to a number from {c.base ** c.min:g} to {c.base ** c.max:g}"
        elif hasattr(c, "min") and hasattr(c, "max"):
            what = f"set it to a number from {c.min:g} to {c.max:g}"
        else:
            what = "set it to a value"
        label = getattr(c, "description", "") or name
        return f"{self.name}: control {name!r} ({label}) cannot be {'NaN' if is_nan else 'None'}; {what}"

    def _show_refusal(self, reason: str) -> None:
        """The refusal on the app's text line, in one line (the picture is left as it was)."""
        if self._text_before_refusal is None:
            self._text_before_refusal = self.text.value
        self.text.value = f'<span style="color:#b3261e">{html.escape(reason, quote=False)}</span>'

    # -- display -------------------------------------------------------------------
    @property
    def client(self):
        """The page-drawn view (:class:`lvmlib.widgets.client.CanvasApp`): every state precomputed
        on first use, drawn by the page on each move; what a notebook displays."""
        if self._client is None:
            from lvmlib.widgets.client import CanvasApp

            self._client = CanvasApp.from_app(self)
        return self._client

    def show(self, view: str | None = None):
        """The view to display: ``"page"`` (the page-drawn :attr:`client`) or ``"kernel"`` (the
        kernel-drawn :attr:`widget`); default: the app's ``view``. A notebook cell that ends with
        ``app.show("kernel")`` displays the kernel-drawn view (the browser latency benchmark does)."""
        return self.client if _view_name(self.view if view is None else view, self.name) == "page" else self.widget

    def _repr_mimebundle_(self, **kwargs):
        return self.show()._repr_mimebundle_(**kwargs)

    def slider_values(self, name: str, count: int = 8) -> list:
        """Up to ``count`` values spread over a control's range (for tests and benchmarks)."""
        c = self.controls[name]
        if hasattr(c, "options") and not hasattr(c, "min"):
            opts = [o[1] if isinstance(o, tuple) else o for o in c.options]
            idx = np.unique(np.linspace(0, len(opts) - 1, count).round().astype(int))
            return [opts[i] for i in idx]
        if isinstance(c, W.FloatLogSlider):
            exps = np.linspace(c.min, c.max, count)
            return [float(c.base ** e) for e in exps]
        vals = np.linspace(c.min, c.max, count)
        if isinstance(c.value, (int, np.integer)) and not isinstance(c.value, bool):
            return sorted({int(round(v)) for v in vals})
        return [float(v) for v in vals]


VIEWS = ("page", "kernel")


def _view_name(view, name: str) -> str:
    """``view`` checked against :data:`VIEWS` (a clear error names the choices)."""
    if view not in VIEWS:
        raise ValueError(f"{name}: view must be one of {VIEWS} ('page': drawn by the page from precomputed states; "
                         f"'kernel': redrawn in the kernel on each move), got {view!r}")
    return view


def log_slider(description: str, value: float, min_exp: float, max_exp: float, *, step: float = 0.25,
               base: float = 10.0, readout_format: str = ".3g") -> W.FloatLogSlider:
    """A ``FloatLogSlider`` over ``base**min_exp .. base**max_exp``."""
    return style_control(W.FloatLogSlider(value=value, base=base, min=min_exp, max=max_exp, step=step,
                                          description=description, readout_format=readout_format))


# ----------------------------------------------------------------------------------------
# shared app pieces (added by helper arch: the proposal sliders of notebooks 05 and 06)
# ----------------------------------------------------------------------------------------



