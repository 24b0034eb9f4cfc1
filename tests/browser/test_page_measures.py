"""The browser test's two measures, on crafted pages (no JupyterLab): they pass a sharp picture
and a whole label, and they fail a blurry (upscaled or 1x) picture and a cut-off label.

These run in seconds and show that the assertions of ``test_jupyterlab.py`` can fail.
"""

import base64
import io

import pytest

from tools import labdriver

pytestmark = pytest.mark.browser


def _png_data_url(width: int, height: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(chromium, scale: float, outputs: list[str]):
    """A page shaped like a JupyterLab notebook: one cell per output snippet."""
    page = labdriver.new_page(chromium, scale=scale)
    cells = "".join(f'<div class="jp-Cell"><div class="jp-OutputArea-output">{o}</div></div>' for o in outputs)
    page.set_content(f'<div class="jp-NotebookPanel"><div class="jp-Notebook" style="width: 800px">{cells}'
                     '</div></div>')
    page.evaluate(labdriver.PAGE_JS)
    return page


@pytest.fixture(scope="module")
def picture_rows(chromium):
    src = _png_data_url(400, 100)
    page = _page(chromium, 2, [
        f'<img src="{src}" style="width: 200px">',  # 2x picture at its CSS size: density 4
        f'<div class="jupyter-widgets"><img src="{src}" style="width: 200px; max-width: 100%"></div>',
        f'<img src="{src}" style="width: 100%">',  # stretched to the cell: density 1
        f'<img src="{src}">',  # natural size at devicePixelRatio 2: density 2
    ])
    try:
        yield page.evaluate("() => window.__lvm.pictures()")
    finally:
        page.context.close()


def test_pictures_measures_device_pixels_per_css_pixel(picture_rows):
    assert [round(p["density"], 2) for p in picture_rows] == [4.0, 4.0, 1.0, 2.0]
    assert [p["widget"] for p in picture_rows] == [False, True, False, False]
    assert all(p["dpr"] == 2 for p in picture_rows)


def test_picture_problems_flags_only_the_blurry_picture(picture_rows):
    problems = labdriver.picture_problems(picture_rows)
    assert len(problems) == 1 and problems[0].startswith("cell 2: figure has 1.00 device pixels per CSS pixel")


def test_a_1x_page_fails_every_picture_drawn_for_1x(chromium):
    page = _page(chromium, 1, [f'<img src="{_png_data_url(400, 100)}">'])
    try:
        rows = page.evaluate("() => window.__lvm.pictures()")
    finally:
        page.context.close()
    assert len(labdriver.picture_problems(rows)) == 1


def test_picture_problems_flags_a_picture_not_shown():
    assert "is not shown" in labdriver.picture_problems([{"cell": 3, "natural": 0, "css": 0, "density": None,
                                                           "dpr": 2}])[0]


def test_labels_finds_the_cut_off_label(chromium):
    label = '<div class="jupyter-widgets"><label class="widget-label" style="display: block; width: {w}; ' \
            'overflow: hidden; white-space: nowrap; text-overflow: ellipsis">components K</label></div>'
    page = _page(chromium, 2, [label.format(w="40px"), label.format(w="max-content"), '<label>not a widget</label>'])
    try:
        rows = page.evaluate("() => window.__lvm.labels()")
    finally:
        page.context.close()
    assert [r["truncated"] for r in rows] == [True, False]
    problems = labdriver.label_problems(rows)
    assert len(problems) == 1 and "'components K' is cut off" in problems[0]
