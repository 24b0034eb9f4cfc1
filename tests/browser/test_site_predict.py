"""The predictions on the static site, with no kernel (tools/site_predict.py, lvm_predict.js).

A small site is built from two synthetic executed notebooks (both editions) holding a choice prediction
(5.3) and a number prediction (3.3) as the notebooks store them (the widget's view and its text form),
plus, where the stored notebooks call the bank (``exercises.predict("3.3")``), notebook 03 as stored.

- before the commit, no page holds an answer's why, and no answers file is requested;
- the form is a fieldset with a legend, a labelled input per option (or a labelled number box), a
  Commit button and a live region; at phone size nothing in it scrolls sideways;
- committing (a click, or Enter in the number box) fetches the answers, shows right / not quite, the
  answer and the why, and locks the inputs; axe finds no serious violation in the form either way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from lvmlib.exercises.questions import QUESTIONS
from tests.browser.test_site import AXE_RUN, PHONE, axe_script, open_page, poll, serve, site_module

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
STEM = "98_predictions"


def _notebook(edition: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Predictions ({edition})\n\nA test page.")]
    for exercise_id in ("5.3", "3.3"):
        cell = nbformat.v4.new_code_cell(f'# NBVAL_IGNORE_OUTPUT\nexercises.predict("{exercise_id}")')
        view = {"model_id": "0" * 31 + str(len(nb.cells)), "version_major": 2, "version_minor": 0}
        how = "type a number" if QUESTIONS[exercise_id].numeric else "pick an option"
        text = f"Prediction {exercise_id}: {QUESTIONS[exercise_id].question} ({how}, then press commit to see the answer)"
        cell.outputs = [nbformat.v4.new_output("execute_result", data={
            "text/plain": text, "application/vnd.jupyter.widget-view+json": view}, execution_count=1)]
        nb.cells += [nbformat.v4.new_markdown_cell(f"### Exercise {exercise_id}: predict"), cell]
    return nb


@pytest.fixture(scope="module")
def predict_site(tmp_path_factory):
    notebooks = tmp_path_factory.mktemp("notebooks")
    (notebooks / "solutions").mkdir()
    for edition, folder in (("student", notebooks), ("solutions", notebooks / "solutions")):
        nbformat.write(_notebook(edition), folder / f"{STEM}.ipynb")
    stored = ROOT / "notebooks" / "03_marginalization.ipynb"
    if 'exercises.predict(\\"3.3\\")' in stored.read_text():  # the stored notebooks call the bank
        shutil.copy(stored, notebooks / stored.name)
        shutil.copy(ROOT / "notebooks" / "solutions" / stored.name, notebooks / "solutions" / stored.name)
    out = tmp_path_factory.mktemp("site") / "site"
    pages = site_module().build(notebooks, out)
    base, server = serve(out)
    try:
        yield base, pages, out
    finally:
        server.shutdown()


def test_no_page_holds_an_answer_before_the_commit(predict_site):
    _, pages, out = predict_site
    answers = list((out / "_static" / "predict").glob("*.json"))
    assert answers, "the build wrote no answers file"
    for p in pages:
        if p["edition"] != "student":
            continue
        text = (out / p["page"]).read_text()
        for q in QUESTIONS.values():
            assert q.why[:40] not in text, f"{p['page']} holds the why of prediction {q.id} before any commit"
        if p["stem"] == STEM:
            assert text.count('class="lvm-predict"') == 2 and "<fieldset" in text and "<legend>" in text
            assert 'role="status"' in text and 'aria-live="polite"' in text
    stored = [p for p in pages if p["stem"] == "03_marginalization"]
    if stored:  # the real notebook, as the lead's rebuild stores it
        assert 'data-id="3.3"' in (out / stored[0]["page"]).read_text()


def test_committing_shows_the_answer_with_no_kernel_on_a_phone(predict_site, chromium):
    base, pages, out = predict_site
    page, refused, errors = open_page(chromium, f"{base}/{STEM}.html", **PHONE)
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "/predict/" in r.url else None)
    try:
        poll(page, "() => [...document.querySelectorAll('.lvm-predict-commit')].every(b => !b.disabled)")
        choice = page.locator('.lvm-predict[data-id="5.3"]')
        number = page.locator('.lvm-predict[data-id="3.3"]')
        # accessible names: the legend names the group, each input has its label
        assert choice.locator("fieldset legend").inner_text().startswith("Predict (5.3):")
        assert page.evaluate("""() => [...document.querySelectorAll('.lvm-predict input')].every(
            i => i.labels && i.labels.length === 1 && i.labels[0].textContent.trim())""")
        wide = page.evaluate("() => [...document.querySelectorAll('.lvm-predict')].map(b => b.scrollWidth - b.clientWidth)")
        assert max(wide) <= 1, f"a prediction form scrolls sideways on a phone: {wide}"
        choice.locator(".lvm-predict-commit").click()  # nothing picked: asks, tells nothing
        poll(page, "() => document.querySelector('.lvm-predict[data-id=\"5.3\"] .lvm-predict-result').textContent.includes('Pick')")
        assert not fetched, "the answers were fetched before a commit"
        q = QUESTIONS["5.3"]
        choice.get_by_label(q.options[q.answer]).check()
        choice.locator(".lvm-predict-commit").click()
        poll(page, "() => document.querySelector('.lvm-predict[data-id=\"5.3\"]').classList.contains('lvm-committed')")
        result = choice.locator(".lvm-predict-result").inner_text()
        assert "Right." in result and q.why[:40] in result and q.answer_text in result
        assert page.evaluate("() => [...document.querySelectorAll('.lvm-predict[data-id=\"5.3\"] input')].every(i => i.disabled)")
        assert fetched, "the commit fetched no answers file"
        n = QUESTIONS["3.3"]
        number.get_by_label("Your prediction (a number)").fill(f"{n.answer * 3}")
        number.get_by_label("Your prediction (a number)").press("Enter")
        poll(page, "() => document.querySelector('.lvm-predict[data-id=\"3.3\"]').classList.contains('lvm-committed')")
        result = number.locator(".lvm-predict-result").inner_text()
        assert "Not quite." in result and n.why[:40] in result
        assert not refused and not errors, (refused, errors)
        # (after that check: axe's css-orientation-lock rule re-fetches the theme's @import relative to
        # the page, a 404 that is axe's own)
        page.evaluate(axe_script().read_text() + "\n;0")
        serious = page.evaluate(AXE_RUN)
        assert not serious, serious
    finally:
        page.context.close()
