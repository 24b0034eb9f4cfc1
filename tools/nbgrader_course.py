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
  worth ``POINTS_CHECK`` points, ``exN_M_check``. Its visible part is the check as the student runs it
  (it shows the check's report and never raises, so a student's Run All goes on to the apps below);
  its hidden part, which nbgrader removes from the release and restores at autograde, re-grades the
  exercise in a fresh Python process from the submitted notebook (lvmlib's ``exercises.autograde``:
  prints ``lvmlib-outcome: <grade_id> <outcome>`` and a short diagnosis, raises AssertionError unless
  it passed)::

      exercises.check_log_weights(log_weights, log_p_hat)
      ### BEGIN HIDDEN TESTS
      import lvmlib.exercises.grading
      lvmlib.exercises.grading.autograde("ex5_1", "05_importance_sampling.ipynb")
      ### END HIDDEN TESTS

  With ``--grading kernel`` (for comparison, e.g. in benchmarks) the hidden part asserts the report
  of the check the visible part ran in the student's kernel instead (which a student's cells can forge);

- a written exercise (a prediction or a derivation: a markdown cell with an "Exercise N.M" heading and a
  folded ``<details><summary>Answer</summary>`` block): the block is taken out of the prompt and becomes
  the next cell, a **manually graded answer** worth ``POINTS_WRITTEN`` points (nbgrader releases it as
  "YOUR ANSWER HERE" and shows the reference answer to the grader);
- an app cell (``nbNN.something_app(...)``) is followed by a short note (``APP_NOTE``): on nbgrader's
  feedback page an app is an empty box;
- a hint ladder (``exercises.hints(...)``) loses every rung that reveals a solution line
  (``nbbuild.strip_revealing_hints``), as in the student edition;
