"""Build a notebook's two editions from one plain-text source, and execute each in a fresh kernel.

Source format: cells separated by lines ``# %% [markdown]`` or ``# %%`` (the "percent"
format editors understand).  Markdown cells' lines may start with ``# `` (stripped).

Exercises use nbgrader's markers inside a code cell::

    def iwae_bound(log_w):
        ### BEGIN SOLUTION
        return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])
        ### END SOLUTION

- the **student** edition, ``notebooks/NN_name.ipynb``, replaces each marked region by
  ``raise NotImplementedError(...)`` at the marker's indentation (what nbgrader's
  ``ClearSolutions`` does), so the student fills it in;
- the **solutions** edition, ``notebooks/solutions/NN_name.ipynb``, keeps the solution and
  drops the marker lines.

Instructors who use nbgrader can take the sources as they are (the markers are nbgrader's).

    python tools/nbbuild.py tools/notebook_src/01_latent_variable_models.py   # both editions, executed
    python tools/nbbuild.py --no-execute tools/notebook_src/*.py            # cells only (quick look)

The executed notebooks are what is stored (nbval compares their outputs).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
EDITIONS = ("student", "solutions")
STUB = 'raise NotImplementedError("Exercise: replace this line with your code, then run the check below")'

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


def parse(text: str, edition: str = "solutions") -> nbformat.NotebookNode:
    """The notebook (unexecuted) of one edition of a percent-format source."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    kind, lines = None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(l[2:] if l.startswith("# ") else ("" if l == "#" else l) for l in body.splitlines())
            nb.cells.append(nbformat.v4.new_markdown_cell(body))
        elif body.strip():
            nb.cells.append(nbformat.v4.new_code_cell(edition_source(body, edition)))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


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
        nb = parse(text, edition)
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
    ap.add_argument("sources", nargs="+", type=Path)
    ap.add_argument("--edition", choices=EDITIONS, action="append", help="only this edition (repeatable)")
    ap.add_argument("--no-execute", action="store_true", help="write the cells without running them")
    args = ap.parse_args(argv)
    for src in args.sources:
        for path in build(src, editions=tuple(args.edition or EDITIONS), execute=not args.no_execute):
            print("built", path)


if __name__ == "__main__":
    main()
