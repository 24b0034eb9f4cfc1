"""Every position of every slider of every app: no NaN or inf on screen.

For each app the test walks the full product of its controls' positions when that is at most
``FULL`` positions (notebook 05's proposal app, where N = 1 once showed "mean ESS = nan", has
819), else each control through every position (100 evenly spaced ones where it has more) with the
others at every combination of a coarse grid.
At each position it runs the app's redraw callback and reads back what the student would see:
the text line the callback returns, every text in the figure, and the data of every drawn
artist (lines, images, scatter offsets, meshes).  A number that should be finite and is not is a
bug on screen (a blank heatmap cell, "nan" in a readout).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from matplotlib.collections import Collection, QuadMesh
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.text import Text

from tests.widgets.test_app import APPS

FULL = 1200
COARSE = 3
DENSE = 100  # a control with more positions than this is swept on 100 evenly spaced ones
NONFINITE_WORD = re.compile(r"(?<![A-Za-z])(nan|inf|-inf)(?![A-Za-z])", re.IGNORECASE)


def positions(control) -> list:
    """Every value a control can take (slider steps, dropdown options)."""
    if hasattr(control, "options") and not hasattr(control, "min"):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    step = getattr(control, "step", None) or 1
    n = int(round((control.max - control.min) / step)) + 1
    if type(control).__name__ == "FloatLogSlider":
        return [float(control.base ** (control.min + i * step)) for i in range(n)]
    values = [control.min + i * step for i in range(n)]
    return [int(v) for v in values] if isinstance(control.value, int) else [float(v) for v in values]


def grid(app) -> list[dict]:
    names = list(app.controls)
    every = {n: positions(app.controls[n]) for n in names}
    if math.prod(len(v) for v in every.values()) <= FULL:
        return [dict(zip(names, combo)) for combo in itertools.product(*(every[n] for n in names))]
    coarse = {n: [v[i] for i in sorted(set(np.linspace(0, len(v) - 1, COARSE).round().astype(int)))]
              for n, v in every.items()}
    dense = {n: v if len(v) <= DENSE else [v[i] for i in np.linspace(0, len(v) - 1, DENSE).round().astype(int)]
             for n, v in every.items()}
    out = []
    for n in names:  # each control through all its positions, the others on the coarse grid
        others = [m for m in names if m != n]
        for combo in itertools.product(*(coarse[m] for m in others)):
            base = dict(zip(others, combo))
            out.extend({**base, n: v} for v in dense[n])
    return out


def changing_artists(fig) -> list:
    """What a slider move can change: the animated artists (see SliderApp), titles and figure texts."""
    arts = list(fig.texts)
    for ax in fig.axes:
        arts.extend(a for a in ax.get_children() if a.get_animated())
        arts.extend((ax.title, ax.xaxis.label, ax.yaxis.label))
    arts.extend(a for a in fig.get_children() if a.get_animated())
    return arts


def nonfinite_on_screen(fig, text) -> list[str]:
    found = []
    if text and NONFINITE_WORD.search(re.sub(r"<[^>]+>", " ", text)):
        found.append(f"readout text: {text!r}")
    for art in changing_artists(fig):
        if not art.get_visible():
            continue
        if isinstance(art, Text):
            if NONFINITE_WORD.search(art.get_text()):
                found.append(f"figure text {art.get_text()!r}")
        elif isinstance(art, Line2D):
            y = np.asarray(art.get_ydata(), dtype=float)
            if y.size and not np.isfinite(y).any():
                found.append(f"a line with no finite point ({art.get_label()!r})")
        elif isinstance(art, AxesImage):
            a = art.get_array()  # matplotlib masks NaN cells: they show as blank cells
            data = np.ma.getdata(a) if a is not None else np.zeros(0)
            if data.size and not np.isfinite(np.asarray(data, dtype=float)).all():
                found.append("an image (heatmap) with NaN/inf (blank) cells")
        elif isinstance(art, QuadMesh):
            a = art.get_array()
            if a is not None:
                data = np.ma.getdata(a)
                if data.size and not np.isfinite(np.asarray(data, dtype=float)).all():
                    found.append("a mesh with NaN/inf cells")
        elif isinstance(art, Collection):
            off = np.asarray(art.get_offsets(), dtype=float)
            if off.size and not np.isfinite(np.ma.getdata(off)).all() and not np.ma.getmaskarray(off).any():
                found.append("scatter points at NaN/inf positions")
    return found


@pytest.mark.parametrize("app", APPS)
def test_no_nan_or_inf_at_any_slider_position(app):
    start = app.values()
    bad = []
    try:
        for values in grid(app):
            text = app.redraw(**values)  # what a move computes; the PNG itself is not needed here
            problems = nonfinite_on_screen(app.fig, text)
            if problems:
                bad.append(f"{values}: {'; '.join(problems)}")
    finally:
        app.set(**start)
    assert not bad, f"{app.name}: non-finite numbers on screen at {len(bad)} positions, e.g.\n" + "\n".join(bad[:5])


def test_the_sweep_catches_a_nan():
    import ipywidgets as W

    from lvmlib.plotting import new_figure
    from lvmlib.widgets.app import SliderApp

    fig = new_figure(3, 2)
    ax = fig.subplots()
    label = ax.text(0.5, 0.5, "", animated=True)

    def redraw(n):
        value = 0.0 / 1.0 if n > 1 else float("nan")  # wrong at one position only
        label.set_text(f"mean ESS = {value:.2f}")
        return f"<b>ESS</b> {value:.2f}"

    app = SliderApp(fig, {"n": W.IntSlider(3, min=1, max=5)}, redraw, name="test_nan_sweep")
    problems = [nonfinite_on_screen(fig, app.redraw(**v)) for v in grid(app)]
    assert [bool(p) for p in problems] == [True, False, False, False, False]
