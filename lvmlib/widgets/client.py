"""Sliders drawn by the page: every state of a :class:`~lvmlib.widgets.app.SliderApp` computed once.

:func:`precompute` runs the app's redraw callback for every position of its controls (the
product of their positions; where that product passes ``MAX_STATES``, a grid: the control with
the most positions keeps every other one, and so on, until it fits) and records what a canvas
needs to draw each state (:mod:`lvmlib.widgets.record`): the animated artists as items, the
text line, and one static background PNG per static state.  :class:`CanvasApp` is the
``anywidget`` that carries it: ``static/slider_canvas.js`` builds HTML range / select controls
and draws a state on a ``<canvas>`` over its background on every move, with no kernel round
trip.  A position off the grid is drawn at once at the nearest precomputed one, then, when a
kernel is connected, exactly from the kernel (the ``request`` / ``live`` traits).  The same
module runs on the static course site (``tools/site.py``) from the widget state stored in the
notebook.

    app.client            # the CanvasApp (built on first use: a notebook displays it)
    decode(app.client)    # the recorded states, as the page reads them (tests)
"""

from __future__ import annotations

import io
import itertools
import json
import math
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import anywidget
import ipywidgets as W
import numpy as np
import traitlets as T

from lvmlib.widgets.record import Q, Recorder, Store, undelta

__all__ = ["MAX_STATES", "CanvasApp", "positions", "readouts", "grid_indices", "precompute", "record_now",
           "decode", "ESM"]

MAX_STATES = 4000  # states precomputed per app; a larger product of positions gets a grid
MAX_BYTES = 1_500_000  # a grid is made as large as this many bytes of recorded states allow
ESM = Path(__file__).with_name("static") / "slider_canvas.js"


def positions(control) -> list:
    """Every value a control can take (slider steps, dropdown / selection options)."""
    if hasattr(control, "options") and not hasattr(control, "min"):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    step = getattr(control, "step", None) or 1
    n = int(round((control.max - control.min) / step)) + 1
    if isinstance(control, W.FloatLogSlider):
        return [float(control.base ** (control.min + i * step)) for i in range(n)]
    values = [control.min + i * step for i in range(n)]
    return [int(v) for v in values] if isinstance(control.value, int) else [float(v) for v in values]


def readouts(control, values: list) -> list[str]:
    """What the control shows for each value (its readout, or the option's label)."""
    if hasattr(control, "options") and not hasattr(control, "min"):
        return [str(o[0]) if isinstance(o, tuple) else str(o) for o in control.options]
    fmt = getattr(control, "readout_format", "") or ""
    out = []
    for v in values:
        try:
            out.append(format(v, fmt.lstrip("~")) if fmt else str(v))
        except (ValueError, TypeError):
            out.append(f"{v:g}" if isinstance(v, float) else str(v))
    return out


def _index(values: list, value) -> int:
    try:
        return values.index(value)
    except ValueError:
        pass
    try:
        return int(np.argmin([abs(float(v) - float(value)) for v in values]))
    except (TypeError, ValueError):
        return 0


def grid_indices(sizes: list[int], cap: int = MAX_STATES, keep: list[int] | None = None) -> list[list[int]]:
    """The precomputed positions of each control: all of them while the product is at most
    ``cap``; else the control with the most keeps every other position (first and last kept,
    and ``keep[c]``, the starting value), until the product fits."""
    grid = [list(range(n)) for n in sizes]
    while math.prod(len(g) for g in grid) > cap:
        c = int(np.argmax([len(g) for g in grid]))
        g = grid[c]
        if len(g) <= 2:
            break
        new = g[::2] + ([g[-1]] if g[-1] not in g[::2] else [])
        if keep is not None and keep[c] in g and keep[c] not in new:
            new = sorted(new + [keep[c]])
        grid[c] = new
    return grid


def _png(canvas) -> bytes:
    from PIL import Image

    w, h = canvas.get_width_height(physical=True)
    rgba = np.asarray(canvas.buffer_rgba()).reshape(h, w, 4)
    img = Image.fromarray(rgba[..., :3].copy()) if (rgba[..., 3] == 255).all() else Image.fromarray(rgba.copy())
    buf = io.BytesIO()
    img.save(buf, format="png", compress_level=9)
    return buf.getvalue()


def _record(app, rec: Recorder) -> list[int]:
    renderer = app.canvas.get_renderer()
    ids = []
    for art in app.animated_artists():
        ids.extend(rec.items(art, renderer))
    return ids


