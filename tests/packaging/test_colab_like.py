"""Colab as it is: a kernel with ipywidgets 7.7.1 already imported, and lvmlib installed by the notebook itself.

Installing lvmlib must not upgrade the hosted kernel's ipywidgets (``ipywidgets>=7.7`` in pyproject.toml),
and notebooks 01 and 05 (the stored student editions) must run top to bottom under ipywidgets 7 through
their own install cell. The venv is cached (``tests/packaging/hosted_env.py``): the first run downloads its packages.
"""

from __future__ import annotations

import sys
import types

import pytest

from tests.packaging.hosted_env import errors, stream_text

NOTEBOOKS = ("01_latent_variable_models", "05_importance_sampling")


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_installs_lvmlib_under_colabs_ipywidgets(name, colab_runs):
    run = colab_runs(name)
    assert run.before == ["7.7.1", "True"], "the venv starts as Colab does: ipywidgets 7.7.1, no lvmlib"
    assert errors(run.nb) == [], run.log[-3000:]
    first = next(c for c in run.nb.cells if c.cell_type == "code")
    said = stream_text(first)
    assert str(run.wheel) in said, f"the install cell says what it installs: {said[:2000]}"
    assert run.ipywidgets == "7.7.1", "installing lvmlib upgraded the hosted kernel's ipywidgets"
    assert run.lvmlib_file.startswith(str(run.venv)), "lvmlib came from the wheel, into the venv"


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
