"""What a canvas needs to draw a figure's animated artists, in display (device pixel) coordinates.

:class:`Recorder` turns each animated artist of a :class:`~lvmlib.widgets.app.SliderApp` into
*items* a small JavaScript module draws on a ``<canvas>`` over the app's static background
(``static/slider_canvas.js``):

- ``"p"`` a path (``Line2D`` lines, patches, collections' paths): vertices in units of
  ``1 / Q`` px (int16), path codes where not a plain polyline, fill and stroke (colour with
  alpha, width in px, dashes, cap and join), as matplotlib's Agg draws it (simplified and
  clipped by matplotlib's own path cleaning; rectilinear paths snapped to pixel centres);
- ``"m"`` markers (a ``Line2D``'s markers, a scatter): one marker path and the positions;
- ``"i"`` an RGBA picture drawn into a rectangle: an ``AxesImage`` with nearest-neighbour
  interpolation as its unsampled colour-mapped pixels (8x8 digits stay 256 bytes), and, as
  rendered by Agg and cropped, every text (exact glyphs, mathtext too) and every artist of a
  kind without a vector form (``smooth``: drawn 1:1).

Coordinates are canvas coordinates (y down, from the top of the figure).  Arrays go to a
:class:`Store` (a binary blob, deduplicated by content) and items to its pool (deduplicated by
value), so a state is a list of item ids and repeated artists cost nothing.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

import matplotlib as mpl
import numpy as np
from matplotlib.collections import Collection, PathCollection
from matplotlib.colors import to_rgba
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.patches import Patch
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.transforms import Affine2D, Bbox

__all__ = ["Q", "Store", "Recorder"]

Q = 2  # stored coordinates are multiples of 1/Q px
_LIMIT = 16000  # px: int16 / Q, with room; coordinates beyond are clipped
_NONE = (None, "None", "none", "", " ")
_CAPS = {"butt": "butt", "round": "round", "projecting": "square"}


def css(rgba) -> str | None:
    """``rgba(r,g,b,a)`` of a matplotlib colour, or None when fully transparent."""
    r, g, b, a = (float(v) for v in rgba)
    if a <= 0:
        return None
    return f"rgba({round(r * 255)},{round(g * 255)},{round(b * 255)},{round(a, 3):g})"


class Store:
    """A binary blob of arrays (deduplicated by content) and a pool of items (by value)."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._size = 0
        self._arrays: dict = {}
        self.items: list[dict] = []
        self._item_ids: dict = {}
        self._last: dict = {}  # family -> (ref, bytes) of its last array

    def array(self, arr, family=None) -> list[int]:
        """Append ``arr`` (kept at its dtype, 4-byte aligned); returns ``[offset, count]``.

        An array equal to one stored before is not stored again, nor one that is a prefix of the
        last array of its ``family`` (the same artist's points for fewer samples: states are
        enumerated from the last position of each control down)."""
        a = np.ascontiguousarray(arr)
        data = a.tobytes()
        if family is not None:
            last = self._last.get((family, a.dtype.str))
            if last is not None and len(last[1]) >= len(data) and last[1][:len(data)] == data:
                return [last[0][0], int(a.size)]
        key = hashlib.blake2b(data, digest_size=16).digest() + a.dtype.str.encode()
        ref = self._arrays.get(key)
        if ref is None:
            pad = -self._size % 4
            if pad:
                self._chunks.append(b"\0" * pad)
                self._size += pad
            ref = [self._size, int(a.size)]
            self._chunks.append(data)
            self._size += len(data)
            self._arrays[key] = ref
        if family is not None:
            self._last[(family, a.dtype.str)] = (ref, data)
        return ref

    def item(self, d: dict) -> int:
        key = json.dumps(d, separators=(",", ":"), sort_keys=True)
        i = self._item_ids.get(key)
        if i is None:
            i = self._item_ids[key] = len(self.items)
            self.items.append(d)
        return i

    def pack(self, head: dict, level: int = 9) -> bytes:
        """``zlib(u32 length | JSON head | pad | arrays)``: what the page inflates
        (``DecompressionStream("deflate")``) and reads with typed-array views."""
        text = json.dumps(head, separators=(",", ":")).encode()
        pad = -(4 + len(text)) % 4
        raw = struct.pack("<I", len(text) + pad) + text + b" " * pad + b"".join(self._chunks)
        return zlib.compress(raw, level)


