"""Scaffolding for the exercises: hint ladders and predictions committed before the answer shows.

- :func:`hints` returns up to three folded hints, from a nudge to nearly the answer, as plain
  HTML ``<details>`` elements (no JavaScript: it renders in JupyterLab, Colab and a static HTML
  page alike).  Each hint is folded inside the one before, so they open in order.
- :func:`predict` returns a small widget: the student picks an option (or types a number) and
  presses "commit"; only then do the answer and the why appear.  The notebooks call it with an
  exercise id (``predict("5.3")``): the texts live in the question bank
  (:mod:`lvmlib.exercises.questions`), so no cell's source holds an answer.  The answer lives in the kernel
  until the commit: it is in no stored output or widget state before that, and the widget's text
  form (what nbval compares) is the question alone, the same on every run.
"""

from __future__ import annotations

import html
import math
import re
from typing import Sequence

__all__ = ["Hints", "hints", "predict"]  # and Prediction, the widget class (built on first use)

_LABELS = {1: ["Hint"], 2: ["Hint 1 (a nudge)", "Hint 2 (nearly the answer)"],
           3: ["Hint 1 (a nudge)", "Hint 2 (a step further)", "Hint 3 (nearly the answer)"]}


def _inline(text: str) -> str:
    """Escape ``text`` for HTML, keeping `code` spans and $math$ as they are written."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            out.append(html.escape(part).replace("\n\n", "<br><br>"))
    return "".join(out)


class Hints:
    """A hint ladder: ``_repr_html_`` is the folded HTML; the text form names the hints only."""

    def __init__(self, texts: Sequence[str]):
        self.texts = tuple(texts)
        self.labels = tuple(_LABELS[len(self.texts)])

    def _repr_html_(self) -> str:
        inner = ""
        for label, text in reversed(list(zip(self.labels, self.texts))):
            inner = (f'<details class="lvmlib-hint" style="margin:4px 0 2px 0"><summary style="cursor:pointer">'
                     f"{html.escape(label)}</summary>"
                     f'<div style="margin:4px 0 4px 1.2em">{_inline(text)}{inner}</div></details>')
        return f'<div class="lvmlib-hints">{inner}</div>'

    def __repr__(self) -> str:
        return f"{len(self.texts)} folded hint(s): " + "; ".join(self.labels) + " (open them one at a time)"

    __str__ = __repr__


def hints(*texts: str) -> Hints:
    """A ladder of one to three hints, each folded (``<details>``) inside the one before.

    ``hints("nudge", "a step further", "nearly the answer")``; `code` in backticks is shown as code.
    Display it (make it the last line of a cell) to show the folded hints.
    """
    if not 1 <= len(texts) <= 3:
        raise ValueError(f"hints takes one to three texts, got {len(texts)}")
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("every hint must be a non-empty string")
    return Hints(texts)


def _number(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def predict(question: str, options=None, answer=None, why: str | None = None, *, tolerance: float = 0.1):
    """A prediction to commit to before the answer shows.

    ``predict("5.3")`` takes the question, options, answer and why from the question bank
    (:mod:`lvmlib.exercises.questions`, keyed by exercise id): that is how the notebooks call it, so
    no answer is in a cell's source.  ``predict(question, options, answer, why)`` makes one that is
    not in the bank (an instructor's own).

    Args:
        question: an exercise id of the bank, or the text of what to predict.
        options: a list of option strings (pick one), or ``float`` (or ``"number"``) to type a number.
        answer: the right option (its text or its index), or the right number.
        why: the explanation shown with the answer after the commit.
        tolerance: for a number, the relative error that still counts as right.

    Returns:
        a :class:`Prediction` widget (an ipywidgets ``VBox``); its model state (what a stored
        notebook keeps) holds the question and the options only, the same whatever the answer.
    """
    from lvmlib.exercises.questions import QUESTIONS, Question, question as from_bank

    if options is None and answer is None and why is None:
        if question not in QUESTIONS and not _looks_like_id(question):
            raise ValueError("give an exercise id of the question bank (e.g. predict(\"5.3\")), or a question with "
                             "its options, answer and why")
        return _prediction(from_bank(question))
    if why is None or answer is None or options is None:
        raise ValueError("a prediction outside the bank needs the question, options, answer and why")
    numeric = options is float or options == "number"
    if numeric:
        if _number(answer) is None:
            raise ValueError(f"a numeric prediction needs a finite number as answer, got {answer!r}")
        return _prediction(Question("", question, None, float(answer), why, tolerance))
    options = [str(o) for o in options]
    if len(options) < 2:
        raise ValueError("give at least two options (or options=float for a number)")
    if isinstance(answer, int) and not isinstance(answer, bool):
        if not 0 <= answer < len(options):
            raise ValueError(f"answer index {answer} is out of range for {len(options)} options")
        answer = options[answer]
    if str(answer) not in options:
        raise ValueError(f"the answer {answer!r} is not one of the options")
    return _prediction(Question("", question, tuple(options), options.index(str(answer)), why, tolerance))


def _looks_like_id(text) -> bool:
    return isinstance(text, str) and re.fullmatch(r"\d+\.\d+[a-z]?", text) is not None


def _prediction_class():
    import ipywidgets as widgets

    class Prediction(widgets.VBox):
        """The prediction widget of :func:`predict` (question, input, "commit", then answer and why).

        The :class:`~lvmlib.exercises.questions.Question` (answer and why included) is a plain Python
        attribute: it never reaches the front end, nor the widget state a notebook stores, before
        :meth:`commit` writes the result.
        """

        def __init__(self, q):
            self._q = q
            self.committed = False
            self.guess = None
            label = f"Predict ({q.id})" if q.id else "Predict"
            prompt = widgets.HTML(f"<b>{label}:</b> {_inline(q.question)}")
            if q.numeric:
                self._input = widgets.Text(placeholder="type a number", description="")
            else:
                self._input = widgets.RadioButtons(options=list(q.options), value=None, description="",
                                                   layout=widgets.Layout(width="auto"))
            self._button = widgets.Button(description="commit", button_style="", tooltip="commit to your prediction",
                                          layout=widgets.Layout(width="8em"))
            self._result = widgets.HTML("")
            self._button.on_click(lambda _: self.commit())
            super().__init__([prompt, self._input, self._button, self._result])

        @property
        def exercise_id(self) -> str:
            return self._q.id

        def commit(self, guess=None):
            """Commit to ``guess`` (default: what is entered); then show the answer and the why."""
            if self.committed:
                return self
            q = self._q
            value = self._input.value if guess is None else guess
            if q.numeric:
                number = _number(value)
                if number is None:
                    self._result.value = "<i>Type a number first, then press commit.</i>"
                    return self
                said = f"{number:.4g}"
                right = q.right(number)
            else:
                if value is None or str(value) not in q.options:
                    self._result.value = "<i>Pick an option first, then press commit.</i>"
                    return self
                right, said = q.right(value), str(value)
            self.committed, self.guess = True, said
            self._input.disabled = self._button.disabled = True
            verdict = "Right." if right else "Not quite."
            self._result.value = (f"<div>You predicted <b>{html.escape(said)}</b>. {verdict} The answer: "
                                  f"<b>{html.escape(q.answer_text)}</b>.<br>{_inline(q.why)}</div>")
            return self

        def __repr__(self) -> str:
            name = f"Prediction {self._q.id}" if self._q.id else "Prediction"
            if self.committed:
                return f"{name}: {self._q.question} (you predicted {self.guess}; the answer: {self._q.answer_text})"
            how = "type a number" if self._q.numeric else "pick an option"
            return f"{name}: {self._q.question} ({how}, then press commit to see the answer)"

    return Prediction


_CLASS = None


def _prediction(*args):
    global _CLASS
    if _CLASS is None:
        _CLASS = _prediction_class()
    return _CLASS(*args)


def __getattr__(name: str):
    if name == "Prediction":  # the widget class, built on first use (ipywidgets is imported then)
        global _CLASS
        if _CLASS is None:
            _CLASS = _prediction_class()
        return _CLASS
    raise AttributeError(name)
