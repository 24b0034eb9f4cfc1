"""What is ours in JupyterLab passes axe-core: notebook 05 built afresh from its source, opened in a
real JupyterLab in headless Chromium, Run All Cells, then

- axe-core (the copy ``axe-playwright-python`` ships; WCAG 2.2 A/AA) restricted to the output areas
  (our figures, hint ladders, check results, widgets and printed text) finds no serious or critical
  violation; in particular every static figure is an ``<img>`` with its own alt text
  (``lvmlib.plotting.describe``), not a bare PNG;
- the hint ladders' code is folded (``jupyter.source_hidden``) until the student opens it, and no
  code cell shows a test marker (``# NBVAL_...``: tags and metadata since ``tools/nbval_markers.py``).

JupyterLab's own chrome (toolbar, sidebar, the code editor) is not ours and is not checked.
Needs Chromium and Playwright like ``test_jupyterlab.py``; skipped without them, except under ``CI``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_site import axe_script
from tools import labdriver

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NAME = "05_importance_sampling"

AXE_OUTPUTS = """async () => {
  const r = await axe.run({include: [['.jp-OutputArea-output']], exclude: [['mjx-container']]},
                          {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, n: v.nodes.length, help: v.help,
                where: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + n.html.slice(0, 120))}));
}"""

FIGURES = """() => [...document.querySelectorAll('.jp-OutputArea-output img')]
  .filter(img => img.src.startsWith('data:image/png'))
  .map(img => ({alt: img.getAttribute('alt'), ours: img.classList.contains('lvmlib-figure')}))"""

CODE_CELLS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(cell => ({
  folded: cell.classList.contains('jp-mod-inputCollapsed') || !!cell.querySelector('.jp-InputPlaceholder'),
  text: cell.querySelector('.jp-InputArea-editor') ? cell.querySelector('.jp-InputArea-editor').textContent : ''}))"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Notebook 05's student edition built from its source (cells only) into a fresh folder."""
    from tools import nbbuild

    folder = tmp_path_factory.mktemp("lab-axe")
    nbbuild.build(ROOT / "tools" / "notebook_src" / f"{NAME}.py", editions=("student",), execute=False, root=folder)
    _bare_figure(folder / "bare.ipynb")
    return folder


def _bare_figure(path: Path) -> None:
    """A notebook whose cell shows a figure as a plain PNG output (what JupyterLab shows without alt)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import io\nfrom IPython.display import Image\nfrom matplotlib.figure import Figure\n"
        "fig = Figure(figsize=(2, 1))\nfig.add_subplot().plot([0, 1])\nbuf = io.BytesIO()\n"
        "fig.savefig(buf, format='png')\nImage(data=buf.getvalue())")]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, path)


def test_axe_finds_a_figure_without_alt_text(lab05, chromium):
    """The check can fail: a bare PNG output (no alt) is a critical image-alt violation in our outputs."""
    nb = labdriver.LabNotebook(lab05, labdriver.new_page(chromium), "bare.ipynb")
    try:
        nb.open()
        nb.run_all(timeout=60)
        nb.page.wait_for_selector(".jp-OutputArea-output img")
        nb.page.evaluate(axe_script().read_text() + "\n;0")
        assert "image-alt" in [v["id"] for v in nb.page.evaluate(AXE_OUTPUTS)]
    finally:
        nb.close()
        lab05.shutdown_kernels()


#: every cell in the page (JupyterLab draws only the cells in view by default): axe and the checks see them all
NO_WINDOWING = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"}}


@pytest.fixture(scope="module")
def lab05(chromium, built):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(labdriver, "LAB_SETTINGS", labdriver.LAB_SETTINGS | NO_WINDOWING)
        with labdriver.LabServer(built) as server:
            yield server


def test_our_outputs_in_jupyterlab_pass_axe(lab05, chromium, tmp_path):
    script = axe_script()
    nb = labdriver.LabNotebook(lab05, labdriver.new_page(chromium), f"{NAME}.ipynb")
    try:
        nb.open()
        cells = nb.page.evaluate(CODE_CELLS)
        nb.run_all(timeout=400)
        problems = nb.problems()
        assert not problems, "\n".join(problems)
        nb.page.wait_for_timeout(1000)  # the last widgets render

        figures = nb.page.evaluate(FIGURES)
        assert len(figures) >= 2, f"{NAME} has two static figures: found {figures}"
        assert all(f["ours"] and f["alt"] and len(f["alt"]) > 40 for f in figures), figures

        assert len(cells) > 20, f"only {len(cells)} code cells in the page"
        hints = [c for c in cells if "exercises.hints(" in c["text"] or c["folded"]]
        ladders = (ROOT / "tools" / "notebook_src" / f"{NAME}.py").read_text().count("exercises.hints(")
        assert len(hints) == ladders >= 2 and all(c["folded"] for c in hints), \
            f"a hint ladder's code is shown before it is asked for: {hints}"
        assert not [c for c in cells if "NBVAL" in c["text"]], "a code cell shows a test marker"

        nb.page.evaluate(script.read_text() + "\n;0")
        violations = nb.page.evaluate(AXE_OUTPUTS)
        if violations:
            shot = tmp_path / f"{NAME}.png"
            nb.page.screenshot(path=str(shot), full_page=True)
        assert not violations, "\n".join(f"{v['id']} ({v['impact']}, {v['n']}x): {v['help']} at {v['where']}"
                                         for v in violations)
    finally:
        nb.close()
        lab05.shutdown_kernels()
