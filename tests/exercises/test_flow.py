"""The student's code runs the notebook: every ``exercises.choose(...)`` result is used by a later code
cell, and the exercises listed below are wired (read from the sources, no kernel needed).

A notebook's wiring: ``name_used = exercises.choose(exercises.check_x(fn), fn, lvmlib_fn)`` after the
check; a later code cell calls ``name_used`` (or passes it on, e.g. ``score_terms=name_used``).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
from tools.nbbuild import parse  # noqa: E402

SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[01]*.py"))
_CHOOSE = re.compile(r"^(\w+)\s*=\s*exercises\.choose\(\s*exercises\.(check_\w+)\((\w+)[,)]", re.M)

#: notebook -> {the student's function: what must run it downstream}, for the notebooks wired so far
WIRED = {
    "07_variational_autoencoder": {"reparameterized_sample": "reparameterized_sample_used",
                                   "negative_elbo": "negative_elbo_used", "fit": "fit_used"},
    "09_learning_with_the_elbo": {"score_function_terms": "score_function_terms_used"},
    "10_priors_and_labels": {"mixture_log_prob": "mixture_log_prob_used", "prior_term": "prior_term_used",
                             "unlabelled_bound": "unlabelled_bound_used"},
    "05_importance_sampling": {"log_weights": "log_weights_used", "log_p_hat": "log_p_hat_used",
                               "effective_sample_size": "ess_used"},
    "06_elbo_and_its_gap": {"objective": "objective_used"},
    "08_latent_interpolation": {"slerp": "slerp_used"},
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
        checks = [j for j in range(i) if re.fullmatch(rf"exercises\.{check}\({fn}(, \w+)*\)", cells[j].strip())
                  or re.fullmatch(rf"exercises\.check_\w+\((\w+, )*{fn}(, \w+)*\)", cells[j].strip())]
        defs = [j for j in range(i) if re.search(rf"^def {fn}\(", cells[j], re.M)]
        assert defs and checks and checks[-1] == defs[-1] + 1, (name, fn)


def test_the_training_loop_drives_the_short_run():
    cells = _code_cells(ROOT / "tools" / "notebook_src" / "07_variational_autoencoder.py")
    loss = next(c for c in cells if c.startswith("g_loss") or "def elbo_loss" in c)
    assert _uses(loss, "reparameterized_sample_used") and _uses(loss, "negative_elbo_used")
    assert any("fit_used(" in c and "elbo_loss" in c for c in cells)


def test_score_terms_drive_the_variance_comparison():
    cells = _code_cells(ROOT / "tools" / "notebook_src" / "09_learning_with_the_elbo.py")
    uses = [c for c in cells if "score_terms=score_function_terms_used" in c]
    assert any("estimator_variance" in c for c in uses) and any("gradient_grid" in c for c in uses)


def _code(name: str) -> list[str]:
    return _code_cells(ROOT / "tools" / "notebook_src" / f"{name}.py")


def test_the_log_weights_and_ess_drive_the_importance_sampling_notebook():
    """05: the one estimate, the slider grid (its statistics and the ESS figures), the zero-variance check at the
    posterior and the 2000 repeated estimates all run the student's log_weights, log_p_hat and ESS."""
    cells = _code("05_importance_sampling")
    grid = next(c for c in cells if "nb05.precompute(" in c)
    for name in ("log_weights=log_weights_used", "log_p_hat=log_p_hat_used", "ess=ess_used"):
        assert name in grid
    estimates = [c for c in cells if "log_weights_used(" in c and "log_p_hat_used(" in c]
    assert len(estimates) >= 3 and any("ess_used(" in c for c in estimates)
    assert any("model.prior()" in c and "xs" in c for c in estimates), "naive MC is the student's log_weights too"
    later = cells[cells.index(grid) + 1:]
    assert any("jensen_figure(grid" in c for c in later) and any("narrow_wide_figure(grid" in c for c in later)


def test_the_objective_drives_the_elbo_notebook():
    """06: the ELBO table, the L_K table, the two-mode figure and the upper-bound comparison run the objective."""
    cells = _code("06_elbo_and_its_gap")
    uses = [c for c in cells if _uses(c, "objective_used")]
    assert any('"elbo"' in c and "kl_divergence" in c for c in uses)
    assert any('"iwae"' in c and "K x gap" in c for c in uses)
    assert any("nl_iwae[c]" in c for c in uses) and any("harmonic_mean_estimate" in c for c in uses)
    assert not any("block_estimates(" in c for c in cells), "the two-mode L_K comes from the student's objective"


def test_the_slerp_builds_the_interpolation_app():
    cells = _code("08_latent_interpolation")
    paths = next(c for c in cells if "nb08.interpolation_paths(" in c)
    assert "slerp=slerp_used" in paths
    app = next(i for i, c in enumerate(cells) if "nb08.interpolation_app(paths" in c)
    assert cells.index(paths) < app


def test_the_em_app_runs_the_students_steps_and_loop():
    cells = _code_cells(ROOT / "tools" / "notebook_src" / "02_mixture_of_gaussians_em.py")
    fits = next(c for c in cells if c.startswith("fits = "))
    assert "steps=nb02.EMSteps(e_step_used, m_step_used, em_loop_used)" in fits
    assert any("path_difference(fits[name]" in c for c in cells)  # compared with lvmlib's fast path


def test_the_repeated_estimates_and_the_curves_run_the_students_function():
    src = ROOT / "tools" / "notebook_src"
    assert any("estimate=naive_mc_used" in c and "repeated_estimates" in c for c in _code_cells(src / "04_naive_monte_carlo.py"))
    assert any("log_px=mixture_log_px_used" in c for c in _code_cells(src / "03_marginalization.py"))
    assert any("sampler=sample_story_used" in c for c in _code_cells(src / "01_latent_variable_models.py"))
