"""Colab as it is: a kernel with ipywidgets 7.7.1 already imported, and lvmlib installed by the notebook itself.

Installing lvmlib must not upgrade the hosted kernel's ipywidgets (``ipywidgets>=7.7`` in pyproject.toml),
and notebooks 01 and 05 (the stored student editions) must run top to bottom under ipywidgets 7 through
their own install cell. The venv is cached (``tests/hosted_env.py``): the first run downloads its packages.
"""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from hosted_env import ROOT, build_dist, clean_env, colab_venv, errors, run_in_venv, stream_text

NOTEBOOKS = ("01_latent_variable_models", "05_importance_sampling")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_dist(tmp_path_factory.mktemp("dist"), sdist=False)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_installs_lvmlib_under_colabs_ipywidgets(name, wheel, tmp_path):
    py = colab_venv()
    before = subprocess.run([str(py), "-c", "import importlib.util as u, ipywidgets; "
                             "print(ipywidgets.__version__, u.find_spec('lvmlib') is None)"],
                            capture_output=True, text=True, env=clean_env(py.parent), cwd=tmp_path)
    assert before.stdout.split() == ["7.7.1", "True"], before.stdout + before.stderr

    nb, log = run_in_venv(py, ROOT / "notebooks" / f"{name}.ipynb", tmp_path / "work", LVMLIB_INSTALL_SPEC=str(wheel))
    assert errors(nb) == [], log[-3000:]
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert str(wheel) in stream_text(first), "the install cell says what it installs"

    after = subprocess.run([str(py), "-c", "import ipywidgets, lvmlib; print(ipywidgets.__version__, lvmlib.__file__)"],
                           capture_output=True, text=True, env=clean_env(py.parent), cwd=tmp_path)
    version, where = after.stdout.split()
    assert version == "7.7.1", "installing lvmlib upgraded the hosted kernel's ipywidgets"
    assert where.startswith(str(py.parent.parent)), "lvmlib came from the wheel, into the venv"


def test_anywidget_enables_colabs_widget_manager_itself(monkeypatch):
    """On Colab, third-party widgets show only after ``google.colab.output.enable_custom_widget_manager()``.
    anywidget calls it when its first widget is made (manzt/anywidget#52), so the install cell does not."""
    calls = []
    colab = types.ModuleType("google.colab.output")
    colab.enable_custom_widget_manager = lambda: calls.append(1)
    colab._widgets = types.SimpleNamespace(_installed_url=None)
    for name, module in {"google": types.ModuleType("google"), "google.colab": types.ModuleType("google.colab"),
                         "google.colab.output": colab}.items():
        monkeypatch.setitem(sys.modules, name, module)
    from lvmlib.widgets.app import SliderApp  # noqa: F401  (lvmlib's own widgets import fine)
    from lvmlib.widgets.client import CanvasApp

    CanvasApp()
    CanvasApp()
    assert calls == [1]
