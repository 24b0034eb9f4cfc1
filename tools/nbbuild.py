"""Build a notebook's two editions from one plain-text source, and execute each in a fresh kernel.

Source format: jupytext's "percent" format (cells start with ``# %%`` or ``# %% [markdown]``);
jupytext reads it. What is ours is below: the editions, solution stripping, the launch links and
install cell, stable cell ids, the kernelspec, executing.

Exercises use nbgrader's markers inside a code cell::

    def iwae_bound(log_w):
        ### BEGIN SOLUTION
        return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
        ### END SOLUTION

- the **student** edition, ``notebooks/NN_name.ipynb``, replaces each marked region by
  ``raise NotImplementedError(...)`` at the marker's indentation (what nbgrader's
  ``ClearSolutions`` does), so the student fills it in;
- a markdown cell whose first line is ``<!-- solutions only -->`` (a derivation's answer) is left out
  of the student edition;
- the **solutions** edition, ``notebooks/solutions/NN_name.ipynb``, keeps the solution and
  drops the marker lines.

Both editions get, from pyproject.toml (``[project.urls]`` Repository and the version, tag
``v<version>``): a line of launch links (Colab, Binder; both editions) above the title, and an
install cell as the first code cell (installs lvmlib where it is missing: ``LVMLIB_INSTALL_SPEC``
if set, else the repository at the release tag). Cell ids are ``nbNN-cell-MM``, unique across
notebooks. For nbgrader, ``tools/nbgrader_course.py`` builds a course from the same sources.

    python tools/nbbuild.py tools/notebook_src/01_latent_variable_models.py   # both editions, executed
    python tools/nbbuild.py --no-execute tools/notebook_src/*.py            # cells only (quick look)
    python tools/nbbuild.py --readme                                        # README's launch table

The executed notebooks are what is stored (nbval compares their outputs).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "lvmlib"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
EDITIONS = ("student", "solutions")
STUB = 'raise NotImplementedError("Exercise: replace this line with your code, then run the check below")'
#: a markdown cell whose first line is this appears in the solutions edition only (a derivation's answer)
SOLUTIONS_ONLY = "<!-- solutions only -->"

_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>### (?:BEGIN|END) SOLUTION)\s*$")


def edition_source(body: str, edition: str) -> str:
    """One code cell's source in the given edition (``"student"`` or ``"solutions"``).

    Raises ValueError on unbalanced or nested markers, naming the line.
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    out, inside, indent = [], False, ""
    for n, line in enumerate(body.splitlines(), 1):
        m = _MARKER.match(line)
        if m and m["marker"] == BEGIN:
            if inside:
                raise ValueError(f"line {n}: {BEGIN} inside another solution region")
            inside, indent = True, m["indent"]
            if edition == "student":
                out.append(f"{indent}# YOUR CODE HERE")
                out.append(f"{indent}{STUB}")
            continue
        if m and m["marker"] == END:
            if not inside:
                raise ValueError(f"line {n}: {END} without a {BEGIN} before it")
            inside = False
            continue
        if not inside or edition == "solutions":
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without an {END}")
    return "\n".join(out)


def is_solutions_only(cell) -> bool:
    """Whether a cell is for the solutions edition only: a markdown cell whose first line is ``SOLUTIONS_ONLY``."""
    lines = cell.source.lstrip().splitlines()
    return cell.cell_type == "markdown" and bool(lines) and lines[0].strip() == SOLUTIONS_ONLY


def read_cells(text: str) -> list[nbformat.NotebookNode]:
    """The cells of a percent-format source as written (markers kept), read by jupytext.

    Each cell is new: of jupytext's metadata only the cell's ``tags`` are kept (``# %% tags=["parameters"]``
    marks papermill's parameters cell); empty code cells are dropped.
    """
    cells = []
    for cell in jupytext.reads(text, fmt="py:percent").cells:
        meta = {"tags": list(cell.metadata["tags"])} if cell.metadata.get("tags") else {}
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
        elif cell.source.strip():
            cells.append(nbformat.v4.new_code_cell(cell.source, metadata=meta))
    return cells


