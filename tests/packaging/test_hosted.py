"""Hosted notebooks (Colab, Binder, a fresh venv): the install cell, the launch links, the package a release publishes."""

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools import nbbuild  # noqa: E402
from tests.packaging.hosted_env import build_dist, errors, stream_text  # noqa: E402

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
    assert len(code[0].source.splitlines()) <= 20, "short enough for a student to read"


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


class _FakePip:
    """Stands in for ``subprocess.Popen`` of pip: prints ``lines``, exits with ``code`` (-9 once killed)."""

    calls: list = []
    lines, code = ["Processing something\n", "Successfully installed something\n"], 0

    def __init__(self, args, **kwargs):
        type(self).calls.append((args, kwargs, self))
        self.stdout, self.returncode, self.killed = iter(self.lines), None, False

    def kill(self):
        self.killed, self.stdout = True, iter([])

    def wait(self):
        self.returncode = -9 if self.killed else self.code
        return self.returncode


class _Timer:
    """Stands in for ``threading.Timer``: records its interval; fires at start() if ``fire``."""

    fire, made = False, []

    def __init__(self, interval, function):
        self.interval, self.function, self.cancelled = interval, function, False
        type(self).made.append(self)

    def start(self):
        if self.fire:
            self.function()

    def cancel(self):
        self.cancelled = True


def _run_cell(monkeypatch, spec=None, *, installs_lvmlib=True, code=0, fire=False):
    """Exec the install cell where lvmlib is missing, with pip and the timer faked; lvmlib is found after pip
    if ``installs_lvmlib``. Returns pip's (args, kwargs, fake) calls and the timers made."""
    import importlib.util
    import threading

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *a):
        done = installs_lvmlib and _FakePip.calls and _FakePip.calls[-1][2].returncode == 0
        return (real_find_spec(name, *a) if done else None) if name == "lvmlib" else real_find_spec(name, *a)

    monkeypatch.setattr(_FakePip, "calls", [])
    monkeypatch.setattr(_FakePip, "code", code)
    monkeypatch.setattr(_Timer, "made", [])
    monkeypatch.setattr(_Timer, "fire", fire)
    monkeypatch.setattr(subprocess, "Popen", _FakePip)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("the cell must not use subprocess.run"))
    monkeypatch.setattr(threading, "Timer", _Timer)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    if spec is None:
        monkeypatch.delenv("LVMLIB_INSTALL_SPEC", raising=False)
    else:
        monkeypatch.setenv("LVMLIB_INSTALL_SPEC", spec)
    exec(nbbuild.install_cell_source(nbbuild.release()), {})
    return _FakePip.calls, _Timer.made


def test_install_cell_does_nothing_where_lvmlib_is_installed(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append(a))
    monkeypatch.setenv("LVMLIB_INSTALL_SPEC", "/nonexistent/lvmlib.whl")
    exec(nbbuild.install_cell_source(nbbuild.release()), {})
    assert calls == []


@pytest.mark.parametrize("spec, expected", [("/some dir/lvmlib.whl", "/some dir/lvmlib.whl"),
                                            (None, None), ("", None), ("  ", None)])
