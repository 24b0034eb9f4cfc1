"""Helpers for the hosted-notebook tests: lvmlib's wheel built from the checkout, and a cached Colab-like venv.

- :func:`build_dist` builds the wheel (and the sdist) from a copy of what the package is made of, offline
  (``python -m build --no-isolation``), so the checkout stays clean.
- :func:`colab_venv` makes (once) a venv with what a hosted service preinstalls (``COLAB_PACKAGES``: CPU
  torch, ipywidgets 7.7.1, ...), cached under ``build/colab-venv/<key>`` where the key is a hash of the
  package list and the Python version; every later call first puts it back to the packages it was built
  with (what a notebook's install cell added is uninstalled), so each test starts from a hosted kernel's
  state.
- :func:`run_in_venv` runs one notebook top to bottom with nbclient inside such a venv, in a kernel that
  imports ipywidgets at start (an IPython startup file, as a hosted kernel has it loaded).
- :func:`colab_run` does both for a stored student notebook, through its own install cell, and records what
  the venv holds right after (the next reset undoes it): ipywidgets' version, where lvmlib came from, and
  the front end anywidget's Python package ships (``anywidget/nbextension/index.js``, an AMD module).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: what Colab has installed before a notebook's first cell runs (ipywidgets and ipykernel at Colab's versions)
COLAB_PACKAGES = ("torch==2.13.0", "ipywidgets==7.7.1", "ipykernel==6.17.1", "numpy", "scipy", "matplotlib",
                  "scikit-learn", "tqdm", "nbclient")
CACHE = ROOT / "build" / "colab-venv"
_BASE = "base-packages.txt"  # in the venv: `pip freeze` right after it was made


def build_dist(out: Path, *, sdist: bool = True) -> Path:
    """Build lvmlib from a copy of the checkout into ``out``; returns the wheel's path."""
    src = out / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "lvmlib", src / "lvmlib", ignore=shutil.ignore_patterns("__pycache__"))
    dist = out / "dist"
    kinds = [] if sdist else ["--wheel"]
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", *kinds, "--outdir", str(dist), str(src)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("building lvmlib failed:\n" + done.stdout[-3000:] + done.stderr[-3000:])
    wheels = sorted(dist.glob("lvmlib-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {dist}, found {sorted(p.name for p in dist.iterdir())}")
    return wheels[0]


def _pip(py: Path, *args: str, timeout: int = 900) -> str:
    done = subprocess.run([str(py), "-m", "pip", *args], capture_output=True, text=True, timeout=timeout,
                          env=clean_env(py.parent))
    if done.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def clean_env(bin_dir: Path, **extra: str) -> dict:
    """This process's environment for a child of the venv whose ``bin`` is ``bin_dir``: that ``bin`` first on
    PATH, no PYTHONPATH / VIRTUAL_ENV (the checkout's lvmlib must not leak in), one thread."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1",
               PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def colab_venv(packages=COLAB_PACKAGES, cache: Path = CACHE) -> Path:
    """A venv with ``packages`` installed and nothing else; returns its python. Made once per package list
    (minutes: the downloads), then reset to that list at each call (seconds)."""
    key = hashlib.sha256("\n".join([sys.version, *packages]).encode()).hexdigest()[:12]
    venv = cache / key
    py = venv / "bin" / "python"
    if (venv / _BASE).exists():
        base = (venv / _BASE).read_text()
        now = _pip(py, "freeze", "--all")
        extra = sorted(set(_names(now)) - set(_names(base)))
        if extra:
            _pip(py, "uninstall", "--yes", *extra)
            now = _pip(py, "freeze", "--all")
        if now == base:
            return py
        shutil.rmtree(venv)  # a package of the base list changed version: make it again
    partial = venv.with_name(key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True, timeout=300)
    partial.rename(venv)  # a venv's python runs from its folder; built under the final name from here on
    try:
        _pip(py, "install", "--progress-bar", "off", *packages, timeout=1800)
        (venv / _BASE).write_text(_pip(py, "freeze", "--all"))
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    return py


def _names(freeze: str) -> list[str]:
    return [line.split("==")[0].split(" @ ")[0].strip().lower() for line in freeze.splitlines() if line.strip()]


_RUNNER = """\
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, kernel_name="python3", timeout=900, allow_errors=False,
                   resources={"metadata": {"path": sys.argv[3]}}).execute()
