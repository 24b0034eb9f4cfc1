"""A page-drawn app under ipywidgets 7's front end, as Colab has it.

Notebook 05 (student edition) runs in the Colab-like venv (ipywidgets 7.7.1; ``tests/packaging/hosted_env.py``); its
stored widget state is rendered with ipywidgets 7's HTML manager (npm ``@jupyter-widgets/html-manager@0.20``,
installed with npm into ``build/npm-html-manager/`` at the first run) and the front end that anywidget's
Python package ships for ipywidgets 7 (``anywidget/nbextension/index.js``), in headless Chromium with every
request off 127.0.0.1 refused. Moving the app's slider must redraw its picture.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tools import labdriver
from tests.packaging.hosted_env import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HTML_MANAGER = "@jupyter-widgets/html-manager@0.20"
NPM_PACKAGES = (HTML_MANAGER, "requirejs@2.3")
NPM_CACHE = ROOT / "build" / "npm-html-manager"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CANVAS_HASH = """el => { const d = el.querySelector('canvas').toDataURL();
  let h = 0x811c9dc5; for (let i = 0; i < d.length; i++) { h ^= d.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0).toString(16); }"""


def _npm_modules() -> Path:
    """node_modules with ipywidgets 7's HTML manager and require.js (npm install once into NPM_CACHE)."""
    modules = NPM_CACHE / "node_modules"
    if not (modules / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            if labdriver.in_ci():
                pytest.fail("npm is missing (CI is set, so this test must run): apt-get install npm")
            pytest.skip("npm is missing: apt-get install npm")
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_CACHE), *NPM_PACKAGES],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return modules


def _page(folder: Path, state: dict, model_id: str, anywidget_js: str, modules: Path) -> None:
    """index.html: require.js, anywidget's AMD module (mapped to the module name the state asks for), the
    HTML manager's embedder (which renders every widget-view script once the page has loaded)."""
    folder.mkdir()
    shutil.copy(modules / "requirejs" / "require.js", folder / "require.js")
    shutil.copy(modules / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js", folder / "embed-amd.js")
    (folder / "anywidget.js").write_text(anywidget_js)
    view = {"version_major": 2, "version_minor": 0, "model_id": model_id}
    state_json = json.dumps(state).replace("</", "<\\/")  # raw text in a script element: no "</" inside
    (folder / "index.html").write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>ipywidgets 7 HTML manager</title>
<script src="require.js"></script>
<script>require.config({{paths: {{anywidget: "anywidget"}}}});</script>
<script src="embed-amd.js"></script>
<script type="{WIDGET_STATE}">{state_json}</script>
</head><body>
<script type="{WIDGET_VIEW}">{json.dumps(view)}</script>
</body></html>
""")


def _page_drawn_apps(state: dict) -> list[str]:
    """Model ids of lvmlib's CanvasApp views (anywidget models carrying a spec with a range control)."""
    ids = []
    for model_id, model in state["state"].items():
        traits = model.get("state", {})
        if model.get("model_module") == "anywidget" and "spec" in traits:
            if any(c.get("kind") == "range" for c in json.loads(traits["spec"]).get("controls", [])):
                ids.append(model_id)
    return ids


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.timeout(3600)
def test_a_stored_app_moves_under_the_ipywidgets7_html_manager(colab_runs, chromium, tmp_path):
    run = colab_runs("05_importance_sampling")
    assert run.ipywidgets == "7.7.1"
    state = run.nb.metadata["widgets"][WIDGET_STATE]
    apps = _page_drawn_apps(state)
    assert apps, "notebook 05 stored no page-drawn app with a slider"
    versions = {m["model_module"]: m["model_module_version"] for m in state["state"].values()}
    assert versions["@jupyter-widgets/controls"].startswith("1."), "ipywidgets 7's state (controls 1.x)"
    _page(tmp_path / "page", state, apps[0], run.anywidget_js, _npm_modules())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path / "page")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    page = labdriver.new_page(chromium)
    refused, errors = [], []

    def route(r):
        if urlparse(r.request.url).netloc != urlparse(base).netloc and not r.request.url.startswith(("data:", "blob:")):
            refused.append(r.request.url)
            return r.abort()
        return r.continue_()

    try:
        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/index.html", wait_until="load")
        page.wait_for_selector(".lvm-app canvas", timeout=60_000)
        app = page.locator(".lvm-app").first
        page.wait_for_timeout(300)
        before = app.evaluate(CANVAS_HASH)
        slider = app.locator("input[type=range]").first
        start = slider.input_value()
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("([el, v]) => el.value !== v", arg=[slider.element_handle(), start], timeout=10_000)
        page.wait_for_timeout(300)
        after = app.evaluate(CANVAS_HASH)
    finally:
        page.context.close()
        server.shutdown()
    assert refused == [], "the page asked another host for something (a CDN?)"
    assert errors == []
    assert after != before, f"moving the slider from {start} did not change the picture"
