"""Build the course as a static site: ``build/site/`` (``make site``), offline, sliders working.

From the stored, executed notebooks (``notebooks/*.ipynb``, the student edition, and
``notebooks/solutions/*.ipynb``, the solved one): one HTML page per notebook and edition
(nbconvert's ``lab`` template), an ``index.html`` linking them, and ``_static/`` with everything
the pages load: the sliders' module (``lvmlib/widgets/static/slider_canvas.js``), a loader that
feeds it the widget state stored in the notebook (``lvm_site.js``), and MathJax 2 from the
``jupyter-server-mathjax`` package.  No page loads anything from another host.

Each slider app's output (an ``anywidget`` view of ``lvmlib.widgets.client.CanvasApp``) becomes
a placeholder carrying that widget's stored state; the loader draws it with the same module as
JupyterLab, so every precomputed position works with no kernel.  Each page has launch links
(Colab, Binder, from ``tools/nbbuild.py``'s ``Release``) and a link to the other edition.

    python tools/site.py [--notebooks notebooks] [--out build/site]

Publish: copy ``build/site/`` to a GitHub Pages branch (or let a Pages workflow upload it).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbbuild  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SLIDER_MIME = "application/vnd.lvmlib.slider+json"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # the config jupyter-server-mathjax ships
MATHJAX_FONTS = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], '
                 'preferredFont: null, webFont: "STIX-Web", imageFont: null}});</script>\n')
EDITIONS = {"student": ("", "exercises"), "solutions": ("solutions", "solved")}

LOADER = """// Draws every lvmlib slider app of the page from the widget state the notebook stored.
import widget from "./slider_canvas.js";