@dataclass
class Precomputed:
    spec: dict
    data: bytes
    backgrounds: bytes
    states: int
    items: int
    seconds: float
    bg_index: dict  # static state -> background index


def precompute(app, cap: int = MAX_STATES, budget: int = MAX_BYTES) -> Precomputed:
    """Every state of ``app`` (or a grid of them), recorded for the page. The app is left at its
    current values, its picture redrawn.

    Where the product of positions passes ``cap``, a pilot grid of about ``cap / 8`` states
    measures the bytes a state takes, and the grid is made as large as ``budget`` bytes allow
    (at most ``cap`` states)."""
    t0 = time.perf_counter()
    names = list(app.controls)
    pos = {n: positions(app.controls[n]) for n in names}
    sizes = [len(pos[n]) for n in names]
    current = [_index(pos[n], app.values()[n]) for n in names]
    if math.prod(sizes) > cap:
        pilot = _precompute(app, grid_indices(sizes, cap // 8, current), t0)
        per_state = len(pilot.data) / pilot.states
        cap = int(min(cap, max(cap // 8, 0.9 * budget / per_state)))
    return _precompute(app, grid_indices(sizes, cap, current), t0)


def _precompute(app, grid: list[list[int]], t0: float) -> Precomputed:
    names = list(app.controls)
    pos = {n: positions(app.controls[n]) for n in names}
    start = app.values()
    current = [_index(pos[n], start[n]) for n in names]
    store = Store()
    rec = Recorder(app.fig, store)
    bg_index: dict = {}
    pngs: list[bytes] = []
    texts: dict = {}
    ids, offsets, bgs, text_ids = [], [0], [], []
    text = app.text.value
    try:
        for combo in itertools.product(*(g[::-1] for g in grid)):  # last positions first (prefixes)
            out = app.redraw(**{n: pos[n][i] for n, i in zip(names, combo)})
            if out is not None:
                text = out
            key = app.static_state()
            if key not in bg_index:
                app.canvas.draw()  # the static artists only
                bg_index[key] = len(pngs)
                pngs.append(_png(app.canvas))
            ids.extend(_record(app, rec))
            offsets.append(len(ids))
            bgs.append(bg_index[key])
            text_ids.append(texts.setdefault(text, len(texts)))
    finally:
        app.full_draw()
        app.set(**start)
    bg_refs, at = [], 0
    for p in pngs:
        bg_refs.append([at, len(p)])
        at += len(p)
    # states were recorded in reverse order of every control; the page indexes them in order
    order = np.arange(len(bgs))[::-1]
    offsets_arr = np.asarray(offsets, dtype=np.int64)
    ids_arr = np.asarray(ids, dtype=np.uint32)
    parts = [ids_arr[offsets_arr[s]:offsets_arr[s + 1]] for s in order]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
    ids = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
    bgs, text_ids = [bgs[s] for s in order], [text_ids[s] for s in order]
    head = {"items": store.items, "texts": list(texts),
            "offsets": store.array(np.asarray(offsets, dtype=np.uint32)),
            "ids": store.array(np.asarray(ids, dtype=np.uint32)),
            "bg": store.array(np.asarray(bgs, dtype=np.uint16)),
            "text": store.array(np.asarray(text_ids, dtype=np.uint32)), "bgs": bg_refs}
    data = store.pack(head)
    total = math.prod(len(pos[n]) for n in names)
    states = math.prod(len(g) for g in grid)
    note = ""
    if states < total:
        parts = [f"{app.controls[n].description or n}: {len(g)} of {len(pos[n])}"
                 for n, g in zip(names, grid) if len(g) < len(pos[n])]
        note = (f"Precomputed on a grid of {states:,} of the {total:,} positions ({'; '.join(parts)}); "
                "a position in between is drawn at the nearest precomputed one, and exactly when a kernel runs.")
    w, h = app.canvas.get_width_height(physical=True)
    spec = {"v": 1, "name": app.name, "width": w, "height": h, "ratio": app.ratio, "q": Q,
            "css_width": w / app.ratio, "states": states, "fonts": rec.font_faces(), "note": note, "grid": grid,
            "controls": [{"name": n, "label": app.controls[n].description or n,
                          "kind": "range" if hasattr(app.controls[n], "min") or isinstance(
                              app.controls[n], W.SelectionSlider) else "select",
                          "labels": readouts(app.controls[n], pos[n]), "index": current[k]}
                         for k, n in enumerate(names)]}
    return Precomputed(spec, data, b"".join(pngs), states, len(store.items), time.perf_counter() - t0, bg_index)


def record_now(app) -> tuple[list[dict], str]:
    """The items of what the app shows now (after ``app.set``), resolved as :func:`decode` gives
    them, and its text line: what the kernel callback draws, for comparison with the page's."""
    store = Store()
    rec = Recorder(app.fig, store)
    app.canvas.draw()
    ids = _record(app, rec)
    raw = zlib.decompress(store.pack({}))
    base = 4 + struct.unpack("<I", raw[:4])[0]
    items = [_resolve(store.items[i], raw, base) for i in ids]
    app.full_draw()
    app.update()
    return items, app.text.value


_DTYPES = {"v": np.int16, "xy": np.int16, "c": np.uint8, "a": np.uint8}


def _resolve(item: dict, raw: bytes, base: int) -> dict:
    out = dict(item)
    for k, dt in _DTYPES.items():
        if k in item and isinstance(item[k], list) and len(item[k]) == 2 and k != "r":
            off, n = item[k]
            a = np.frombuffer(raw, dtype=dt, count=n, offset=base + off)
            out[k] = (undelta(a) if k in ("v", "xy") else a).tolist()
    return out


def decode(data: bytes) -> dict:
    """The recorded states, as the page reads them: ``{"states": [(items, text, background)]}``."""
    raw = zlib.decompress(bytes(data))
    n = struct.unpack("<I", raw[:4])[0]
    head = json.loads(raw[4:4 + n])
    base = 4 + n

    def arr(ref, dt):
        return np.frombuffer(raw, dtype=dt, count=ref[1], offset=base + ref[0])

    offsets, ids = arr(head["offsets"], np.uint32), arr(head["ids"], np.uint32)
    bg, text = arr(head["bg"], np.uint16), arr(head["text"], np.uint32)
    items = [_resolve(it, raw, base) for it in head["items"]]
    states = [([items[i] for i in ids[offsets[s]:offsets[s + 1]]], head["texts"][text[s]], int(bg[s]))
              for s in range(len(bg))]
    return {"states": states, "head": head}


class CanvasApp(anywidget.AnyWidget):
    """The page-drawn view of a SliderApp (what a notebook displays). Build with
    :meth:`from_app`."""

    _esm = ESM.read_text()
    spec = T.Unicode("{}").tag(sync=True)
    data = T.Bytes(b"").tag(sync=True)
    backgrounds = T.Bytes(b"").tag(sync=True)
    position = T.List(T.Int()).tag(sync=True)  # page -> kernel: the current positions
    request = T.List(T.Int()).tag(sync=True)  # page -> kernel: positions off the grid
    live = T.Bytes(b"").tag(sync=True)  # kernel -> page: that state, recorded

    @classmethod
    def from_app(cls, app, cap: int = MAX_STATES) -> "CanvasApp":
        pre = precompute(app, cap)
        widget = cls(spec=json.dumps(pre.spec, separators=(",", ":")), data=pre.data, backgrounds=pre.backgrounds,
                     position=[c["index"] for c in pre.spec["controls"]])
        widget.precomputed = pre
        widget.app = app
        widget.observe(widget._on_position, names="position")
        widget.observe(widget._on_request, names="request")
        return widget

    def _values(self, idx: list[int]) -> dict:
        return {n: positions(c)[i] for (n, c), i in zip(self.app.controls.items(), idx)}

    def _on_position(self, change) -> None:
        """Keep the kernel's controls where the page's are (no redraw: the page drew it)."""
        app = self.app
        with app.quiet():
            for (n, c), v in zip(app.controls.items(), self._values(change["new"]).values()):
                if c.value != v:
                    c.value = v

    def _on_request(self, change) -> None:
        """Record one state off the grid for the page (the kernel fallback)."""
        idx = list(change["new"])
        if len(idx) != len(self.app.controls):
            return
        app = self.app
        out = app.redraw(**self._values(idx))
        store = Store()
        rec = Recorder(app.fig, store)
        key = app.static_state()
        bg = self.precomputed.bg_index.get(key)
        png = None
        app.canvas.draw()
        if bg is None:
            png = store.array(np.frombuffer(_png(app.canvas), dtype=np.uint8))
        ids = _record(app, rec)
        head = {"request": idx, "items": [store.items[i] for i in ids], "text": out if out is not None else None,
                "bg": -1 if bg is None else bg, "png": png}
        app.full_draw()
        self.live = store.pack(head, level=1)
