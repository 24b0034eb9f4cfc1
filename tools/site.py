"""Build the course as a static site: ``build/site/`` (``make site``), offline, sliders working.

The shell is Jupyter Book 1's stack: Sphinx + MyST-NB + sphinx-book-theme (sidebar table of
contents, previous/next, full-text search, dark mode, print styles), configured in
``docs/site/conf.py``.  The pages come from the STORED, executed notebooks (``notebooks/*.ipynb``,
the exercises edition, and ``notebooks/solutions/*.ipynb``, the solved one); nothing is executed.

Steps (``build``):

1. *Stage* a Sphinx source folder from the notebooks (``stage_notebook``):
   - every output is checked against an allow-list (``clean_outputs``): plain text, PNG/JPEG and the
     course's own HTML (hint ladders, check results: ``<div>/<details>/<code>`` ... with ``class``
     and a few ``style`` properties), cleaned by ``nh3``; ``application/javascript``, SVG and any
     other MIME type are dropped, and so is every ``<script>``, event handler and off-site image;
   - markdown cells lose raw ``<script>``/``<iframe>``/... tags, ``on*=`` attributes,
     ``javascript:`` links and off-site images (``clean_markdown``);
   - each page-drawn slider app (an ``anywidget`` view of ``lvmlib.widgets.client.CanvasApp``)
     becomes an empty ``<div class="lvm-slot" data-spec=H1 data-frames=H2 data-bg=H3>``; its stored
     state goes to ``_static/apps/H.bin``, one file per part (zlib-packed spec JSON and states,
     background PNGs) named by a hash of its bytes, so what the editions or apps share is stored once;
   - ``# NBVAL_...`` harness lines leave the displayed code (in notebooks built by nbbuild they are
     tags and metadata already);
   - a figure's alt text is its own (``lvmlib.plotting.figure_html``'s ``<img alt>``, which leaves
     the output: the PNG beside it is shown), else a generic one naming its section;
   - a launch bar (download this notebook, the other edition, Colab, Binder) follows the title.
2. *Run Sphinx* (``python -m sphinx -b html``) into a staging folder next to ``--out``; formulas are
   placeholders (``docs/site/conf.py``'s math renderer) that ``typeset_math`` replaces by KaTeX's
   HTML in one node run; a formula KaTeX cannot parse stops the build, naming page and formula.
3. *Harden* every page (``harden_page``): a Content-Security-Policy ``<meta>`` with
   ``default-src 'self'`` and the hashes of the theme's own inline scripts in ``<head>``; the build
   fails if any ``<script>`` is left in a page's ``<body>`` that is not the theme's or ours.
4. *Swap*: the staging folder replaces ``--out`` in one rename, so a stopped build leaves the old
   site whole and pages of removed notebooks disappear.

The download links give each notebook with its outputs cleared (what a student runs; the executed
pages are on the site).  Every formula is typeset here, at build time, by KaTeX (npm, run by node:
``tools/katex_render.js``, one batch for the whole site; installed once into ``build/npm-katex/``),
so pages carry finished HTML + MathML, KaTeX's stylesheet and fonts are served from the site, and no
math script runs in the page.  Nothing is loaded from another host.

    python tools/site.py [--notebooks notebooks] [--out build/site]
    python tools/site.py --pdf build/course.pdf [--edition student|solutions]   (make pdf)

Publish: copy ``build/site/`` to a GitHub Pages branch (or let a Pages workflow upload it).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "docs" / "site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# edition -> (folder under notebooks/ and under the site, label)
EDITIONS = {"student": ("", "exercises"), "solutions": ("solutions", "solved")}
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def _load(path: Path, name: str):
    """A module of tools/ by its path (``python tools/site.py`` has tools/, not the root, on sys.path)."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # before running it: dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _nbbuild():
    _load(ROOT / "tools" / "nbval_markers.py", "nbval_markers")  # nbbuild imports it
    return _load(ROOT / "tools" / "nbbuild.py", "nbbuild")


class SiteError(RuntimeError):
    """The site cannot be built from what is there; the message says what to change."""


# ---------------------------------------------------------------------------------------------
# Sanitising: what a stored notebook may put on the published site


OUTPUT_MIMES = ("text/html", "text/markdown", "image/png", "image/jpeg", "text/plain", "text/latex")
HTML_TAGS = {"div", "span", "p", "br", "b", "i", "em", "strong", "code", "pre", "kbd", "sub", "sup",
             "details", "summary", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
             "caption", "h4", "h5", "h6", "a", "img", "hr", "small", "blockquote"}
HTML_ATTRIBUTES = {"*": {"class", "style", "title", "lang"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
                   "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"}, "details": {"open"}}
STYLE_PROPERTIES = {"color", "background", "background-color", "border", "border-left", "border-bottom",
                    "padding", "margin", "font-family", "font-weight", "font-style", "font-size", "cursor",
                    "text-align", "white-space", "display"}
OFF_SITE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.I)  # any scheme, or protocol-relative


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """nh3 hook: pictures only from the page itself (``data:``) or the site; no off-site image."""
    if tag == "img" and attr == "src" and OFF_SITE.match(value) and not value.startswith("data:image/"):
        return None
    return value


