"""Drive a real JupyterLab in headless Chromium: the server, the browser, a notebook page.

Shared by the browser tests (``tests/browser/``: every slider changes its picture, the site, ...),
``benchmarks/bench_browser_latency.py`` (how long a key press takes to show a new picture) and
``tools/site.py`` (the PDF): ``from tools import labdriver``.

- :class:`LabServer` starts ``python -m jupyter lab`` from this interpreter's environment on
  127.0.0.1, a free port and a random token, serving a temporary *copy* of ``notebooks/``
  (outputs stripped, so nothing is saved back and stale outputs cannot pass for new ones),
  with its own settings (no news toast, no update check, no autosave), workspaces, Jupyter
  config/data/runtime and IPython directories.  It runs in its own process group; ``stop()``
  shuts the kernels and the server down over the REST API, then kills what is left.
- :func:`find_chromium` / :func:`launch_browser`: the OS's Chromium (``LVMLIB_CHROMIUM``
  overrides the path; Playwright never downloads a browser here).
- :class:`LabNotebook`: one notebook tab: open it with ``?reset``, wait for the kernel, Run >
  Run All Cells, wait until every cell ran, collect errors, list the controls (slider handles
  ``.widget-slider [role=slider]`` and ``.widget-dropdown select``), move one and wait until
  the picture it drives (an ``<img>``, a ``<canvas>``, else the output's text) changes.

Nothing here imports pytest: callers turn :class:`BrowserMissing` into a skip or a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"

CHROMIUM_ENV = "LVMLIB_CHROMIUM"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
INSTALL_HINT = ("install Chromium from the OS (Debian/Ubuntu: `sudo apt-get install chromium`), "
                f"or point {CHROMIUM_ENV} at a Chromium/Chrome binary")

# JupyterLab user settings for the test server: no news/update toast over the notebook, no
# autosave (the copy is thrown away anyway), no extension manager (it would query PyPI).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


class BrowserMissing(RuntimeError):
    """Chromium or Playwright is not available (the caller decides: skip, or fail under CI)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_chromium() -> str:
    """Path of the Chromium to drive; raises :class:`BrowserMissing` with how to get one."""
    wanted = os.environ.get(CHROMIUM_ENV, "").strip()
    if wanted:
        path = shutil.which(wanted) or wanted
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise BrowserMissing(f"{CHROMIUM_ENV}={wanted!r} is not an executable file; {INSTALL_HINT}")
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(candidate)
        if path:
            return path
    raise BrowserMissing(f"no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser, "
                         f"google-chrome on PATH); {INSTALL_HINT}")


def import_playwright():
    """``playwright.sync_api.sync_playwright``; raises :class:`BrowserMissing` when not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise BrowserMissing(f"Playwright is not importable ({err}); install the browser extra: "
                             "`pip install -e '.[browser]'` (`make test` does)") from err
    return sync_playwright


def launch_browser(playwright, executable: str | None = None):
    """Headless Chromium from the OS (never a downloaded one)."""
    return playwright.chromium.launch(executable_path=executable or find_chromium(), args=CHROMIUM_ARGS,
                                      headless=True, timeout=60_000)


DEVICE_SCALE_FACTOR = 2  # a hi-DPI laptop screen, what most students have


def new_page(browser, *, scale: float = DEVICE_SCALE_FACTOR):
    """A fresh context (own cookies/storage) and page, sized like a laptop screen, with ``scale``
    device pixels per CSS pixel (``window.devicePixelRatio``)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=scale)
    context.set_default_timeout(30_000)
    return context.new_page()


SUBFOLDERS = ("solutions",)  # other editions of the notebooks, opened too when they exist


def notebook_names(folder: Path | None = None) -> list[str]:
    """The notebooks to check, as paths relative to ``folder`` (default ``notebooks/``), sorted:
    ``01_...`` to ``10_...`` (whatever exists now), then ``solutions/01_...`` and so on when the
    solved edition ``notebooks/solutions/`` exists."""
    folder = Path(folder) if folder is not None else NOTEBOOKS
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    for sub in SUBFOLDERS:
        names += sorted(f"{sub}/{p.name}" for p in (folder / sub).glob("*.ipynb") if not p.name.startswith("."))
    return names


