"""Nothing from a notebook runs on the published site: a copy of one stored notebook pair with a
script, a JavaScript output, a markdown ``<script>``, event handlers, a ``javascript:`` link and an
off-site picture planted in it, built with ``tools/site.py`` and opened in Chromium.  Also the
build's errors (no notebooks folder, a missing edition) and that a build swaps the whole site.

The sanitiser's functions are checked directly too (no browser needed for those).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.browser.test_site import ROOT, open_page, serve, site_module

SITE = site_module()
STEM = "04_naive_monte_carlo"  # a small notebook (and its solved edition)

PLANTED_HTML = ('<div class="lvmlib-check">ok<script>window.__ran = (window.__ran || 0) + 1</script>'
                '<img src="https://evil.example/x.png" alt="x"><img src=x onerror="window.__ran=99">'
                '<a href="javascript:window.__ran=98">link</a></div>')
PLANTED_MARKDOWN = ("## Planted\n\n<script>window.__ran = 97</script>\n\n"
                    '<img src="https://evil.example/y.png"> <b onclick="window.__ran=96">bold</b> '
                    "![remote](https://evil.example/z.png) <iframe src='https://evil.example'></iframe>\n")


def test_clean_html_keeps_the_course_markup_and_drops_the_rest():
    ours = ('<div class="lvmlib-hints"><details class="lvmlib-hint" style="margin:4px 0 2px 0"><summary '
            'style="cursor:pointer">Hint 1</summary><div>use <code>torch.logsumexp</code></div></details></div>')
    assert SITE.clean_html(ours) == ours
    dirty = SITE.clean_html(PLANTED_HTML)
    for bad in ("<script", "onerror", "javascript:", "evil.example"):
        assert bad not in dirty, (bad, dirty)
    assert "ok" in dirty and "link" in dirty


def test_clean_markdown_keeps_math_and_drops_scripts():
    md = "If $a < b$ and $b > c$ then <b>so</b>: $$\\sum_{i<n} x_i$$"
    assert SITE.clean_markdown(md) == md
    dirty = SITE.clean_markdown(PLANTED_MARKDOWN)
    for bad in ("<script", "onclick", "<iframe", "evil.example/y.png"):
        assert bad not in dirty, (bad, dirty)
    assert "[remote](https://evil.example/z.png)" in dirty  # an off-site picture becomes a link
    assert SITE.clean_markdown("<scr<script>ipt>alert(1)</script>") .count("<script") == 0


def test_harness_markers_leave_the_code():
    assert SITE.strip_harness("# NBVAL_IGNORE_OUTPUT\nx = 1\n  # NBVAL_CHECK_OUTPUT\ny") == "x = 1\ny"


def test_a_figure_keeps_its_own_alt_text_on_the_site():
    """lvmlib.plotting.figure_html's <img alt> leaves the output for its PNG; the alt goes with the PNG."""
    import nbformat

    png = "iVBORw0KGgo="
    out = nbformat.v4.new_output("display_data", data={
        "image/png": png, "text/plain": "<Figure>",
        "text/html": f'<img class="lvmlib-figure" src="data:image/png;base64,{png}" width="5" alt="Left: p &amp; q">'})
    cell = nbformat.v4.new_code_cell("fig", outputs=[out])
    assert SITE.take_figure_alt(out) == "Left: p & q" and "text/html" not in out["data"]
    assert SITE.figure_alt(cell, "Bias", ["Left: p & q"]) == "Left: p & q"
    assert "“Bias”" in SITE.figure_alt(cell, "Bias")  # a figure without its own: the generic text
    other = nbformat.v4.new_output("display_data", data={"text/html": "<b>x</b>", "image/png": png})
    assert SITE.take_figure_alt(other) is None and "text/html" in other["data"]  # not ours: kept


def _planted_copy(tmp_path: Path) -> Path:
    nbdir = tmp_path / "notebooks"
    (nbdir / "solutions").mkdir(parents=True)
    for sub in ("", "solutions"):
        nb = json.loads((ROOT / "notebooks" / sub / f"{STEM}.ipynb").read_text())
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["outputs"] += [
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": PLANTED_HTML, "text/plain": "x"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"application/javascript": "window.__ran = 95", "text/plain": "<js>"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/svg+xml": "<svg onload='window.__ran=94'></svg>", "text/plain": "svg"}},
        ]
        nb["cells"].insert(2, {"cell_type": "markdown", "id": "planted-md", "metadata": {}, "source": PLANTED_MARKDOWN})
        (nbdir / sub / f"{STEM}.ipynb").write_text(json.dumps(nb))
    return nbdir


