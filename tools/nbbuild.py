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
  drops the marker lines;
- a marker is a line that is exactly ``### BEGIN SOLUTION`` or ``### END SOLUTION`` (indentation aside);
  a near miss (``### BEGIN SOLUTION  # note``, ``#### BEGIN SOLUTION``, ``### begin solution``, any
  ``HIDDEN TESTS`` marker) is an error naming the file and line, because nbgrader would read it as a
  marker; unbalanced markers are an error naming the notebook and the cell; an empty source too;
- hint ladders (``exercises.hints(...)``) in the student edition lose every rung that reveals a
  solution line (:func:`strip_revealing_hints`); ``--self-study`` keeps the full ladders.
- test markers (``# NBVAL_IGNORE_OUTPUT``, ``# NBVAL_TOLERANCE abs=X`` ... as a code cell's first
  lines) leave the code for cell tags and metadata (``tools/nbval_markers.py``), and a cell that only
  shows a hint ladder has its code folded until asked for (:func:`fold_hints`).

Both editions get, from pyproject.toml (``[project.urls]`` Repository and the version, tag
``v<version>``): a line of launch links (Colab, Binder; both editions) above the title, and an
install cell as the first code cell (installs lvmlib where it is missing: ``LVMLIB_INSTALL_SPEC``
if set, else the repository at the release tag). Cell ids are ``nbNN-cell-MM``, unique across
notebooks. For nbgrader, ``tools/nbgrader_course.py`` builds a course from the same sources.

    python tools/nbbuild.py tools/notebook_src/01_latent_variable_models.py   # both editions, executed
    python tools/nbbuild.py --no-execute tools/notebook_src/*.py            # cells only (quick look)
    python tools/nbbuild.py --readme                                        # README's launch table
    python tools/nbbuild.py --self-study --edition student --no-execute SRC  # full hint ladders

The executed notebooks are what is stored (nbval compares their outputs).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
try:
    from tools import nbval_markers
except ModuleNotFoundError:  # run as a script (python tools/nbbuild.py): its own folder is on sys.path
    import nbval_markers
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
#: anything nbgrader could read as a marker (it looks for "BEGIN SOLUTION" etc. anywhere in a line), any case
_LOOSE_MARKER = re.compile(r"(?i)(BEGIN|END)\s*(SOLUTION|HIDDEN\s*TESTS)")


def check_markers(text: str, where: str = "<source>") -> None:
    """Raise ValueError, naming ``where`` and the line, for a source that is empty or has a near-miss marker.

    A marker is a line that is exactly ``### BEGIN SOLUTION`` or ``### END SOLUTION`` (indentation
    aside). nbgrader takes any line containing ``BEGIN SOLUTION`` (or ``END SOLUTION``, or the hidden
    tests' ``BEGIN HIDDEN TESTS``) as a marker, so a near miss such as ``### BEGIN SOLUTION  # note`` or
    ``#### BEGIN SOLUTION`` would be a marker to nbgrader but none to this builder: the answer would be
    published. Hidden-test markers are written by tools/nbgrader_course.py only, never in a source.
    """
    if not text.strip():
        raise ValueError(f"{where}: the source is empty")
    for n, line in enumerate(text.splitlines(), 1):
        m = _LOOSE_MARKER.search(line)
        if m and not _MARKER.match(line):
            raise ValueError(f"{where}:{n}: {line.strip()!r} looks like a marker but is not one: write a marker "
                             f"alone on its line, exactly {BEGIN!r} or {END!r} (no comment after it), and "
                             "never HIDDEN TESTS (tools/nbgrader_course.py writes those)")


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


# ---------------------------------------------------------------------------------------------
# Hint ladders (``exercises.hints("nudge", "a step further", "nearly the answer")`` in a code cell) may
# end at the answer. The graded build and the student edition drop every rung that reveals a line of a
# solution; the solutions edition (and the student edition built with ``--self-study``) keep them all.
# ---------------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Text with all whitespace and backticks removed: how a solution line and a hint are compared."""
    return re.sub(r"[\s`]+", "", text)


def solution_lines(text: str) -> list[str]:
    """The code lines between solution markers in a source, comments and blank lines left out."""
    out, inside = [], False
    for line in text.splitlines():
        m = _MARKER.match(line)
        if m:
            inside = m["marker"] == BEGIN
            continue
        code = re.sub(r"\s+#.*$", "", line).strip()
        if inside and code and not code.startswith("#"):
            out.append(code)
    return out


#: a probe shorter than this (normalised) reveals nothing by itself (e.g. ``x``, ``z,x``)
MIN_PROBE = 6
_RHS = re.compile(r"^(?:return\s+|[\w\[\]., ]+?\s*(?:[-+*/@]|\*\*)?=(?!=)\s*)(?P<rhs>.+)$")


