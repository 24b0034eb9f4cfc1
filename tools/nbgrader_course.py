"""Write a ready nbgrader course, ``build/nbgrader/``, from the notebook sources (``make nbgrader``).

One assignment per notebook, from the same ``tools/notebook_src/NN_name.py`` the two editions come from::

    build/nbgrader/
        nbgrader_config.py
        source/NN_name/NN_name.ipynb      # nbgrader's "source" version: solutions inside the markers

What each cell becomes (nbgrader cell metadata, schema 3):

- a code exercise (a code cell with ``### BEGIN SOLUTION`` / ``### END SOLUTION``): an **autograded
  answer** (``solution``), grade id ``exN_M`` from the "Exercise N.M" heading above it; nbgrader's
  ``generate_assignment`` replaces the marked region by its stub;
- the check cell after it (its last line ``exercises.check_...(...)``): a locked **autograder test**
  worth ``POINTS_CHECK`` points, ``exN_M_check``, that keeps the check's diagnosis and fails on a wrong
  answer (a check returns a Report and never raises; nbgrader only withholds points from a cell that errors)::

      report = exercises.check_log_p_hat(log_p_hat)
      assert report.passed, report.message
      report

- a written exercise (a prediction or a derivation: a markdown cell with an "Exercise N.M" heading and a
  folded ``<details><summary>Answer</summary>`` block): the block is taken out of the prompt and becomes
  the next cell, a **manually graded answer** worth ``POINTS_WRITTEN`` points (nbgrader releases it as
  "YOUR ANSWER HERE" and shows the reference answer to the grader);
- everything else is copied as it is, after the install cell (the editions' first code cell).

    python tools/nbgrader_course.py                                 # all ten, into build/nbgrader/
    python tools/nbgrader_course.py --out /tmp/course 05_importance_sampling

The solved editions (``notebooks/solutions/``) must never go into ``source/``: they hold no markers, so
nbgrader would release them whole.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbbuild  # noqa: E402

SOURCES = nbbuild.ROOT / "tools" / "notebook_src"
OUT = nbbuild.ROOT / "build" / "nbgrader"
COURSE_ID = "lvm-course"
POINTS_CHECK = 2
POINTS_WRITTEN = 1

_EXERCISE = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\b", re.M)
_ANSWER = re.compile(r"\n*^<details><summary>Answer</summary>[ \t]*\n(?P<body>.*?)\n</details>[ \t]*$\n?", re.S | re.M)
_CHECK = re.compile(r"^(?:\w+\.)*check_\w+\(.*\)\s*$")

CONFIG = f'''"""nbgrader configuration of the course, written by tools/nbgrader_course.py (make nbgrader)."""

c = get_config()  # noqa: F821 - nbgrader provides it
c.CourseDirectory.course_id = "{COURSE_ID}"
# A notebook runs in about half a minute on a laptop CPU; the training cells take longest.
c.Execute.timeout = 600
c.ExecutePreprocessor.timeout = 600
'''


def _meta(grade_id: str, *, solution: bool, grade: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": grade and not solution, "schema_version": 3,
            "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def test_cell_source(check_cell: str) -> str:
    """A check cell as an autograder test: the same lines, the check's Report asserted to have passed."""
    lines = check_cell.rstrip().splitlines()
    if not lines or not _CHECK.match(lines[-1]):
        raise ValueError(f"a check cell must end with its `check_...(...)` call, got:\n{check_cell}")
    call = lines[-1].strip()
    return "\n".join(lines[:-1] + [f"report = {call}", "assert report.passed, report.message", "report"])


def assignment(text: str, name: str) -> nbformat.NotebookNode:
    """The nbgrader source notebook of one percent-format source (solutions inside their markers)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(nbbuild.KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    cells, exercise, used, expect_check = [], None, set(), None

    def grade_id(suffix: str = "") -> str:
        if exercise is None:
            raise ValueError(f"{name}: an exercise cell with no 'Exercise N.M' heading above it")
        gid = exercise + suffix
        if gid in used:
            raise ValueError(f"{name}: two cells would both be graded as {gid}")
        used.add(gid)
        return gid

    for cell in nbbuild.read_cells(text):
        if cell.cell_type == "markdown":
            heading = _EXERCISE.search(cell.source)
            if heading:
                if expect_check:
                    raise ValueError(f"{name}: {expect_check} has no check cell after it")
                exercise = f"ex{heading[1]}_{heading[2]}"
            answer = _ANSWER.search(cell.source)
            if answer:
                gid = grade_id()
                cell.source = (cell.source[:answer.start()] + "\n\n" + cell.source[answer.end():]).strip("\n")
                cells.append(cell)
                cells.append(nbformat.v4.new_markdown_cell(answer["body"].strip("\n"),
                                                           metadata=_meta(gid, solution=True, grade=True,
                                                                          points=POINTS_WRITTEN)))
                continue
            if nbbuild.BEGIN in cell.source or "<summary>Answer" in cell.source:
                raise ValueError(f"{name}: a markdown cell quotes a solution marker or has an unparsed answer block")
        elif nbbuild.BEGIN in cell.source:
            nbbuild.edition_source(cell.source, "student")  # the markers are balanced
            gid = grade_id()
            cell.metadata.update(_meta(gid, solution=True, grade=False))
            expect_check = gid
        elif expect_check and _CHECK.search(cell.source.rstrip().splitlines()[-1]):
            cell.source = test_cell_source(cell.source)
            cell.metadata.update(_meta(grade_id("_check"), solution=False, grade=True, points=POINTS_CHECK))
            expect_check = None
        elif expect_check:
            raise ValueError(f"{name}: the cell after exercise {expect_check} is not its check cell")
        cells.append(cell)
    if expect_check:
        raise ValueError(f"{name}: {expect_check} has no check cell after it")
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, nbformat.v4.new_code_cell(nbbuild.install_cell_source(nbbuild.release())))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"nb{name[:2]}-cell-{i:02d}"
    return nb


def write_course(out: Path = OUT, names=None) -> list[Path]:
    """Write ``out/nbgrader_config.py`` and ``out/source/NN_name/NN_name.ipynb``; returns the notebooks.

    ``source/`` is rewritten from scratch (nbgrader's other folders, e.g. ``release/``, are left alone).
    """
    out = Path(out)
    srcs = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if names:
        srcs = [s for s in srcs if s.stem in names or s.stem[:2] in names]
        if len(srcs) != len(names):
            raise SystemExit(f"unknown notebook among {names}")
    shutil.rmtree(out / "source", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG)
    written = []
    for src in srcs:
        path = out / "source" / src.stem / f"{src.stem}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(assignment(src.read_text(), src.stem), path)
        written.append(path)
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="notebooks (NN or NN_name); default: all")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    for path in write_course(args.out, args.names):
        print("wrote", path)
    print(f"next: cd {args.out} && nbgrader generate_assignment <NN_name>   (see the README's instructor section)")


if __name__ == "__main__":
    main()
