"""`make nbgrader` (tools/nbgrader_course.py): a course nbgrader takes as it is, and whose autograder fails a wrong answer."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools import nbbuild  # noqa: E402
from tools import nbgrader_course  # noqa: E402

from tests.exercises import test_nbgrader_build  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))
NB = "05_importance_sampling"
RIGHT_5_1 = ('def log_weights(x, model, q, K, generator=None):\n'   # another right way: rsample, not the helper
             '    q = q.expand(torch.Size([x.shape[0]]))\n'
             '    z = q.rsample((K,)) if generator is None else sample(q, (K,), generator)\n'
             '    return model.prior().log_prob(z) + model.likelihood(z).log_prob(x) - q.log_prob(z)\n'
             '\n\n'
             'def log_p_hat(log_w):\n'
             '    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])')
WRONG_5_2 = ('def effective_sample_size(log_w):\n'                   # weights not normalised
             '    return torch.exp(-torch.logsumexp(2 * log_w, dim=0))')


def _graded(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_exercise_is_graded(src):
    text = src.read_text()
    nb = nbgrader_course.assignment(text, src.stem)
    graded = _graded(nb)
    code = [g for g, c in graded.items() if c.cell_type == "code" and c.metadata["nbgrader"]["solution"]]
    tests = [g for g, c in graded.items() if c.metadata["nbgrader"]["grade"] and c.cell_type == "code"]
    written = [g for g, c in graded.items() if c.cell_type == "markdown"]
    marked = [c for c in nbbuild.read_cells(text) if c.cell_type == "code" and nbbuild.BEGIN in c.source]
    assert len(code) == len(marked) >= 1  # one graded answer per code exercise cell (a cell may hold two functions)
    assert tests == [f"{g}_check" for g in code], "each code exercise has its locked test cell"
    assert len(written) == text.count("<summary>Answer</summary>") >= 1
    for g in tests:
        meta = graded[g].metadata["nbgrader"]
        assert meta["locked"] and meta["points"] > 0
        visible, hidden = graded[g].source.split(nbgrader_course.BEGIN_HIDDEN)
        assert nbgrader_course._CHECK.match(visible.strip().splitlines()[-1]) and "assert" not in visible
        assert hidden.strip().splitlines() == [
            "import lvmlib.exercises.grading",
            f'lvmlib.exercises.grading.autograde("{g[:-len("_check")]}", "{src.stem}.ipynb")', nbgrader_course.END_HIDDEN]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "nbgrader" not in cell.metadata:
            assert "SOLUTION" not in cell.source and "<summary>Answer" not in cell.source
    assert "BEGIN SOLUTION" not in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    apps = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "_app(" in c.source]
    assert apps and all(nb.cells[i + 1].source == nbgrader_course.APP_NOTE for i in apps)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source == nbbuild.install_cell_source(nbbuild.release())
    assert len({c.id for c in nb.cells}) == len(nb.cells) and nb.cells[0].id.startswith(f"nb{src.stem[:2]}-")


def test_a_check_cell_becomes_a_test_whose_visible_part_never_raises():
    assert nbgrader_course.test_cell_source("from lvmlib import exercises\n\nexercises.check_x(f)", "ex1_1",
                                            "01_a.ipynb") == (
        "from lvmlib import exercises\n\nexercises.check_x(f)\n### BEGIN HIDDEN TESTS\n"
        'import lvmlib.exercises.grading\nlvmlib.exercises.grading.autograde("ex1_1", "01_a.ipynb")\n'
        "### END HIDDEN TESTS")
    assert nbgrader_course.test_cell_source("exercises.check_x(f)", "ex1_1", "01_a.ipynb", "kernel") == (
        "_report = exercises.check_x(f)\n_report\n### BEGIN HIDDEN TESTS\n_report.require()\n### END HIDDEN TESTS")
    with pytest.raises(ValueError):
        nbgrader_course.test_cell_source("print(1)", "ex1_1", "01_a.ipynb")


def _env():
    """nbgrader's environment: this Python's bin first on PATH (alembic), and this checkout's lvmlib."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                PYTHONPATH=path, OMP_NUM_THREADS="1")


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)