const bytes = (s) => Uint8Array.from(atob(s || ""), (c) => c.charCodeAt(0));
for (const node of document.querySelectorAll("script[type='%s']")) {
  const st = JSON.parse(node.textContent);
  const values = {spec: st.spec, data: bytes(st.data), backgrounds: bytes(st.backgrounds), live: new Uint8Array(0)};
  const model = {get: (k) => values[k], set: (k, v) => { values[k] = v; }, save_changes() {}, on() {}, off() {}};
  const host = document.createElement("div");
  host.className = "lvm-host jupyter-widgets";
  node.after(host);
  widget.render({model, el: host}).catch((e) => { host.textContent = "slider app failed: " + e; console.error(e); });
}
""" % SLIDER_MIME

CSS = """
.lvm-site-bar { font: 14px system-ui, sans-serif; padding: 8px 16px; background: #f4f4f4; border-bottom: 1px solid #ddd; }
.lvm-site-bar a { margin-right: 1em; }
body.lvm-index { font: 16px system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }
.lvm-index table { border-collapse: collapse; } .lvm-index td, .lvm-index th { padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: left; }
"""


def mathjax_dir() -> Path | None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_static(out: Path) -> None:
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "lvmlib" / "widgets" / "static" / "slider_canvas.js", static / "slider_canvas.js")
    (static / "lvm_site.js").write_text(LOADER)
    (static / "site.css").write_text(CSS)
    src = mathjax_dir()
    if src is not None and not (static / "mathjax" / "MathJax.js").exists():
        shutil.copytree(src, static / "mathjax", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("localization"))


def _buffers(model: dict) -> dict:
    """Binary traits of a stored widget model: path -> base64."""
    return {tuple(b["path"])[0]: b["data"] for b in model.get("buffers", []) if b.get("encoding") == "base64"}


def slider_outputs(nb) -> int:
    """Replace each slider app view by a placeholder carrying its stored widget state; drop the
    notebook's widget state (the site loads no widget manager). Returns how many were replaced."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            model = state.get(view.get("model_id"), {})
            traits = model.get("state", {})
            if "spec" not in traits or "_esm" not in traits:
                continue
            buffers = _buffers(model)
            payload = {"spec": traits["spec"], "data": buffers.get("data", ""),
                       "backgrounds": buffers.get("backgrounds", "")}
            text = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
            out["data"] = {"text/html": f'<script type="{SLIDER_MIME}">{text}</script>'}
            count += 1
    nb.metadata.pop("widgets", None)
    return count


def page_name(stem: str, edition: str) -> str:
    return f"{stem}.html" if edition == "student" else f"{stem}.solved.html"


def links_bar(stem: str, edition: str, rel) -> str:
    other = "solutions" if edition == "student" else "student"
    path = nbbuild.notebook_path(stem, edition)
    return (f'<div class="lvm-site-bar"><a href="index.html">Course index</a>'
            f'<a href="{page_name(stem, other)}">{EDITIONS[other][1]} edition</a>'
            f'Open online: <a href="{rel.colab(path)}">Colab</a> <a href="{rel.binder(path)}">Binder</a></div>')


def title_of(nb, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return stem


def build_page(src: Path, edition: str, out: Path, rel) -> dict:
    from nbconvert import HTMLExporter

    nb = nbformat.read(src, as_version=4)
    apps = slider_outputs(nb)
    exporter = HTMLExporter(template_name="lab")
    exporter.mathjax_url = f"_static/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    exporter.require_js_url = ""
    body, _ = exporter.from_notebook_node(nb)
    # nothing from another host: no CDN script, no require.js, no mermaid loader (no diagrams here)
    body = re.sub(r'<script[^>]*src="(https?://[^"]*)?"[^>]*>\s*</script>', "", body)
    body = re.sub(r"<script[^>]*>(?:(?!</script>).)*cdnjs\.cloudflare\.com(?:(?!</script>).)*</script>", "", body,
                  flags=re.S)
    body = re.sub(r"<title>[^<]*</title>", f"<title>{html.escape(title_of(nb, src.stem))}</title>", body, count=1)
    # jupyter-server-mathjax ships the STIX-Web fonts only: tell MathJax before it loads
    body = body.replace('<script src="_static/mathjax/', MATHJAX_FONTS + '<script src="_static/mathjax/', 1)
    body = body.replace("</head>", '<link rel="icon" href="data:,">\n<link rel="stylesheet" href="_static/site.css">\n'
                        '<script type="module" src="_static/lvm_site.js"></script>\n</head>', 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + links_bar(src.stem, edition, rel), body, count=1)
    name = page_name(src.stem, edition)
    (out / name).write_text(body)
    return {"stem": src.stem, "edition": edition, "page": name, "title": title_of(nb, src.stem), "apps": apps}


def build(notebooks: Path = ROOT / "notebooks", out: Path = ROOT / "build" / "site") -> list[dict]:
    """Write the site; returns one row per page (stem, edition, page, title, apps)."""
    out.mkdir(parents=True, exist_ok=True)
    copy_static(out)
    rel = nbbuild.release()
    pages = []
    for edition, (sub, _) in EDITIONS.items():
        for src in sorted((notebooks / sub).glob("[0-9][0-9]_*.ipynb")):
            pages.append(build_page(src, edition, out, rel))
    rows = []
    for stem in sorted({p["stem"] for p in pages}):
        mine = {p["edition"]: p for p in pages if p["stem"] == stem}
        first = next(iter(mine.values()))
        cells = " ".join(f'<a href="{mine[e]["page"]}">{EDITIONS[e][1]}</a>' for e in EDITIONS if e in mine)
        rows.append(f"<tr><td>{html.escape(first['title'])}</td><td>{cells}</td>"
                    f"<td>{first['apps']} slider app{'s' if first['apps'] != 1 else ''}</td></tr>")
    (out / "index.html").write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Latent variable models: the course</title><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="_static/site.css"></head><body class="lvm-index">'
        "<h1>Latent variable models</h1><p>Ten notebooks. Each page is the executed notebook; its sliders work in "
        "the page, with no kernel (every position was computed when the notebook ran). To run the code, open a "
        f'notebook on Colab or Binder from its page, or clone <a href="{rel.repository}">the repository</a>.</p>'
        f"<table><tr><th>notebook</th><th>editions</th><th></th></tr>{''.join(rows)}</table></body></html>\n")
    return pages


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    args = ap.parse_args(argv)
    pages = build(args.notebooks, args.out)
    print(f"site: {len(pages)} pages, {sum(p['apps'] for p in pages)} slider apps -> {args.out}/index.html")


if __name__ == "__main__":
    main()
