"""The solved edition under nbval runs what differs from the student edition, and what it feeds.

``tools/nbval_editions.py`` plans which code cells of ``notebooks/solutions/NN.ipynb`` run; these
tests check the name analysis, the plan on small cases and on the stored notebooks, and run real
nbval on a small pair of editions to show that a wrong solution and a changed output still fail.
"""

import re
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools.cell_names import Opaque, cell_names  # noqa: E402
from tools.nbval_editions import comparable_outputs, plan, plan_files, student_edition  # noqa: E402
from tools.nbval_markers import move_to_metadata  # noqa: E402


def cells(*sources, outputs=None):
    out = []
    for k, s in enumerate(sources):
        c = nbformat.v4.new_code_cell(s)
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=outputs[k])] if outputs and outputs[k] else []
        out.append(c)
    return out


# --- what a cell binds and reads --------------------------------------------------------------

def test_names_of_a_cell():
    cn = cell_names("import numpy as np\nfrom lvmlib import exercises\nx = np.zeros(3)\ny += x\nz.a = 1\n"
                    "d[k] = 2\ng.manual_seed(0)\nf(model, data.x)\n%matplotlib inline\n")
    assert cn.binds >= {"np", "exercises", "x", "y", "z", "d"} and cn.imports == {"np", "exercises"}
    assert {"model"} <= cn.passed and "data" not in cn.passed  # an attribute passed: not followed
    assert {"g", "np"} <= cn.receivers
    assert cn.resets == {"np", "exercises", "x"}  # bound for sure: the old value is gone
    assert {"y", "z", "d", "k", "g", "f", "model", "data"} <= cn.reads
    assert not {"x", "np"} & cn.reads  # bound by the cell before it reads them: not its inputs


def test_local_names_are_not_the_notebooks():
    cn = cell_names("def fit(model, x):\n    loss = model(x)\n    w.append(loss)\n    return loss + bias\n"
                    "squares = [i * i for i in range(n)]\n"
                    "for d in sizes:\n    out[d] = d\n"
                    "with one_thread():\n    a = 1\n    b = a + c\n")
    assert "fit" in cn.binds and "loss" not in cn.binds and "model" not in cn.reads and "i" not in cn.reads
    assert {"w", "bias", "n", "sizes", "c", "one_thread"} <= cn.reads  # globals read at call time too
    assert "w" in cn.receivers  # fit(...) appends to the global w when called
    assert "d" not in cn.reads and "a" not in cn.reads  # bound before they are read
    assert {"a", "b", "squares", "fit"} <= cn.resets and "d" not in cn.resets  # a loop may not run


@pytest.mark.parametrize("source", ["from x import *", "exec('a = 1')", "globals()['a'] = 1", "def f(:\n"])
def test_what_cannot_be_followed_is_opaque(source):
    with pytest.raises(Opaque):
        cell_names(source)


# --- the plan ------------------------------------------------------------------------------------

STUDENT = ["import numpy as np\ng = np.random.default_rng(0)",
           "data = g.normal(size=10)",
           "def f(x):\n    raise NotImplementedError",
           "check(f)",
           "f_used = choose(check(f), f, np.mean)",
           "noise = g.normal()",
           "m = f_used(data)\nprint(m)",
           "print(m + noise)",
           "print(noise, g.normal())",
           "model = make()\ntrain(f_used, model)",
           "print(score(model))"]
SOLVED = STUDENT[:2] + ["def f(x):\n    return np.mean(x)"] + STUDENT[3:]


def test_the_plan_runs_the_changed_cells_what_they_feed_and_what_that_needs():
    p = plan(cells(*STUDENT), cells(*SOLVED))
    assert p.changed == {2}
    # check, choose, the cells that run f_used, what they bind or pass to it, what is passed along with it
    assert p.fed == {3, 4, 6, 7, 9, 10}
    assert p.run == {0, 1, 2, 3, 4, 5, 6, 7, 9, 10}  # + 0, 1 (np, g, data) and 5 (noise: g advanced by 1)
    assert 8 not in p.run  # reads only what the same cells bound in both editions
    assert [p.reason(k) for k in (2, 3, 5, 8)] == ["changed", "fed", "needed", "skipped"]


def test_a_stored_output_that_differs_counts_as_changed():
    out_a = [""] * len(STUDENT)
    out_b = list(out_a)
    out_b[8] = "0.98 1.2\n"  # e.g. a generator the solution advanced differently
    p = plan(cells(*STUDENT, outputs=out_a), cells(*SOLVED, outputs=out_b))
    assert 8 in p.changed and 8 in p.run
    # ... but not when the difference is one nbval's sanitize patterns remove (a timing)
    out_a[8], out_b[8] = "took 1.2 ms\n", "took 0.9 ms\n"
    p = plan(cells(*STUDENT, outputs=out_a), cells(*SOLVED, outputs=out_b), lambda s: s.replace("1.2", "0.9"))
    assert 8 not in p.run