def test_install_cell_says_what_it_installs_then_shows_pip_bounded(monkeypatch, capsys, spec, expected):
    """The spec is one argument (no shell); an unset or empty LVMLIB_INSTALL_SPEC means the default; the
    line naming it comes first, then pip's own lines; pip and the whole run are bounded."""
    expected = expected or nbbuild.release().install_requirement
    calls, timers = _run_cell(monkeypatch, spec)
    (args, kwargs, _), = calls
    assert args == [sys.executable, "-m", "pip", "install", "--timeout", str(nbbuild.PIP_TIMEOUT_S),
                    "--retries", str(nbbuild.PIP_RETRIES), expected]
    assert kwargs == {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    assert capsys.readouterr().out == (f"Installing lvmlib from {expected} with pip (offline? set LVMLIB_INSTALL_SPEC "
                                       "to a wheel)\n" + "".join(_FakePip.lines))
    (timer,) = timers
    assert timer.interval == nbbuild.INSTALL_TIMEOUT_S and timer.function == calls[0][2].kill and timer.cancelled


def test_install_cell_failure_names_the_variable_and_the_way_out(monkeypatch):
    with pytest.raises(RuntimeError) as info:
        _run_cell(monkeypatch, "/wheels/lvmlib.whl", code=1)
    assert str(info.value) == ("pip failed (its output is above) installing LVMLIB_INSTALL_SPEC='/wheels/lvmlib.whl'. "
                               "Check the network, or set LVMLIB_INSTALL_SPEC to the path of an lvmlib wheel.")


def test_install_cell_stops_pip_at_the_time_limit(monkeypatch):
    with pytest.raises(RuntimeError) as info:
        _run_cell(monkeypatch, "lvmlib @ git+https://example.invalid/x", fire=True)
    assert str(info.value).startswith(f"pip took over {nbbuild.INSTALL_TIMEOUT_S} s installing LVMLIB_INSTALL_SPEC=")
    assert _FakePip.calls[0][2].killed and "path of an lvmlib wheel" in str(info.value)


def test_install_cell_checks_that_lvmlib_imports(monkeypatch):
    with pytest.raises(RuntimeError, match=r"pip ran, but lvmlib does not import: LVMLIB_INSTALL_SPEC='numpy' is not lvmlib"):
        _run_cell(monkeypatch, "numpy", installs_lvmlib=False)


def _tiny_wheel(folder: Path, name: str) -> Path:
    """A wheel of a package that is not lvmlib (made by hand: pip installs it offline)."""
    path = folder / f"{name}-1.0-py3-none-any.whl"
    files = {f"{name}/__init__.py": "", f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{name}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{name}-1.0.dist-info/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{name}-1.0.dist-info/RECORD"])
    with zipfile.ZipFile(path, "w") as zf:
        for f, text in files.items():
            zf.writestr(f, text)
    return path


@pytest.fixture(scope="module")
def pip_venv(tmp_path_factory):
    """A throwaway venv with pip and nothing else (no lvmlib), its pip configuration files ignored."""
    venv = tmp_path_factory.mktemp("pip-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    return venv / "bin" / "python"


@pytest.mark.parametrize("case", ["missing file", "not lvmlib", "unreachable index"])
def test_install_cell_with_a_real_pip_fails_fast_and_says_what_to_do(pip_venv, tmp_path, case):
    spec = {"missing file": str(tmp_path / "nowhere" / "lvmlib-0.1.0-py3-none-any.whl"),
            "not lvmlib": str(_tiny_wheel(tmp_path, "notlvmlib")), "unreachable index": "lvmlib"}[case]
    env = {"PATH": os.environ["PATH"], "LVMLIB_INSTALL_SPEC": spec, "PIP_CONFIG_FILE": os.devnull,
           "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    done = subprocess.run([str(pip_venv), "-c", nbbuild.install_cell_source(nbbuild.release())], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=nbbuild.INSTALL_TIMEOUT_S)
    out = done.stdout
    assert done.returncode != 0 and out.startswith(f"Installing lvmlib from {spec} with pip"), out
    last = out.strip().splitlines()[-1]
    if case == "not lvmlib":
        assert "Successfully installed notlvmlib-1.0" in out, "pip's own output shows"
        assert last == f"RuntimeError: pip ran, but lvmlib does not import: LVMLIB_INSTALL_SPEC={spec!r} is not lvmlib."
    else:
        assert last == (f"RuntimeError: pip failed (its output is above) installing LVMLIB_INSTALL_SPEC={spec!r}. "
                        "Check the network, or set LVMLIB_INSTALL_SPEC to the path of an lvmlib wheel."), out


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
    wheel = build_dist(tmp_path)
    dist, version = wheel.parent, PYPROJECT["project"]["version"]
    assert wheel.name == f"lvmlib-{version}-py3-none-any.whl" and (dist / f"lvmlib-{version}.tar.gz").exists()
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

    assert errors(nb) == []
    first = next(c for c in nb.cells if c.cell_type == "code")
    said = stream_text(first)
    assert said.startswith(f"Installing lvmlib from {wheel} with pip"), said
    assert "Successfully installed lvmlib-" in said, "pip's own output shows in the cell"
    assert stream_text(nb.cells[-2]) == "", "where lvmlib is installed the cell does nothing"
    assert stream_text(nb.cells[-1]).strip() == str(venv_site / "lvmlib" / "__init__.py")
