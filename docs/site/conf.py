"""Sphinx configuration of the course site (``make site`` runs ``tools/site.py``, which stages the
sources and passes their folder in ``LVM_SITE_SOURCE``).  Jupyter Book 1's stack: MyST-NB reads the
stored, executed notebooks without running them; sphinx-book-theme gives the sidebar table of
contents, previous/next, search, dark mode and print styles.  Everything a page loads is served
from the site: KaTeX's CSS and fonts (``tools/site.py`` typesets every formula at build time, so no
math script runs in the page), the slider apps' module from ``lvmlib/widgets/static``."""

import json
import os
import re
import shutil
from pathlib import Path

from docutils import nodes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCE = Path(os.environ["LVM_SITE_SOURCE"])
CONTEXT = json.loads((SOURCE / "site_context.json").read_text())

project = "Latent variable models"
author = "The lvm-course authors"
copyright = "the lvm-course authors (MIT licence)"
language = "en"
extensions = ["myst_nb"]
exclude_patterns = ["_extra", "_generated_static", "site_context.json"]
master_doc = "index"

# the notebooks as stored: executed once by tools/nbbuild.py, never run here
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "remove"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False
html_math_renderer = "lvm_katex"  # formulas typeset at build time (below and tools/site.py): no MathJax
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure", "myst.xref_missing"]

html_theme = "sphinx_book_theme"
html_title = "Latent variable models"
html_copy_source = False  # the download links give clean notebooks (tools/site.py)
html_show_sourcelink = False
html_last_updated_fmt = None
html_permalinks_icon = "#"
html_static_path = [str(HERE / "_static"), str(SOURCE / "_generated_static")]
html_extra_path = [str(SOURCE / "_extra")]
html_css_files = ["katex/katex.min.css", "lvm_site.css", "lvm_predict.css"]
html_js_files = [("lvm_site.js", {"type": "module"}), ("lvm_predict.js", {"type": "module"})]
html_favicon = str(HERE / "_static" / "favicon.svg")
html_context = {"default_mode": "auto"}
html_theme_options = {
    "repository_url": CONTEXT["repository"],
    "use_repository_button": True,
    "use_download_button": False,  # its .ipynb is Sphinx's source copy; ours is in each page's bar
    "use_fullscreen_button": False,
    "launch_buttons": {},
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "article_header_start": ["toggle-primary-sidebar.html"],
    "search_bar_text": "Search the course...",
    "pygments_light_style": "a11y-high-contrast-light",  # contrast >= 4.5:1 (WCAG AA)
    "pygments_dark_style": "a11y-high-contrast-dark",
}


def visit_math(self, node):
    """An inline formula as a placeholder that tools/site.py replaces by KaTeX's HTML (one batch)."""
    self.body.append(f'<span class="lvm-tex">{self.encode(node.astext())}</span>')
    raise nodes.SkipNode


def visit_displaymath(self, node):
    """A display formula (with its number, if any) as a placeholder for KaTeX's display HTML.
    Paragraphs of one block are aligned lines, as Sphinx's MathJax renderer shows them; an
    ``align``-like block (``nowrap``, from MyST's amsmath) goes as it is."""
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    tex = node.astext()
    if not node.get("no-wrap", node.get("nowrap", False)):
        if node["number"]:
            from sphinx.util.math import get_node_equation_number

            self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
            self.add_permalink_ref(node, "Link to this equation")
            self.body.append("</span>")
        parts = [p for p in tex.split("\n\n") if p.strip()]
        if len(parts) > 1 or "\\\\" in tex:
            tex = "\\begin{aligned}" + " \\\\ ".join(parts) + "\\end{aligned}"
    self.body.append(f'<span class="lvm-tex-display">{self.encode(tex)}</span></div>\n')
    raise nodes.SkipNode


def _vendor(app):
    """Copy what the pages load into the build: KaTeX's stylesheet and its fonts (woff2; from npm,
    tools/site.py installs it), and the slider apps' module, which must be the same file JupyterLab
    runs."""
    katex = Path(os.environ["LVM_SITE_KATEX"])  # tools/site.py: build/npm-katex/node_modules/katex
    dest = Path(app.outdir) / "_static" / "katex"
    (dest / "fonts").mkdir(parents=True, exist_ok=True)
    for font in (katex / "dist" / "fonts").glob("*.woff2"):
        shutil.copy(font, dest / "fonts")
    # only the woff2 fonts (every browser that runs the apps reads them): the other formats go from
    # the stylesheet, so nothing asks for a file that is not there
    css = (katex / "dist" / "katex.min.css").read_text()
    css = re.sub(r',url\(fonts/[^)]*\.woff\) format\("woff"\)|,url\(fonts/[^)]*\.ttf\) format\("truetype"\)', "", css)
    (dest / "katex.min.css").write_text(css)
    shutil.copy(ROOT / "lvmlib" / "widgets" / "static" / "slider_canvas.js", Path(app.outdir) / "_static")


def setup(app):
    app.add_html_math_renderer("lvm_katex", (visit_math, None), (visit_displaymath, None))
    app.connect("builder-inited", _vendor)