def probes(line: str) -> list[str]:
    """What of a solution line a hint must not show: the line and its right-hand side (after ``=``
    or ``return``), normalised; probes shorter than ``MIN_PROBE`` characters are left out."""
    out = [normalise(line)]
    m = _RHS.match(line)
    if m:
        out.append(normalise(m["rhs"]))
    return [p for p in out if len(p) >= MIN_PROBE]


def revealed(hint: str, lines, given: str = "") -> list[str]:
    """The solution lines a hint's text reveals: its normalised text contains a probe of the line that
    is not already in ``given`` (normalised: what the student's notebook shows outside its hints,
    e.g. a prompt that names ``loss_fn(model, xb)``)."""
    text = normalise(hint)
    return [line for line in lines if any(p in text and p not in given for p in probes(line))]


def given_text(cells) -> str:
    """The normalised text of cells as a student sees them, hint-ladder cells left out (see :func:`revealed`)."""
    return normalise("\n".join(c.source for c in cells if "hints(" not in c.source))


def _hint_calls(tree):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "hints"):
            yield node


def strip_revealing_hints(source: str, lines, where: str = "<cell>", given: str = "") -> str:
    """A code cell's source with every hint rung that reveals one of ``lines`` left out of its
    ``hints(...)`` calls. Raises ValueError, naming ``where``, when a ladder would lose every rung
    (rewrite a rung in the source so that it guides without giving the line)."""
    if "hints(" not in source:
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(lineno, col):  # ast columns are UTF-8 byte offsets
        line = source[starts[lineno - 1]:starts[lineno]]
        return starts[lineno - 1] + len(line.encode()[:col].decode())

    edits = []
    for call in _hint_calls(tree):
        if not call.args or call.keywords:
            continue
        texts = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else ast.unparse(a)
                 for a in call.args]
        keep = [i for i, t in enumerate(texts) if not revealed(t, lines, given)]
        if len(keep) == len(texts):
            continue
        if not keep:
            raise ValueError(f"{where}: every rung of the hint ladder reveals a solution line "
                             f"({revealed(texts[-1], lines, given)[0]!r}): rewrite a rung so that it guides "
                             "without giving the line")
        segs = [source[offset(a.lineno, a.col_offset):offset(a.end_lineno, a.end_col_offset)] for a in call.args]
        first, last = call.args[0], call.args[-1]
        indent = " " * first.col_offset  # one rung a line, aligned under the first
        edits.append((offset(first.lineno, first.col_offset), offset(last.end_lineno, last.end_col_offset),
                      (",\n" + indent).join(segs[i] for i in keep)))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def is_solutions_only(cell) -> bool:
    """Whether a cell is for the solutions edition only: a markdown cell whose first line is ``SOLUTIONS_ONLY``."""
    lines = cell.source.lstrip().splitlines()
    return cell.cell_type == "markdown" and bool(lines) and lines[0].strip() == SOLUTIONS_ONLY