def test_streams_are_compared_merged_and_images_left_out():
    a = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
         nbformat.v4.new_output("stream", name="stdout", text="b\n"),
         nbformat.v4.new_output("display_data", data={"image/png": "AAA", "text/plain": "<Figure>"})]
    b = [nbformat.v4.new_output("stream", name="stdout", text="a\nb\n"),
         nbformat.v4.new_output("display_data", data={"image/png": "BBB", "text/plain": "<Figure>"})]
    assert comparable_outputs(a) == comparable_outputs(b)


def test_a_reset_cuts_the_taint():
    p = plan(cells("def f():\n    pass", "x = f()", "x = 1", "print(x)"), cells("def f():\n    return 1", "x = f()",
                                                                             "x = 1", "print(x)"))
    assert p.run == {0, 1} and 3 not in p.run


def test_editions_that_cannot_be_paired_run_in_full():
    p = plan(cells("a = 1", "b = 2"), cells("a = 1"))
    assert p.run == {0} and "code cells" in p.full_reason
    p = plan(cells("a = 1", "b = 2"), cells("a = 1", "exec('b = 2')"))
    assert p.run == {0, 1} and "exec" in p.full_reason


# --- the stored notebooks ------------------------------------------------------------------------

PAIRS = sorted(p for p in (ROOT / "notebooks" / "solutions").glob("*.ipynb") if student_edition(p))


def test_every_solved_edition_has_its_student_edition():
    assert len(PAIRS) == len(list((ROOT / "notebooks").glob("*.ipynb"))) >= 10


@pytest.mark.parametrize("solved", PAIRS, ids=lambda p: p.stem[:2])
def test_the_plan_of_each_notebook(solved):
    """Every exercise's cells run (its solution, check, choose and whatever reads ``*_used``), and
    every skipped cell has the student edition's source and stored outputs."""
    from tools.nbval_editions import _sanitizer
    from tools.nbval_markers import ignores_output
    from types import SimpleNamespace

    sanitize = _sanitizer(SimpleNamespace(option=SimpleNamespace(
        nbval_sanitize_with=str(ROOT / "tests" / "nbval_sanitize.cfg"))))
    p = plan_files(student_edition(solved), solved, sanitize)
    assert not p.full_reason, p.full_reason
    code = [c for c in nbformat.read(solved, as_version=4).cells if c.cell_type == "code"]
    twin = [c for c in nbformat.read(student_edition(solved), as_version=4).cells if c.cell_type == "code"]
    for k, (a, b) in enumerate(zip(twin, code)):
        exercise = "exercises.check_" in b.source or "exercises.choose(" in b.source or "_used" in b.source
        # a bug hunt's draft, checked as given: the same cell and output in both editions, feeding nothing
        draft = a.source == b.source and "_draft" in b.source and "_used" not in b.source \
            and "exercises.choose(" not in b.source
        if (a.source != b.source or exercise) and not draft:
            assert k in p.run, f"cell {k} ({b.source.splitlines()[0]!r}) must run in the solved edition"
        if k not in p.run:
            assert a.source == b.source
            assert ignores_output(b) or \
                comparable_outputs(a.outputs, sanitize) == comparable_outputs(b.outputs, sanitize), k
    assert p.changed and len(p.run) < p.total  # the solutions differ, and something is left to the student run


# --- real nbval on a small pair of editions ------------------------------------------------------