def parse(text: str, edition: str = "solutions", name: str | None = None) -> nbformat.NotebookNode:
    """The notebook (unexecuted) of one edition of a percent-format source.

    With ``name`` (the source's stem, ``NN_name``) the notebook also gets its launch links (a markdown
    cell above the title) and the install cell (its first code cell), and cell ids ``nbNN-cell-MM``.
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    cells = read_cells(text)
    for cell in cells:
        if cell.cell_type == "code":
            cell.source = edition_source(cell.source, edition)
    if name is not None:
        rel = release()
        first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
        cells.insert(first_code, nbformat.v4.new_code_cell(install_cell_source(rel)))
        cells.insert(0, nbformat.v4.new_markdown_cell(links_markdown(name, edition, rel)))
    prefix = f"nb{name[:2]}-" if name else ""
    for i, cell in enumerate(cells):  # numbered before the solutions-only cells go: both editions share ids
        cell["id"] = f"{prefix}cell-{i:02d}"
    if edition == "student":
        cells = [c for c in cells if not is_solutions_only(c)]
    nb.cells = cells
    return nb


# ---------------------------------------------------------------------------------------------
# Where the course is published: one place, pyproject.toml's [project.urls] "Repository" and the
# version (the release tag is v<version>).  The launch links, the install cell's fallback and the
# README's launch table are generated from it.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    repository: str  # https://github.com/OWNER/REPO
    version: str

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def slug(self) -> str:  # OWNER/REPO
        m = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)/?", self.repository)
        if not m:
            raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/REPO, got {self.repository!r}")
        return m.group(1)

    @property
    def install_requirement(self) -> str:
        """What the install cell installs by default: the package from the repository at the release tag."""
        return f"{PACKAGE} @ git+{self.repository}@{self.tag}"

    def colab(self, path: str) -> str:
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.tag}/{path}"

    def binder(self, path: str) -> str:
        return f"https://mybinder.org/v2/gh/{self.slug}/{self.tag}?labpath={path}"


def release(pyproject: Path = ROOT / "pyproject.toml") -> Release:
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    return Release(project["urls"]["Repository"], project["version"])


#: the install cell's bounds: pip's per-connection timeout and retries (a dead network fails in about
#: a minute), and the whole install's limit in seconds (a download that stalls, a git that hangs)
PIP_TIMEOUT_S, PIP_RETRIES, INSTALL_TIMEOUT_S = 20, 2, 600


def install_cell_source(rel: Release) -> str:
    """The first code cell of every notebook: installs lvmlib where it is missing, else does nothing.

    Plain Python (it runs before lvmlib exists), no shell: pip gets the spec as one argument.
    ``LVMLIB_INSTALL_SPEC`` (a wheel path or a pip requirement; empty means the default, the
    repository at the release tag) says what to install. It says what it installs before pip starts and
    prints pip's output line by line as it comes (a subprocess's own output would not reach the notebook
    under every kernel: ipykernel 7 leaves it on the server's terminal). It is bounded (``PIP_TIMEOUT_S``,
    ``PIP_RETRIES``; a timer kills pip after ``INSTALL_TIMEOUT_S``) and checks that lvmlib imports
    afterwards; each failure raises a ``RuntimeError`` that names the spec and says what to do.
    """
    return (
        "# Installs lvmlib where it is missing (Colab, Binder, a fresh Jupyter: about a minute); elsewhere it does nothing.\n"
        "import importlib.util, os, subprocess, sys, threading\n"
        "\n"
        f'if importlib.util.find_spec("{PACKAGE}") is None:\n'
        f'    spec = os.environ.get("LVMLIB_INSTALL_SPEC", "").strip() or "{rel.install_requirement}"\n'
        f'    print(f"Installing {PACKAGE} from {{spec}} with pip (offline? set LVMLIB_INSTALL_SPEC to a wheel)", flush=True)\n'
        f'    pip = subprocess.Popen([sys.executable, "-m", "pip", "install", "--timeout", "{PIP_TIMEOUT_S}", '
        f'"--retries", "{PIP_RETRIES}", spec],\n'
        "                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
        f"    timer = threading.Timer({INSTALL_TIMEOUT_S}, pip.kill)  # the whole install's limit\n"
        "    timer.start()\n"
        "    for line in pip.stdout:  # pip's own output, as it comes\n"
        '        print(line, end="", flush=True)\n'
        "    timer.cancel()\n"
        "    if pip.wait() != 0:  # -9: the timer killed it\n"
        f'        why = "took over {INSTALL_TIMEOUT_S} s" if pip.returncode == -9 else "failed (its output is above)"\n'
        f'        raise RuntimeError(f"pip {{why}} installing LVMLIB_INSTALL_SPEC={{spec!r}}. Check the network, or '
        f'set LVMLIB_INSTALL_SPEC to the path of an {PACKAGE} wheel.")\n'
        "    importlib.invalidate_caches()\n"
        f'    if importlib.util.find_spec("{PACKAGE}") is None:\n'
        f'        raise RuntimeError(f"pip ran, but {PACKAGE} does not import: LVMLIB_INSTALL_SPEC={{spec!r}} is not {PACKAGE}.")'
    )


def notebook_path(name: str, edition: str) -> str:
    """The notebook's path in the repository, e.g. ``notebooks/solutions/05_importance_sampling.ipynb``."""
    return output_path(Path(name), edition, Path("notebooks")).as_posix()


