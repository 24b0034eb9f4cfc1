"""A student does an exercise in JupyterLab: types a solution into a code exercise, runs it and its check.

Two notebooks: 04 (below) and 02 (at the end: a typed E-step and M-step pass their checks, `choose` says
"your e_step", and the EM app's fits run with them, on lvmlib's path to 1e-8; then a wrong E-step gets its
diagnosis and the notebook goes back to lvmlib's).

Opens the student edition of notebook 04 in headless Chromium, runs all cells (the unfilled stub must
leave Run All clean and its check must say "not done yet"), then types a correct ``naive_mc`` into the
exercise cell, runs it and the check below it, and sees the pass; then types a listed wrong answer
(averaging the log-weights) and sees its diagnosis.  Uses ``labdriver`` for the server, the browser
and Run All; the cell editing is here.

Needs Chromium from the OS and Playwright, like ``test_jupyterlab.py``.
"""

import time

import pytest

from tools import labdriver

pytestmark = pytest.mark.browser

NOTEBOOK = "04_naive_monte_carlo.ipynb"
STUB_NEEDLE = "def naive_mc(log_w):"
CHECK_NEEDLE = "exercises.check_naive_mc(naive_mc)"

RIGHT = """def naive_mc(log_w):
    n = log_w.shape[0]
    log_p_hat = torch.logsumexp(log_w, dim=0) - math.log(n)
    rel_se = torch.exp(log_w - log_p_hat).std(dim=0) / math.sqrt(n)
    return log_p_hat, rel_se"""

WRONG = RIGHT.replace("torch.logsumexp(log_w, dim=0) - math.log(n)", "log_w.mean(dim=0)")  # Jensen's mistake

CELL_JS = r"""
([needle]) => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const cells = [...nb.querySelectorAll('.jp-Cell')];
  const source = (c) => [...c.querySelectorAll('.cm-line')].map(l => l.textContent).join('\n');
  const i = cells.findIndex(c => c.classList.contains('jp-CodeCell') && source(c).includes(needle));
  if (i < 0) return null;
  const c = cells[i];
  const prompt = c.querySelector('.jp-InputArea-prompt');
  return {index: i, source: source(c), prompt: prompt ? prompt.textContent.trim() : '',
          output: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.textContent).join('\n')};
}
"""


def cell(nb, needle):
    found = nb.page.evaluate(CELL_JS, [needle])
    if found is None:
        raise labdriver.NotebookError(f"{nb.name}: no code cell contains {needle!r}")
    return found


def cell_locator(nb, index):
    return nb.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def type_into(nb, needle, code):
    """Replace the code cell's text by ``code``, as a student would (select all, type)."""
    target = cell(nb, needle)
    editor = cell_locator(nb, target["index"]).locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    nb.page.keyboard.press("Control+A")
    nb.page.keyboard.insert_text(code)  # literal text: no auto-indent or bracket closing
    now = cell(nb, needle.split("(")[0])["source"]
    if now.strip() != code.strip():
        raise labdriver.NotebookError(f"{nb.name}: the cell holds\n{now}\nafter typing\n{code}")
    return target["index"]


def run_cell_and_next(nb, index, check_needle, expect, timeout=60.0):
    """Shift+Enter twice (the exercise cell, then its check); wait for the check's output to contain ``expect``."""
    before = cell(nb, check_needle)["prompt"]
    nb.page.keyboard.press("Shift+Enter")   # runs the cell being edited, selects the next one (the check)
    time.sleep(0.3)
    nb.page.keyboard.press("Shift+Enter")   # runs the check
    return wait_for_output(nb, check_needle, before, expect, timeout, poll=0.2)


def wait_for_output(nb, needle, before, expect, timeout, *, poll):
    """The output of the cell containing ``needle`` once it has run again (its prompt is no longer
    ``before`` and not ``*``) and shows ``expect``; a NotebookError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = cell(nb, needle)
        if out["prompt"] != before and "*" not in out["prompt"] and expect in out["output"]:
            return out["output"]
        time.sleep(poll)
    out = cell(nb, needle)
    raise labdriver.NotebookError(f"{nb.name}: the cell {needle!r} did not show {expect!r} within {timeout:.0f} s; "
                                  f"prompt {out['prompt']!r} (before {before!r}), output:\n{out['output']}")


def test_exercise_right_and_wrong_answer_in_browser(lab, chromium, tmp_path):
    nb = labdriver.LabNotebook(lab, labdriver.new_page(chromium), NOTEBOOK)
    try:
        try:
            nb.open()
            nb.run_all()
            problems = nb.problems()
            assert not problems, f"{NOTEBOOK} after Run All Cells:\n" + "\n\n".join(problems)
            assert "not done yet" in cell(nb, CHECK_NEEDLE)["output"], "the stub's check should say 'not done yet'"

            index = type_into(nb, STUB_NEEDLE, RIGHT)
            passed = run_cell_and_next(nb, index, CHECK_NEEDLE, "passed on all")
            assert "Exercise 4.1" in passed

            index = type_into(nb, STUB_NEEDLE, WRONG)
            wrong = run_cell_and_next(nb, index, CHECK_NEEDLE, "not yet")
            assert "You averaged the log-weights" in wrong and "Jensen" in wrong, wrong
            assert not nb.problems(), nb.problems()
        except (labdriver.NotebookError, AssertionError) as err:
            shot = tmp_path / "exercise.png"
            try:
                nb.page.screenshot(path=str(shot), full_page=True)
            except Exception:  # noqa: BLE001 - the page may be gone
                pass
            console = "\n".join(nb.console[-10:])
            pytest.fail(f"{err}\nscreenshot: {shot}\nbrowser console errors:\n{console}", pytrace=False)
    finally:
        nb.close()
        lab.shutdown_kernels()


# ---------------------------------------------------------------- notebook 02: the student's EM steps run the app

NB02 = "02_mixture_of_gaussians_em.ipynb"

E_RIGHT = """from torch.distributions import MultivariateNormal


