"""Sphinx configuration of the course site (``make site`` runs ``tools/site.py``, which stages the
sources and passes their folder in ``LVM_SITE_SOURCE``).  Jupyter Book 1's stack: MyST-NB reads the
stored, executed notebooks without running them; sphinx-book-theme gives the sidebar table of
contents, previous/next, search, dark mode and print styles.  Everything a page loads is served
from the site: MathJax 3 from the ``django-static-mathjax`` wheel, the slider apps' module from
``lvmlib/widgets/static``."""

import json
import os
import shutil
from pathlib import Path

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
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure", "myst.xref_missing"]

html_theme = "sphinx_book_theme"
html_title = "Latent variable models"
html_copy_source = False  # the download links give clean notebooks (tools/site.py)
html_show_sourcelink = False
html_last_updated_fmt = None
html_permalinks_icon = "#"
html_static_path = [str(HERE / "_static"), str(SOURCE / "_generated_static")]
html_extra_path = [str(SOURCE / "_extra")]
html_css_files = ["lvm_site.css", "lvm_predict.css"]
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

# MathJax 3 from the site itself (tools/site.py does not fetch it: the wheel ships it)
mathjax_path = "mathjax/tex-chtml-full.js"
mathjax3_config = {
    "tex": {"inlineMath": [["\\(", "\\)"], ["$", "$"]], "displayMath": [["\\[", "\\]"], ["$$", "$$"]],
            "processEscapes": True},
    "options": {"processHtmlClass": "math|output|lvmlib-hints", "ignoreHtmlClass": "tex2jax_ignore|highlight",
                # formulas out of the Tab order (MathJax puts each in it for its menu): a keyboard
                # reaches the next control, not 40 formulas, after a heading
                "menuOptions": {"settings": {"inTabOrder": False}}},
}


def _vendor(app):
    """Copy what the pages load into the build: MathJax 3 (the script and its fonts) and the slider
    apps' module, which must be the same file JupyterLab runs."""
    import mathjax

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    dest = Path(app.outdir) / "_static" / "mathjax"
    (dest / "output" / "chtml").mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "tex-chtml-full.js", dest / "tex-chtml-full.js")
    shutil.copytree(src / "output" / "chtml" / "fonts" / "woff-v2", dest / "output" / "chtml" / "fonts" / "woff-v2",
                    dirs_exist_ok=True)
    shutil.copy(ROOT / "lvmlib" / "widgets" / "static" / "slider_canvas.js", Path(app.outdir) / "_static")


def setup(app):
    app.connect("builder-inited", _vendor)
