"""Build a notebook from a plain-text source of cells, and execute it in a fresh kernel.

Source format: cells separated by lines ``# %% [markdown]`` or ``# %%`` (the "percent"
format editors understand).  Markdown cells' lines may start with ``# `` (stripped).

    python tools/nbbuild.py tools/notebook_src/01_latent_variable_models.py  # writes + executes notebooks/01_...ipynb

The executed notebook is what is stored (nbval compares its outputs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def parse(text: str) -> nbformat.NotebookNode:
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
            nb.cells.append(nbformat.v4.new_code_cell(body))

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


def build(src: Path, out: Path | None = None, *, timeout: int = 600) -> Path:
    nb = parse(Path(src).read_text())
    out = out or Path("notebooks") / (Path(src).stem + ".ipynb")
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out.parent)}}).execute()
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print("built", build(Path(arg)))