def clean_copy(src: Path, dst: Path) -> None:
    """Copy ``src``'s notebooks (and any other files they read) to ``dst``, outputs stripped."""
    def ignore(_dir, names):
        return [n for n in names if n in (".ipynb_checkpoints", "__pycache__")]

    shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)
    for path in dst.rglob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        nb.get("metadata", {}).pop("widgets", None)  # saved widget state: views of dead models
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
        path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """JupyterLab on a temporary copy of ``notebooks/``; use as a context manager.

    Args:
        notebooks: the folder to copy and serve (default: the repository's ``notebooks/``).
        startup_timeout: seconds to wait for ``/api/status`` to answer.
    """

    def __init__(self, notebooks: Path | None = None, *, startup_timeout: float = 120.0):
        self.source = Path(notebooks) if notebooks is not None else NOTEBOOKS
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None
        self.port: int | None = None
        self.token = os.urandom(24).hex()

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> "LabServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def root(self) -> Path:
        return self.tmp / "notebooks"

    @property
    def log_path(self) -> Path:
        return self.tmp / "jupyterlab.log"

    def start(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lvmlib-lab-"))
        try:
            clean_copy(self.source, self.root)
            settings = self.tmp / "lab-settings"
            for rel, values in LAB_SETTINGS.items():
                path = settings / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(values, indent=2))
            for sub in ("workspaces", "jupyter-config", "jupyter-data", "jupyter-runtime", "ipython"):
                (self.tmp / sub).mkdir()
            last_error = None
            for _attempt in range(3):  # a free port can be taken between probing and binding
                self.port = free_port()
                self._spawn(settings)
                try:
                    self._wait_ready()
                    return
                except RuntimeError as err:
                    last_error = err
                    self._kill()
                    if "address already in use" not in self.log_tail().lower():
                        break
            raise last_error
        except BaseException:
            self.stop()
            raise

    def _spawn(self, settings: Path) -> None:
        env = dict(os.environ)
        bindir = str(Path(sys.executable).parent)
        env.update({
            "JUPYTER_TOKEN": self.token,  # not on the command line, where `ps` would show it
            "JUPYTER_CONFIG_DIR": str(self.tmp / "jupyter-config"),  # no user config
            "JUPYTER_DATA_DIR": str(self.tmp / "jupyter-data"),  # no user kernelspecs
            "JUPYTER_RUNTIME_DIR": str(self.tmp / "jupyter-runtime"),
            "IPYTHONDIR": str(self.tmp / "ipython"),  # no user startup scripts
            "PATH": bindir + os.pathsep + env.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
        })
        for var in ("LVMLIB_FIGURES", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):  # never write figures/
            env.pop(var, None)
        cmd = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--ServerApp.allow_root=True")
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode} while starting:\n"
                                   f"{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.25)
        raise RuntimeError(f"JupyterLab did not answer /api/status within {self.startup_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        """Shut kernels and server down (REST first, then signals); remove the temporary copy."""
        if self.proc is not None and self.proc.poll() is None:
            family = self._descendants()
            try:
                self.shutdown_kernels()
                self.api("POST", "/api/shutdown", timeout=5)
                self.proc.wait(timeout=15)
            except Exception:  # noqa: BLE001 - fall through to signals
                pass
            self._kill(family)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def _descendants(self) -> list:
        try:
            import psutil
            return psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:  # noqa: BLE001 - psutil missing or the process is gone
            return []

    def _kill(self, family=()) -> None:
        """Kill the server's process group, then any descendant (kernels run in their own sessions)."""
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for child in family:
            try:
                if child.is_running():
                    child.kill()
                    child.wait(5)
            except Exception:  # noqa: BLE001 - already gone
                pass

    # -- REST ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, *, timeout: float = 10):
        req = urllib.request.Request(self.base_url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"},
                                     data=b"" if method in ("POST", "PUT", "PATCH") else None)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session and kernel (between notebooks: two cores, little memory to spare)."""
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        for kernel in self.api("GET", "/api/kernels") or []:
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)

    def lab_url(self, notebook: str) -> str:
        return f"{self.base_url}/lab/tree/{urllib.parse.quote(notebook)}?reset&token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


# ----------------------------------------------------------------------------------------
# In the page
# ----------------------------------------------------------------------------------------

# Installed once per page: helpers the Python side calls through page.evaluate.
PAGE_JS = r"""
() => {
  if (window.__lvm) return;
  const CONTROL = '.widget-slider [role=slider], .widget-dropdown select, .lvm-control input[type=range], .lvm-control select';
  const notebook = () => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const fnv = (bytes) => {            // FNV-1a, 32 bit: enough to tell two pictures apart
    let h = 0x811c9dc5;
    for (let i = 0; i < bytes.length; i++) { h ^= bytes[i]; h = Math.imul(h, 0x01000193); }
    return (h >>> 0).toString(16) + ':' + bytes.length;
  };
  const controls = () => [...notebook().querySelectorAll(CONTROL)];
  const scopeOf = (el) => el.closest('.jp-OutputArea-output') || el.closest('.jp-Cell');
  const srcs = (scope) => [...scope.querySelectorAll('img')].map(i => i.src);
  const textOf = (scope) => [...scope.querySelectorAll(
      '.widget-html-content, .widget-output .jp-OutputArea-output:not(:has(img)), .widget-label-basic, pre')]
      .map(e => e.textContent).join('\n');
  // Note when the widget's message leaves for the kernel and when the biggest frame (the
  // new PNG) comes back, to split a slider's latency into front end / kernel round trip.
  const send = WebSocket.prototype.send;
  const size = (d) => typeof d === 'string' ? d.length : (d.byteLength || d.size || 0);
  WebSocket.prototype.send = function (data) {
    const t = window.__lvm_timer;
    if (t && t.m.start !== null && t.m.sent === null) t.m.sent = performance.now();
    if (!this.__lvm) {
      this.__lvm = true;
      this.addEventListener('message', (e) => {
        const t = window.__lvm_timer, n = size(e.data);
        if (t && t.m.sent !== null && t.m.loaded === null && n > t.m.frameBytes) {
          t.m.frame = performance.now(); t.m.frameBytes = n;
        }
      });
    }
    return send.call(this, data);
  };
  window.__lvm = {
    status() {
      const nb = notebook();
      const panel = nb && nb.closest('.jp-NotebookPanel');
      const ind = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
      const kernel = panel && panel.querySelector('[data-jp-item-name=kernelName]');
      const prompts = nb ? [...nb.querySelectorAll('.jp-Cell')].map((c, cell) => {
        if (!c.classList.contains('jp-CodeCell')) return null;
        const p = c.querySelector('.jp-InputArea-prompt');
        const src = c.querySelector('.jp-InputArea-editor');
        return {cell, prompt: p ? p.textContent.trim() : '', empty: !src || !src.textContent.trim()};
      }).filter(p => p) : [];
      const dialog = document.querySelector('.jp-Dialog');
      return {status: ind ? ind.dataset.status : null, kernel: kernel ? kernel.textContent.trim() : null,
              prompts, dialog: dialog ? dialog.innerText.slice(0, 500) : null};
    },
    errors() {
      const out = [];
      const cells = [...notebook().querySelectorAll('.jp-Cell')];
      cells.forEach((cell, i) => {
        for (const o of cell.querySelectorAll('.jp-OutputArea-output')) {
          const text = o.textContent || '';
          const mime = o.dataset.mimeType || '';
          if (mime === 'application/vnd.jupyter.stderr' &&
              (/Traceback/.test(text) || /^\s*[A-Za-z_.]*(Error|Exception)\b[^\n]*$/m.test(text)))
            out.push({cell: i, kind: 'error output', text: text.slice(-1500)});
          else if (/Error displaying widget|Failed to load model class/.test(text))
            out.push({cell: i, kind: 'widget error', text: text.slice(0, 500)});
        }
      });
      return out;
    },
    controls() {
      const cells = [...notebook().querySelectorAll('.jp-Cell')];
      return controls().map((el, i) => {
        const box = el.closest('.widget-slider, .widget-dropdown, .lvm-control');
        const label = box && box.querySelector('.widget-label, label');
        const handles = box ? box.querySelectorAll('[role=slider]').length : 1;
        let name = (label && label.textContent.trim()) || `control ${i}`;
        if (handles > 1) name += ` (handle ${el.dataset.handle})`;
        const target = el.closest('.noUi-target');
        return {index: i, cell: cells.indexOf(el.closest('.jp-Cell')), name,
                kind: el.tagName === 'SELECT' ? 'dropdown' : 'slider',
                options: el.tagName === 'SELECT' ? el.options.length : null,
                disabled: el.tagName === 'SELECT' ? el.disabled : !!(target && target.hasAttribute('disabled')),
                page_drawn: !!el.closest('.lvm-control')};
      });
    },
    slider(i) {
      const el = controls()[i];
      if (el.tagName === 'SELECT') return {value: el.selectedIndex, min: 0, max: el.options.length - 1};
      return {value: parseFloat(el.getAttribute('aria-valuenow')), min: parseFloat(el.getAttribute('aria-valuemin')),
              max: parseFloat(el.getAttribute('aria-valuemax')), text: el.getAttribute('aria-valuetext')};
    },
    // What the control drives: its output's pictures (hashed: blob URLs change on every
    // update even for identical bytes) and text.
    async fingerprint(i) {
      const scope = scopeOf(controls()[i]);
      const pictures = [];
      for (const img of scope.querySelectorAll('img')) {
        if (!img.src) { pictures.push('none'); continue; }
        if (img.src.startsWith('blob:')) {
          try { pictures.push(fnv(new Uint8Array(await (await fetch(img.src)).arrayBuffer()))); }
          catch (e) { pictures.push('revoked:' + img.src); }   // replaced while we read it
        } else {
          pictures.push(fnv(new TextEncoder().encode(img.src)));
        }
      }
      for (const c of scope.querySelectorAll('canvas')) {
        try { pictures.push(fnv(new TextEncoder().encode(c.toDataURL()))); } catch (e) { pictures.push('canvas'); }
      }
      return {pictures, srcs: srcs(scope), text: textOf(scope)};
    },
    // Arm a timer: the next keydown/change on control i starts it; the first new picture in
    // its output (an <img> whose src changes or that is added) stops it once decoded.
    arm(i, want) {   // want: 'loaded' (a new picture, decoded) or 'text'
      const el = controls()[i];
      const scope = scopeOf(el);
      const m = {start: null, src: null, loaded: null, text: null, sent: null, frame: null, frameBytes: 0};
      let resolve;
      const finished = new Promise(r => { resolve = r; });
      const check = () => { if (m.start !== null && m[want] !== null) resolve(m); };
      const before = srcs(scope).join(' ');
      const beforeText = textOf(scope);
      const onStart = (e) => { if (m.start === null) m.start = e.timeStamp; };
      // a page-drawn app (lvmlib.widgets.client) says when it has drawn the new state on its canvas
      const onDrawn = (e) => { if (m.start !== null && m.loaded === null) { m.src = m.loaded = e.detail.t; check(); } };
      scope.addEventListener('lvm-drawn', onDrawn, true);
      el.addEventListener('keydown', onStart, true);
      el.addEventListener('input', onStart, true);
      el.addEventListener('change', onStart, true);
      const loaded = (img) => {   // decode() waits for the new src to load, then decodes it
        const done = () => { if (m.loaded === null) m.loaded = performance.now(); check(); };
        img.decode().then(done, done);
      };
      const obs = new MutationObserver((records) => {
        const now = performance.now();
        const text = textOf(scope), now_srcs = srcs(scope);   // (an output being cleared is no answer)
        if (m.text === null && text !== beforeText && text.trim()) m.text = now;
        if (m.src === null && now_srcs.length && now_srcs.join(' ') !== before) {
          m.src = now;
          const img = records.map(r => r.target).find(t => t.tagName === 'IMG')
                   || [...scope.querySelectorAll('img')].pop();
          if (img) loaded(img);
        }
        check();
      });
      obs.observe(scope, {subtree: true, childList: true, attributes: true, attributeFilter: ['src'],
                          characterData: true});
      window.__lvm_timer = {m, finished, stop() { obs.disconnect(); scope.removeEventListener('lvm-drawn', onDrawn, true); ['keydown', 'input', 'change'].forEach(
          t => el.removeEventListener(t, onStart, true)); return m; }};
    },
    wait(ms) {   // the measurement once complete, or null after ms
      return Promise.race([window.__lvm_timer.finished, new Promise(r => setTimeout(() => r(null), ms))]);
    },
    read() { return window.__lvm_timer ? window.__lvm_timer.m : null; },
    // Every picture in the notebook's outputs, scrolled into view and decoded: its natural
    // (pixel) width, the CSS width it is shown at, and device pixels per CSS pixel.
    async pictures() {
      const out = [];
      const cells = [...notebook().querySelectorAll('.jp-Cell')];
      for (const img of notebook().querySelectorAll('.jp-OutputArea-output img, .jp-OutputArea-output .lvm-app canvas')) {
        img.scrollIntoView({block: 'center'});
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        if (img.decode) { try { await img.decode(); } catch (e) { /* a broken image: natural width 0, reported below */ } }
        const css = img.getBoundingClientRect().width;
        const natural = img.tagName === 'CANVAS' ? img.width : img.naturalWidth;
        out.push({cell: cells.indexOf(img.closest('.jp-Cell')), natural, css,
                  dpr: window.devicePixelRatio,
                  density: css > 0 ? natural / css * window.devicePixelRatio : null,
                  widget: !!img.closest('.jupyter-widgets')});
      }
      return out;
    },
    // Every control label (a widget's description) that does not show its whole text.
    async labels() {
      const out = [];
      const cells = [...notebook().querySelectorAll('.jp-Cell')];
      for (const el of notebook().querySelectorAll('.jupyter-widgets .widget-label, .jupyter-widgets label, .lvm-control label')) {
        if (!el.textContent.trim()) continue;
        el.scrollIntoView({block: 'center'});
        await new Promise(r => requestAnimationFrame(r));
        out.push({cell: cells.indexOf(el.closest('.jp-Cell')), text: el.textContent.trim(),
                  scroll: el.scrollWidth, client: el.clientWidth,
                  truncated: el.scrollWidth > el.clientWidth + 1 || el.clientWidth === 0});
      }
      return out;
    },
    // After scrolling a control into view: let the page render what came into view (JupyterLab
    // lays out and decodes off-screen cells lazily) before the key press, as a student
    // reading the picture would.
    async settle(ms) {
      await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
      const inView = [...notebook().querySelectorAll('img')].filter(i => {
        const b = i.getBoundingClientRect(); return b.bottom > 0 && b.top < innerHeight; });
      await Promise.all(inView.map(i => i.decode().catch(() => null)));
      await new Promise(r => setTimeout(r, ms));
    },
    disarm() { const t = window.__lvm_timer; window.__lvm_timer = null; return t ? t.stop() : null; },
  };
}
"""


MIN_DENSITY = 1.9  # device pixels per CSS pixel every picture must have (issue 17)


def picture_problems(pictures: list[dict], min_density: float = MIN_DENSITY) -> list[str]:
    """The pictures (rows of ``window.__lvm.pictures()``) drawn with fewer than ``min_density``
    device pixels per CSS pixel: blurry on the screen the page runs on, or not shown at all."""
    out = []
    for p in pictures:
        where = f"cell {p['cell']}: {'slider picture' if p.get('widget') else 'figure'}"
        if not p["natural"] or not p["css"]:
            out.append(f"{where} is not shown (natural width {p['natural']}, CSS width {p['css']})")
        elif p["density"] < min_density:
            out.append(f"{where} has {p['density']:.2f} device pixels per CSS pixel (< {min_density}): "
                       f"{p['natural']} px wide shown {p['css']:.0f} CSS px wide at devicePixelRatio {p['dpr']:g}")
    return out


def label_problems(labels: list[dict]) -> list[str]:
    """The control labels (rows of ``window.__lvm.labels()``) cut off: text wider than its box."""
    return [f"cell {lb['cell']}: control label {lb['text']!r} is cut off (text {lb['scroll']} px wide in a "
            f"{lb['client']} px box)" for lb in labels if lb["truncated"]]


@dataclass
class Control:
    index: int  # position among the notebook's controls (DOM order)
    cell: int  # index of the cell showing it
    name: str  # its label, e.g. "noise scale"
    kind: str  # "slider" or "dropdown"
    options: int | None = None
    disabled: bool = False  # a disabled widget cannot be moved: callers skip it
    page_drawn: bool = False  # a control of a page-drawn app (lvmlib.widgets.client): no kernel round trip

    @property
    def title(self) -> str:
        return f"cell {self.cell}: {self.kind} {self.name!r}"


FLOOR_CELL = """import ipywidgets as W
from pathlib import Path
pngs = [Path("floor_a.png").read_bytes(), Path("floor_b.png").read_bytes()]
image = W.Image(value=pngs[0], format="png", layout=W.Layout(width="{width}", height="auto"))
slider = W.IntSlider(value=0, min=0, max=20, description="floor")
slider.observe(lambda change: setattr(image, "value", pngs[change["new"] % 2]), names="value")
W.VBox([slider, image])"""


def write_floor_notebook(folder: Path, app=None, name: str = "floor.ipynb") -> str:
    """The floor of a kernel-drawn slider (issue 22): a bare ``IntSlider`` that swaps two
    pre-rendered 2x PNGs of ``app`` (a :class:`lvmlib.widgets.SliderApp`; default: notebook 05's
    proposal app, its ``examples()`` version) with no work in the kernel: a move costs the round
    trip, the picture's bytes and its decode, nothing else.  Writes ``name`` and its two pictures
    into ``folder``; returns ``name``."""
    import nbformat

    from lvmlib.widgets.client import positions

    if app is None:
        from lvmlib.lessons import nb05

        app = dict(nb05.examples())["proposal"]
    start = app.values()
    first = next(iter(app.controls))
    other = [v for v in positions(app.controls[first]) if v != start[first]][0]
    (folder / "floor_a.png").write_bytes(app.png)
    app.set(**{first: other})
    (folder / "floor_b.png").write_bytes(app.png)
    app.set(**start)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_CELL.format(width=app.css_width()))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return name


class NotebookError(AssertionError):
    """Something a student would see go wrong in the notebook."""


class LabNotebook:
    """One notebook opened in JupyterLab in its own page."""

    def __init__(self, server: LabServer, page, name: str):
        self.server = server
        self.page = page
        self.name = name
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    # -- open and run ------------------------------------------------------------------
    def open(self, timeout: float = 120.0) -> None:
        """Open the notebook alone (``?reset``) and wait for its kernel to be idle."""
        self.page.goto(self.server.lab_url(self.name), wait_until="domcontentloaded", timeout=timeout * 1000)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=timeout * 1000)
        self.page.evaluate(PAGE_JS)
        self._wait(lambda s: s["status"] == "idle" and s["kernel"] not in (None, "", "No Kernel", "Kernel"),
                   timeout, "the kernel to start (kernel name in the toolbar, idle indicator)")

    def status(self) -> dict:
        return self.page.evaluate("() => window.__lvm.status()")

    def _wait(self, ready, timeout: float, what: str, *, stable: float = 0.0) -> dict:
        """Poll the notebook status until ``ready(status)`` holds for ``stable`` seconds."""
        deadline = time.monotonic() + timeout
        since = None
        while True:
            s = self.status()
            if s["dialog"]:
                raise NotebookError(f"{self.name}: a dialog is open while waiting for {what}: {s['dialog']!r}")
            now = time.monotonic()
            if ready(s):
                since = since or now
                if now - since >= stable:
                    return s
            else:
                since = None
            if now > deadline:
                raise NotebookError(f"{self.name}: timed out after {timeout:.0f} s waiting for {what}; "
                                    f"status {s['status']!r}, kernel {s['kernel']!r}, prompts "
                                    f"{[p['prompt'] for p in s['prompts']]}")
            time.sleep(0.2)

    def open_and_run_all(self, timeout: float = 240.0) -> float:
        """Open the notebook, Run All Cells, and raise :class:`NotebookError` naming every error
        on the page; returns the seconds Run All took (as the benchmarks print it)."""
        self.open()
        seconds = self.run_all(timeout)
        problems = self.problems()
        if problems:
            raise NotebookError(f"{self.name}: errors after Run All Cells:\n" + "\n".join(problems))
        return seconds

    def run_all(self, timeout: float = 600.0) -> float:
        """Run > Run All Cells from the menu; wait until every cell ran. Returns seconds taken.

        ``timeout`` is a hang guard, not a speed check: notebook 10 takes about 90 s alone on a laptop and, with
        ``pytest -n 2`` on a busy 2-core machine, over 4 minutes."""
        t0 = time.monotonic()
        for attempt in range(2):
            # Focus the notebook first: the Run menu acts on the current widget.
            self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-InputPrompt").first.click()
            self.page.locator("#jp-menu-panel .lm-MenuBar-item", has_text="Run").first.click()
            item = self.page.locator(".lm-Menu-item[data-command='runmenu:run-all']")
            item.wait_for(state="visible")
            if "lm-mod-disabled" in (item.get_attribute("class") or ""):
                self.page.keyboard.press("Escape")
                time.sleep(1)
                continue
            item.click()
            try:  # evidence that the run started: a busy prompt or an execution count
                self._wait(lambda s: any(p["prompt"] != "[ ]:" for p in s["prompts"] if not p["empty"]),
                           20, "Run All Cells to start")
                break
            except NotebookError:
                if attempt:
                    raise
        self._wait(lambda s: s["status"] == "idle" and not any("*" in p["prompt"] for p in s["prompts"]),
                   timeout - (time.monotonic() - t0), "all cells to finish", stable=1.5)
        return time.monotonic() - t0

    def problems(self) -> list[str]:
        """Error outputs (tracebacks), broken widgets, and code cells Run All did not reach."""
        out = [f"cell {e['cell']}: {e['kind']}:\n{e['text']}"
               for e in self.page.evaluate("() => window.__lvm.errors()")]
        s = self.status()
        skipped = [p for p in s["prompts"] if not p["empty"] and not p["prompt"][1:-2].strip().isdigit()]
        if skipped:
            out.append(f"cells {[p['cell'] for p in skipped]} did not run (prompts "
                       f"{[p['prompt'] for p in skipped]}): Run All stops at a failing cell")
        return out

    # -- what the page shows -------------------------------------------------------------
    def pictures(self) -> list[dict]:
        """Every output picture: natural width, CSS width, device pixels per CSS pixel."""
        return self.page.evaluate("() => window.__lvm.pictures()")

    def labels(self) -> list[dict]:
        """Every control label: its text and whether it is cut off."""
        return self.page.evaluate("() => window.__lvm.labels()")

    # -- controls ----------------------------------------------------------------------
    def controls(self) -> list[Control]:
        return [Control(**c) for c in self.page.evaluate("() => window.__lvm.controls()")]

    def position(self, control: Control) -> dict:
        return self.page.evaluate("i => window.__lvm.slider(i)", control.index)

    def fingerprint(self, control: Control) -> dict:
        return self.page.evaluate("i => window.__lvm.fingerprint(i)", control.index)

    def locator(self, control: Control):
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").locator(
            ".widget-slider [role=slider], .widget-dropdown select, .lvm-control input[type=range], .lvm-control select"
        ).nth(control.index)

    def next_direction(self, control: Control, direction: int) -> int:
        """+1 (right / next option) unless already at the end, then -1; and vice versa."""
        pos = self.position(control)
        if direction > 0 and pos["value"] >= pos["max"]:
            return -1
        if direction < 0 and pos["value"] <= pos["min"]:
            return 1
        return direction

    def move(self, control: Control, direction: int) -> None:
        """One keyboard step of a slider (ArrowRight/ArrowLeft), or the next/previous option."""
        loc = self.locator(control)
        loc.scroll_into_view_if_needed()
        if control.kind == "dropdown":
            index = self.position(control)["value"] + direction
            loc.select_option(index=index)
        else:
            loc.focus()
            self.page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")

    def wait_idle(self, timeout: float = 30.0) -> None:
        self._wait(lambda s: s["status"] == "idle", timeout, "the kernel to be idle", stable=0.1)

    def move_and_check(self, control: Control, direction: int, timeout: float = 15.0) -> str:
        """Move ``control`` one step and wait until what it drives changes.

        Returns ``"picture"`` when an image/canvas changed (its bytes, not only its blob URL),
        ``"text"`` when the output has no picture and its text changed. Raises NotebookError.
        """
        before_pos = self.position(control)
        before = self.fingerprint(control)
        self.move(control, direction)
        deadline = time.monotonic() + timeout
        after_pos = self.position(control)
        while after_pos["value"] == before_pos["value"] and time.monotonic() < deadline:
            time.sleep(0.05)
            after_pos = self.position(control)
        key = ("next option" if direction > 0 else "previous option") if control.kind == "dropdown" else \
            ("ArrowRight" if direction > 0 else "ArrowLeft")
        if after_pos["value"] == before_pos["value"]:
            raise NotebookError(f"{self.name} {control.title}: {key} did not move it from {before_pos}")
        moved = f"{key} moved it from {before_pos.get('text', before_pos['value'])} to " \
                f"{after_pos.get('text', after_pos['value'])}"
        has_picture = bool(before["pictures"])
        while time.monotonic() < deadline:
            now = self.fingerprint(control)
            if has_picture and now["pictures"] and now["pictures"] != before["pictures"] and not any(
                    p.startswith("revoked:") for p in now["pictures"]):
                self.wait_idle(timeout)
                return "picture"
            if not has_picture and now["text"] != before["text"]:
                self.wait_idle(timeout)
                return "text"
            time.sleep(0.05)
        now = self.fingerprint(control)
        what = "picture" if has_picture else "output text (no picture in its output)"
        detail = " (the image was re-sent with identical bytes)" if has_picture and now["srcs"] != before["srcs"] else ""
        errors = self.problems()
        raise NotebookError(f"{self.name} {control.title}: {moved}, but its {what} did not change within "
                            f"{timeout:.0f} s{detail}" + (f"; errors on the page: {errors}" if errors else ""))

    # -- latency -----------------------------------------------------------------------
    def timed_move(self, control: Control, direction: int, *, has_picture: bool = True,
                   timeout: float = 30.0) -> dict:
        """Move once; return ms from the key press (or the select's change) to the new picture.

        The control is scrolled into view and focused (JupyterLab then activates its cell,
        re-styling the notebook) and the page left to render for a moment first (``settle``,
        300 ms, less than a student takes between clicking a handle and moving it): the timer
        measures the move, not JupyterLab laying out the cells that the scroll brought into
        view or switching the active cell.  Measured in the page, not from Python: the keydown/change event's ``timeStamp`` versus
        ``performance.now()`` when a MutationObserver sees the output's ``<img>`` ``src`` change
        (``src_ms``) and when that new image is decoded (``ms``).  For an output without an
        image (``has_picture=False``), ``ms`` is when its text changed.  Also, from the same
        start: ``sent_ms`` when the first websocket message left (the widget's update to the
        kernel) and ``frame_ms`` when the largest frame came back (the PNG; None without one).
        """
        want = "loaded" if has_picture else "text"
        loc = self.locator(control)
        loc.scroll_into_view_if_needed()
        loc.focus()  # as a student's click on the handle: JupyterLab makes its cell the active one
        self.page.evaluate("ms => window.__lvm.settle(ms)", 300)  # ... and looks before moving it
        self.page.evaluate("([i, want]) => window.__lvm.arm(i, want)", [control.index, want])
        try:
            self.move(control, direction)
            # Resolved in the page by the observer: no polling that would compete for the CPU.
            m = self.page.evaluate("ms => window.__lvm.wait(ms)", timeout * 1000)
            if m is None:
                raise NotebookError(f"{self.name} {control.title}: no new {'picture' if has_picture else 'text'} "
                                    f"within {timeout:.0f} s of the key press "
                                    f"({self.page.evaluate('() => window.__lvm.read()')})")
        finally:
            self.page.evaluate("() => window.__lvm.disarm()")
        self.wait_idle(timeout)
        since = {k: (None if m[k] is None else m[k] - m["start"]) for k in ("src", "sent", "frame")}
        return {"ms": m[want] - m["start"], "src_ms": since["src"], "sent_ms": since["sent"],
                "frame_ms": since["frame"] if m["frameBytes"] > 4096 else None}

    def timed_moves(self, control: Control, moves: int) -> list[dict]:
        """``1 + moves`` timed moves of one control, turning at its ends (:meth:`timed_move` each):
        the first is the control's first move after Run All, the rest the warm moves."""
        has_picture = bool(self.fingerprint(control)["pictures"])
        direction, runs = +1, []
        for _ in range(moves + 1):
            direction = self.next_direction(control, direction)
            runs.append(self.timed_move(control, direction, has_picture=has_picture))
        return runs

    def close(self) -> None:
        try:
            self.page.context.close()
        except Exception:  # noqa: BLE001 - browser already gone
            pass