def read_cells(text: str, where: str = "<source>") -> list[nbformat.NotebookNode]:
    """The cells of a percent-format source as written (markers kept), read by jupytext.

    Each cell is new: of jupytext's metadata only the cell's ``tags`` are kept (``# %% tags=["parameters"]``
    marks papermill's parameters cell); empty code cells are dropped. The test harness's first-line
    markers (``# NBVAL_IGNORE_OUTPUT``, ``# NBVAL_TOLERANCE abs=X``) leave the code for tags and
    metadata (``tools/nbval_markers.py``), and a hint ladder's code is folded (:func:`fold_hints`).
    Raises ValueError, naming ``where`` and the line, for an empty source, a near-miss marker
    (:func:`check_markers`) or a misplaced test marker.
    """
    check_markers(text, where)
    cells = []
    for cell in jupytext.reads(text, fmt="py:percent").cells:
        meta = {"tags": list(cell.metadata["tags"])} if cell.metadata.get("tags") else {}
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
        elif cell.source.strip():
            code = nbformat.v4.new_code_cell(cell.source, metadata=meta)
            cells.append(fold_hints(nbval_markers.move_to_metadata(code, f"{where}, cell {len(cells) + 1}")))
    return cells


#: the tag MyST-NB (the site) folds a cell's code under ("Show code cell source")
HIDE_INPUT = "hide-input"


def fold_hints(cell):
    """A code cell that only shows a hint ladder (``exercises.hints(...)``) with its code folded until
    asked for: ``metadata.jupyter.source_hidden`` (JupyterLab, Notebook 7: the code shows as "...",
    one click opens it) and the ``hide-input`` tag (the site). In place; returned."""
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return cell
    if len(body) == 1 and isinstance(body[0], ast.Expr) and next(_hint_calls(body[0]), None) is body[0].value:
        cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        cell.metadata["tags"] = cell.metadata.get("tags", []) + [HIDE_INPUT]
    return cell


def cell_where(name: str | None, index: int, cell) -> str:
    """How an error names a cell: the notebook, the cell's number (from 1, as read from the source) and
    its first line."""
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    return f"{name or '<source>'}, cell {index + 1} ({first[:60]!r})"


def parse(text: str, edition: str = "solutions", name: str | None = None, *,
          self_study: bool = False) -> nbformat.NotebookNode:
    """The notebook (unexecuted) of one edition of a percent-format source.

    With ``name`` (the source's stem, ``NN_name``) the notebook also gets its launch links (a markdown
    cell above the title) and the install cell (its first code cell), and cell ids ``nbNN-cell-MM``.
    The student edition leaves out every hint rung that reveals a solution line
    (:func:`strip_revealing_hints`) unless ``self_study`` (a self-study edition: the full ladders).
    Raises ValueError naming the notebook and the cell for unbalanced markers.
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    cells = read_cells(text, name or "<source>")
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            try:
                cell.source = edition_source(cell.source, edition)
            except ValueError as e:
                raise ValueError(f"{cell_where(name, i, cell)}: {e}") from None
    if edition == "student" and not self_study:
        answers, given = solution_lines(text), given_text(c for c in cells if not is_solutions_only(c))
        for i, cell in enumerate(cells):
            if cell.cell_type == "code":
                cell.source = strip_revealing_hints(cell.source, answers, cell_where(name, i, cell), given)
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
          timeout: int = 600, self_study: bool = False) -> list[Path]:
    """Write (and execute, in a fresh kernel each) the editions of one source; returns their paths.

    ``self_study``: the student edition keeps every hint rung, even those that give a solution line."""
    text = Path(src).read_text()
    written = []
    for edition in editions:
        nb = parse(text, edition, name=Path(src).stem, self_study=self_study)
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
    ap.add_argument("--self-study", action="store_true",
                    help="a self-study student edition: keep the hint rungs that give a solution line")
    args = ap.parse_args(argv)
    if not args.sources and not args.readme:
        ap.error("give sources, or --readme")
    if args.readme:
        print("README.md", "updated" if update_readme() else "already up to date")
    for src in args.sources:
        for path in build(src, editions=tuple(args.edition or EDITIONS), execute=not args.no_execute,
                          self_study=args.self_study):
            print("built", path)


if __name__ == "__main__":
    main()