def _quantize(xy: np.ndarray) -> np.ndarray:
    """Points (n, 2) in canvas px as int16 multiples of 1/Q px, stored as differences to the point
    before (wrapping mod 2^16: exact; zlib packs small differences far better)."""
    q = np.clip(np.round(xy * Q), -_LIMIT * Q, _LIMIT * Q).astype(np.int16).reshape(-1, 2)
    d = q.copy()
    d[1:] = q[1:] - q[:-1]  # int16 arithmetic wraps
    return d


def undelta(d) -> np.ndarray:
    """The points of :func:`_quantize`'s differences (flat int16, x and y interleaved)."""
    d = np.asarray(d, dtype=np.int64).reshape(-1, 2)
    return np.cumsum(d, axis=0).astype(np.int16).reshape(-1)


class Recorder:
    """Items of the animated artists of ``fig`` (drawn on its Agg canvas) into ``store``."""

    def __init__(self, fig, store: Store):
        self.fig = fig
        self.store = store
        self.px = fig.dpi / 72.0  # px per point
        self.height = fig.bbox.height
        self._text_cache: dict = {}
        self._metric_cache: dict = {}
        self.fonts: dict = {}  # font file -> characters drawn with it (subset into the page's fonts)

    # -- helpers -----------------------------------------------------------------------
    def _flip(self, xy) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2).copy()
        xy[:, 1] = self.height - xy[:, 1]
        return xy

    def _clip(self, art) -> list[int] | None:
        if not art.get_clip_on() or art.get_clip_box() is None:
            return None
        x0, y0, x1, y1 = art.get_clip_box().extents
        top = self.height - y1
        return [int(np.floor(x0 + 0.5)), int(np.floor(top + 0.5)), int(round(x1 - x0)), int(round(y1 - y0))]

    def _dashes(self, linestyle, lw_pt: float) -> list[float] | None:
        name = {"--": "dashed", "dashed": "dashed", ":": "dotted", "dotted": "dotted", "-.": "dashdot",
                "dashdot": "dashdot"}.get(linestyle if isinstance(linestyle, str) else "")
        if name is None:
            if isinstance(linestyle, tuple) and len(linestyle) == 2 and linestyle[1]:
                pattern = np.asarray(linestyle[1], dtype=float)
            else:
                return None
        else:
            pattern = np.asarray(mpl.rcParams[f"lines.{name}_pattern"], dtype=float)
        if mpl.rcParams["lines.scale_dashes"]:
            pattern = pattern * lw_pt
        return [round(float(v) * self.px, 2) for v in pattern]

    def _path_ref(self, path: Path, lw_px: float, *, snap: bool, family=None) -> dict | None:
        """Vertices (canvas, 1/Q px) and codes of a display-space path."""
        v = path.vertices
        codes = path.codes
        if codes is not None and len(codes) and codes[-1] == Path.STOP:
            v, codes = v[:-1], codes[:-1]
        if len(v) == 0:
            return None
        v = self._flip(v)
        if snap and len(v) < 1024 and (codes is None or np.all(np.isin(codes, (1, 2, 79)))):
            d = np.diff(v, axis=0)
            if np.all((np.abs(d[:, 0]) < 1e-6) | (np.abs(d[:, 1]) < 1e-6)):  # horizontal/vertical only
                offset = 0.5 if int(round(lw_px)) % 2 else 0.0
                v = np.floor(v + 0.5) + offset
        out = {"v": self.store.array(_quantize(v), family)}
        if codes is not None and not (codes[0] == Path.MOVETO and np.all(codes[1:] == Path.LINETO)):
            out["c"] = self.store.array(np.asarray(codes, dtype=np.uint8))
        return out

    def _stroke(self, d: dict, color, lw_px: float, linestyle, lw_pt: float, cap: str, join: str) -> None:
        c = css(color) if lw_px > 0 and linestyle not in _NONE else None
        if c is None:
            return
        d["s"], d["w"] = c, round(lw_px, 2)
        dashes = self._dashes(linestyle, lw_pt)
        if dashes:
            d["d"] = dashes
        d["cap"], d["join"] = _CAPS.get(cap, "butt"), join if join in ("miter", "round", "bevel") else "miter"

    # -- artists -----------------------------------------------------------------------
    def items(self, art, renderer) -> list[int]:
        """Item ids that draw ``art`` (in this order)."""
        if isinstance(art, Line2D):
            out = self._line(art)
        elif isinstance(art, AxesImage) and self._vector_image(art):
            out = self._image(art)
        elif isinstance(art, Text) and self._vector_text(art):
            out = self._text(art, renderer)
        elif isinstance(art, Patch):
            out = self._patch(art)
        elif isinstance(art, PathCollection) or (isinstance(art, Collection) and type(art).__name__ in (
                "PolyCollection", "FillBetweenPolyCollection", "LineCollection", "PatchCollection")):
            out = self._collection(art)
        else:
            out = self._raster(art, renderer)
        return [self.store.item(d) for d in out if d]

    def _line(self, line: Line2D) -> list[dict]:
        out = []
        clip = self._clip(line)
        alpha = line.get_alpha()
        lw_pt = line.get_linewidth()
        lw = lw_pt * self.px
        trans = line.get_transform()
        if line.get_linestyle() not in _NONE and lw > 0:
            path = trans.transform_path(line.get_path())
            pad = 50 + lw
            x0, y0, x1, y1 = self.fig.bbox.extents
            simplify = mpl.rcParams["path.simplify"] and len(path.vertices) > 128
            path = path.cleaned(remove_nans=True, clip=(x0 - pad, y0 - pad, x1 + pad, y1 + pad), simplify=simplify)
            ref = self._path_ref(path, lw, snap=line.get_snap() is not False, family=(id(line), "v"))
            if ref:
                d = {"k": "p", **ref, "clip": clip}
                dashed = line.get_linestyle() not in ("-", "solid")
                self._stroke(d, to_rgba(line.get_color(), alpha), lw, line.get_linestyle(), lw_pt,
                             line.get_dash_capstyle() if dashed else line.get_solid_capstyle(),
                             line.get_dash_joinstyle() if dashed else line.get_solid_joinstyle())
                if "s" in d:
                    out.append(d)
        marker = line.get_marker()
        if marker not in _NONE and line.get_markersize() > 0:
            xy = trans.transform(np.asarray(line.get_xydata(), dtype=float))
            xy = xy[np.isfinite(xy).all(1)]
            if len(xy):
                ms = MarkerStyle(marker, line.get_fillstyle())
                size = line.get_markersize() * self.px
                face = to_rgba(line.get_markerfacecolor(), alpha) if ms.is_filled() and \
                    line.get_fillstyle() != "none" else (0, 0, 0, 0)
                out.append(self._markers(ms.get_path(), ms.get_transform().frozen().scale(size), xy, face,
                                         to_rgba(line.get_markeredgecolor(), alpha),
                                         line.get_markeredgewidth() * self.px, clip,
                                         ms.get_joinstyle(), ms.get_capstyle(), family=(id(line), "m")))
        return out

    def _markers(self, path: Path, trans, xy, face, edge, lw_px, clip, join="miter", cap="butt",
                 family=None) -> dict:
        mp = trans.transform_path(path)
        v = mp.vertices.copy()
        v[:, 1] *= -1  # y down
        codes = mp.codes if mp.codes is not None else [1] + [2] * (len(v) - 1)
        marker = [[round(float(a), 2), round(float(b), 2), int(c)] for (a, b), c in zip(v, codes) if c != 0]
        d = {"k": "m", "mk": marker, "xy": self.store.array(_quantize(self._flip(xy)), family), "clip": clip}
        f = css(face)
        if f:
            d["f"] = f
        if lw_px > 0 and css(edge):
            d["s"], d["w"] = css(edge), round(lw_px, 2)
            d["cap"], d["join"] = _CAPS.get(str(cap), "butt"), str(join)
        return d

    def _patch(self, patch: Patch) -> list[dict]:
        path = patch.get_transform().transform_path(patch.get_path()).cleaned(remove_nans=True, curves=True)
        lw_pt = patch.get_linewidth()
        lw = lw_pt * self.px
        ref = self._path_ref(path, lw, snap=patch.get_snap() is not False)
        if not ref:
            return []
        d = {"k": "p", **ref, "clip": self._clip(patch)}
        if patch.get_fill():
            f = css(patch.get_facecolor())
            if f:
                d["f"] = f
        self._stroke(d, patch.get_edgecolor(), lw, patch.get_linestyle(), lw_pt, patch.get_capstyle(),
                     patch.get_joinstyle())
        return [d] if ("f" in d or "s" in d) else []

    def _collection(self, coll: Collection) -> list[dict]:
        paths = coll.get_paths()
        if not len(paths):
            return []
        clip = self._clip(coll)
        faces = np.atleast_2d(coll.get_facecolor()) if len(coll.get_facecolor()) else np.zeros((1, 4))
        edges = np.atleast_2d(coll.get_edgecolor()) if len(coll.get_edgecolor()) else np.zeros((1, 4))
        widths = np.atleast_1d(coll.get_linewidth()) * self.px
        transforms = coll.get_transforms()
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        master = coll.get_transform()
        out = []
        if len(offsets) and isinstance(coll, PathCollection):  # a scatter: markers in px at offsets
            xy = coll.get_offset_transform().transform(offsets)
            n = len(xy)  # grouped by style: one group for a one-colour scatter
            keys = [(tuple(faces[i % len(faces)]), tuple(edges[i % len(edges)]), float(widths[i % len(widths)]),
                     i % len(paths), i % max(len(transforms), 1)) for i in range(n)]
            groups: dict = {}
            for i, k in enumerate(keys):
                groups.setdefault(k, []).append(i)
            for (f, e, w, p, t), idx in groups.items():
                tr = Affine2D(transforms[t]) if len(transforms) else Affine2D()
                pts = xy[idx]
                pts = pts[np.isfinite(pts).all(1)]
                if len(pts):
                    out.append(self._markers(paths[p], tr, pts, f, e, w, clip, "round", "butt"))
            return out
        for i, path in enumerate(paths):
            tr = master if not len(transforms) else Affine2D(transforms[i % len(transforms)]) + master
            p = tr.transform_path(path).cleaned(remove_nans=True, curves=True)
            ref = self._path_ref(p, widths[i % len(widths)], snap=False)
            if not ref:
                continue
            d = {"k": "p", **ref, "clip": clip}
            f = css(faces[i % len(faces)])
            if f and type(coll).__name__ != "LineCollection":
                d["f"] = f
            lw = float(widths[i % len(widths)])
            self._stroke(d, edges[i % len(edges)], lw, "-", lw / self.px, "butt", "round")
            if "f" in d or "s" in d:
                out.append(d)
        return out

    def _vector_text(self, t: Text) -> bool:
        """One line of plain text, unrotated, in a TrueType font: drawn by the page (``fillText``)
        in that font, subset and embedded; anything else is a picture."""
        s = t.get_text()
        if "\n" in s or t.get_rotation() % 360 or t.get_bbox_patch() is not None or t.get_path_effects():
            return False
        if t.get_usetex() or (s.count("$") >= 2 and s.count("$") - s.count("\\$") >= 2):
            return False  # mathtext
        return self._font(t).lower().endswith(".ttf")

    def _font(self, t: Text) -> str:
        from matplotlib import font_manager

        return font_manager.findfont(t.get_fontproperties())

    def _metrics(self, s: str, props, renderer) -> tuple[float, float]:
        """(height, descent) in px of a line as matplotlib lays it out (at least those of "lp")."""
        key = (s, str(props))
        m = self._metric_cache.get(key)
        if m is None:
            _, h, d = renderer.get_text_width_height_descent(s, props, ismath=False)
            if s != "lp":
                h0, d0 = self._metrics("lp", props, renderer)
                h, d = max(h, h0), max(d, d0)
            m = self._metric_cache[key] = (h, d)
        return m

    def _text(self, t: Text, renderer) -> list[dict]:
        s = t.get_text()
        if not s.strip():
            return []
        x, y = t.get_transform().transform(t.get_unitless_position())
        props = t.get_fontproperties()
        color = css(to_rgba(t.get_color(), t.get_alpha()))
        key = ("text", s, round(x, 1), round(y, 1), color, str(props), t.get_ha(), t.get_va())
        hit = self._text_cache.get(key)
        if hit is not None:
            return [hit]
        va = t.get_va()
        if va in ("baseline", "center_baseline"):
            base = y
        else:
            h, d = self._metrics(s, props, renderer)
            base = {"bottom": y + d, "top": y - h + d, "center": y - h / 2 + d}.get(va, y)
        font = self._font(t)
        self.fonts.setdefault(font, set()).update(s)
        d = {"k": "t", "s": s, "x": round(float(x) * Q) / Q, "y": round((self.height - float(base)) * Q) / Q,
             "px": round(props.get_size_in_points() * self.px, 2), "font": font.rsplit("/", 1)[-1],
             "al": {"center": "center", "right": "right"}.get(t.get_ha(), "left"), "f": color,
             "clip": self._clip(t)}
        self._text_cache[key] = d
        return [d]

    def font_faces(self) -> list[dict]:
        """The fonts the text items name, each subset to the characters drawn (base64 TrueType)."""
        import base64
        import io
        import logging

        logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
        from fontTools import subset
        from fontTools.ttLib import TTFont

        out = []
        for path, chars in sorted(self.fonts.items()):
            opts = subset.Options()
            opts.layout_features = ["*"]
            opts.hinting = False
            font = TTFont(path)
            sub = subset.Subsetter(opts)
            sub.populate(text="".join(sorted(chars)))
            sub.subset(font)
            buf = io.BytesIO()
            font.save(buf)
            out.append({"name": path.rsplit("/", 1)[-1], "data": base64.b64encode(buf.getvalue()).decode()})
        return out

    def _vector_image(self, im: AxesImage) -> bool:
        ax = im.axes
        return (im.get_interpolation() in ("nearest", "none") and ax is not None and ax.get_xscale() == "linear"
                and ax.get_yscale() == "linear" and im.get_transform().is_affine and im.get_array() is not None)

    def _image(self, im: AxesImage) -> list[dict]:
        rgba = im.to_rgba(im.get_array(), alpha=im.get_alpha(), bytes=True)
        left, right, bottom, top = im.get_extent()
        (x0, yb), (x1, yt) = im.get_transform().transform([[left, bottom], [right, top]])
        y_row0, y_rowN = (yt, yb) if im.origin == "upper" else (yb, yt)
        if y_row0 < y_rowN:
            rgba = rgba[::-1]
        if x0 > x1:
            rgba = rgba[:, ::-1]
        h, w = rgba.shape[:2]
        rect = [min(x0, x1), self.height - max(yb, yt), abs(x1 - x0), abs(yt - yb)]
        return [{"k": "i", "a": self.store.array(np.ascontiguousarray(rgba, dtype=np.uint8)), "iw": int(w),
                 "ih": int(h), "r": [round(float(v) * Q) / Q for v in rect], "clip": self._clip(im)}]

    def _raster(self, art, renderer) -> list[dict]:
        """``art`` as Agg draws it, alone, cropped to where it drew (texts: cached by content)."""
        key = None
        if isinstance(art, Text):
            if not art.get_text().strip():
                return []
            bb = art.get_window_extent(renderer)
            key = (art.get_text(), tuple(np.round(bb.extents, 1)), to_rgba(art.get_color(), art.get_alpha()),
                   art.get_fontsize(), art.get_rotation(), str(art.get_fontproperties()))
            if key in self._text_cache:
                return [self._text_cache[key]]
        else:
            bb = art.get_window_extent(renderer)
        clip = art.get_clip_box() if art.get_clip_on() and art.get_clip_box() is not None else None
        if clip is not None:
            bb = Bbox.intersection(bb, clip) or Bbox.null()
        W, H = self.fig.canvas.get_width_height(physical=True)
        x0, y0, x1, y1 = bb.extents if np.isfinite(bb.extents).all() else (0, 0, 0, 0)
        x0, x1 = max(int(np.floor(x0)) - 2, 0), min(int(np.ceil(x1)) + 2, W)
        r0, r1 = max(int(np.floor(H - y1)) - 2, 0), min(int(np.ceil(H - y0)) + 2, H)
        if x1 <= x0 or r1 <= r0:
            return []
        buf = np.asarray(renderer.buffer_rgba())
        buf[r0:r1, x0:x1] = 0
        art.draw(renderer)
        crop = buf[r0:r1, x0:x1]
        alpha = crop[..., 3]
        rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
        d = None
        if len(rows):
            crop = crop[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            h, w = crop.shape[:2]
            d = {"k": "i", "a": self.store.array(np.ascontiguousarray(crop)), "iw": int(w), "ih": int(h),
                 "r": [x0 + int(cols[0]), r0 + int(rows[0]), int(w), int(h)], "smooth": 1}
        if key is not None:
            self._text_cache[key] = d
        return [d] if d else []
