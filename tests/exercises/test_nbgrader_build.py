"""The course builder's promises (tools/nbbuild.py markers and hints, tools/nbgrader_course.py): no
solution text where a student can read it, near-miss markers are errors, and a build never loses work."""

import hashlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools import nbbuild  # noqa: E402
from tools import nbgrader_course  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))
TINY = '''# %% [markdown]
# # A tiny notebook
# ### Exercise 1.1: double it

# %%
def double(x):
    ### BEGIN SOLUTION
    return 2 * x + x - x
    ### END SOLUTION

# %%
exercises.check_double(double)

# %%
exercises.hints("Multiply.", "`return 2 * x + x - x`")
'''


def _released_text(src: Path) -> str:
    """What a student of the graded build can read, as nbgrader releases it: solution regions stubbed
    (its ClearSolutions), written answers and hidden tests gone."""
    nb = nbgrader_course.assignment(src.read_text(), src.stem)
    texts = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "markdown":
            continue
        source = nbbuild.edition_source(cell.source, "student") if meta.get("solution") else cell.source
        texts.append(re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", source, flags=re.S))
    return "\n".join(texts)


def _student_text(src: Path) -> str:
    return "\n".join(c.source for c in nbbuild.parse(src.read_text(), "student", src.stem).cells)


def leaked(src: Path, text: str) -> list[str]:
    """The solution lines of a source whose normalised text is in ``text`` (normalised), except lines
    no longer than ``nbbuild.MIN_PROBE`` characters (``return z``: no answer by itself)."""
    norm = nbbuild.normalise(text)
    return [line for line in nbbuild.solution_lines(src.read_text())
            if len(nbbuild.normalise(line)) > nbbuild.MIN_PROBE and nbbuild.normalise(line) in norm]


#: solution lines the notebook itself shows in a worked example before the exercise (not an answer given away)
SHOWN_BY_THE_NOTEBOOK = {"01_latent_variable_models": ["px_given_z = decoder(z)"]}


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_no_solution_line_in_a_student_edition_or_release(src):
    shown = SHOWN_BY_THE_NOTEBOOK.get(src.stem, [])
    outside = "\n".join(nbbuild.edition_source(c.source, "student") for c in nbbuild.read_cells(src.read_text())
                        if c.cell_type == "code" and "hints(" not in c.source)
    assert all(nbbuild.normalise(line) in nbbuild.normalise(outside) for line in shown), "a stale exemption"
    for name, text in (("student edition", _student_text(src)), ("graded release", _released_text(src))):
        shows = [line for line in leaked(src, text) if line not in shown]
        assert not shows, f"the {name} shows solution lines (hints included): {shows}"


def test_the_self_study_edition_keeps_the_full_ladder():
    src = ROOT / "tools" / "notebook_src" / "05_importance_sampling.py"
    answer = "torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])"
    student = _student_text(src)
    self_study = "\n".join(c.source for c in nbbuild.parse(src.read_text(), "student", src.stem, self_study=True).cells)
    assert answer not in student and answer in self_study
    assert student.count("exercises.hints(") == self_study.count("exercises.hints(")  # no ladder is lost


def test_a_revealing_rung_is_dropped_and_a_ladder_of_only_such_rungs_is_an_error():
    lines = nbbuild.solution_lines(TINY)
    assert lines == ["return 2 * x + x - x"]
    assert nbbuild.revealed("write ` 2*x+x -x ` there", lines) == lines  # spaces and backticks do not hide it
    assert nbbuild.revealed("Multiply.", lines) == []
    nb = nbbuild.parse(TINY, "student")
    assert nb.cells[-1].source == 'exercises.hints("Multiply.")'
    assert nbbuild.parse(TINY, "solutions").cells[-1].source.endswith('"`return 2 * x + x - x`")')
    with pytest.raises(ValueError, match=r"^01_tiny, cell 4 .*every rung .*rewrite"):
        nbbuild.parse(TINY.replace('"Multiply.", ', ""), "student", "01_tiny")


NEAR_MISSES = ["    ### BEGIN SOLUTION  # note", "    #### BEGIN SOLUTION", "    ### begin solution", "    ##BEGIN SOLUTION",
               "    ### END SOLUTION # done", "    #END SOLUTION", "    ### BEGIN HIDDEN TESTS", "    ### END HIDDEN TESTS"]


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_a_near_miss_marker_is_an_error_naming_file_and_line(line):
    marker = "### END SOLUTION" if "END" in line.upper() and "HIDDEN" not in line else "### BEGIN SOLUTION"
    bad = TINY.replace(f"    {marker}", line, 1)
    assert bad != TINY
    n = bad.splitlines().index(line) + 1
    for build in (lambda: nbbuild.parse(bad, "student", "01_tiny"),
                  lambda: nbgrader_course.assignment(bad, "01_tiny")):
        with pytest.raises(ValueError, match=rf"^01_tiny:{n}: .*looks like a marker"):
            build()


def test_unbalanced_markers_and_empty_sources_are_errors_naming_the_notebook_and_cell():
    bad = TINY.replace("    ### END SOLUTION\n", "")
    for build in (lambda: nbbuild.parse(bad, "student", "01_tiny"), lambda: nbgrader_course.assignment(bad, "01_tiny")):
        with pytest.raises(ValueError, match=r"^01_tiny, cell 2 \('def double\(x\):'\): .*without an"):
            build()
    with pytest.raises(ValueError, match=r"^01_tiny, cell 2 .*without a ### BEGIN"):
        nbbuild.parse(TINY.replace("    ### BEGIN SOLUTION\n", ""), "student", "01_tiny")
    for empty in ("", "\n  \n"):
        with pytest.raises(ValueError, match="01_tiny: the source is empty"):
            nbbuild.parse(empty, "student", "01_tiny")
        with pytest.raises(ValueError, match="01_tiny: the source is empty"):
            nbgrader_course.assignment(empty, "01_tiny")


# ------------------------------------------------------------------ the builder never loses work

def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _src(stem):
    return ROOT / "tools" / "notebook_src" / f"{stem}.py"


A, B = "01_latent_variable_models", "03_marginalization"


def test_building_one_assignment_keeps_every_other_one(tmp_path):
    nbgrader_course.write_course(tmp_path, sources=[_src(A), _src(B)])
    mine = tmp_path / "source" / "99_instructor" / "99_instructor.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_text("{}")
    extra = tmp_path / "source" / A / "data.csv"  # a file an instructor added to a generated assignment
    extra.write_text("1,2\n")
    before = _tree(tmp_path)
    nbgrader_course.main(["--out", str(tmp_path), A[:2]])
    assert _tree(tmp_path) == before  # same notebooks rebuilt, nothing else touched, nothing removed
    assert not list(tmp_path.glob(".staging-*"))


def test_an_edited_notebook_is_kept_unless_force(tmp_path, capsys):
    nbgrader_course.write_course(tmp_path, sources=[_src(A), _src(B)])
    edited = tmp_path / "source" / A / f"{A}.ipynb"
    edited.write_text(edited.read_text().replace("Exercise 1.1", "Exercise 1.1 (edited)"))
    before = _tree(tmp_path)
    with pytest.raises(nbgrader_course.CourseConflict, match=rf"{A}.ipynb: changed since this builder wrote it"):
        nbgrader_course.write_course(tmp_path, sources=[_src(A), _src(B)])
    with pytest.raises(SystemExit, match="--force"):
        nbgrader_course.main(["--out", str(tmp_path), A[:2]])
    assert _tree(tmp_path) == before  # nothing written, not even the other assignment
    nbgrader_course.write_course(tmp_path, sources=[_src(A)], force=True)
    assert "(edited)" not in edited.read_text()


def test_a_folder_the_builder_did_not_make_is_kept_unless_force(tmp_path):
    by_hand = tmp_path / "source" / A / f"{A}.ipynb"
    by_hand.parent.mkdir(parents=True)
    by_hand.write_text("{}")
    with pytest.raises(nbgrader_course.CourseConflict, match="not written by this builder"):
        nbgrader_course.write_course(tmp_path, sources=[_src(A)])
    assert by_hand.read_text() == "{}"
    nbgrader_course.write_course(tmp_path, sources=[_src(A)], force=True)
    assert by_hand.read_text() != "{}"


def test_a_failed_build_leaves_the_previous_course_as_it_was(tmp_path):
    course = tmp_path / "course"
    nbgrader_course.write_course(course, sources=[_src(A), _src(B)])
    before = _tree(course)
    bad = tmp_path / f"{B}.py"
    bad.write_text(_src(B).read_text().replace("    ### BEGIN SOLUTION", "    ### BEGIN SOLUTION  # note", 1))
    with pytest.raises(ValueError, match=rf"{B}:\d+: .*looks like a marker"):
        nbgrader_course.write_course(course, sources=[_src(A), bad])
    assert _tree(course) == before
    assert not list(course.glob(".staging-*"))


@pytest.mark.parametrize("stem", ["05_importance_sampling", "06_elbo_and_its_gap"])
def test_a_prediction_reaches_nbgrader_as_its_bank_id_with_the_reference_answer_for_the_grader(stem):
    """The prediction cell is copied as ``exercises.predict("N.M")`` (the answer stays in lvmlib's bank,
    out of the released notebook); its written answer is a manually graded cell."""
    from lvmlib.exercises.questions import QUESTIONS

    src = ROOT / "tools" / "notebook_src" / f"{stem}.py"
    nb = nbgrader_course.assignment(src.read_text(), stem)
    calls = [c.source for c in nb.cells if c.cell_type == "code" and "exercises.predict(" in c.source]
    assert calls and all(re.search(r'exercises\.predict\("\d+\.\d+[a-z]?"\)$', c.strip()) for c in calls), calls
    text = "\n".join(c.source for c in nb.cells)
    for q in QUESTIONS.values():
        assert q.why[:40] not in text, f"{stem}'s assignment holds the why of prediction {q.id}"
    manual = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "markdown"]
    assert manual, "the written answers are manually graded cells"
