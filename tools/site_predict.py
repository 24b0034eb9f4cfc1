"""The predictions on the static site: a form in the page, the answers in a file fetched after the commit.

A notebook's prediction cell (``exercises.predict("5.3")``) stores an ipywidgets view, which a page
with no kernel cannot run.  :func:`extract_predictions` replaces each such output by a plain HTML form
built from the question bank (:mod:`lvmlib.exercises.questions`): a ``<fieldset>`` whose ``<legend>``
is the question, one labelled radio button per option (or a labelled number box), a Commit button
and an ``aria-live`` region for the result.  The answers and whys of the page's predictions go to
``_static/predict/HASH.json`` (named by a hash of its bytes, so both editions share one file), which
the page's script ``lvm_predict.js`` fetches only when the reader commits: no answer, and no why,
is in the page before that.

The page's HTML carries no script (the site's Content-Security-Policy allows none inline); the form
works once ``lvm_predict.js`` (loaded by every page, ``docs/site/conf.py``) finds it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import nbformat

from lvmlib.exercises.questions import QUESTIONS, Question

#: a prediction cell's call, as the notebooks write it
CALL = re.compile(r"""\bexercises\.predict\(\s*["']([0-9]+\.[0-9]+[a-z]?)["']\s*\)""")
#: the widget's text form (scaffold.Prediction.__repr__), as a fallback
REPR = re.compile(r"^Prediction ([0-9]+\.[0-9]+[a-z]?): ")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _slug(exercise_id: str) -> str:
    return "lvm-predict-" + re.sub(r"[^0-9a-z]", "-", exercise_id)


def form_html(q: Question, answers: str) -> str:
    """The prediction as a form: question (legend), options or a number box, Commit, a live result.

    ``answers`` is the hash of the answers' file; nothing of the answer or the why is in the form."""
    slug = _slug(q.id)
    e = html.escape
    if q.numeric:
        field = (f'<label class="lvm-predict-label" for="{slug}-n">Your prediction (a number)</label> '
                 f'<input class="lvm-predict-number" id="{slug}-n" name="{slug}" type="text" inputmode="decimal" '
                 f'autocomplete="off" spellcheck="false">')
    else:
        field = "".join(
            f'<label class="lvm-predict-option" for="{slug}-{i}"><input type="radio" id="{slug}-{i}" name="{slug}" '
            f'value="{i}"> {e(option)}</label>' for i, option in enumerate(q.options))
    return (f'<div class="lvm-predict" data-id="{e(q.id)}" data-answers="{e(answers)}">'
            f'<fieldset class="lvm-predict-fields"><legend><b>Predict ({e(q.id)}):</b> {e(q.question)}</legend>'
            f'{field}</fieldset>'
            f'<button type="button" class="lvm-predict-commit" disabled>Commit</button> '
            f'<span class="lvm-predict-note">(commit to a prediction to see the answer; needs JavaScript)</span>'
            f'<div class="lvm-predict-result" role="status" aria-live="polite"></div></div>')


def answers_json(ids: list[str]) -> bytes:
    """The answers' file of one notebook: id -> answer (index or number), its text, why, tolerance."""
    out = {}
    for exercise_id in ids:
        q = QUESTIONS[exercise_id]
        out[q.id] = {"numeric": q.numeric, "answer": q.answer, "answer_text": q.answer_text, "why": q.why,
                     "tolerance": q.tolerance}
    return json.dumps(out, sort_keys=True, ensure_ascii=False).encode()


def prediction_id(cell) -> str | None:
    """The exercise id a code cell predicts (from its source, else its output's text), or None."""
    m = CALL.search(cell.get("source", ""))
    if m:
        return m.group(1)
    for out in cell.get("outputs", []):
        text = out.get("data", {}).get("text/plain", "")
        m = REPR.match("".join(text) if isinstance(text, list) else text)
        if m:
            return m.group(1)
    return None


def extract_predictions(nb, static_dir: Path) -> int:
    """Replace each prediction's output by its form; write the notebook's answers to
    ``static_dir/predict/HASH.json``.  Returns how many predictions were replaced.

    Raises ``KeyError`` (naming the bank) for an id the question bank does not have."""
    cells = [(cell, prediction_id(cell)) for cell in nb.cells if cell.cell_type == "code"]
    cells = [(cell, i) for cell, i in cells if i is not None]
    if not cells:
        return 0
    for _, exercise_id in cells:
        if exercise_id not in QUESTIONS:
            raise KeyError(f"a prediction cell names {exercise_id!r}, which the question bank "
                           "(lvmlib/exercises/questions.py) does not have")
    blob = answers_json([i for _, i in cells])
    digest = hashlib.sha256(blob).hexdigest()[:20]
    folder = Path(static_dir) / "predict"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.json"
    if not path.exists():
        path.write_bytes(blob)
    for cell, exercise_id in cells:
        form = form_html(QUESTIONS[exercise_id], digest)
        cell["outputs"] = [nbformat.v4.new_output("display_data", data={"text/html": form},
                                                  metadata={"lvm_site_app": True})]  # ours: the sanitiser leaves it
    return len(cells)