def links_markdown(name: str, edition: str, rel: Release) -> str:
    """The launch line above a notebook's title: this edition and the other one, on Colab and Binder."""
    other = "solutions" if edition == "student" else "student"
    this_path, other_path = notebook_path(name, edition), notebook_path(name, other)
    label = {"student": "exercises", "solutions": "solved"}
    return (f"**Open online:** [Colab]({rel.colab(this_path)}) · [Binder]({rel.binder(this_path)}) "
            f"({label[edition]}) — {label[other]} edition: "
            f"[Colab]({rel.colab(other_path)}) · [Binder]({rel.binder(other_path)})")


README_BEGIN = "<!-- launch links: generated by `python tools/nbbuild.py --readme`; do not edit -->"
README_END = "<!-- end of launch links -->"


def readme_links(rel: Release, names) -> str:
    """The README's launch lines (between README_BEGIN and README_END): one Binder link for the
    course (Binder starts the whole repository), and Colab per notebook and edition."""
    rows = [README_BEGIN, "",
            f"Release `{rel.tag}` of `{rel.repository}`. [Binder]({rel.binder('notebooks/')}) (the whole course, "
            "JupyterLab); Colab, one notebook at a time:", ""]
    for name in names:
        cols = [f"[{label}]({rel.colab(notebook_path(name, edition))})"
                for edition, label in zip(EDITIONS, ("exercises", "solved"))]
        rows.append(f"- `{name}`: {cols[0]} · {cols[1]}")
    return "\n".join(rows + ["", README_END])


def update_readme(readme: Path = ROOT / "README.md") -> bool:
    """Rewrite the README's launch table from pyproject.toml; returns whether it changed."""
    text = Path(readme).read_text()
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    names = [p.stem for p in sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))]
    new = text[:start] + readme_links(release(), names) + text[end:]
    if new != text:
        Path(readme).write_text(new)
    return new != text


def output_path(src: Path, edition: str, root: Path = Path("notebooks")) -> Path:
    """Where an edition is stored: ``notebooks/NN.ipynb`` or ``notebooks/solutions/NN.ipynb``."""
    folder = root if edition == "student" else root / "solutions"
    return folder / (Path(src).stem + ".ipynb")


def build(src: Path, *, editions=EDITIONS, execute: bool = True, root: Path = Path("notebooks"),
          timeout: int = 600) -> list[Path]:
    """Write (and execute, in a fresh kernel each) the editions of one source; returns their paths."""
    text = Path(src).read_text()
    written = []
    for edition in editions:
        nb = parse(text, edition, name=Path(src).stem)
        out = output_path(src, edition, root)
        out.parent.mkdir(parents=True, exist_ok=True)
        if execute:
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(out.parent)}}).execute()
        nbformat.write(nb, out)
        written.append(out)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="*", type=Path)
    ap.add_argument("--edition", choices=EDITIONS, action="append", help="only this edition (repeatable)")
    ap.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    ap.add_argument("--readme", action="store_true", help="rewrite the README's launch table from pyproject.toml")
    args = ap.parse_args(argv)
    if not args.sources and not args.readme:
        ap.error("give sources, or --readme")
    if args.readme:
        print("README.md", "updated" if update_readme() else "already up to date")
    for src in args.sources:
        for path in build(src, editions=tuple(args.edition or EDITIONS), execute=not args.no_execute):
            print("built", path)


if __name__ == "__main__":
    main()
