"""Notebooks are built from tools/notebook_src/*.py (percent format): the two must agree."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from nbbuild import parse  # noqa: E402

from notebook_checks import load  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("*.py"))


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_stored_notebook_matches_its_source(src):
    stored = ROOT / "notebooks" / f"{src.stem}.ipynb"
    assert stored.exists(), f"run: python tools/nbbuild.py {src.relative_to(ROOT)}"
    want = [(c.cell_type, c.source) for c in parse(src.read_text()).cells]
    have = [(c["cell_type"], "".join(c["source"])) for c in load(stored)["cells"]]
    assert have == want, f"{stored.name} differs from {src.name}: rebuild it with tools/nbbuild.py"


def test_parse_splits_cells():
    nb = parse("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n# %%\n\n# %%\ny = 2\n")
    assert [(c.cell_type, c.source) for c in nb.cells] == [("markdown", "# Title\ntext"), ("code", "x = 1"),
                                                            ("code", "y = 2")]