- everything else is copied as it is, after the install cell (the editions' first code cell).

The course is written so that no work is lost: the notebooks are all built in memory first (a bad
source stops the build before anything is written), then written into a staging folder and moved into
place one assignment at a time. Only the assignments named are replaced; any other folder in
``source/`` is left alone. ``out/.lvmlib-course.json`` stores the SHA-256 of every file the builder
wrote; a file whose hash no longer matches (an instructor edited it), or an assignment folder the
builder did not make, is not overwritten unless ``--force``: the build stops, naming them, and changes
nothing.

    python tools/nbgrader_course.py                                 # all ten, into build/nbgrader/
    python tools/nbgrader_course.py --out /tmp/course 05_importance_sampling
    python tools/nbgrader_course.py --force 05                      # overwrite an edited 05 too

The solved editions (``notebooks/solutions/``) must never go into ``source/``: they hold no markers, so
nbgrader would release them whole.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

try:
    from tools import nbbuild
except ModuleNotFoundError:  # run as a script (python tools/nbgrader_course.py): its own folder is on sys.path
    import nbbuild

SOURCES = nbbuild.ROOT / "tools" / "notebook_src"
OUT = nbbuild.ROOT / "build" / "nbgrader"
COURSE_ID = "lvm-course"
POINTS_CHECK = 2
POINTS_WRITTEN = 1

_EXERCISE = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\b", re.M)
_ANSWER = re.compile(r"\n*^<details><summary>Answer</summary>[ \t]*\n(?P<body>.*?)\n</details>[ \t]*$\n?", re.S | re.M)
_CHECK = re.compile(r"^(?:\w+\.)*check_\w+\(.*\)\s*$")
_APP = re.compile(r"^(?:\w+\.)*\w+_app\(", re.M)
#: after every app cell: nbgrader's feedback page has no kernel, and an app there is an empty box
APP_NOTE = ("*The app above needs a running notebook: on a feedback page it shows as an empty box. Open the "
            "notebook in Jupyter and run it to move the sliders.*")
GRADINGS = ("fresh", "kernel")
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MANIFEST = ".lvmlib-course.json"

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


def test_cell_source(check_cell: str, grade_id: str, notebook: str, grading: str = "fresh") -> str:
    """A check cell as an autograder test: the visible check, then the hidden grading lines.

    ``grade_id`` is the exercise's (``ex5_1``), ``notebook`` the submitted notebook's file name.
    ``grading="fresh"``: the hidden part calls ``lvmlib.exercises.grading.autograde(grade_id, notebook)`` (a re-check in
    a fresh process); ``"kernel"``: it asserts the visible check's report (the student's kernel)."""
    if grading not in GRADINGS:
        raise ValueError(f"grading must be one of {GRADINGS}, got {grading!r}")
    lines = check_cell.rstrip().splitlines()
    if not lines or not _CHECK.match(lines[-1]):
        raise ValueError(f"a check cell must end with its `check_...(...)` call, got:\n{check_cell}")
    call = lines[-1].strip()
    if grading == "fresh":
        # `import` rebinds the name lvmlib to the real package, whatever an answer cell bound to `exercises`
        # or `lvmlib` (rebinding `exercises` once turned `exercises.autograde(...)` into a student's no-op)
        hidden = ["import lvmlib.exercises.grading",
                  f"lvmlib.exercises.grading.autograde({grade_id!r}, {notebook!r})".replace("'", '"')]
        return "\n".join(lines + [BEGIN_HIDDEN] + hidden + [END_HIDDEN])
    return "\n".join(lines[:-1] + [f"_report = {call}", "_report", BEGIN_HIDDEN, "_report.require()", END_HIDDEN])


def assignment(text: str, name: str, grading: str = "fresh") -> nbformat.NotebookNode:
    """The nbgrader source notebook of one percent-format source (solutions inside their markers).

    Raises ValueError naming the notebook (and the line, or the cell) for a source that cannot be
    graded: near-miss or unbalanced markers, an exercise without its check cell, an empty source."""
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

    for i, cell in enumerate(nbbuild.read_cells(text, name)):
        where = nbbuild.cell_where(name, i, cell)
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
                raise ValueError(f"{where}: a markdown cell quotes a solution marker or has an unparsed answer block")
        elif nbbuild.BEGIN in cell.source:
            try:
                nbbuild.edition_source(cell.source, "student")  # the markers are balanced
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            gid = grade_id()
            cell.metadata.update(_meta(gid, solution=True, grade=False))
            expect_check = gid
        elif expect_check and _CHECK.search(cell.source.rstrip().splitlines()[-1]):
            cell.source = test_cell_source(cell.source, expect_check, f"{name}.ipynb", grading)
            cell.metadata.update(_meta(grade_id("_check"), solution=False, grade=True, points=POINTS_CHECK))
            expect_check = None
        elif expect_check:
            raise ValueError(f"{where}: the cell after exercise {expect_check} is not its check cell")
        elif nbbuild.END in cell.source:
            raise ValueError(f"{where}: line {_line_of(cell.source, nbbuild.END)}: {nbbuild.END} without a "
                             f"{nbbuild.BEGIN} before it")
        cells.append(cell)
        if cell.cell_type == "code" and _APP.search(cell.source):
            cells.append(nbformat.v4.new_markdown_cell(APP_NOTE))
    if expect_check:
        raise ValueError(f"{name}: {expect_check} has no check cell after it")
    # the hint ladders stop before the answer: what a student sees outside the hints is "given"
    seen = [c for c in cells if "nbgrader" not in c.metadata or not c.metadata["nbgrader"]["solution"]]
    seen += [nbformat.v4.new_code_cell(nbbuild.edition_source(c.source, "student")) for c in cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    answers, given = nbbuild.solution_lines(text), nbbuild.given_text(seen)
    for i, cell in enumerate(cells):
        if cell.cell_type == "code":
            cell.source = nbbuild.strip_revealing_hints(cell.source, answers, nbbuild.cell_where(name, i, cell), given)
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, nbformat.v4.new_code_cell(nbbuild.install_cell_source(nbbuild.release())))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"nb{name[:2]}-cell-{i:02d}"
    return nb


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(out: Path) -> dict:
    """``{relative path: sha256}`` of every file the builder wrote into ``out`` (empty if none)."""
    path = out / MANIFEST
    return json.loads(path.read_text())["files"] if path.exists() else {}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def select_sources(names=None) -> list[Path]:
    """The sources named (``NN`` or ``NN_name``), default all; SystemExit on an unknown name."""
    srcs = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if names:
        unknown = [n for n in names if not any(s.stem == n or s.stem[:2] == n for s in srcs)]
        if unknown:
            raise SystemExit(f"unknown notebook(s) {unknown}; the sources are {[s.stem for s in srcs]}")
        srcs = [s for s in srcs if s.stem in names or s.stem[:2] in names]
    return srcs


class CourseConflict(RuntimeError):
    """A file the build would overwrite that it did not write, or that was changed since (see ``--force``)."""


def write_course(out: Path = OUT, names=None, *, force: bool = False, grading: str = "fresh",
                 sources=None) -> list[Path]:
    """Write ``out/nbgrader_config.py`` and ``out/source/NN_name/NN_name.ipynb`` for the named
    notebooks (default all); returns the notebooks written.

    Every notebook is built in memory first: a source that cannot be built raises ValueError and
    leaves ``out`` as it was. No other assignment in ``source/`` is touched, nor any other file in a
    rebuilt assignment's folder. A target the manifest (``out/.lvmlib-course.json``) does not list as
    written by this builder, or whose hash changed since, raises :class:`CourseConflict` (naming them,
    before anything is written) unless ``force``. ``sources`` (paths) replaces the selection by name.
    """
    out = Path(out)
    srcs = [Path(s) for s in sources] if sources is not None else select_sources(names)
    built = {Path("nbgrader_config.py"): CONFIG.encode()}
    for src in srcs:
        nb = assignment(src.read_text(), src.stem, grading)
        built[Path("source") / src.stem / f"{src.stem}.ipynb"] = (nbformat.writes(nb) + "\n").encode()
    known = _manifest(out)
    conflicts = []
    for rel, data in built.items():
        target = out / rel
        if not target.exists() or force:
            continue
        current = _sha(target.read_bytes())
        if current == _sha(data):
            continue
        if rel.as_posix() not in known:
            conflicts.append(f"{target}: not written by this builder")
        elif known[rel.as_posix()] != current:
            conflicts.append(f"{target}: changed since this builder wrote it")
    for src in srcs:  # an assignment folder an instructor made by hand, with no notebook of ours in it yet
        folder = out / "source" / src.stem
        ours = [k for k in known if k.startswith(f"source/{src.stem}/")]
        if folder.is_dir() and not ours and any(folder.iterdir()) and not force:
            conflicts.append(f"{folder}: an assignment folder not made by this builder")
    if conflicts:
        raise CourseConflict("nothing was written; these would be overwritten:\n  " + "\n  ".join(sorted(set(conflicts)))
                             + "\nmove them away, or run again with --force to overwrite them")
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".staging-"))
    try:
        for rel, data in built.items():  # staged first, on the same file system: each move is atomic
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_bytes(data)
        for rel in built:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, out / rel)
            known[rel.as_posix()] = _sha(built[rel])
        _write_atomic(out / MANIFEST, (json.dumps({"files": dict(sorted(known.items()))}, indent=1) + "\n").encode())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / rel for rel in built if rel.suffix == ".ipynb"]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="notebooks (NN or NN_name); default: all")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--force", action="store_true",
                    help="overwrite files this builder did not write or that were changed since")
    ap.add_argument("--grading", choices=GRADINGS, default="fresh",
                    help="fresh: the hidden tests re-grade in a fresh process (default); kernel: they assert "
                         "the check run in the student's kernel (for comparison only)")
    args = ap.parse_args(argv)
    try:
        written = write_course(args.out, args.names, force=args.force, grading=args.grading)
    except (ValueError, CourseConflict) as e:
        raise SystemExit(f"error: {e}") from None
    for path in written:
        print("wrote", path)
    print(f"next: cd {args.out} && nbgrader generate_assignment <NN_name>   (see docs/instructors.md)")


if __name__ == "__main__":
    main()
