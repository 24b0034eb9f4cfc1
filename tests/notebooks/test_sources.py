"""Notebooks are built from tools/notebook_src/*.py (percent format): every edition must agree with its source."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools.nbbuild import EDITIONS, build, output_path, parse  # noqa: E402

from tests.notebooks.checks import load  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("*.py"))


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_stored_notebook_matches_its_source(src, edition):
    stored = output_path(src, edition, ROOT / "notebooks")
    assert stored.exists(), f"run: python tools/nbbuild.py {src.relative_to(ROOT)}"
    want = [(c.cell_type, c.source, _ours(c.metadata)) for c in parse(src.read_text(), edition, name=src.stem).cells]
    have = [(c["cell_type"], "".join(c["source"]), _ours(c["metadata"])) for c in load(stored)["cells"]]
    assert have == want, f"{stored.name} differs from {src.name}: rebuild it with tools/nbbuild.py"


def _ours(metadata) -> tuple:
    """The metadata nbbuild writes: tags (nbval's), the tolerance, the folded code."""
    return (tuple(metadata.get("tags", ())), json.dumps(metadata.get("lvmlib"), sort_keys=True),
            metadata.get("jupyter", {}).get("source_hidden", False))


@pytest.mark.parametrize("name", ["05_importance_sampling", "08_latent_interpolation"])
def test_a_built_notebook_shows_no_test_marker(tmp_path, name):
    """Built afresh (cells only) into a temporary folder: no NBVAL in any code cell; the markers are
    nbval's tags and the tolerance metadata; a hint ladder's code is folded."""
    src = ROOT / "tools" / "notebook_src" / f"{name}.py"
    marked = [block for block in src.read_text().split("# %%") if block.lstrip("\n").startswith("# NBVAL_")]
    for path in build(src, execute=False, root=tmp_path):
        nb = load(path)
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not [c["id"] for c in code if "NBVAL" in "".join(c["source"])], f"{path.name} shows a test marker"
        ignored = [c for c in code if "nbval-ignore-output" in c["metadata"].get("tags", [])]
        tolerant = [c["metadata"]["lvmlib"]["tolerance"] for c in code if "lvmlib" in c["metadata"]]
        assert len(ignored) + len(tolerant) == len(marked) > 0
        assert all(t.get("why") for t in tolerant), "the reason for each tolerance goes with it"
        hints = [c for c in code if "".join(c["source"]).startswith("exercises.hints(")]
        assert hints and all(c["metadata"]["jupyter"]["source_hidden"] and "hide-input" in c["metadata"]["tags"]
                             for c in hints)
        assert not [c for c in code if c not in hints and c["metadata"].get("jupyter", {}).get("source_hidden")]


def test_a_misplaced_test_marker_is_an_error():
    with pytest.raises(ValueError, match=r"cell 1: line 2: .*first lines"):
        parse("# %%\nx = 1\n# NBVAL_IGNORE_OUTPUT\nx\n")
    with pytest.raises(ValueError, match="unknown marker '# NBVAL_IGNORE'"):
        parse("# %%\n# NBVAL_IGNORE\nx\n")
    with pytest.raises(ValueError, match="abs=X"):
        parse("# %%\n# NBVAL_TOLERANCE 0.1\nx\n")


def test_parse_splits_cells():
    nb = parse("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n# %%\n\n# %%\ny = 2\n")
    assert [(c.cell_type, c.source) for c in nb.cells] == [("markdown", "# Title\ntext"), ("code", "x = 1"),
                                                            ("code", "y = 2")]


def test_solutions_only_cells_are_left_out_of_the_student_edition():
    from tools.nbbuild import SOLUTIONS_ONLY

    text = ("# %% [markdown]\n# ### Exercise 1.1: derive\n\n"
            f"# %% [markdown]\n# {SOLUTIONS_ONLY}\n# <details><summary>Answer</summary>\n#\n# 42\n# </details>\n\n"
            "# %%\nx = 1\n")
    student, solutions = parse(text, "student"), parse(text, "solutions")
    assert [c.cell_type for c in student.cells] == ["markdown", "code"]
    assert [c.cell_type for c in solutions.cells] == ["markdown", "markdown", "code"]
    assert "42" in solutions.cells[1].source and not any("42" in c.source for c in student.cells)


def _lvmlib_attributes(code: str) -> list[tuple[str, str, str]]:
    """(name, module, attribute) for every ``name.attribute`` where ``name`` is an lvmlib module the code imported."""
    import ast

    tree = ast.parse(code)
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound.update({(a.asname or a.name): a.name for a in node.names if a.name.startswith("lvmlib") and a.asname})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lvmlib"):
            bound.update({(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names})
    return [(n.value.id, bound[n.value.id], n.attr) for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in bound]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_lvmlib_name_a_notebook_uses_exists(src):
    """A name moved or dropped from a lesson module fails here in a second, not after Run All in the browser."""
    import importlib

    cells = parse(src.read_text(), "solutions", name=src.stem).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))  # IPython magics
    missing = []
    for name, module, attr in _lvmlib_attributes(code):
        try:
            obj = importlib.import_module(module)
        except ImportError:  # `from lvmlib.x import f`: f is not a module
            mod, _, last = module.rpartition(".")
            obj = getattr(importlib.import_module(mod), last)
        if not hasattr(obj, attr):
            missing.append(f"{name}.{attr} ({module})")
    assert not missing, f"{src.name} uses names lvmlib does not define: {sorted(set(missing))}"


def test_the_lvmlib_name_check_can_fail():
    code = "from lvmlib.lessons import nb02\nfrom lvmlib import exercises as ex\nnb02.em_app\nex.no_such_check\n"
    assert _lvmlib_attributes(code) == [("nb02", "lvmlib.lessons.nb02", "em_app"),
                                        ("ex", "lvmlib.exercises", "no_such_check")]
