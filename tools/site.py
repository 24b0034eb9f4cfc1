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
     state goes to ``_static/apps/H.bin``, one file per part (spec JSON, zlib-packed states,
     background PNGs) named by a hash of its bytes, so what the editions or apps share is stored once;
   - ``# NBVAL_...`` harness lines leave the displayed code (in notebooks built by nbbuild they are
     tags and metadata already);
   - a figure's alt text is its own (``lvmlib.plotting.figure_html``'s ``<img alt>``, which leaves
     the output: the PNG beside it is shown), else a generic one naming its section;
   - a launch bar (download this notebook, the other edition, Colab, Binder) follows the title.
2. *Run Sphinx* (``python -m sphinx -b html``) into a staging folder next to ``--out``.
3. *Harden* every page (``harden_page``): a Content-Security-Policy ``<meta>`` with
   ``default-src 'self'`` and the hashes of the theme's own inline scripts in ``<head>``; the build
   fails if any ``<script>`` is left in a page's ``<body>`` that is not the theme's or ours.
4. *Swap*: the staging folder replaces ``--out`` in one rename, so a stopped build leaves the old
   site whole and pages of removed notebooks disappear.

The download links give each notebook with its outputs cleared (what a student runs; the executed
pages are on the site).  MathJax 3 is served from the site (the ``django-static-mathjax`` wheel
ships it), and so is everything else: no page loads anything from another host.

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
                value = clean_html(value)
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
    import io

    from PIL import Image

    raw = base64.b64decode(b64)
    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except OSError:
        return b64
    if img.mode == "P":
        return b64
    rgb = img.convert("RGB") if img.mode != "RGBA" else img
    quant = rgb.quantize(256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    quant.save(buf, "PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode() if buf.tell() < len(raw) else b64


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


def slot_html(ids: dict, spec: dict) -> str:
    """The placeholder the page's loader draws an app into; it reserves the picture's height (at
    full width) so that the page does not jump when the app appears."""
    width, height = float(spec.get("css_width") or 0), float(spec.get("height", 0)) / float(spec.get("ratio") or 1)
    ratio = f"{width:.0f} / {height:.0f}" if width and height else "4 / 3"
    parts = " ".join(f'data-{key}="{html.escape(value)}"' for key, value in ids.items())
    return (f'<div class="lvm-slot" {parts} style="--lvm-ratio: {ratio}" '
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
            parts = {"spec": spec_text.encode(), "frames": buffers.get("data", b""), "bg": buffers.get("backgrounds", b"")}
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
# After Sphinx: the Content-Security-Policy, and a check that no script from a notebook is left


CSP = ("default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-src 'none'")
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)


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
    env = dict(os.environ, LVM_SITE_SOURCE=str(srcdir), PYTHONWARNINGS="ignore")
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
        for page in html_dir.rglob("*.html"):
            if page.relative_to(html_dir).parts[0] == "_static":  # the theme's template fragments
                page.unlink()
                continue
            page.write_text(harden_page(page.read_text(), str(page.relative_to(html_dir))))
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
        for _ in range(600):
            if page.evaluate("() => document.querySelectorAll('.lvm-slot.lvm-ready').length") >= apps:
                break
            page.wait_for_timeout(100)
        else:
            raise SiteError(f"pdf: fewer than {apps} slider apps drew within a minute")
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
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