def clean_html(fragment: str) -> str:
    """An HTML output as the site shows it: only the allow-listed tags, attributes and style
    properties; scripts, ``<style>``, event handlers, ``javascript:`` links and off-site images go."""
    import nh3

    return nh3.clean(fragment, tags=HTML_TAGS, attributes=HTML_ATTRIBUTES, clean_content_tags={"script", "style"},
                     attribute_filter=_attribute_filter, filter_style_properties=STYLE_PROPERTIES,
                     url_schemes={"http", "https", "mailto", "data"}, strip_comments=True)


_DANGEROUS_TAG = r"(?:script|iframe|object|embed|style|link|meta|base|form|frame|frameset|applet|svg|math|template)"
_MD_RULES = [
    (re.compile(rf"<\s*({_DANGEROUS_TAG})\b[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S), ""),  # element and content
    (re.compile(rf"<\s*/?\s*{_DANGEROUS_TAG}\b[^>]*>?", re.I), ""),  # a lone opening or closing tag
    (re.compile(r"(<[a-z][^>]*?)\s+on[a-z]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+)", re.I), r"\1"),  # handlers
    (re.compile(r"(<img\b[^>]*?)\s+src\s*=\s*(?:\"\s*(?:[a-z][a-z0-9+.-]*:|//)[^\"]*\"|'\s*(?:[a-z][a-z0-9+.-]*:|//)"
                r"[^']*'|(?:[a-z][a-z0-9+.-]*:|//)[^\s>]*)", re.I), r"\1"),  # off-site <img src>
    (re.compile(r"!\[([^\]]*)\]\(\s*<?((?:[a-z][a-z0-9+.-]*:|//)[^)\s>]*)>?[^)]*\)", re.I), r"[\1](\2)"),  # ![](http..)
    (re.compile(r"(href|src)\s*=\s*([\"']?)\s*(?:javascript|vbscript|data):[^\"'>\s]*\2", re.I), r'\1="#"'),
    (re.compile(r"\]\(\s*<?(?:javascript|vbscript|data):[^)]*\)", re.I), "](#)"),
]


_INLINE_DOLLARS = re.compile(r"(?<![\\$])\$(?=[^\s$])([^$]+?)(?<![\s\\])\$(?!\$)")
_DISPLAY_DOLLARS = re.compile(r"(?<!\\)\$\$(.+?)\$\$", re.S)


def mark_math(fragment: str) -> str:
    """The formulas of a (cleaned) HTML output, ``$...$`` and ``$$...$$`` outside ``<code>`` and
    ``<pre>``, as the placeholders that ``typeset_math`` replaces by KaTeX's HTML (the same markup
    Sphinx writes for the markdown's math: ``docs/site/conf.py``)."""
    parts = re.split(r"(<[^>]*>)", fragment)
    inside = 0  # depth of <code>/<pre>
    for i, part in enumerate(parts):
        if part.startswith("<"):
            tag = re.match(r"<\s*(/?)\s*(code|pre)\b", part, re.I)
            if tag:
                inside = max(0, inside + (-1 if tag.group(1) else 1))
        elif inside == 0 and "$" in part:
            part = _DISPLAY_DOLLARS.sub(r'<span class="lvm-tex-display">\1</span>', part)
            parts[i] = _INLINE_DOLLARS.sub(r'<span class="lvm-tex">\1</span>', part)
    return "".join(parts)


def clean_markdown(text: str) -> str:
    """A markdown cell or output as the site shows it: markdown and math unchanged; raw HTML loses
    scripts, frames, styles, event handlers and ``javascript:`` links; an image from another host
    becomes a link to it.  Repeated until nothing changes (so nested tricks do not survive)."""
    while True:
        before = text
        for rule, repl in _MD_RULES:
            text = rule.sub(repl, text)
        if text == before:
            return text


def clean_outputs(cell) -> None:
    """Keep only the allow-listed MIME types of each output, each cleaned; an output with nothing
    left goes.  Widget views are handled before (``extract_apps``): any left here are dropped."""
    kept = []
    for out in cell.get("outputs", []):
        if out.get("output_type") in ("stream", "error") or out.get("metadata", {}).get("lvm_site_app"):
            kept.append(out)
            continue
        data = {}
        for mime in OUTPUT_MIMES:
            if mime not in out.get("data", {}):
                continue
            value = out["data"][mime]
            value = "".join(value) if isinstance(value, list) else value
            if mime == "text/html":
                value = mark_math(clean_html(value))
            elif mime == "text/markdown":
                value = clean_markdown(value)
            elif mime == "image/png":
                value = shrink_png(value)
            data[mime] = value
        if data:
            out["data"] = data
            out.get("metadata", {}).pop(WIDGET_VIEW, None)
            kept.append(out)
    cell["outputs"] = kept


def shrink_png(b64: str) -> str:
    """A figure re-encoded with a 256-colour palette when that is smaller (matplotlib figures lose
    nothing visible; the site's size halves for them)."""
    raw = base64.b64decode(b64)
    small = shrink_png_bytes(raw)
    return base64.b64encode(small).decode() if small is not raw else b64


def shrink_png_bytes(raw: bytes) -> bytes:
    """``raw`` (a PNG) with a 256-colour palette, or ``raw`` itself when that is not smaller."""
    import io

    from PIL import Image

    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except OSError:
        return raw
    if img.mode == "P":
        return raw
    rgb = img.convert("RGB") if img.mode != "RGBA" else img
    quant = rgb.quantize(256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    quant.save(buf, "PNG", optimize=True)
    return buf.getvalue() if buf.tell() < len(raw) else raw


#: the HTML output lvmlib.plotting.figure_html writes beside a figure's PNG: <img class=... alt="...">
_FIGURE_HTML = re.compile(r'^\s*<img class="lvmlib-figure"[^>]*\balt="(?P<alt>[^"]*)"[^>]*>\s*$')


def take_figure_alt(out) -> str | None:
    """An output's text alternative from lvmlib's figure HTML (whose PNG is also the output's
    image/png), which leaves the output: the site shows the (smaller, re-encoded) PNG with this alt."""
    data = out.get("data", {})
    value = data.get("text/html")
    value = "".join(value) if isinstance(value, list) else value
    m = _FIGURE_HTML.match(value or "")
    if not m or "image/png" not in data:
        return None
    del data["text/html"]
    return html.unescape(m["alt"])


def figure_alt(cell, heading: str, found: list[str] = ()) -> str:
    """A figure's text alternative: the cell's own (``metadata.alt``, or MyST-NB's
    ``metadata.mystnb.image.alt``), else the figures' own (``found``, from :func:`take_figure_alt`),
    else what the page says it is: a figure of that section."""
    own = cell.metadata.get("alt") or cell.metadata.get("mystnb", {}).get("image", {}).get("alt")
    return own or " ".join(found) or (f"Figure drawn by the code above, in the section “{heading}”; the text "
                                      "around it describes what it shows")


def strip_harness(source: str) -> str:
    """Code as a reader sees it: no ``# NBVAL_...`` lines (nbval's markers are for the tests)."""
    lines = [ln for ln in source.split("\n") if not ln.lstrip().startswith("# NBVAL_")]
    return "\n".join(lines).strip("\n")


# ---------------------------------------------------------------------------------------------
# Slider apps: stored once, fetched by the page


def _buffers(model: dict) -> dict:
    """Binary traits of a stored widget model: name -> bytes."""
    return {tuple(b["path"])[0]: base64.b64decode(b["data"])
            for b in model.get("buffers", []) if b.get("encoding") == "base64"}


def shrink_backgrounds(frames: bytes, backgrounds: bytes) -> tuple[bytes, bytes]:
    """An app's background pictures with a 256-colour palette (as the figures: ``shrink_png``),
    and its packed states with the pictures' new offsets.  ``frames`` is
    ``zlib(u32 n | JSON head | pad | arrays)`` (``lvmlib/widgets/record.py``); the head's ``bgs``
    lists each picture's ``[offset, length]`` in ``backgrounds``.  The arrays keep their offsets
    from the end of the head, which stays a multiple of 4 bytes long."""
    if not frames or not backgrounds:
        return frames, backgrounds
    key = hashlib.sha256(frames + backgrounds).digest()
    if key not in _SHRUNK:  # both editions hold the same apps: each is done once
        _SHRUNK[key] = _shrink_backgrounds(frames, backgrounds)
    return _SHRUNK[key]


_SHRUNK: dict[bytes, tuple[bytes, bytes]] = {}


def _shrink_backgrounds(frames: bytes, backgrounds: bytes) -> tuple[bytes, bytes]:
    import struct
    import zlib

    raw = zlib.decompress(frames)
    n = struct.unpack("<I", raw[:4])[0]
    head = json.loads(raw[4:4 + n])
    pictures = [shrink_png_bytes(backgrounds[off:off + size]) for off, size in head.get("bgs", [])]
    offsets = [sum(len(p) for p in pictures[:i]) for i in range(len(pictures))]
    head["bgs"] = [[off, len(p)] for off, p in zip(offsets, pictures)]
    text = json.dumps(head, separators=(",", ":")).encode()
    pad = -(4 + len(text)) % 4
    packed = struct.pack("<I", len(text) + pad) + text + b" " * pad + raw[4 + n:]
    return zlib.compress(packed, 9), b"".join(pictures)


def slot_html(ids: dict, spec: dict) -> str:
    """The placeholder the page's loader draws an app into.  It reserves the app's box from what
    the spec says (``lvm_site.css``): the picture's aspect ratio at full width, the rows of controls
    (two a row on a wide page, one on a phone), a note, and two (phone: three) lines of status
    text, so the page does not jump when the app appears."""
    width, height = float(spec.get("css_width") or 0), float(spec.get("height", 0)) / float(spec.get("ratio") or 1)
    ratio = f"{width:.0f} / {height:.0f}" if width and height else "4 / 3"
    n = max(1, len(spec.get("controls", [])))
    note = -(-len(str(spec.get("note") or "")) // 100)  # its lines at ~100 characters a line
    style = f"--lvm-ratio: {ratio}; --lvm-rows: {-(-n // 2)}; --lvm-rows-narrow: {n}; --lvm-note: {note}"
    parts = " ".join(f'data-{key}="{html.escape(value)}"' for key, value in ids.items())
    return (f'<div class="lvm-slot" {parts} style="{style}" '
            f'aria-busy="true"><p class="lvm-slot-note">Interactive app (needs JavaScript): '
            f'{html.escape(str(spec.get("name", "")))}</p></div>')


def extract_apps(nb, apps_dir: Path) -> int:
    """Replace each slider app view by a placeholder and write its state to ``apps_dir`` under a
    content hash; drop the notebook's widget state.  Returns how many apps were replaced."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            traits = state.get(view.get("model_id"), {}).get("state", {})
            if "spec" not in traits or "_esm" not in traits:
                continue  # another widget: clean_outputs keeps its text fallback
            spec_text = traits["spec"] if isinstance(traits["spec"], str) else json.dumps(traits["spec"])
            spec = json.loads(spec_text)
            buffers = _buffers(state[view["model_id"]])
            frames, bg = shrink_backgrounds(buffers.get("data", b""), buffers.get("backgrounds", b""))
            # the spec (JSON with its fonts in base64) is deflated like the states: a third of its size
            parts = {"spec": zlib.compress(spec_text.encode(), 9), "frames": frames, "bg": bg}
            ids = {}
            for key, blob in parts.items():  # each part under its own hash: shared parts are stored once
                ids[key] = hashlib.sha256(blob).hexdigest()[:20]
                path = apps_dir / f"{ids[key]}.bin"
                if not path.exists():
                    path.write_bytes(blob)
            out["data"] = {"text/html": slot_html(ids, spec)}
            out["metadata"] = {"lvm_site_app": True}  # ours: clean_outputs leaves it as it is
            count += 1
    nb.metadata.pop("widgets", None)
    return count


# ---------------------------------------------------------------------------------------------
# Staging the Sphinx sources


def title_of(nb, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return stem


def page_path(stem: str, edition: str) -> str:
    """A page's path in the site, e.g. ``solutions/05_importance_sampling.html``."""
    sub = EDITIONS[edition][0]
    return f"{sub}/{stem}.html" if sub else f"{stem}.html"


def download_path(stem: str, edition: str) -> str:
    """Where the site serves a notebook to download (outputs cleared)."""
    sub = EDITIONS[edition][0]
    return f"notebooks/{sub}/{stem}.ipynb" if sub else f"notebooks/{stem}.ipynb"


def launch_bar(stem: str, edition: str, rel) -> str:
    """The bar under a page's title: download both editions, switch edition, run online."""
    from urllib.parse import quote

    nbbuild = _nbbuild()
    up = "../" if EDITIONS[edition][0] else ""
    other = "solutions" if edition == "student" else "student"
    repo_path = nbbuild.notebook_path(stem, edition)
    q = lambda s: html.escape(quote(s, safe="/:?=&.~-_"), quote=True)  # noqa: E731
    return ('<nav class="lvm-launch" aria-label="This notebook">'
            f'<span class="lvm-edition">{html.escape(EDITIONS[edition][1].capitalize())} edition.</span> '
            f'<a href="{q(up + page_path(stem, other))}">Switch to the {EDITIONS[other][1]} edition</a> · '
            f'Download: <a href="{q(up + download_path(stem, edition))}" download>this notebook (.ipynb)</a>, '
            f'<a href="{q(up + download_path(stem, other))}" download>the {EDITIONS[other][1]} one</a> · '
            f'Run it online: <a href="{q(rel.colab(repo_path))}">Colab</a>, '
            f'<a href="{q(rel.binder(repo_path))}">Binder</a></nav>')


def download_copy(nb) -> nbformat.NotebookNode:
    """What the download link gives: the notebook with outputs, counts and widget state cleared."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    return nb


def stage_notebook(src: Path, edition: str, srcdir: Path, apps_dir: Path, rel) -> dict:
    """Write the page's source notebook (cleaned, apps extracted) and its download copy."""
    nb = nbformat.read(src, as_version=4)
    sub = EDITIONS[edition][0]
    dl = srcdir / "_extra" / download_path(src.stem, edition)
    dl.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(download_copy(nb), dl)
    apps = extract_apps(nb, apps_dir)
    _load(ROOT / "tools" / "site_predict.py", "site_predict").extract_predictions(nb, apps_dir.parent)
    cells, heading = [], src.stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for m in re.finditer(r"^#{1,3}\s+(.+)$", cell.source, re.M):
                heading = m.group(1).strip()
            if cell.source.lstrip().startswith("**Open online:**"):
                continue  # nbbuild's launch line: the site's own bar replaces it
            cell.source = clean_markdown(cell.source)
        elif cell.cell_type == "code":
            cell.source = strip_harness(cell.source)
            found = [alt for alt in (take_figure_alt(o) for o in cell.get("outputs", [])) if alt]
            clean_outputs(cell)
            if any("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {}) for o in cell.outputs):
                cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = figure_alt(cell, heading, found)
        else:  # raw cells: not shown
            continue
        cells.append(cell)
    nb.cells = cells
    title = title_of(nb, src.stem)
    for i, cell in enumerate(nb.cells):  # the launch bar right after the title's cell
        if cell.cell_type == "markdown" and re.search(r"^#\s+", cell.source, re.M):
            bar = nbformat.v4.new_markdown_cell(launch_bar(src.stem, edition, rel))
            nb.cells.insert(i + 1, bar)
            break
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat_minor = 4  # no cell ids needed (and none to validate)
    out = srcdir / sub / src.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return {"stem": src.stem, "edition": edition, "page": page_path(src.stem, edition), "title": title,
            "apps": apps}


def find_notebooks(notebooks: Path) -> dict[str, dict[str, Path]]:
    """stem -> edition -> stored notebook; a clear error for a missing folder or edition."""
    if not notebooks.is_dir():
        raise SiteError(f"no notebooks folder at {notebooks}: build the notebooks first "
                        "(python tools/nbbuild.py) or pass --notebooks")
    found: dict[str, dict[str, Path]] = {}
    for edition, (sub, _) in EDITIONS.items():
        folder = notebooks / sub
        for path in sorted(folder.glob(NOTEBOOK_GLOB)) if folder.is_dir() else []:
            found.setdefault(path.stem, {})[edition] = path
    if not found:
        raise SiteError(f"no notebooks ({NOTEBOOK_GLOB}) in {notebooks}: build them first (python tools/nbbuild.py)")
    missing = [f"{notebooks / EDITIONS[e][0] / (stem + '.ipynb')}" for stem, eds in found.items()
               for e in EDITIONS if e not in eds]
    if missing:
        raise SiteError("every notebook needs both editions (exercises in notebooks/, solved in "
                        "notebooks/solutions/); missing: " + ", ".join(missing) +
                        " (rebuild with python tools/nbbuild.py, or remove the other edition)")
    return found


INDEX = """# Latent variable models

Ten notebooks, each in two editions: the **exercises** edition, to work through, and the **solved**
edition. Every page is the executed notebook; its slider apps work in the page with no kernel
(every position was computed when the notebook ran). To run the code, download a notebook from its
page, or open it on Colab or Binder from there, or clone <a href="{repo}">the repository</a>.

| Notebook | Editions |
| --- | --- |
{rows}

```{{toctree}}
:caption: Notebooks (exercises)
:maxdepth: 1

{student}
```

```{{toctree}}
:caption: Solved edition
:maxdepth: 1

{solved}
```
"""


def stage(notebooks: Path, srcdir: Path, static_dir: Path) -> list[dict]:
    """Write the Sphinx source folder; returns one row per page (stem, edition, page, title, apps)."""
    nbbuild = _nbbuild()
    found = find_notebooks(notebooks)
    rel = nbbuild.release()
    apps_dir = static_dir / "apps"
    apps_dir.mkdir(parents=True, exist_ok=True)
    pages = [stage_notebook(eds[e], e, srcdir, apps_dir, rel) for stem, eds in sorted(found.items()) for e in EDITIONS]
    rows = []
    for stem in sorted(found):
        mine = {p["edition"]: p for p in pages if p["stem"] == stem}
        links = " · ".join(f'[{EDITIONS[e][1]}]({EDITIONS[e][0] + "/" if EDITIONS[e][0] else ""}{stem}.ipynb)'
                           for e in EDITIONS)
        rows.append(f"| {mine['student']['title'].replace('|', '-')} | {links} |")
    (srcdir / "index.md").write_text(INDEX.format(
        repo=html.escape(rel.repository, quote=True), rows="\n".join(rows),
        student="\n".join(sorted(found)), solved="\n".join(f"solutions/{s}" for s in sorted(found))))
    (srcdir / "site_context.json").write_text(json.dumps({"repository": rel.repository}))
    return pages


# ---------------------------------------------------------------------------------------------
# Math: typeset at build time by KaTeX (node), so pages carry finished HTML and load no math script

KATEX = "katex@0.16.47"  # 0.16: its CLI's dependency runs on Node 20 (0.18+ wants Node 22)
NPM_CACHE = ROOT / "build" / "npm-katex"
_TEX = re.compile(r'<span class="lvm-tex(-display)?">([^<]*)</span>')


def katex_module() -> Path:
    """The ``katex`` npm package, installed once into ``build/npm-katex/`` (like the repository's
    other npm uses); a clear error if Node or npm is missing or the install fails."""
    from filelock import FileLock  # torch's dependency

    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(NPM_CACHE / "install.lock")):  # two builds at once (pytest -n 2) install it once
        return _katex_module()


def _katex_module() -> Path:
    package = NPM_CACHE / "node_modules" / "katex"
    if (package / "dist" / "katex.min.css").exists() and package.joinpath("package.json").read_text().find(
            f'"version": "{KATEX.split("@")[1]}"') >= 0:
        return package
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise SiteError(f"{tool} is missing: the site typesets its math with KaTeX from npm "
                            "(apt-get install nodejs npm)")
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_CACHE), "-E", KATEX],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not package.is_dir():
        raise SiteError(f"npm install {KATEX} into {NPM_CACHE} failed (the npm registry is needed once; "
                        f"then the copy there is used offline):\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return package


def render_tex(formulas: list[tuple[str, bool]]) -> list[dict]:
    """KaTeX's HTML (+ MathML) for each ``(tex, display)``: one node process for the whole list;
    each result is ``{"html": ...}`` or ``{"error": KaTeX's message}``."""
    if not formulas:
        return []
    proc = subprocess.run(["node", str(ROOT / "tools" / "katex_render.js"), str(katex_module())],
                          input=json.dumps([{"tex": t, "display": d} for t, d in formulas]),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SiteError(f"node tools/katex_render.js failed:\n{proc.stderr[-3000:]}")
    # the MathML keeps the formula for screen readers; its TeX annotation (a second copy of the
    # source, 0.2 MB over the site) goes
    return [{"html": _ANNOTATION.sub("", r["html"])} if "html" in r else r for r in json.loads(proc.stdout)]


_ANNOTATION = re.compile(r'<annotation encoding="application/x-tex">.*?</annotation>', re.S)


def page_classes(pages: list[str]) -> set[str]:
    """Every class name in the ``class`` attributes of ``pages`` (HTML texts)."""
    return {c for text in pages for attr in re.findall(r'class="([^"]*)"', text) for c in attr.split()}


def prune_katex_fonts(static: Path, used: set[str]) -> None:
    """Drop the KaTeX font families no formula of the site uses (e.g. Fraktur, Script) from
    ``static/katex``: a family stays when some stylesheet rule that names it has a selector whose
    classes all occur in the pages (``used``: :func:`page_classes`, as the browser would match
    them), or when nothing names it."""
    css_path = static / "katex" / "katex.min.css"
    css = css_path.read_text()
    faces = re.findall(r"@font-face\{[^}]*\}", css)
    rules = re.sub(r"@font-face\{[^}]*\}", "", css)
    needed = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", rules):
        for family in re.findall(r"KaTeX_[A-Za-z0-9]+", body):
            if any(all(c in used for c in re.findall(r"\.([\w-]+)", sel)) for sel in selectors.split(",")):
                needed.add(family)
    for face in faces:
        family = re.search(r"font-family:\"?(KaTeX_[A-Za-z0-9]+)", face).group(1)
        if family not in needed:
            css = css.replace(face, "")
            for url in re.findall(r"url\((fonts/[^)]+)\)", face):
                (static / "katex" / url).unlink(missing_ok=True)
    css_path.write_text(css)


def prune_icon_fonts(static: Path, used: set[str]) -> None:
    """The theme's Font Awesome webfonts cut to the icons the site draws (about 240 kB -> 6 kB).

    The icons are the ``fa-NAME`` classes in the pages (``used``: :func:`page_classes`) and in the
    theme's scripts (which add some, e.g. ``fa-xmark``), each with the code point the theme's
    stylesheet gives it (``.fa-NAME,.fa-ALIAS{--fa:"\\fXXX"}``), and every icon a stylesheet draws
    itself (a private-use character in ``content`` or in a ``--pst-icon-*`` variable).  Every webfont
    is subset to those code points (fontTools, WOFF2 again): a style no page uses (regular, here)
    keeps the few of them it has.  ``tests/browser/test_site.py`` checks that the fonts hold every icon the
    pages name."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    css_path = static / "styles" / "pydata-sphinx-theme.css"
    fonts_dir = static / "vendor" / "fontawesome" / "webfonts"
    if not css_path.exists() or not fonts_dir.exists():
        return
    scripts = " ".join(p.read_text(errors="replace") for p in (static / "scripts").glob("*.js"))
    names = {c for c in used if c.startswith("fa-")} | set(re.findall(r"\bfa-[a-z0-9-]+", scripts))
    rules = re.finditer(r'([^{}]+)\{--fa:"\\([0-9a-fA-F]{4,5})"', css_path.read_text())
    points = {int(m.group(2), 16) for m in rules
              if names & {sel.strip().lstrip(".") for sel in m.group(1).split(",")}}
    # icons the stylesheets draw themselves (admonitions, links, toggles: ``content: var(--pst-icon-...)``),
    # given as private-use characters or escapes outside the ``--fa`` class rules
    for sheet in static.rglob("*.css"):
        text = re.sub(r'[^{}]+\{--fa:"[^"]*"\}', "", sheet.read_text(errors="replace"))
        points |= {ord(ch) for ch in text if 0xE000 <= ord(ch) <= 0xF8FF}
        points |= {int(h, 16) for h in re.findall(r'\\([0-9a-fA-F]{4,5})', text) if 0xE000 <= int(h, 16) <= 0xF8FF}
    if not points:  # the stylesheet's form changed: keep the fonts whole rather than lose icons
        return
    for path in fonts_dir.glob("*.woff2"):
        font = TTFont(path)
        options = subset.Options()
        options.flavor, options.layout_features, options.notdef_outline = "woff2", [], True
        sub = subset.Subsetter(options)
        sub.populate(unicodes=sorted(points))
        sub.subset(font)
        font.flavor = "woff2"
        font.save(path)


def typeset_math(pages: dict[str, str]) -> dict[str, str]:
    """Every formula placeholder of every page (name -> HTML) replaced by KaTeX's output, in one
    batch; raises ``SiteError`` naming each page and formula KaTeX cannot parse."""
    wanted = {}
    for text in pages.values():
        for m in _TEX.finditer(text):
            wanted.setdefault((html.unescape(m.group(2)).strip(), bool(m.group(1))), None)
    keys = list(wanted)
    done = dict(zip(keys, render_tex(keys)))
    bad = [(name, tex, done[(tex, disp)]["error"]) for name, text in pages.items() for m in _TEX.finditer(text)
           for tex, disp in [(html.unescape(m.group(2)).strip(), bool(m.group(1)))] if "error" in done[(tex, disp)]]
    if bad:
        raise SiteError(f"KaTeX cannot typeset {len(bad)} formula(s); fix them in tools/notebook_src/ "
                        "(or the notebook's output):\n" + "\n".join(f"  {name}: ${tex}$: {err}" for name, tex, err in bad[:20]))
    return {name: _TEX.sub(lambda m: done[(html.unescape(m.group(2)).strip(), bool(m.group(1)))]["html"], text)
            for name, text in pages.items()}


# ---------------------------------------------------------------------------------------------
# After Sphinx: the Content-Security-Policy, and a check that no script from a notebook is left


CSP = ("default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-src 'none'")
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)


def defer_search_scripts(text: str) -> str:
    """Sphinx's search scripts (the index is 80 kB) run after the page is parsed, not before its
    content: only the search page and dialog use them (``defer`` keeps their order)."""
    return re.sub(r'<script src="((?:\.\./)*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js))"></script>',
                  r'<script defer src="\1"></script>', text)


def name_toggles_by_their_text(text: str) -> str:
    """Controls named by their visible words.  MyST-NB's folded cells open with ``<summary
    aria-label="Toggle hidden content">`` around the words "Show code cell source", and the theme's
    search field is a button ``aria-label="Search"`` showing "Search Ctrl+K": a screen reader announces
    a name that is not the one on screen, and a voice-control user who says the visible words reaches
    nothing (WCAG 2.5.3 Label in Name; axe's ``label-content-name-mismatch``, which Lighthouse runs).
    Without the aria-label each one's name is its visible text."""
    text = text.replace('<summary aria-label="Toggle hidden content">', "<summary>")
    return text.replace('search-button__button pst-js-only" title="Search" aria-label="Search"',
                        'search-button__button pst-js-only" title="Search"')


def harden_page(text: str, name: str) -> str:
    """Add the CSP ``<meta>`` (first in ``<head>``), allowing by hash the theme's inline scripts, all
    outside the page's ``<article>``; raise ``SiteError`` if the article (where the notebook's
    content goes) holds any script, or the page a script from another host."""
    article = re.search(r"<article\b.*?</article>", text, re.S)
    a0, a1 = article.span() if article else (0, 0)
    hashes = set()
    for m in _SCRIPT.finditer(text):
        src = re.search(r"\bsrc=\"([^\"]*)\"", m.group(1))
        if a0 <= m.start() < a1 or (src and OFF_SITE.match(src.group(1))):
            raise SiteError(f"{name}: a script the sanitiser should have removed: {m.group(0)[:200]!r}")
        if not src:
            hashes.add("'sha256-" + base64.b64encode(hashlib.sha256(m.group(2).encode()).digest()).decode() + "'")
    if re.search(r"<article\b.*?\son[a-z]+\s*=", text[a0:a1], re.S | re.I):
        raise SiteError(f"{name}: an event handler attribute in the page content")
    meta = (f'<meta http-equiv="Content-Security-Policy" content="{CSP.format(hashes=" ".join(sorted(hashes)))}">\n'
            '<meta name="referrer" content="strict-origin-when-cross-origin">\n')
    head = re.search(r"<head[^>]*>\s*(<meta charset=[^>]*>\s*)?", text, re.I)
    if not head:
        raise SiteError(f"{name}: no <head>")
    return text[:head.end()] + meta + text[head.end():]


def run_sphinx(srcdir: Path, outdir: Path, doctrees: Path, builder: str = "html") -> None:
    env = dict(os.environ, LVM_SITE_SOURCE=str(srcdir), LVM_SITE_KATEX=str(katex_module()), PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "sphinx", "-b", builder, "-q", "-c", str(CONF_DIR), "-d", str(doctrees),
           "-j", "1", str(srcdir), str(outdir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SiteError(f"sphinx-build failed ({' '.join(cmd)}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    noise = [ln for ln in proc.stderr.splitlines() if "WARNING" in ln or "ERROR" in ln]
    if noise:
        print("sphinx warnings:\n  " + "\n  ".join(noise[:20]), file=sys.stderr)


def build(notebooks: Path = ROOT / "notebooks", out: Path = ROOT / "build" / "site") -> list[dict]:
    """Build the whole site into a staging folder beside ``out``, then swap it in; returns one row
    per page (stem, edition, page, title, apps)."""
    notebooks, out = Path(notebooks).resolve(), Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as work:
        work = Path(work)
        srcdir, html_dir = work / "src", work / "html"
        static = srcdir / "_generated_static"
        static.mkdir(parents=True)
        pages = stage(notebooks, srcdir, static)
        run_sphinx(srcdir, html_dir, work / "doctrees")
        texts = {}
        for page in html_dir.rglob("*.html"):
            if page.relative_to(html_dir).parts[0] == "_static":  # the theme's template fragments
                page.unlink()
                continue
            texts[str(page.relative_to(html_dir))] = page.read_text()
        texts = typeset_math(texts)
        for name, text in texts.items():
            if name != "search.html":  # the search page runs them as it is
                text = defer_search_scripts(text)
            text = name_toggles_by_their_text(text)
            (html_dir / name).write_text(harden_page(text, name))
        used = page_classes(list(texts.values()))
        prune_katex_fonts(html_dir / "_static", used)
        prune_icon_fonts(html_dir / "_static", used)
        (html_dir / ".buildinfo").unlink(missing_ok=True)
        for junk in html_dir.rglob("*.map"):
            junk.unlink()  # the theme's source maps: for its developers, 3.4 MB
        # the theme's Font Awesome as JavaScript (1.5 MB) draws the same icons as its webfonts, which
        # the theme's CSS loads anyway: a stub keeps the page's <script> tag valid
        fa = html_dir / "_static" / "scripts" / "fontawesome.js"
        if fa.exists():
            fa.write_text("/* lvm-course site: icons come from the theme's Font Awesome webfonts (CSS) */\n")
        shutil.rmtree(html_dir / "_static" / "locales", ignore_errors=True)  # compiled .mo files: not read by pages
        shutil.rmtree(html_dir / ".doctrees", ignore_errors=True)
        old = work / "old"
        if out.exists():
            out.rename(old)  # the swap: two renames in one folder
        html_dir.rename(out)
    return pages


# ---------------------------------------------------------------------------------------------
# The whole course as one PDF: Sphinx's single-page build, printed by Chromium


STRIP_JS = """async (positions) => {
  // each slider app becomes a strip of a few recorded positions of its first control, with values
  const apps = [...document.querySelectorAll('.lvm-slot .lvm-app')];
  for (const app of apps) {
    const input = app.querySelector('input[type=range], select');
    const canvas = app.querySelector('canvas');
    const status = app.querySelector('.lvm-text');
    const label = app.querySelector('label');
    const n = input.tagName === 'SELECT' ? input.options.length : (+input.max + 1);
    const picks = [...new Set(Array.from({length: positions}, (_, i) => Math.round(i * (n - 1) / (positions - 1))))];
    const strip = document.createElement('div');
    strip.className = 'lvm-strip';
    for (const i of picks) {
      if (input.tagName === 'SELECT') input.selectedIndex = i; else input.value = i;
      input.dispatchEvent(new Event('input', {bubbles: true}));
      const value = input.tagName === 'SELECT' ? input.options[i].text : app.querySelector('.lvm-readout').textContent;
      const fig = document.createElement('figure');
      const img = document.createElement('img');
      img.src = canvas.toDataURL('image/png');
      img.alt = `${label.textContent} = ${value}: ${status ? status.textContent : ''}`;
      const cap = document.createElement('figcaption');
      cap.textContent = `${label.textContent} = ${value}`;
      fig.append(img, cap);
      strip.append(fig);
    }
    const note = document.createElement('p');
    note.className = 'lvm-strip-note';
    note.textContent = `Interactive app: ${picks.length} recorded positions of "${label.textContent}" ` +
        '(on the site, every control moves the picture).';
    app.replaceWith(note, strip);
  }
  await Promise.all([...document.images].map((im) => im.complete ? null : new Promise((r) => { im.onload = im.onerror = r; })));
  return apps.length;
}"""


def _print_pdf(browser, url: str, apps: int, out: Path, positions: int) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        page.goto(url, wait_until="load")
        page.evaluate("() => window.lvmDrawAllApps()")  # the page fetches apps near the screen only
        for _ in range(600):
            if page.evaluate("() => document.querySelectorAll('.lvm-slot.lvm-ready').length") >= apps:
                break
            page.wait_for_timeout(100)
        else:
            raise SiteError(f"pdf: fewer than {apps} slider apps drew within a minute")
        page.evaluate(STRIP_JS, positions)
        page.emulate_media(media="print")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(out), format="A4", print_background=True, outline=True,
                 margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
    finally:
        page.close()


def build_pdf(notebooks: Path = ROOT / "notebooks", out: Path = ROOT / "build" / "course.pdf",
              edition: str = "student", positions: int = 3, browser=None) -> Path:
    """The course as one PDF: the exercises (or solved) edition of every notebook in Sphinx's
    single-page build, printed by headless Chromium with the theme's print styles; slider apps
    as strips of ``positions`` recorded positions.  Offline; needs Playwright and Chromium
    (``browser``: a Playwright browser to use instead of launching one)."""
    import functools
    import http.server
    import threading

    labdriver = _load(ROOT / "tools" / "labdriver.py", "labdriver")  # finds and launches the OS's Chromium

    notebooks, out = Path(notebooks).resolve(), Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="lvm-pdf.") as work:
        work = Path(work)
        srcdir = work / "src"
        static = srcdir / "_generated_static"
        static.mkdir(parents=True)
        pages = stage(notebooks, srcdir, static)
        stems = sorted({p["stem"] for p in pages})
        wanted = [f"{EDITIONS[edition][0]}/{s}" if EDITIONS[edition][0] else s for s in stems]
        index = srcdir / "index.md"
        text = index.read_text()
        toc = re.findall(r"```\{toctree\}.*?```", text, re.S)
        text = text.replace(toc[0], "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(wanted) + "\n```")
        text = text.replace(toc[1], "")
        index.write_text(re.sub(r"\n\| Notebook.*?\n\n", "\n\n", text, flags=re.S))
        html_dir = work / "html"
        run_sphinx(srcdir, html_dir, work / "doctrees", builder="singlehtml")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(html_dir))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
            apps = sum(p["apps"] for p in pages if p["edition"] == edition)
            if browser is not None:
                _print_pdf(browser, url, apps, out, positions)
            else:
                with labdriver.import_playwright()() as pw:
                    own = labdriver.launch_browser(pw)
                    try:
                        _print_pdf(own, url, apps, out, positions)
                    finally:
                        own.close()
        finally:
            server.shutdown()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    ap.add_argument("--pdf", type=Path, help="instead of the site, write the course as one PDF here (make pdf)")
    ap.add_argument("--edition", choices=list(EDITIONS), default="student", help="the PDF's edition")
    args = ap.parse_args(argv)
    try:
        if args.pdf:
            print(f"pdf: {build_pdf(args.notebooks, args.pdf, args.edition)}")
            return
        pages = build(args.notebooks, args.out)
    except SiteError as err:
        sys.exit(f"site: {err}")
    print(f"site: {len(pages)} pages, {sum(p['apps'] for p in pages)} slider apps -> {args.out}/index.html")


if __name__ == "__main__":
    main()