def _write(path: Path, sources, outputs):
    """A notebook as tools/nbbuild.py writes it: test markers moved from the code to tags."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = []
    for k, (source, text) in enumerate(zip(sources, outputs)):
        c = move_to_metadata(nbformat.v4.new_code_cell(source))
        assert "NBVAL" not in c.source
        c.execution_count = k + 1
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []
        nb.cells.append(c)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


APP = ("# NBVAL_IGNORE_OUTPUT\nimport ipywidgets as W\nfrom lvmlib.plotting import new_figure\n"
       "from lvmlib.widgets import SliderApp\nfig = new_figure(1, 1)\n(line,) = fig.add_subplot().plot([0, 1], animated=True)\n"
       "app = SliderApp(fig, {'a': W.IntSlider(1, min=0, max=3)}, lambda a: line.set_ydata([0, a]), name='demo')\n"
       "app")
SHOWN = ("import IPython\nshown = IPython.get_ipython().display_formatter.format(app)[0]['text/plain']\n"
         "print(shown.startswith('<slider app demo: states not recorded'))")
PAIR = {  # cell: (student source, student output, solved source, solved output)
    "stub": ("def f(x):\n    raise NotImplementedError", "", "def f(x):\n    return 2 * x", ""),
    "check": ("try:\n    ok = f(3) == 6\nexcept NotImplementedError:\n    ok = None\nprint('check:', ok)",
              "check: None\n", None, "check: True\n"),
    "choose": ("f_used = f if ok else (lambda x: 2 * x)\nprint('runs', 'yours' if ok else 'lvmlib')",
               "runs lvmlib\n", None, "runs yours\n"),
    "same": ("open('same_cell_ran.txt', 'w').write('x')\nprint('same in both')", "same in both\n", None, None),
    "fed": ("print(f_used(21))", "42\n", None, None),
    "app": (APP, "", None, ""),
    "shown": (SHOWN, "", None, "True\n"),
}


def _pair(folder: Path, name: str, solved_changes=None, app=True) -> None:
    """``folder/name.ipynb`` and ``folder/solutions/name.ipynb`` from ``PAIR`` (the app cells only if ``app``)."""
    keys = [k for k in PAIR if app or k not in ("app", "shown")]
    sources = [PAIR[k][0] for k in keys]
    s_out = [PAIR[k][1] if k != "shown" else "<" for k in keys]  # the student edition's app: not compared here
    t_src = [PAIR[k][2] if PAIR[k][2] is not None else PAIR[k][0] for k in keys]
    t_out = [PAIR[k][3] if PAIR[k][3] is not None else PAIR[k][1] for k in keys]
    for key, (source, output) in (solved_changes or {}).items():
        k = keys.index(key)
        t_src[k] = source if source is not None else t_src[k]
        t_out[k] = output if output is not None else t_out[k]
    _write(folder / f"{name}.ipynb", sources, s_out)
    _write(folder / "solutions" / f"{name}.ipynb", t_src, t_out)


def _nbval(tmp_path: Path, folder: Path) -> str:
    """Real nbval over ``folder`` through this repository's conftest (in a subprocess)."""
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())  # it imports tools: ROOT goes first
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-rA", "-q",
                           "-o", "addopts=", "--rootdir", str(tmp_path), str(folder)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    return proc.stdout + proc.stderr


def _results(out: str, name: str) -> dict:
    """cell number -> PASSED / FAILED for one solved notebook, from ``-rA``'s summary."""
    found = re.findall(rf"^(PASSED|FAILED) nb/solutions/{name}\.ipynb::Cell (\d+)", out, flags=re.M)
    return {int(k): word for word, k in found}


def test_the_solved_edition_runs_what_differs_and_fails_on_a_wrong_solution(tmp_path):
    folder = tmp_path / "nb"
    _pair(folder, "ok")
    _pair(folder, "wrong", {"stub": ("def f(x):\n    return 2 * x + 1", None)}, app=False)  # a wrong solution
    _pair(folder, "choose", {"choose": (None, "runs theirs\n")}, app=False)  # a changed cell's stored output
    _pair(folder, "fed", {"fed": (None, "43\n")}, app=False)  # a fed cell's stored output
    out = _nbval(tmp_path, folder / "solutions")
    k = {key: i for i, key in enumerate(PAIR)}

    assert _results(out, "ok") == {i: "PASSED" for i in range(len(PAIR)) if i != k["same"]}, out[-3000:]
    assert "solved edition: same source, inputs and stored outputs as ok.ipynb" in out  # the skipped cell
    assert not (folder / "solutions" / "same_cell_ran.txt").exists()  # its kernel never ran it
    # the app cell ran (the next cell reads app) and showed one line instead of recording its states

    wrong = _results(out, "wrong")
    assert wrong[k["check"]] == "FAILED" and wrong[k["choose"]] == "FAILED", out[-3000:]
    assert "check: False" in out  # the check's output shows why
    assert _results(out, "choose")[k["choose"]] == "FAILED" and "runs theirs" in out
    assert _results(out, "fed")[k["fed"]] == "FAILED"


def test_the_full_run_stays_available(tmp_path, monkeypatch):
    monkeypatch.setenv("LVMLIB_NBVAL_SOLVED", "full")
    _pair(tmp_path / "nb", "ok")
    out = _nbval(tmp_path, tmp_path / "nb" / "solutions")
    assert (tmp_path / "nb" / "solutions" / "same_cell_ran.txt").exists()  # every cell ran
    assert _results(out, "ok")[list(PAIR).index("shown")] == "FAILED", out[-3000:]  # the app displayed in full
