"""The static course site (``make site``): built from the stored notebooks into a temporary folder,
served by a plain static file server, opened in headless Chromium with every request to another
host refused.  Every page loads without a console error or an off-host request; on every page
with slider apps (at least two pages), moving a slider redraws its canvas with no kernel.

``LVMLIB_SITE_NOTEBOOKS`` names another folder of executed notebooks to build from.
"""

from __future__ import annotations

import functools
import http.server
import os
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

import labdriver

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))


CANVAS_HASH = """el => { const c = el.querySelector('canvas'); const d = c.toDataURL();
  let h = 0x811c9dc5; for (let i = 0; i < d.length; i++) { h ^= d.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0).toString(16); }"""


def _site_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lvm_site_builder", ROOT / "tools" / "site.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    notebooks = Path(os.environ.get("LVMLIB_SITE_NOTEBOOKS", ROOT / "notebooks"))
    pages = _site_module().build(notebooks, out)
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages, out
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _open(chromium, url: str):
    page = labdriver.new_page(chromium)
    refused, errors = [], []
    host = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc != host and not r.request.url.startswith("data:"):
            refused.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    return page, refused, errors


def test_site_has_an_index_linking_every_page(site):
    base, pages, out = site
    index = (out / "index.html").read_text()
    assert pages, "no notebooks to build the site from"
    for p in pages:
        assert f'href="{p["page"]}"' in index
    assert {p["edition"] for p in pages} == {"student", "solutions"} or len(pages) == 1
    for p in pages:
        text = (out / p["page"]).read_text()
        assert "colab.research.google.com" in text and "mybinder.org" in text  # launch links
        assert "cdnjs" not in text and "unpkg" not in text


def test_every_page_loads_offline_and_its_sliders_move(site, chromium):
    base, pages, _ = site
    moved, failures = [], []
    for p in pages:
        page, refused, errors = _open(chromium, f"{base}/{p['page']}")
        try:
            if p["apps"]:
                page.wait_for_selector(".lvm-app canvas", timeout=30_000)
                page.wait_for_function(f"document.querySelectorAll('.lvm-app').length >= {p['apps']}",
                                       timeout=30_000)
                app = page.locator(".lvm-app").first
                page.wait_for_timeout(300)
                before = app.evaluate(CANVAS_HASH)
                control = app.locator("input[type=range], select").first
                control.scroll_into_view_if_needed()
                if control.evaluate("e => e.tagName") == "SELECT":
                    control.select_option(index=1 if control.evaluate("e => e.selectedIndex") == 0 else 0)
                else:
                    control.focus()
                    at_end = control.evaluate("e => +e.value >= +e.max")
                    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
                page.wait_for_timeout(100)
                after = app.evaluate(CANVAS_HASH)
                if after == before:
                    failures.append(f"{p['page']}: moving a slider did not change the canvas")
                else:
                    moved.append(p["page"])
            page.wait_for_timeout(200)
            if refused:
                failures.append(f"{p['page']}: requests to other hosts: {refused[:3]}")
            if any("font at 'about:blank'" in e for e in errors):  # MathJax 2's font probe, not a request off the site
                errors = [e for e in errors if "about:blank" not in e and "net::ERR_FAILED" not in e]
            # MathJax 2 also asks the site for its TeX .otf fonts (for \\mathcal and AMS symbols), which
            # jupyter-server-mathjax does not ship: a 404 from this site, not a request off it; the math then
            # draws in the vendored STIX-Web fonts
            probe = [e for e in errors if "/_static/mathjax/fonts/HTML-CSS/TeX/otf/" in e]
            if probe:
                errors = [e for e in errors if e not in probe and "status of 404" not in e]
            if errors:
                failures.append(f"{p['page']}: console errors: {errors[:3]}")
        finally:
            page.context.close()
    assert not failures, "\n".join(failures)
    with_apps = [p for p in pages if p["apps"]]
    if len(with_apps) < 2:
        pytest.skip(f"only {len(with_apps)} page(s) with page-drawn slider apps: the stored notebooks predate "
                    "them (rebuild with tools/nbbuild.py), or set LVMLIB_SITE_NOTEBOOKS")
    assert len(moved) >= 2
