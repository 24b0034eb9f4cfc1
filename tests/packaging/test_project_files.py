"""The project's own files agree with each other."""

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_installs_this_package_and_nothing_else():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = [d for d in deps if isinstance(d, dict)]
    assert any(re.fullmatch(r"python=3\.11(\.\*)?", d) for d in conda)
    assert "pip" in conda
    # conda installs only python and pip: every library comes from pyproject.toml
    assert set(conda) <= {"python=3.11", "pip"}, f"conda packages outside pyproject.toml: {conda}"
    assert len(pip) == 1
    lines = pip[0]["pip"]
    # the package with its notebook extra, and torch's CPU build (PyTorch's CPU index; no package of its own)
    assert lines == [f"--extra-index-url {TORCH_CPU_INDEX}", "-e .[notebooks]"], lines
    extras = _pyproject()["project"]["optional-dependencies"]
    assert "notebooks" in extras


def test_dependencies_are_ranges_not_pins():
    project = _pyproject()["project"]
    deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        deps += extra
    for d in deps:
        assert "==" not in d, f"{d}: ask for a range, not a pin"
    torch = [d for d in project["dependencies"] if d.startswith("torch")]
    assert torch == ["torch>=2.3"]


def test_notebook_imports_are_declared():
    """Every top-level module a notebook imports is lvmlib, the standard library, or declared."""
    import json

    declared = {"torch", "numpy", "scipy", "sklearn", "matplotlib", "ipywidgets", "tqdm", "threadpoolctl",
                "IPython", "lvmlib"}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            for line in "".join(cell["source"]).splitlines():
                m = re.match(r"\s*(?:from|import)\s+([A-Za-z_]\w*)", line)
                if m and m.group(1) not in sys.stdlib_module_names:
                    assert m.group(1) in declared, f"{nb.name} imports {m.group(1)}, not in pyproject.toml"


def test_readme_test_command_is_what_make_test_runs():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^\s*make test\s*$", ci, re.M), ".ci/run must call make test"
    m = re.search(r"^PYTEST_ARGS\s*[:?]?=\s*(.+)$", makefile, re.M)
    assert m, "Makefile defines PYTEST_ARGS"
    assert f"python -m pytest {m.group(1).strip()}" in readme, "README shows the exact pytest line"


def test_the_readme_stays_short_and_points_at_the_tables():
    """A newcomer reads the README in minutes: <= 20 000 characters, the benchmark tables elsewhere."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    assert len(readme) <= 20_000, f"README.md has {len(readme)} characters (limit 20 000): move detail to docs/"
    assert "benchmarks/README.md" in readme and (root / "benchmarks" / "README.md").exists()
    for doc in ("docs/testing.md", "docs/instructors.md"):
        assert doc in readme and (root / doc).exists()
