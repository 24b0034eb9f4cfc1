"""Notebooks are built from tools/notebook_src/*.py (percent format): every edition must agree with its source."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from nbbuild import EDITIONS, output_path, parse  # noqa: E402

from notebook_checks import load  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("*.py"))


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_stored_notebook_matches_its_source(src, edition):
    stored = output_path(src, edition, ROOT / "notebooks")
    assert stored.exists(), f"run: python tools/nbbuild.py {src.relative_to(ROOT)}"
    want = [(c.cell_type, c.source) for c in parse(src.read_text(), edition, name=src.stem).cells]
    have = [(c["cell_type"], "".join(c["source"])) for c in load(stored)["cells"]]
    assert have == want, f"{stored.name} differs from {src.name}: rebuild it with tools/nbbuild.py"


def test_parse_splits_cells():
    nb = parse("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n# %%\n\n# %%\ny = 2\n")
    assert [(c.cell_type, c.source) for c in nb.cells] == [("markdown", "# Title\ntext"), ("code", "x = 1"),
                                                            ("code", "y = 2")]


def test_solutions_only_cells_are_left_out_of_the_student_edition():
    from nbbuild import SOLUTIONS_ONLY

    text = ("# %% [markdown]\n# ### Exercise 1.1: derive\n\n"
            f"# %% [markdown]\n# {SOLUTIONS_ONLY}\n# <details><summary>Answer</summary>\n#\n# 42\n# </details>\n\n"
            "# %%\nx = 1\n")
    student, solutions = parse(text, "student"), parse(text, "solutions")
    assert [c.cell_type for c in student.cells] == ["markdown", "code"]
    assert [c.cell_type for c in solutions.cells] == ["markdown", "markdown", "code"]
    assert "42" in solutions.cells[1].source and not any("42" in c.source for c in student.cells)
