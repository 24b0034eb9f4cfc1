"""`make nbgrader` (tools/nbgrader_course.py): a course nbgrader takes as it is, and whose autograder fails a wrong answer."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nbbuild  # noqa: E402
import nbgrader_course  # noqa: E402

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


def _solution_lines(text):
    """Every line of the source that only the solved edition may show: the solution regions and the answer blocks."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.strip() in (nbbuild.BEGIN, nbbuild.END):
            inside = line.strip() == nbbuild.BEGIN
        elif inside:
            lines.append(line.strip())
    for block in re.findall(r"<details><summary>Answer</summary>(.*?)</details>", text, re.S):
        lines += [l.lstrip("# ").strip() for l in block.splitlines()]
    return [l for l in lines if len(l) > 12]


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
        assert hidden.strip().splitlines() == [f'exercises.autograde("{g[:-len("_check")]}", "{src.stem}.ipynb")',
                                               nbgrader_course.END_HIDDEN]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "nbgrader" not in cell.metadata:
            assert "SOLUTION" not in cell.source and "<summary>Answer" not in cell.source
    assert "BEGIN SOLUTION" not in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source == nbbuild.install_cell_source(nbbuild.release())
    assert len({c.id for c in nb.cells}) == len(nb.cells) and nb.cells[0].id.startswith(f"nb{src.stem[:2]}-")


def test_a_check_cell_becomes_a_test_whose_visible_part_never_raises():
    assert nbgrader_course.test_cell_source("from lvmlib import exercises\n\nexercises.check_x(f)", "ex1_1",
                                            "01_a.ipynb") == (
        "from lvmlib import exercises\n\nexercises.check_x(f)\n### BEGIN HIDDEN TESTS\n"
        'exercises.autograde("ex1_1", "01_a.ipynb")\n### END HIDDEN TESTS')
    assert nbgrader_course.test_cell_source("exercises.check_x(f)", "ex1_1", "01_a.ipynb", "kernel") == (
        "_report = exercises.check_x(f)\n_report\n### BEGIN HIDDEN TESTS\n_report.require()\n### END HIDDEN TESTS")
    with pytest.raises(ValueError):
        nbgrader_course.test_cell_source("print(1)", "ex1_1", "01_a.ipynb")


def _run(args, cwd):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_generate_validate_autograde(tmp_path):
    """The whole instructor path on notebook 05: a submission with 5.1 right and 5.2 wrong scores 2 of 4."""
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
        released = (course / "release" / src.stem / f"{src.stem}.ipynb").read_text()
        # the hint ladders may end nearly at the answer (that is their job); everything else must not show it
        cells = [c for c in nbformat.reads(released, as_version=4).cells if "exercises.hints(" not in c.source]
        text = json.dumps([c.source for c in cells])
        released = text
        leaked = [line for line in _solution_lines(src.read_text()) if line in released or json.dumps(line)[1:-1] in text]
        assert not leaked, f"{src.stem}: the release shows solution text: {leaked[:3]}"
        assert "BEGIN SOLUTION" not in released

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
    assert "VALIDATION FAILED" in val.stdout, val.stdout
    failed = val.stdout.split("The following cell failed:")[1:]
    assert any("check_ess" in f for f in failed) and not any("check_log_weights" in f for f in failed), val.stdout

    auto = _run([sys.executable, "-m", "nbgrader", "autograde", NB, "--create", "--force"], course)
    assert auto.returncode == 0, auto.stdout + auto.stderr

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        snb = gb.find_submission_notebook(NB, NB, "student1")
        scores = {g.name: (g.score, g.max_score) for g in snb.grades}
        assert scores["ex5_1_check"] == (2, 2)
        assert scores["ex5_2_check"] == (0, 2)
        assert snb.code_score == 2 and snb.max_code_score == 4
        grades = {g.name: g for g in snb.grades}
        assert grades["ex5_4"].needs_manual_grade and grades["ex5_4"].max_score == 1  # for the instructor

    # the feedback shows the check's own diagnosis of the wrong answer
    import torch  # noqa: F401 - the wrong answer's namespace
    from lvmlib import exercises

    ns = {}
    exec("import math, torch\n" + WRONG_5_2, ns)
    report = exercises.check_ess(ns["effective_sample_size"])
    assert not report.passed
    graded_nb = nbformat.read(course / "autograded" / "student1" / NB / f"{NB}.ipynb", as_version=4)
    errors = [o for o in _graded(graded_nb)["ex5_2_check"].outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError" and errors[0].evalue == str(report.message)
    assert not [o for o in _graded(graded_nb)["ex5_1_check"].outputs if o.output_type == "error"]