finally:
    nbformat.write(nb, sys.argv[2])
"""


def run_in_venv(py: Path, notebook: Path, work: Path, **env: str):
    """Run ``notebook`` with nbclient inside the venv of ``py``, in a kernel that imports ipywidgets at start;
    ``env`` is added to the kernel's environment. Returns the executed notebook (outputs up to the first error)
    and the runner's stdout + stderr."""
    import nbformat

    work.mkdir(parents=True, exist_ok=True)
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-hosted.py").write_text("import ipywidgets  # loaded at kernel start, as on Colab\n")
    out = work / ("executed-" + notebook.name)
    done = subprocess.run([str(py), "-c", _RUNNER, str(notebook), str(out), str(work)], capture_output=True,
                          text=True, timeout=1800, cwd=work,
                          env=clean_env(py.parent, IPYTHONDIR=str(work / "ipython"),
                                        JUPYTER_DATA_DIR=str(work / "jupyter-data"), **env))
    if not out.exists():
        raise RuntimeError(f"the runner wrote no notebook:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return nbformat.read(out, as_version=4), done.stdout + done.stderr


def errors(nb) -> list[tuple]:
    """(cell id, exception name, message) for every error output of an executed notebook."""
    return [(c.get("id"), o.get("ename"), o.get("evalue")) for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


@dataclass
class ColabRun:
    nb: object  # the executed notebook (nbformat), its widget state in nb.metadata.widgets
    log: str  # the runner's stdout + stderr
    before: list  # [ipywidgets version, whether lvmlib was missing] before the run
    ipywidgets: str  # ipywidgets' version after the run
    lvmlib_file: str  # lvmlib/__init__.py as imported after the run
    venv: Path  # the venv's folder
    wheel: Path  # what LVMLIB_INSTALL_SPEC named
    anywidget_js: str  # anywidget's front end for ipywidgets 7 (the classic notebook's AMD module), as installed


_AFTER = """\
import importlib.util, ipywidgets, json, lvmlib, os
import anywidget
print(json.dumps([ipywidgets.__version__, lvmlib.__file__,
                  open(os.path.join(os.path.dirname(anywidget.__file__), "nbextension", "index.js")).read()]))
"""


def colab_run(notebook: Path, wheel: Path, work: Path) -> ColabRun:
    """Run ``notebook`` in the Colab-like venv (reset first) with ``LVMLIB_INSTALL_SPEC`` set to ``wheel``."""
    import json

    from filelock import FileLock  # torch's dependency

    CACHE.mkdir(parents=True, exist_ok=True)
    # One user of the venv at a time: `pytest -n 2` may run test_colab_like.py and test_colab_widgets7.py at once,
    # and each run resets the venv, installs lvmlib into it and runs a notebook there.
    with FileLock(str(CACHE / "venv.lock")):
        py = colab_venv()
        probe = "import importlib.util as u, ipywidgets; print(ipywidgets.__version__, u.find_spec('lvmlib') is None)"
        work.mkdir(parents=True, exist_ok=True)
        before = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, env=clean_env(py.parent),
                                cwd=work)
        nb, log = run_in_venv(py, notebook, work, LVMLIB_INSTALL_SPEC=str(wheel))
        after = subprocess.run([str(py), "-c", _AFTER], capture_output=True, text=True, env=clean_env(py.parent),
                               cwd=work)
    if after.returncode != 0:
        raise RuntimeError(f"after {notebook.name}, lvmlib or anywidget does not import in the venv:\n{after.stderr[-3000:]}")
    version, lvmlib_file, js = json.loads(after.stdout)
    return ColabRun(nb, log, before.stdout.split(), version, lvmlib_file, py.parent.parent, wheel, js)