def _shows(src, text):
    """The solution lines of ``src`` (normalised, longer than nbbuild.MIN_PROBE) in ``text``."""
    shown = test_nbgrader_build.SHOWN_BY_THE_NOTEBOOK.get(src.stem, [])
    return [line for line in test_nbgrader_build.leaked(src, text) if line not in shown]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_generate_validate_autograde(tmp_path, monkeypatch):
    """The whole instructor path: all ten released with no solution line in them (hints included); the
    05 release runs top to bottom with its stubs; a submission with 5.1 right and 5.2 wrong scores 2 of 4
    and its feedback shows the named mistake in a short block."""
    course = tmp_path / "course"
    nbgrader_course.write_course(course)
    assert sorted(p.name for p in (course / "source").iterdir()) == [s.stem for s in SOURCES]

    # generate_assignment, all ten (in one process: nbgrader's start-up is most of the time)
    gen = _run([sys.executable, "-c", (
        "import os, sys\n"
        "from nbgrader.apps import NbGraderAPI\n"
        "from traitlets.config import Config\n"
        "c = Config(); c.CourseDirectory.root = os.getcwd()\n"
        "api = NbGraderAPI(config=c)\n"
        "for a in sorted(os.listdir('source')):\n"
        "    r = api.generate_assignment(a, force=True)\n"
        "    assert r['success'], a + ': ' + r['error'] + r['log']\n")], course)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    for src in SOURCES:
        released = nbformat.read(course / "release" / src.stem / f"{src.stem}.ipynb", as_version=4)
        text = "\n".join(c.source for c in released.cells)
        assert not _shows(src, text), f"{src.stem}: the release shows solution lines: {_shows(src, text)}"
        assert "SOLUTION" not in text and "HIDDEN TESTS" not in text and "autograde(" not in text

    # a student's Run All with the stubs untouched completes: no cell errs, the app below the checks runs
    from nbclient import NotebookClient

    release = nbformat.read(course / "release" / NB / f"{NB}.ipynb", as_version=4)
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    NotebookClient(release, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(course / "release" / NB)}}).execute()
    code = [c for c in release.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "Run All stopped early"
    assert not [c.source[:60] for c in code if any(o.output_type == "error" for o in c.outputs)]
    app = next(c for c in code if "proposal_app(" in c.source)
    assert app.outputs and code.index(app) > min(i for i, c in enumerate(code) if "check_" in c.source)
    checks = [c for c in code if c.metadata.get("nbgrader", {}).get("grade")]
    assert all("lvmlib-check-todo" in json.dumps(c.outputs) for c in checks), \
        "every check reports an untouched stub as not done yet"

    # a student's submission: 5.1 right (two functions in one cell, one written another right way), 5.2 wrong
    # (unnormalised weights), 5.4 answered
    nb = nbformat.read(course / "release" / NB / f"{NB}.ipynb", as_version=4)
    graded = _graded(nb)
    graded["ex5_1"].source, graded["ex5_2"].source = RIGHT_5_1, WRONG_5_2
    graded["ex5_4"].source = "(a) E_q[w] = integral of q p(x, z) / q dz = p(x)."
    sub = course / "submitted" / "student1" / NB / f"{NB}.ipynb"
    sub.parent.mkdir(parents=True)
    nbformat.write(nb, sub)

    val = _run([sys.executable, "-m", "nbgrader", "validate", str(sub)], course)
    assert val.returncode == 0, val.stdout + val.stderr
    assert "VALIDATION FAILED" not in val.stdout, val.stdout  # the visible checks report, they do not raise

    auto = _run([sys.executable, "-m", "nbgrader", "autograde", NB, "--create", "--force"], course)
    assert auto.returncode == 0, auto.stdout + auto.stderr

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        snb = gb.find_submission_notebook(NB, NB, "student1")
        scores = {g.name: (g.score, g.max_score) for g in snb.grades}
        assert scores["ex5_1_check"] == (2, 2)
        assert scores["ex5_2_check"] == (0, 2)
        assert snb.code_score == 2 and snb.max_code_score == 4
        grades_ = {g.name: g for g in snb.grades}
        assert grades_["ex5_4"].needs_manual_grade and grades_["ex5_4"].max_score == 1  # for the instructor

    # the autograded test cells: the hidden region is back, and it printed each outcome and a short diagnosis
    graded_nb = _graded(nbformat.read(course / "autograded" / "student1" / NB / f"{NB}.ipynb", as_version=4))
    assert "lvmlib.exercises.grading.autograde(\"ex5_2\"" in graded_nb["ex5_2_check"].source
    printed = "".join(o.get("text", "") for o in graded_nb["ex5_2_check"].outputs if o.output_type == "stream")
    assert "lvmlib-outcome: ex5_2 not-normalised" in printed, printed
    assert all(len(line) <= 100 for line in printed.splitlines()), printed
    assert [o.ename for o in graded_nb["ex5_2_check"].outputs if o.output_type == "error"] == ["AssertionError"]
    assert "lvmlib-outcome: ex5_1 passed" in json.dumps(graded_nb["ex5_1_check"].outputs)
    assert not [o for o in graded_nb["ex5_1_check"].outputs if o.output_type == "error"]

    # generate_feedback shows the named mistake and its diagnosis
    fb = _run([sys.executable, "-m", "nbgrader", "generate_feedback", NB, "--force"], course)
    assert fb.returncode == 0, fb.stdout + fb.stderr
    page = (course / "feedback" / "student1" / NB / f"{NB}.html").read_text()
    assert "lvmlib-outcome: ex5_2 not-normalised" in page


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_synthetic_class_is_reported_by_named_mistake(tmp_path, monkeypatch):
    """A small real class over 03 and 05 (right answers, named mistakes, an error, blanks), through real
    generate_assignment and autograde: `make grades`'s counts equal the known ones, and no honest answer
    is flagged. (The class of 30 is run by benchmarks/nbgrader_autograde.py; see benchmarks/README.md.)"""
    from tools import grades
    from tools import nbgrader_class

    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    expected = nbgrader_class.make_class(tmp_path, 3)
    for a, exercises in nbgrader_class.WRONG.items():  # each exercise: right, a named mistake, blank
        for e, wrong in exercises.items():
            assert {o for (a_, e_, o) in expected if (a_, e_) == (a, e)} == {"passed", next(iter(wrong)), "not-done"}
    nbgrader_class.autograde(tmp_path)
    reports = grades.write_reports(tmp_path)
    rows = list(csv.DictReader(open(reports / "exercises.csv")))
    assert {(r["assignment"], r["exercise"], r["outcome"]): int(r["students"]) for r in rows} == dict(expected)
    assert list(csv.reader(open(reports / "flags.csv"))) == [["assignment", "student", "exercise", "why"]]
    page = (reports / "index.html").read_text()
    assert "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
