"""The course site before (nbconvert + MathJax 2, ``git show REF:tools/site.py``, default the commit before issue 30) and after (the
Sphinx shell of ``tools/site.py``): size on disk, and Lighthouse on the index and lesson 05 served
with gzip (as GitHub Pages serves it), desktop and mobile.

Lighthouse is not a Python package: install it with npm where Node 20 is (``npm i -E
lighthouse@12.2.3`` in some folder, then ``LIGHTHOUSE=that/folder/node_modules/.bin/lighthouse``).
Without it only the sizes are printed.

    python benchmarks/bench_site.py [--before-ref main] [--pages index.html 05_importance_sampling.html]
    python benchmarks/bench_site.py --site before=DIR --site after=DIR --runs 3 --pages 05_importance_sampling.html

``--site NAME=DIR`` measures sites built beforehand (e.g. ``git stash; python tools/site.py --out DIR``)
instead of building them.  With ``--runs N`` each cell is the median of N Lighthouse runs (each
column's own median), and the 1-minute load average during the runs is printed beside it:
Lighthouse's simulated throttling scales the main-thread time it observes, so a loaded machine
lowers the performance score.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LVMLIB_CHROMIUM", "/usr/bin/chromium")
GZIP_TYPES = (".html", ".js", ".css", ".json", ".svg", ".txt", ".map")


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that gzips text files when asked, like GitHub Pages."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if (path.suffix in GZIP_TYPES and path.is_file()
                and "gzip" in self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(path.read_bytes(), 6)
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return _Bytes(body)
        return super().send_head()


class _Bytes:
    def __init__(self, data):
        self.data = data

    def read(self, *a):
        d, self.data = self.data, b""
        return d

    def close(self):
        pass


def serve(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(GzipHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def load_builder(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_before(ref: str, out: Path) -> None:
    """The site as ``ref``'s tools/site.py built it (run from this checkout's tools/ folder)."""
    code = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:tools/site.py"], check=True,
                          capture_output=True, text=True).stdout
    path = ROOT / "tools" / "_site_before.py"  # beside nbbuild.py, which it imports
    path.write_text(code)
    try:
        load_builder(path, "site_before").build(ROOT / "notebooks", out)
    finally:
        path.unlink()


def lighthouse(binary: str, url: str, desktop: bool) -> dict:
    cmd = [binary, url, "--quiet", "--output=json", "--output-path=stdout",
           "--only-categories=performance,accessibility,best-practices,seo",
           "--chrome-flags=--headless=new --no-sandbox"]
    if desktop:
        cmd.append("--preset=desktop")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, CHROME_PATH=CHROMIUM))
    if proc.returncode != 0:
        return {"error": proc.stderr[-300:]}
    rep = json.loads(proc.stdout)
    cats = {k: round(100 * v["score"]) if v["score"] is not None else None for k, v in rep["categories"].items()}
    audits = rep["audits"]
    errors = audits.get("errors-in-console", {}).get("details", {}).get("items", [])
    return {**cats, "cls": audits["cumulative-layout-shift"]["numericValue"],
            "lcp_s": audits["largest-contentful-paint"]["numericValue"] / 1000,
            "tbt_ms": audits["total-blocking-time"]["numericValue"], "console_errors": len(errors)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before-ref", default="89b65f6",  # the last commit with the nbconvert site (before issue 30)
                    help="git ref whose tools/site.py is 'before' ('' to skip)")
    ap.add_argument("--pages", nargs="+", default=None)
    ap.add_argument("--site", action="append", default=[], metavar="NAME=DIR",
                    help="a site built beforehand, measured instead of building before/after")
    ap.add_argument("--runs", type=int, default=1, help="Lighthouse runs per cell (the median is printed)")
    args = ap.parse_args()
    binary = os.environ.get("LIGHTHOUSE", "")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sites = {}
        for item in args.site:
            name, _, folder = item.partition("=")
            sites[name] = (Path(folder), args.pages or ["index.html", "05_importance_sampling.html"])
        if args.before_ref and not args.site:
            build_before(args.before_ref, tmp / "before")
            sites["before"] = (tmp / "before", args.pages or ["index.html", "05_importance_sampling.html"])
        if not args.site:
            load_builder(ROOT / "tools" / "site.py", "site_after").build(ROOT / "notebooks", tmp / "after")
            sites["after"] = (tmp / "after", args.pages or ["index.html", "05_importance_sampling.html"])
        print("| site | size on disk (MB) |\n|---|---:|")
        for name, (folder, _) in sites.items():
            print(f"| {name} | {size(folder) / 1e6:.1f} |")
        if not binary:
            print("\nLIGHTHOUSE is not set: no Lighthouse runs (see the docstring).")
            return
        print("\n| site | page | form factor | performance | accessibility | best practices | SEO | CLS | LCP s "
              "| TBT ms | console errors | load avg |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, (folder, pages) in sites.items():
            server = serve(folder)
            try:
                for page in pages:
                    for desktop in (True, False):
                        url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
                        runs, loads = [], []
                        for _ in range(args.runs):
                            runs.append(lighthouse(binary, url, desktop))
                            loads.append(os.getloadavg()[0])
                        failed = [r for r in runs if "error" in r]
                        if failed:
                            print(f"| {name} | {page} | {'desktop' if desktop else 'mobile'} | failed: {failed[0]['error']!r} |")
                            continue
                        r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
                        print(f"| {name} | {page} | {'desktop' if desktop else 'mobile'} | {r['performance']} | "
                              f"{r['accessibility']} | {r['best-practices']} | {r['seo']} | {r['cls']:.3f} | "
                              f"{r['lcp_s']:.1f} | {r['tbt_ms']:.0f} | {r['console_errors']:.0f} | "
                              f"{min(loads):.1f}-{max(loads):.1f} |", flush=True)
            finally:
                server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
