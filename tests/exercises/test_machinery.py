"""The exercise-check machinery (lvmlib.exercises) and the two notebook editions (tools/nbbuild.py)."""

import math
from pathlib import Path

import pytest
import torch

from lvmlib import exercises as ex

ROOT = Path(__file__).resolve().parents[2]
from tools.nbbuild import END, BEGIN, STUB, edition_source, parse  # noqa: E402


def _iwae(log_w):
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


MISTAKES = [
    ex.Mistake("mean", "You averaged the log-weights: that is the ELBO, not the IWAE bound.", lambda lw: lw.mean(0)),
    ex.Mistake("no-logK", "You forgot the - log K.", lambda lw: torch.logsumexp(lw, 0)),
    ex.Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0.",
               lambda lw: lw.exp().mean(0).log()),
]
CASES = [ex.Case("K=3, B=2", (torch.tensor([[0.0, -1.0], [-2.0, -3.0], [-1.0, 0.5]]),)),
         ex.Case("log-weights near -2000", (torch.tensor([[-2000.0], [-2001.0]]),)),
         ex.Case("K=1", (torch.tensor([[-5.0, 1.0]]),))]


def _check(fn):
    return ex.check_function("Exercise T", fn, _iwae, CASES, MISTAKES)


def test_pass_todo_error():
    assert _check(_iwae).status == "passed"

    def stub(log_w):
        raise NotImplementedError
    report = _check(stub)
    assert report.status == "todo" and "not done yet" in repr(report)

    def broken(log_w):
        return log_w.foo
    report = _check(broken)
    assert report.status == "error" and "AttributeError" in report.message and "K=3" in report.message


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_each_mistake_is_named(mistake):
    report = _check(mistake.fn)
    assert report.status == "wrong" and report.mistake == mistake.name
    assert mistake.explain in report.message


def test_unknown_wrong_answer_and_shape():
    report = _check(lambda lw: _iwae(lw) + 1.0)
    assert report.status == "wrong" and report.mistake is None
    report = _check(lambda lw: torch.logsumexp(lw, 1))
    assert report.status == "wrong" and "shape" in report.message


def test_same_compares_shapes_values_nan_and_inf():
    assert ex.same(torch.tensor([1.0, -math.inf]), torch.tensor([1.0, -math.inf]))[0]
    assert not ex.same(torch.tensor([math.nan]), torch.tensor([math.nan]))[0]
    assert not ex.same(torch.zeros(2), torch.zeros(3))[0]
    assert ex.same((1.0, torch.ones(1)), (1.0 + 1e-9, torch.ones(1)))[0]
    assert not ex.same(2.0, 2.1)[0]


def test_editions_from_one_source():
    body = "def f(x):\n    '''doc'''\n    " + BEGIN + "\n    y = x + 1\n    return y\n    " + END + "\n\nf"
    student = edition_source(body, "student")
    solution = edition_source(body, "solutions")
    assert "y = x + 1" in solution and BEGIN not in solution and END not in solution
    assert "y = x + 1" not in student and STUB in student and "    raise NotImplementedError" in student
    ns = {}
    exec(student.replace("\nf", ""), ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)
    assert edition_source("x = 1", "student") == "x = 1"


@pytest.mark.parametrize("bad", [BEGIN + "\nx", END + "\nx", BEGIN + "\n" + BEGIN + "\n" + END + "\n" + END])
def test_unbalanced_markers_are_refused(bad):
    with pytest.raises(ValueError, match="SOLUTION"):
        edition_source(bad, "student")


def test_parse_makes_each_edition():
    src = "# %% [markdown]\n# ### Exercise 1.1: add one\n# %%\ndef f(x):\n    " + BEGIN + "\n    return x + 1\n    " + END + "\n"
    assert "return x + 1" in parse(src, "solutions").cells[1].source
    assert "return x + 1" not in parse(src, "student").cells[1].source


def test_one_module_per_notebook_and_every_check_exported():
    """Each notebook's checks live in their own module (lvmlib/exercises/nbNN.py), so one notebook's
    helpers cannot replace another's (two ``_mixture_cases`` in one file once made notebook 03's
    check run notebook 10's cases).  Every public ``check_*`` is defined once and exported."""
    import importlib
    import pkgutil

    import lvmlib.exercises as ex

    modules = sorted(m.name for m in pkgutil.iter_modules(ex.__path__) if m.name.startswith("nb"))
    assert modules == [f"nb{n:02d}" for n in range(1, 11)]
    seen: dict[str, str] = {}
    for name in modules:
        module = importlib.import_module(f"lvmlib.exercises.{name}")
        for attr in vars(module):
            if attr.startswith("check_") and getattr(module, attr).__module__ == module.__name__:
                assert attr not in seen, f"{attr} defined in both {seen[attr]} and {name}"
                seen[attr] = name
                assert attr in ex.__all__ and getattr(ex, attr).__wrapped__ is getattr(module, attr), attr  # (run_check)
    assert set(seen) == {n for n in ex.__all__ if n.startswith("check_") and n != "check_function"}
