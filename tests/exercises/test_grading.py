"""The graded re-check (lvmlib.exercises.grading) and the checks' defences in the kernel.

- the registry of code exercises is the sources' (grade ids, the answer's names, the check);
- every right answer (the solution between the markers) passes `grade`, every stub is `not-done`, known
  mistakes come out as their ids; the issue's cheats get no pass; a loop that swallows every exception
  is stopped (in the kernel's check and in the graded process);
- mistake ids are stable kebab-case ids, unique per exercise; reports cannot be forced; checks restore
  the random generators; answers are compared as plain tensors.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import random
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

import lvmlib.exercises as ex
from lvmlib.exercises import _calls, grading
from lvmlib.exercises._types import FIXED_OUTCOMES, Mistake, Report

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))
_spec = importlib.util.spec_from_file_location("nbbuild_for_grading", ROOT / "tools" / "nbbuild.py")
nbbuild = sys.modules.setdefault("nbbuild_for_grading", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(nbbuild)

_HEADING = re.compile(r"^#+\s*Exercise\s+(\d+)\.(\d+)\b", re.M)
_CHECK = re.compile(r"^exercises\.(check_\w+)\((.*)\)\s*$")


def _exercises_in_sources():
    """{grade_id: (notebook, answer cell source, setup import lines, check name, check argument names)}."""
    found = {}
    for src in SOURCES:
        cells = nbbuild.read_cells(src.read_text())
        heading, setup, pending = None, [], None
        for cell in cells:
            if cell.cell_type == "markdown":
                m = _HEADING.search(cell.source)
                heading = f"ex{m[1]}_{m[2]}" if m else heading
                continue
            if nbbuild.BEGIN in cell.source:
                pending = (heading, cell.source, "\n".join(dict.fromkeys(setup)))
            elif pending:
                last = cell.source.strip().splitlines()[-1]
                m = _CHECK.match(last)
                assert m, f"{src.name}: the cell after {pending[0]}'s answer is not its check: {last}"
                found[pending[0]] = (src.stem, pending[1], pending[2], m[1], tuple(a.strip() for a in m[2].split(",")))
                pending = None
            setup += grading.imports_of(cell.source)
    return found


SOURCE_EXERCISES = _exercises_in_sources()


def test_registry_is_the_sources():
    assert len(SOURCE_EXERCISES) == 18
    assert set(grading.EXERCISES) == set(SOURCE_EXERCISES)
    for gid, (notebook, answer, _, check, args) in SOURCE_EXERCISES.items():
        entry = grading.EXERCISES[gid]
        assert entry.notebook == notebook and entry.check.endswith(f":{check}") and entry.names == args, gid
        defined = {n.name for n in ast.parse(answer).body if isinstance(n, ast.FunctionDef)}
        assert set(args) <= defined, f"{gid}: the answer cell defines {defined}, the check takes {args}"
        module, _, name = entry.check.partition(":")
        assert getattr(importlib.import_module(module), name) is getattr(ex, check).__wrapped__


def test_library_answers_exist():
    for entry in grading.EXERCISES.values():
        assert entry.library, entry.grade_id
        for spec in entry.library:
            module, _, attr = spec.partition(":")
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            assert callable(obj), spec


# ---------------------------------------------------------------------------------------------
# Mistake ids
# ---------------------------------------------------------------------------------------------

_ID = re.compile(r"^[a-z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$")  # kebab-case; a math symbol keeps its case (no-logK)


def _literal_ids(module) -> set[str]:
    """Mistake ids a module's source names: Mistake("id", ...) and Report(..., ..., ..., "id")."""
    ids = set()
    for node in ast.walk(ast.parse(Path(module.__file__).read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = node.args
            if node.func.id == "Mistake" and args and isinstance(args[0], ast.Constant):
                ids.add(args[0].value)
            if node.func.id in ("Report", "StudentFailure", "Refused"):
                pos = {"Report": 3, "StudentFailure": 2, "Refused": 1}[node.func.id]
                values = [a for a in args[pos:pos + 1]] + [k.value for k in node.keywords if k.arg == "mistake"]
                ids |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return ids


def test_every_mistake_id_is_a_stable_kebab_case_id():
    table = {}
    for name in ex.NOTEBOOK_MODULES + ("_core", "_calls"):
        module = importlib.import_module(f"lvmlib.exercises.{name}")
        ids = _literal_ids(module)
        table[name] = sorted(ids)
        for mistake_id in ids:
            assert _ID.match(mistake_id), f"{name}: {mistake_id!r} is not a kebab-case id"
            assert mistake_id not in set(FIXED_OUTCOMES) - {"timeout"}, f"{name}: {mistake_id!r} is a fixed outcome"
        for attr, value in vars(module).items():  # each list of mistakes: one id per mistake
            if isinstance(value, (list, tuple)) and value and all(isinstance(m, Mistake) for m in value):
                names = [m.name for m in value]
                assert len(names) == len(set(names)), f"{name}.{attr}: an id used twice: {names}"
    print("\n".join(f"{k}: {', '.join(v)}" for k, v in table.items()))  # the list, for the record
    assert {"changed-input", "tensor-subclass", "timeout"} <= set(table["_calls"])


def test_report_outcome_ids():
    assert Report("e", "passed", "m").outcome == "passed"
    assert Report("e", "todo", "m").outcome == "not-done"
    assert Report("e", "wrong", "m").outcome == "wrong"
    assert Report("e", "wrong", "m", "no-logK").outcome == "no-logK"
    assert Report("e", "error", "m").outcome == "error"
    assert Report("e", "error", "m", "timeout").outcome == "timeout"


# ---------------------------------------------------------------------------------------------
# In the kernel: reports, comparisons, tensor subclasses, limits, random generators
# ---------------------------------------------------------------------------------------------

def _ess_wrong(lw):  # weights not normalised
    return torch.exp(-torch.logsumexp(2 * lw, 0))


def _ess_right(lw):
    return torch.exp(-torch.logsumexp(2 * (lw - torch.logsumexp(lw, 0, keepdim=True)), 0))


def test_a_report_cannot_be_forced():
    report = ex.check_ess(_ess_wrong)
    with pytest.raises(AttributeError):
        report.status = "passed"
    with pytest.raises(AttributeError):
        Report.passed = True
    assert not report.passed and report.mistake == "not-normalised"


def test_a_patched_allclose_in_the_kernel_changes_no_check(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(math, "isclose", lambda *a, **k: True)
    assert ex.check_ess(_ess_wrong).mistake == "not-normalised"


class _Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "isclose", "equal"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_a_tensor_subclass_is_refused():
    report = ex.check_ess(lambda lw: _ess_wrong(lw).as_subclass(_Liar))
    assert report.status == "wrong" and report.mistake == "tensor-subclass", report.message
    assert _calls.plain(torch.nn.Parameter(torch.ones(2))).__class__ is torch.Tensor
    assert _calls.plain((torch.ones(1), [torch.zeros(1)]))[1][0].__class__ is torch.Tensor


def _swallow_everything(lw):
    while True:
        try:
            time.sleep(0.01)
        except:  # noqa: E722 - the point: a bare except swallows an in-process alarm
            pass


@pytest.mark.skipif(not _calls._fork_usable(), reason="the forked check needs Linux without CUDA")
def test_a_loop_that_swallows_the_alarm_is_stopped_and_the_kernel_goes_on():
    from lvmlib.exercises import nb05

    def check(fn):
        return nb05.check_function("Exercise x", fn, nb05._ess, nb05.log_weight_cases()[:1], time_limit=0.5)
    report = _calls.run_check(check, (_swallow_everything,), {}, "check")
    assert report.status == "error" and report.mistake == "timeout", report.message
    assert "stopped after 0.5 s" in report.message
    assert ex.check_ess(_ess_right).passed  # the kernel is usable


def test_a_check_restores_the_random_generators():
    import numpy as np

    def drawing(lw):
        random.random(), np.random.rand(), torch.rand(3)
        return _ess_right(lw)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    want = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    assert ex.check_ess(drawing).passed
    assert (random.random(), np.random.rand()) == want[:2] and torch.equal(torch.rand(1), want[2])


def test_the_in_process_fallback_restores_them_too(monkeypatch):
    monkeypatch.setenv("LVMLIB_CHECK_ISOLATION", "off")
    torch.manual_seed(3)
    want = torch.rand(1)
    torch.manual_seed(3)
    assert ex.check_ess(lambda lw: (torch.rand(5), _ess_right(lw))[1]).passed
    assert torch.equal(torch.rand(1), want)


# ---------------------------------------------------------------------------------------------
# The scan
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gid", sorted(SOURCE_EXERCISES))
def test_the_scan_flags_no_honest_answer(gid):
    _, answer, setup, _, _ = SOURCE_EXERCISES[gid]
    assert grading.scan(nbbuild.edition_source(answer, "solutions"), setup) == ()
    assert grading.scan(nbbuild.edition_source(answer, "student"), setup) == ()


CHEATS = {  # the one-line cheats, each after a wrong answer to 5.2
    "setattr": "for _n in dir(exercises):\n    if _n.startswith('check_'):\n"
               "        setattr(exercises, _n, lambda *a, **k: exercises.Report('x', 'passed', 'ok'))",
    "report-passed": "type.__setattr__(exercises.Report, 'passed', property(lambda self: True))",
    "rebind-exercises": "class exercises:\n    @staticmethod\n    def check_ess(f):\n        return 'passed'",
    "allclose": "torch.allclose = lambda *a, **k: True",
    "subclass": "class Liar(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, f, t, a=(), k=None):\n"
                "        return True if f.__name__ == 'allclose' else super().__torch_function__(f, t, a, k or {})\n"
                "_wrong = effective_sample_size\n"
                "def effective_sample_size(log_w):\n    return _wrong(log_w).as_subclass(Liar)",
    "library": "def effective_sample_size(log_w):\n    return est.effective_sample_size(log_w)",
}
WRONG_ESS = "def effective_sample_size(log_w):\n    return torch.exp(-torch.logsumexp(2 * log_w, dim=0))\n"


def test_the_scan_flags_every_cheat_but_the_library_call():
    setup = SOURCE_EXERCISES["ex5_2"][2]
    for name, cheat in CHEATS.items():
        flags = grading.scan(WRONG_ESS + cheat, setup)
        assert bool(flags) == (name != "library"), (name, flags)


# ---------------------------------------------------------------------------------------------
# grade: the fresh process (slow: a Python process per exercise)
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("gid", sorted(SOURCE_EXERCISES))
def test_every_right_answer_passes_and_every_stub_is_not_done(gid):
    _, answer, setup, _, _ = SOURCE_EXERCISES[gid]
    right = grading.grade(gid, nbbuild.edition_source(answer, "solutions"), setup)
    assert right.passed and right.outcome == "passed", right.message
    stub = grading.grade(gid, nbbuild.edition_source(answer, "student"), setup)
    assert not stub.passed and stub.outcome == "not-done", stub.message
    assert all(len(line) <= grading.WIDTH for line in right.message.splitlines() + stub.message.splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_no_cheat_passes(cheat):
    setup = SOURCE_EXERCISES["ex5_2"][2]
    outcome = grading.grade("ex5_2", WRONG_ESS + CHEATS[cheat], setup)
    assert not outcome.passed, outcome
    want = {"library": "library-call", "allclose": "tampered", "setattr": "tampered", "report-passed": "tampered",
            "subclass": "tensor-subclass", "rebind-exercises": "not-normalised"}[cheat]
    assert outcome.outcome == want, outcome


@pytest.mark.slow
def test_a_right_answer_through_lvmlib_is_not_a_pass_even_when_it_hides_the_refusal():
    setup = SOURCE_EXERCISES["ex5_1"][2]
    answer = ("def log_weights(x, model, q, K, generator=None):\n"
              "    try:\n        return est.log_weights(x, model, q, K, generator=generator)\n"
              "    except:\n        return model.prior().log_prob(sample(q.expand(torch.Size([x.shape[0]])), (K,), "
              "generator))\n\n"
              "def log_p_hat(log_w):\n    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])\n")
    outcome = grading.grade("ex5_1", answer, setup)
    assert outcome.outcome == "library-call" and "lvmlib.inference.estimators.log_weights" in outcome.message


@pytest.mark.slow
@pytest.mark.parametrize("gid, answer, mistake", [
    ("ex5_2", WRONG_ESS, "not-normalised"),
    ("ex5_2", "def effective_sample_size(log_w):\n    w = torch.exp(log_w)\n    w_bar = w / w.sum(dim=0, keepdim=True)\n"
              "    return 1 / (w_bar ** 2).sum(dim=0)\n", "exp-first"),  # the draft with one planted bug fixed
    ("ex3_1", "from torch.distributions import Normal\n\n\ndef mixture_log_px(x, weights, means, stds):\n"
              "    return torch.logsumexp(Normal(means, stds).log_prob(x[:, None]), dim=1)\n", "no-log-weights"),
    ("ex10_1", "def mixture_log_prob(z, logits, loc, scale):\n"
               "    comp = torch.distributions.Normal(loc, scale).log_prob(z[:, None, :]).sum(-1)\n"
               "    return torch.logsumexp(logits + comp, dim=-1)\n", "unnormalised-weights"),
    ("ex5_2", "def effective_sample_size(log_w):\n    return log_w.sum() + 1 / 0\n", "error"),
    ("ex5_2", "def effective_sample_size(log_w):\n    return log_w[0] * 0 + 1.5\n", "wrong"),
])
def test_known_mistakes_come_out_as_their_ids(gid, answer, mistake):
    outcome = grading.grade(gid, answer, SOURCE_EXERCISES[gid][2])
    assert outcome.outcome == mistake, outcome


@pytest.mark.slow
def test_a_loop_that_swallows_everything_times_out_in_the_graded_process():
    answer = "import time\ndef effective_sample_size(log_w):\n    while True:\n        try:\n" \
             "            time.sleep(0.01)\n        except:\n            pass\n"
    outcome = grading.grade("ex5_2", answer, SOURCE_EXERCISES["ex5_2"][2], time_limit=8)
    assert outcome.outcome == "timeout" and not outcome.passed


@pytest.mark.slow
def test_autograde_reads_the_notebook_from_its_folder(tmp_path, monkeypatch, capsys):
    _, answer, setup, _, _ = SOURCE_EXERCISES["ex5_2"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup),
                nbformat.v4.new_code_cell(WRONG_ESS + CHEATS["allclose"],
                                          metadata={"nbgrader": {"grade_id": "ex5_2", "solution": True}})]
    nbformat.write(nb, tmp_path / "05.ipynb")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError) as err:
        ex.autograde("ex5_2", "05.ipynb")
    out = capsys.readouterr().out
    assert "lvmlib-outcome: ex5_2 tampered" in out and len(str(err.value)) < 100
    assert "lvmlib-flags: ex5_2 patches-module" in out
    assert all(len(line) <= grading.WIDTH for line in out.splitlines())
    nb.cells[1].source = nbbuild.edition_source(answer, "solutions")
    nbformat.write(nb, tmp_path / "05.ipynb")
    assert ex.autograde("ex5_2", "05.ipynb").passed
    assert "lvmlib-outcome: ex5_2 passed" in capsys.readouterr().out
