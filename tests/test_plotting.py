"""Figures are written only under LVMLIB_FIGURES, by lvmlib.plotting.savefig."""

import ipywidgets as W
import pytest

from lvmlib.plotting import BinnedPoints, new_figure, savefig
from lvmlib.widgets.core import SliderApp


def test_savefig_writes_nothing_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("LVMLIB_FIGURES", raising=False)
    assert savefig(new_figure(2, 2), "x") is None


def test_savefig_figure_and_slider_app_png(monkeypatch, tmp_path):
    monkeypatch.setenv("LVMLIB_FIGURES", str(tmp_path))
    fig = new_figure(2, 2)
    assert savefig(fig, "static").read_bytes()[:4] == b"\x89PNG"
    ax = fig.subplots()
    pts = BinnedPoints(ax, vmin=0, vmax=1)
    app = SliderApp(fig, {"x": W.FloatSlider(0.5, min=0, max=1)}, lambda x: pts.set([[x, x]], [x]), name="an_app")
    assert (tmp_path / "an_app.png").read_bytes() == bytes(app.image.value)


def test_savefig_rejects_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("LVMLIB_FIGURES", str(tmp_path))
    with pytest.raises(ValueError, match="no folders"):
        savefig(new_figure(2, 2), "../escape")
