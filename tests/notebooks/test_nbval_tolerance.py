"""The nbval tolerance: text must match exactly, numbers within the declared tolerance.

The tolerance is declared in the source by a first-line marker (``# NBVAL_TOLERANCE abs=X``); the built
notebook carries it in the cell's metadata (``tools/nbval_markers.py``), where nbval reads it here."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools.nbval_markers import move_to_metadata, tolerance_from_metadata  # noqa: E402
from tools.nbval_tolerance import Tolerance, compare_text, parse_marker  # noqa: E402

TOL = Tolerance(abs=0.05)


def test_parse_marker():
    assert parse_marker("# NBVAL_TOLERANCE abs=0.05\nprint(1)") == Tolerance(abs=0.05)
    assert parse_marker("# NBVAL_TOLERANCE rel=0.02 abs=1e-3\nx") == Tolerance(abs=1e-3, rel=0.02)
    assert parse_marker("print(1)") is None
    with pytest.raises(ValueError, match="first line"):
        parse_marker("x = 1\n# NBVAL_TOLERANCE abs=0.05")
    with pytest.raises(ValueError, match="abs=X"):
        parse_marker("# NBVAL_TOLERANCE 0.05")
    with pytest.raises(ValueError, match="abs=X"):
        parse_marker("# NBVAL_TOLERANCE")


@pytest.mark.parametrize("got", [
    "ELBO -20.51 nats, gap 0.72.\n",      # within abs=0.05, a full stop after a number
    "ELBO -20.50 nats, gap 0.73.\n",      # identical
    "ELBO -20.5 nats, gap 0.7300.\n",     # other digits, same numbers
])
def test_numbers_within_the_tolerance_pass(got):
    assert compare_text("ELBO -20.50 nats, gap 0.73.\n", got, TOL) == []


@pytest.mark.parametrize("got,why", [
    ("ELBO -20.50 nats, GAP 0.73.\n", "text"),            # a changed word
    ("ELBO -20.50 nats, gap 0.83.\n", "number 2"),        # a number outside the tolerance
    ("ELBO -20.50 nats.\n", "text"),                      # a missing part
    ("ELBO -20.50 nats, gap 0.73.\nextra 1\n", "text"),   # an extra line
    ("ELBO nan nats, gap 0.73.\n", "number 1"),           # NaN is never close to a number
])
def test_changes_outside_the_tolerance_fail(got, why):
    problems = compare_text("ELBO -20.50 nats, gap 0.73.\n", got, TOL)
    assert problems and why in problems[0]


def test_relative_and_words_with_digits():
    assert compare_text("p = 1.00e-30", "p = 1.01e-30", Tolerance(rel=0.02)) == []
    assert compare_text("p = 1.00e-30", "p = 1.10e-30", Tolerance(rel=0.02))
    assert compare_text("nb05 z2", "nb06 z2", TOL)  # digits inside words are text, not numbers
    assert compare_text("Cov [1.15 1.01]", "Cov [1.11 0.99]", Tolerance(abs=0.05)) == []
    assert compare_text("inf", "inf", TOL) == [] and compare_text("inf", "-inf", TOL)


def test_the_built_cell_carries_the_tolerance_in_metadata():
    cell = move_to_metadata(nbformat.v4.new_code_cell("# NBVAL_TOLERANCE abs=0.05 rel=0.01\n# (measured: spread 0.01;\n"
                                                      "#  two machines)\n# plain comment\nprint(1)"))
    assert cell.source == "# plain comment\nprint(1)"
    assert cell.metadata["lvmlib"]["tolerance"] == {"abs": 0.05, "rel": 0.01, "why": "measured: spread 0.01; two machines"}
    assert tolerance_from_metadata(cell.metadata) == Tolerance(abs=0.05, rel=0.01)
    with pytest.raises(ValueError, match="rebuild"):
        tolerance_from_metadata({"lvmlib": {"tolerance": {"abs": 0.05, "tol": 1}}})


def _notebook(path: Path, source: str, stored: str, built: bool = True) -> None:
    """A one-cell notebook; ``built``: as nbbuild writes it, the marker moved to the cell's metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    cell = nbformat.v4.new_code_cell(source)
    if built:
        move_to_metadata(cell)
        assert "NBVAL" not in cell.source
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    nb.cells = [cell]
    nbformat.write(nb, path)


CASES = {  # name: (source, stored output, should pass)
    "within": ("# NBVAL_TOLERANCE abs=0.05\nprint('gap 0.72 nats')", "gap 0.73 nats\n", True),
    "outside": ("# NBVAL_TOLERANCE abs=0.05\nprint('gap 0.62 nats')", "gap 0.73 nats\n", False),
    "word": ("# NBVAL_TOLERANCE abs=0.05\nprint('gaps 0.73 nats')", "gap 0.73 nats\n", False),
    "missing_line": ("# NBVAL_TOLERANCE abs=0.05\nprint('gap 0.73 nats')", "gap 0.73 nats\nELBO -20.5\n", False),
    "no_marker": ("print('gap 0.72 nats')", "gap 0.73 nats\n", False),
}
#: a notebook written by hand, the marker left in its source: read there too
HAND_WRITTEN = {"hand_within": CASES["within"], "hand_outside": CASES["outside"]}


def test_nbval_uses_the_marker(tmp_path):
    """Real nbval runs (one kernel per notebook) through this repository's conftest."""
    for name, (source, stored, _) in CASES.items():
        _notebook(tmp_path / f"case_{name}.ipynb", source, stored)
    for name, (source, stored, _) in HAND_WRITTEN.items():
        _notebook(tmp_path / f"case_{name}.ipynb", source, stored, built=False)
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())  # it imports tools: ROOT goes first
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-rA", "-q",
                           "-o", "addopts=", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    for name, (_, _, should_pass) in (CASES | HAND_WRITTEN).items():
        word = "PASSED" if should_pass else "FAILED"
        assert f"{word} case_{name}.ipynb" in out, f"{name}: expected {word}\n{out[-3000:]}"
    assert "outside abs=0.05" in out  # the failure says which number and why