@pytest.mark.browser
def test_planted_scripts_do_not_run_on_the_site(tmp_path, chromium):
    nbdir = _planted_copy(tmp_path)
    out = tmp_path / "site"
    SITE.build(nbdir, out)
    base, server = serve(out)
    try:
        for name in (f"{STEM}.html", f"solutions/{STEM}.html"):
            text = (out / name).read_text()
            assert "evil.example/x.png" not in text and "onerror" not in text and "onclick" not in text
            assert "window.__ran" not in text, f"{name}: a planted script reached the page"
            csp = text.split('http-equiv="Content-Security-Policy" content="')[1].split('"')[0]
            assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
            page, refused, errors = open_page(chromium, f"{base}/{name}")
            try:
                page.wait_for_timeout(500)
                assert page.evaluate("() => window.__ran") is None, f"{name}: a planted script ran"
                assert not [u for u in refused if "evil.example" in u], f"{name}: fetched {refused}"
            finally:
                page.context.close()
    finally:
        server.shutdown()


@pytest.mark.browser
def test_the_csp_stops_an_inline_script_that_slips_through(tmp_path, chromium):
    """Defence in depth: a page whose body gains an inline script after the build does not run it."""
    nbdir = tmp_path / "notebooks"
    (nbdir / "solutions").mkdir(parents=True)
    for sub in ("", "solutions"):
        shutil.copy(ROOT / "notebooks" / sub / f"{STEM}.ipynb", nbdir / sub)
    out = tmp_path / "site"
    SITE.build(nbdir, out)
    page_file = out / f"{STEM}.html"
    page_file.write_text(page_file.read_text().replace("</body>", "<script>window.__ran = 1</script></body>"))
    with pytest.raises(SITE.SiteError, match="sanitiser"):
        SITE.harden_page(page_file.read_text().replace("<article", "<article><script>x</script", 1), "p")
    base, server = serve(out)
    try:
        page, _, errors = open_page(chromium, f"{base}/{STEM}.html")
        try:
            page.wait_for_timeout(300)
            assert page.evaluate("() => window.__ran") is None
            assert any("Content Security Policy" in e for e in errors)
        finally:
            page.context.close()
    finally:
        server.shutdown()


def test_build_errors_and_swap(tmp_path):
    with pytest.raises(SITE.SiteError, match="no notebooks folder"):
        SITE.build(tmp_path / "nowhere", tmp_path / "site")
    nbdir = tmp_path / "notebooks"
    (nbdir / "solutions").mkdir(parents=True)
    with pytest.raises(SITE.SiteError, match="no notebooks"):
        SITE.build(nbdir, tmp_path / "site")
    shutil.copy(ROOT / "notebooks" / f"{STEM}.ipynb", nbdir)
    with pytest.raises(SITE.SiteError, match=f"missing: .*solutions/{STEM}.ipynb"):
        SITE.build(nbdir, tmp_path / "site")
    assert not (tmp_path / "site").exists()  # a failed build leaves nothing (and would leave an old site whole)
    shutil.copy(ROOT / "notebooks" / "solutions" / f"{STEM}.ipynb", nbdir / "solutions")
    out = tmp_path / "site"
    out.mkdir()
    (out / "99_removed_notebook.html").write_text("stale")
    pages = SITE.build(nbdir, out)
    assert [p["page"] for p in pages] == [f"{STEM}.html", f"solutions/{STEM}.html"]
    assert not (out / "99_removed_notebook.html").exists(), "a stale page survived the build"
    assert not list(tmp_path.glob(".site.*")), "the staging folder was left behind"


def test_hint_formulas_are_marked_outside_code():
    html = '<div class="lvmlib-hints">the ratios $w_k / \\hat p_N$ cost $5 and <code>$x$</code> $N$</div>'
    marked = SITE.mark_math(html)
    assert marked.count('<span class="lvm-tex">') == 2 and "<code>$x$</code>" in marked and "$5 and" in marked


def test_katex_typesets_and_names_what_it_cannot():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm missing: the site's math needs them (apt-get install nodejs npm)")
    out = SITE.typeset_math({"ok.html": '<p><span class="lvm-tex">a &lt; b</span></p>',
                             "eq.html": '<div class="math"><span class="lvm-tex-display">\\int_0^1 x\\,dx</span></div>'})
    assert '<span class="katex">' in out["ok.html"] and "<math" in out["ok.html"] and "lvm-tex" not in out["ok.html"]
    assert 'class="katex-display"' in out["eq.html"]
    with pytest.raises(SITE.SiteError, match=r"bad\.html: \$\\frac\{\$: KaTeX parse error"):
        SITE.typeset_math({"bad.html": '<span class="lvm-tex">\\frac{</span>', "ok.html": '<span class="lvm-tex">x</span>'})
    # trust is off: a formula cannot make a link or load anything
    out = SITE.typeset_math({"p.html": '<span class="lvm-tex">\\href{javascript:alert(1)}{x}</span>'})
    assert "<a " not in out["p.html"] and 'href="javascript' not in out["p.html"]