def e_step(x, weights, means, covariances):
    log_joint = torch.log(weights) + MultivariateNormal(means, covariances).log_prob(x[:, None, :])
    return torch.exp(log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True))"""

E_WRONG = """from torch.distributions import MultivariateNormal


def e_step(x, weights, means, covariances):
    p = weights * MultivariateNormal(means, covariances).log_prob(x[:, None, :]).exp()
    return p / p.sum(1, keepdim=True)"""   # exponentiates first: 0 / 0 far from every component

M_RIGHT = """def m_step(x, r):
    n_k = r.sum(0)
    means = (r.T @ x) / n_k[:, None]
    diff = x[None, :, :] - means[:, None, :]
    covariances = torch.einsum("nk,kni,knj->kij", r, diff, diff) / n_k[:, None, None]
    return n_k / x.shape[0], means, covariances"""


def run_one(nb, needle, expect, timeout=300.0):
    """Click into the code cell containing ``needle``, run it (Shift+Enter), wait for ``expect`` in its output."""
    target = cell(nb, needle)
    editor = cell_locator(nb, target["index"]).locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    nb.page.keyboard.press("Shift+Enter")
    return wait_for_output(nb, needle, target["prompt"], expect, timeout, poll=0.3)


def test_em_steps_typed_in_the_browser_run_the_em_app(lab, chromium, tmp_path):
    nb = labdriver.LabNotebook(lab, labdriver.new_page(chromium), NB02)
    try:
        try:
            nb.open()
            nb.run_all(timeout=600.0)
            problems = nb.problems()
            assert not problems, f"{NB02} after Run All Cells:\n" + "\n\n".join(problems)
            assert "not done yet" in cell(nb, "exercises.check_e_step(e_step)")["output"]
            assert "lvmlib's" in cell(nb, "e_step_used = exercises.choose")["output"]

            index = type_into(nb, "def e_step(x, weights, means, covariances):", E_RIGHT)
            assert "Exercise 2.1" in run_cell_and_next(nb, index, "exercises.check_e_step(e_step)", "passed on all")
            chosen = run_one(nb, "e_step_used = exercises.choose", "run your e_step")
            assert "its check passed" in chosen, chosen

            index = type_into(nb, "def m_step(x, r):", M_RIGHT)
            assert "Exercise 2.2" in run_cell_and_next(nb, index, "exercises.check_m_step(m_step)", "passed on all")
            run_one(nb, "m_step_used = exercises.choose", "run your m_step")

            fits = run_one(nb, "fits = {name: nb02.fit_em_start", "e_step yours, m_step yours")
            assert "iterations, mean log-likelihood" in fits, fits
            same = run_one(nb, "nb02.path_difference(fits[name]", "< 1e-8")
            assert same.count("< 1e-8") == 3, same          # the app's EM, run with the typed steps, is lvmlib's path
            run_one(nb, "nb02.em_app(runs", "")
            assert not nb.problems(), nb.problems()

            index = type_into(nb, "def e_step(x, weights, means, covariances):", E_WRONG)
            wrong = run_cell_and_next(nb, index, "exercises.check_e_step(e_step)", "not yet")
            assert "You exponentiated before normalising" in wrong and "log space" in wrong, wrong
            back = run_one(nb, "e_step_used = exercises.choose", "lvmlib's")
            assert "until your e_step passes its check" in back, back
        except (labdriver.NotebookError, AssertionError) as err:
            shot = tmp_path / "exercise02.png"
            try:
                nb.page.screenshot(path=str(shot), full_page=True)
            except Exception:  # noqa: BLE001 - the page may be gone
                pass
            console = "\n".join(nb.console[-10:])
            pytest.fail(f"{err}\nscreenshot: {shot}\nbrowser console errors:\n{console}", pytrace=False)
    finally:
        nb.close()
        lab.shutdown_kernels()
