"""The student's code runs the notebook: every ``exercises.choose(...)`` result is used by a later code
cell, and the exercises listed below are wired (read from the sources, no kernel needed).

A notebook's wiring: ``name_used = exercises.choose(exercises.check_x(fn), fn, lvmlib_fn)`` after the
check; a later code cell calls ``name_used`` (or passes it on, e.g. ``score_terms=name_used``).
"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from nbbuild import parse  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[01]*.py"))
_CHOOSE = re.compile(r"^(\w+)\s*=\s*exercises\.choose\(\s*exercises\.(check_\w+)\((\w+)\)", re.M)

#: notebook -> {the student's function: what must run it downstream}, for the notebooks wired so far
WIRED = {
    "01_latent_variable_models": {"sample_story": "sample_story_used"},
    "02_mixture_of_gaussians_em": {"e_step": "e_step_used", "m_step": "m_step_used", "em_loop": "em_loop_used"},
    "03_marginalization": {"mixture_log_px": "mixture_log_px_used"},
    "04_naive_monte_carlo": {"naive_mc": "naive_mc_used"},
}


def _code_cells(src: Path) -> list[str]:
    return [c.source for c in parse(src.read_text(), "solutions").cells if c.cell_type == "code"]


def _chosen(cells: list[str]) -> list[tuple[int, str, str, str]]:
    """(cell index, name_used, check, student function) of every choose(...) in the notebook."""
    return [(i, m[1], m[2], m[3]) for i, cell in enumerate(cells) for m in _CHOOSE.finditer(cell)]


def _uses(cell: str, name: str) -> bool:
    code = "\n".join(line.split("#", 1)[0] for line in cell.splitlines())  # not in a comment
    return re.search(rf"(?<![\w.]){re.escape(name)}\b(?!\s*=[^=])", code) is not None


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_chosen_function_is_used_by_a_later_code_cell(src):
    cells = _code_cells(src)
    for i, used, _, _ in _chosen(cells):
        later = [j for j in range(i + 1, len(cells)) if _uses(cells[j], used)
                 and cells[j].strip() != used]  # displaying it alone is not using it
        assert later, f"{src.stem}: {used} (cell {i}) is never called by a later code cell"


@pytest.mark.parametrize("name", sorted(WIRED))
def test_the_wired_exercises_are_wired(name):
    src = ROOT / "tools" / "notebook_src" / f"{name}.py"
    found = {fn: used for _, used, _, fn in _chosen(_code_cells(src))}
    for fn, used in WIRED[name].items():
        assert found.get(fn) == used, f"{name}: no `{used} = exercises.choose(exercises.check_...({fn}), ...)`"


@pytest.mark.parametrize("name", sorted(WIRED))
def test_the_choose_cell_comes_after_the_check_cell(name):
    """nbgrader needs the check right after the solution cell; choose re-runs the check later."""
    cells = _code_cells(ROOT / "tools" / "notebook_src" / f"{name}.py")
    for i, _, check, fn in _chosen(cells):
        checks = [j for j in range(i) if cells[j].strip() == f"exercises.{check}({fn})"]
        defs = [j for j in range(i) if re.search(rf"^def {fn}\(", cells[j], re.M)]
        assert defs and checks and checks[-1] == defs[-1] + 1, (name, fn)


def test_the_em_app_runs_the_students_steps_and_loop():
    cells = _code_cells(ROOT / "tools" / "notebook_src" / "02_mixture_of_gaussians_em.py")
    fits = next(c for c in cells if c.startswith("fits = "))
    assert all(f"{k}={k}_used" in fits for k in ("e_step", "m_step", "em_loop"))
    assert any("path_difference(fits[name]" in c for c in cells)  # compared with lvmlib's fast path


def test_the_repeated_estimates_and_the_curves_run_the_students_function():
    src = ROOT / "tools" / "notebook_src"
    assert any("estimate=naive_mc_used" in c and "repeated_estimates" in c for c in _code_cells(src / "04_naive_monte_carlo.py"))
    assert any("log_px=mixture_log_px_used" in c for c in _code_cells(src / "03_marginalization.py"))
    assert any("sampler=sample_story_used" in c for c in _code_cells(src / "01_latent_variable_models.py"))
