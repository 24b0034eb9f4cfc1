"""Figures are written only under LVMLIB_FIGURES, by lvmlib.plotting.savefig."""

import ipywidgets as W
import pytest

from lvmlib.plotting import BinnedPoints, new_figure, savefig
from lvmlib.widgets.app import SliderApp


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


def test_canvas_png_is_a_png_of_exactly_the_canvas():
    import io

    import numpy as np
    from PIL import Image

    from lvmlib.widgets._png import canvas_png

    fig = new_figure(3, 2, dpi=137)  # odd sizes: 411 x 274 px
    ax = fig.subplots()
    ax.plot([0, 1], [1, 0])
    ax.imshow(np.random.default_rng(0).random((5, 5)), extent=(0, 1, 0, 1), alpha=0.5)
    fig.canvas.draw()
    decoded = np.asarray(Image.open(io.BytesIO(canvas_png(fig.canvas))))
    assert decoded.shape == (274, 411, 4)
    assert np.array_equal(decoded, np.asarray(fig.canvas.buffer_rgba()))


def test_plotting_is_reachable_after_import_lvmlib_alone():
    import subprocess
    import sys

    code = "import lvmlib; print(lvmlib.plotting.savefig.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "savefig"


def test_retina_figures_sets_the_inline_format(monkeypatch):
    import IPython
    import matplotlib_inline.backend_inline as inline

    from lvmlib.plotting import retina_figures

    assert retina_figures() is False  # no IPython here: nothing to do
    calls = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(inline, "set_matplotlib_formats", lambda *f, **kw: calls.append(f))
    assert retina_figures() is True and calls == [("retina",)]
