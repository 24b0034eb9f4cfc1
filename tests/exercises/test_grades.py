"""`make grades` (tools/grades.py): outcomes read from autograded notebooks, the report, and the scan of
answer cells that flags cheats and no honest answer."""

from collections import Counter
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools import grades  # noqa: E402
from tools import nbbuild  # noqa: E402
from tools import nbgrader_class  # noqa: E402
from tools import nbgrader_course  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))

#: the one-line cheats that once got full marks (issue 28), and their kin
CHEATS = {
    "setattr": "setattr(exercises, 'check_ess', lambda *a, **k: None)",
    "forged report": "from lvmlib.exercises._types import Report\nReport.passed = property(lambda self: True)",
    "rebound name": "exercises = None",
    "rebound by import": "import math as exercises",
    "lying tensor": ("class T(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, f, t, a=(), k=None):\n"
                     "        return True"),
    "patched allclose": "torch.allclose = lambda *a, **k: True",
    "patched submodule": "torch.testing.assert_close = print",
    "through globals": "globals()['exercises'] = None",
    "passed attribute": "def f(r):\n    r.passed = True",
    "importlib": "import importlib\nm = importlib.import_module('lvmlib.exercises')",
    "syntax error but setattr": "setattr(torch, 'allclose' lambda: 1)",
}


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_the_scan_flags_no_honest_answer(src):
    nb = nbgrader_course.assignment(src.read_text(), src.stem)
    answers = grades.answer_cells(nb)
    assert answers
    for gid, cell in answers.items():
        for edition in ("solutions", "student"):  # the solution, and the untouched stub
            assert grades.scan_answer(nbbuild.edition_source(cell, edition)) == [], (gid, edition)


def test_the_synthetic_class_answers_are_honest():
    for exercises in nbgrader_class.WRONG.values():
        for answers in exercises.values():
            assert all(grades.scan_answer(a) == [] for a in answers.values())


@pytest.mark.parametrize("name", CHEATS)
def test_the_scan_flags_every_cheat(name):
    assert grades.scan_answer(CHEATS[name]), name


def test_outcomes_are_read_from_streams_and_errors():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="lvmlib-outcome: ex5_2 not-normalised\n"
                                           "Your weights are not normalised\n"),
                    nbformat.v4.new_output("error", ename="AssertionError", evalue="ex5_2",
                                           traceback=["\x1b[31mlvmlib-outcome: ex5_1 passed\x1b[0m"])]
    nb.cells = [cell]
    assert grades.outcomes_in(nb) == {"ex5_2": "not-normalised", "ex5_1": "passed"}


def test_the_report_counts_and_draws_offline():
    R = grades.Result
    results = [R("05", f"s{i}", "ex5_2", o, 0, 2) for i, o in enumerate(["passed"] * 3 + ["not-normalised"] * 2
                                                                      + ["not-done"])]
    results.append(R("03", "s0", "ex3_1", "passed", 2, 2))
    table = grades.tally(results)
    assert list(table) == [("03", "ex3_1"), ("05", "ex5_2")]
    assert table[("05", "ex5_2")] == Counter({"passed": 3, "not-normalised": 2, "not-done": 1})
    page = grades.html_report(table, [("05", "s9", "ex5_2", "assigns to torch.allclose")])
    assert "3 of 6 passed (50%)" in page and page.count("<svg") == 1 and "No wrong answers" in page
    assert page.index("not-normalised") < page.index("not-done")  # commonest first
    assert "torch.allclose" in page and "<script" not in page and "src=" not in page and "href=" not in page


def test_full_points_without_an_outcome_line_are_unverified_and_flagged(tmp_path, monkeypatch):
    """A hidden test whose lvmlib grading was patched away in the kernel leaves full points and no
    `lvmlib-outcome:` line: the report does not count it as passed, and flags it for a look."""
    from types import SimpleNamespace as NS

    import nbgrader.api

    def grade(name):
        return NS(name=name, score=2.0, max_score=2.0)
    sub = NS(student=NS(id="s1"), notebooks=[NS(name="05_x", grades=[grade("ex5_1_check"), grade("ex5_2_check")])])
    book = NS(assignments=[NS(name="05_x", submissions=[sub])])

    class FakeGradebook:
        def __init__(self, url):
            pass

        def __enter__(self):
            return book

        def __exit__(self, *exc):
            return False
    monkeypatch.setattr(nbgrader.api, "Gradebook", FakeGradebook)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                               text="lvmlib-outcome: ex5_1 passed\n")])]
    path = tmp_path / "autograded" / "s1" / "05_x" / "05_x.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    outcomes = {r.exercise: r.outcome for r in grades.read_results(tmp_path)}
    assert outcomes == {"ex5_1": "passed", "ex5_2": "unverified"}
    monkeypatch.setattr(grades, "scan_submissions", lambda course: [])
    reports = grades.write_reports(tmp_path)
    assert "ex5_2" in (reports / "flags.csv").read_text() and "no lvmlib-outcome line" in (reports / "flags.csv").read_text()
