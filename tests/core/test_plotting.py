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


def test_alt_text_from_the_description_or_read_off_the_figure():
    import matplotlib.pyplot as plt

    from lvmlib.plotting import alt_text, describe

    fig, (a, b) = plt.subplots(1, 2)
    a.plot([1, 2], label="naive MC")
    a.plot([2, 1], label="too wide")
    a.legend()
    a.set(xlabel="samples N", ylabel="bias", title="Jensen")
    b.set(xlabel="t / s")
    assert alt_text(fig) == ("Figure with 2 panels. Panel 1: “Jensen”: x axis samples N, y axis bias, legend: naive MC; "
                             "too wide. Panel 2: x axis t / s.")
    plt.close(fig)
    bare = plt.figure()
    assert alt_text(bare) == "Figure; the text around it says what it shows"
    assert alt_text(describe(bare, "  The ELBO\n rises.")) == "The ELBO rises."
    with pytest.raises(ValueError, match="non-empty"):
        describe(bare, " ")
    plt.close(bare)


def test_an_inline_figure_is_shown_with_its_alt_text_in_a_kernel():
    """In a real kernel, after retina_figures(): the figure's HTML output is its PNG with the alt text."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import lvmlib.plotting, matplotlib.pyplot as plt\nlvmlib.plotting.retina_figures()"),
                nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.set(xlabel='N & K')\n"
                                          "lvmlib.plotting.describe(fig, 'The \"bias\" falls like 1/N.');")]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    (out,) = nb.cells[1].outputs
    page = out["data"]["text/html"]
    assert page.startswith('<img class="lvmlib-figure" src="data:image/png;base64,' + out["data"]["image/png"].strip())
    assert 'alt="The &quot;bias&quot; falls like 1/N."' in page
    assert f'width="{out["metadata"]["image/png"]["width"]}"' in page


def _pyplot_figure_code():
    """(where, code) of every function of lvmlib.lessons and every notebook source cell that makes a pyplot
    figure (the static figures: slider apps draw with ``new_figure`` and have their own status line)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "lvmlib" / "lessons").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                code = ast.get_source_segment(path.read_text(), node)
                if "plt.subplots(" in code or "plt.figure(" in code:
                    yield f"{path.name}:{node.name}", code
    for path in sorted((root / "tools" / "notebook_src").glob("*.py")):
        for k, cell in enumerate(path.read_text().split("\n# %%")):
            if "plt.subplots(" in cell or "plt.figure(" in cell:
                yield f"{path.name} cell {k}", cell


def test_every_static_figure_is_described_where_it_is_made():
    found = list(_pyplot_figure_code())
    assert len(found) >= 14  # 11 lesson figures, 3 made in notebook cells
    missing = [where for where, code in found if "describe(" not in code]
    assert not missing, (f"{missing}: give each figure its text alternative where it is made, "
                         "lvmlib.plotting.describe(fig, 'what it shows')")
