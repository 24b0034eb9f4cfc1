"""Hosted notebooks (Colab, Binder, a fresh venv): the install cell, the launch links, the package a release publishes."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbbuild  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HOSTED_NB = "01_latent_variable_models"


def _built(src, edition):
    return nbbuild.parse(src.read_text(), edition, name=src.stem)


def test_release_comes_from_pyproject():
    rel = nbbuild.release()
    urls = PYPROJECT["project"]["urls"]
    assert rel.repository == urls["Repository"] and rel.version == PYPROJECT["project"]["version"]
    assert rel.tag == f"v{rel.version}"
    owner_repo = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", urls["Repository"]).group(1)
    assert rel.colab("notebooks/x.ipynb") == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/{rel.tag}/notebooks/x.ipynb")
    assert rel.binder("notebooks/x.ipynb") == f"https://mybinder.org/v2/gh/{owner_repo}/{rel.tag}?labpath=notebooks/x.ipynb"
    assert rel.install_requirement == f"lvmlib @ git+{urls['Repository']}@{rel.tag}"


@pytest.mark.parametrize("edition", nbbuild.EDITIONS)
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_links_on_top_and_the_install_cell_first(src, edition):
    nb, rel = _built(src, edition), nbbuild.release()
    links = nb.cells[0]
    assert links.cell_type == "markdown" and nb.cells[1].source.startswith("# ")  # then the title
    for ed in nbbuild.EDITIONS:
        path = nbbuild.output_path(src, ed, Path("notebooks")).as_posix()
        assert f"({rel.colab(path)})" in links.source and f"({rel.binder(path)})" in links.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == nbbuild.install_cell_source(rel)
    assert sum(c.source == code[0].source for c in code) == 1
    assert len(code[0].source.splitlines()) <= 8, "short enough for a student to read"


def test_cell_ids_are_unique_across_notebooks():
    ids = [c.id for src in SOURCES for ed in nbbuild.EDITIONS[:1] for c in _built(src, ed).cells]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"nb(0[1-9]|10)-cell-\d\d", i) for i in ids)
    for src in SOURCES:  # the editions share ids cell for cell (the student edition lacks the solutions-only ones)
        student = [c.id for c in _built(src, "student").cells]
        solved = [c.id for c in _built(src, "solutions").cells]
        assert student == [i for i in solved if i in set(student)] and len(set(solved)) == len(solved)


def test_readme_launch_table_is_generated_from_pyproject():
    readme = (ROOT / "README.md").read_text()
    table = nbbuild.readme_links(nbbuild.release(), [s.stem for s in SOURCES])
    assert table in readme, "run: python tools/nbbuild.py --readme"


def test_install_cell_does_nothing_where_lvmlib_is_installed(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.setenv("LVMLIB_INSTALL_SPEC", "/nonexistent/lvmlib.whl")
    exec(nbbuild.install_cell_source(nbbuild.release()), {})
    assert calls == []


def test_install_cell_installs_the_spec_where_lvmlib_is_missing(monkeypatch):
    import importlib.util

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **k: calls.append(args))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setenv("LVMLIB_INSTALL_SPEC", "/some/lvmlib.whl")
    exec(nbbuild.install_cell_source(nbbuild.release()), {})
    monkeypatch.delenv("LVMLIB_INSTALL_SPEC")
    exec(nbbuild.install_cell_source(nbbuild.release()), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "/some/lvmlib.whl"],
                     [sys.executable, "-m", "pip", "install", "--quiet", nbbuild.release().install_requirement]]


def test_package_metadata_is_ready_for_pypi():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and (ROOT / "LICENSE").exists()
    assert project["license-files"] == ["LICENSE"]
    assert any(c.startswith("Programming Language :: Python :: 3") for c in project["classifiers"])
    assert not any(c.startswith("License ::") for c in project["classifiers"]), "SPDX licence, no licence classifier"
    assert {"Homepage", "Repository"} <= set(project["urls"])
    assert "build" in " ".join(project["optional-dependencies"]["test"])


def _site_view(view: Path) -> Path:
    """This environment's site-packages without lvmlib: a folder of symlinks, every entry but lvmlib's."""
    view.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("lvmlib", "__editable__")) or "lvmlib" in name or name.endswith(".pth"):
            continue
        (view / entry.name).symlink_to(entry)
    return view


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_notebook_alone_installs_lvmlib_and_runs(tmp_path, monkeypatch):
    """Build the wheel from the checkout; run notebook 01 alone in an empty folder, in a fresh venv that has
    the dependencies but not lvmlib, with LVMLIB_INSTALL_SPEC pointing at the wheel; pip never goes online."""
    # 1. sdist and wheel, from a copy of what the package is made of (the checkout stays clean)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "lvmlib", src / "lvmlib", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    out = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    version = PYPROJECT["project"]["version"]
    wheel = dist / f"lvmlib-{version}-py3-none-any.whl"
    assert wheel.exists() and (dist / f"lvmlib-{version}.tar.gz").exists(), sorted(p.name for p in dist.iterdir())
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(f"lvmlib-{version}.dist-info/METADATA").decode()
    assert "lvmlib/exercises/_core.py" in names and not any(n.startswith(("tests/", "notebooks/")) for n in names)
    assert "License-Expression: MIT" in meta and "Project-URL: Repository" in meta

    # 2. a fresh venv: no pip of its own, no lvmlib; this environment's packages (torch, numpy, scipy,
    #    scikit-learn, matplotlib, ipywidgets, tqdm, ipykernel, pip) seen through a .pth to a view without lvmlib
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    venv_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    (venv_site / "_outer_packages.pth").write_text(f"{_site_view(tmp_path / 'view')}\n")
    hidden = subprocess.run([str(py), "-c", "import importlib.util as u; print(u.find_spec('lvmlib'), u.find_spec('torch') is not None)"],
                            capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert hidden.stdout.split() == ["None", "True"], hidden.stdout + hidden.stderr

    # 3. the notebook, alone in an empty folder, in a kernel of that venv
    work = tmp_path / "work"
    work.mkdir()
    nb = nbbuild.parse((ROOT / "tools" / "notebook_src" / f"{HOSTED_NB}.py").read_text(), "student", name=HOSTED_NB)
    install = nbbuild.install_cell_source(nbbuild.release())
    nb.cells += [nbformat.v4.new_code_cell(install),                      # a second run: does nothing
                 nbformat.v4.new_code_cell("import lvmlib\nprint(lvmlib.__file__)")]
    nbformat.write(nb, work / f"{HOSTED_NB}.ipynb")
    kernels = tmp_path / "jupyter" / "kernels" / "fresh-venv"
    kernels.mkdir(parents=True)
    env = {"LVMLIB_INSTALL_SPEC": str(wheel), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "PYTHONNOUSERSITE": "1"}
    (kernels / "kernel.json").write_text(json.dumps(
        {"argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "fresh venv", "language": "python", "env": env}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    from nbclient import NotebookClient

    nb = nbformat.read(work / f"{HOSTED_NB}.ipynb", as_version=4)
    NotebookClient(nb, kernel_name="fresh-venv", timeout=600, resources={"metadata": {"path": str(work)}}).execute()

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    errors = [(c.id, o.get("ename"), o.get("evalue")) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors == []
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert text(first).strip() == f"installed lvmlib from {wheel}"
    assert text(nb.cells[-2]) == "", "where lvmlib is installed the cell does nothing"
    assert text(nb.cells[-1]).strip() == str(venv_site / "lvmlib" / "__init__.py")
