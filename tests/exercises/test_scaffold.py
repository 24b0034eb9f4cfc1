"""The exercises' scaffolding (lvmlib.exercises.scaffold): hint ladders and committed predictions."""

import json
import re

import pytest

from lvmlib.exercises import hints, predict, scaffold

WHY = "Jensen's inequality: E[log w] <= log E[w], so the ELBO sits below."


def test_hints_are_folded_details_in_order_plain_html():
    h = hints("Which dimension holds the K samples?", "Reduce over dim 0 with `torch.logsumexp`.",
              "`torch.logsumexp(log_w, 0) - math.log(K)` <almost>")
    page = h._repr_html_()
    assert page.count("<details") == 3 and page.count("</details>") == 3
    assert "<script" not in page and "onclick" not in page  # no JavaScript: Colab and static pages render it
    assert " open" not in page  # folded
    # nested: hint 2 is inside hint 1, hint 3 inside hint 2 (they open in order)
    first, second, third = (page.index(s) for s in ("Hint 1", "Hint 2", "Hint 3"))
    assert first < second < third and page.index("</details>") > third
    assert "<code>torch.logsumexp</code>" in page and "&lt;almost&gt;" in page


def test_hints_text_form_is_stable_and_gives_nothing_away():
    a = hints("nudge", "nearer", "nearly the answer: logsumexp")
    b = hints("nudge", "nearer", "nearly the answer: logsumexp")
    assert repr(a) == repr(b) and "logsumexp" not in repr(a) and "3 folded hint" in repr(a)
    assert "Hint" in repr(hints("only one")) and hints("only one")._repr_html_().count("<details") == 1


@pytest.mark.parametrize("texts", [(), ("a", "b", "c", "d"), ("",), ("ok", 3)])
def test_hints_refuse_bad_input(texts):
    with pytest.raises(ValueError):
        hints(*texts)


def _all_state(widget) -> str:
    """Everything the stored notebook would hold of the widget: its and its children's model state."""
    from ipywidgets.embed import dependency_state, embed_data

    return json.dumps(embed_data(views=[widget], state=dependency_state(widget))["manager_state"])


def test_prediction_hides_the_answer_until_commit():
    p = predict("Is the ELBO above or below log p(x)?", ["above", "below"], "below", WHY)
    before = repr(p)
    assert "Jensen" not in before and "the answer:" not in before
    assert "Jensen" not in _all_state(p) and "Right" not in _all_state(p)
    assert p._repr_mimebundle_()["text/plain"] == before  # what nbval compares
    p.commit("above")
    assert p.committed and "Not quite" in p.children[-1].value and "Jensen" in p.children[-1].value
    assert p.children[1].disabled and p.children[2].disabled
    p.commit("below")  # a second commit changes nothing
    assert p.guess == "above"


def test_prediction_text_is_the_same_on_every_run():
    a = predict("Q?", ["x", "y", "z"], 1, WHY)
    b = predict("Q?", ["x", "y", "z"], 1, WHY)
    assert repr(a) == repr(b) == "Prediction: Q? (pick an option, then press commit to see the answer)"
    assert not re.search(r"[0-9a-f]{32}", repr(a))  # no model ids


def test_prediction_by_button_and_a_number():
    q = predict("ESS of 10 equal weights?", float, 10, "Equal weights: ESS = K.")
    q.children[2].click()  # nothing typed yet: asks for a number, shows no answer
    assert not q.committed and "Type a number" in q.children[-1].value and "K." not in q.children[-1].value
    q.children[1].value = "9.5"
    q.children[2].click()
    assert q.committed and "Right." in q.children[-1].value and "ESS = K" in q.children[-1].value
    assert isinstance(q, scaffold.Prediction)
    r = predict("ESS?", "number", 10, "why")
    r.commit(3)
    assert "Not quite" in r.children[-1].value


def test_prediction_needs_a_pick_before_commit():
    p = predict("Q?", ["a", "b"], "a", WHY)
    p.children[2].click()
    assert not p.committed and "Pick an option" in p.children[-1].value and "Jensen" not in p.children[-1].value
    p.children[1].value = "a"
    p.children[2].click()
    assert p.committed and "Right." in p.children[-1].value


@pytest.mark.parametrize("options,answer", [(["a", "b"], "c"), (["a", "b"], 5), (["a"], "a"), (float, "x"),
                                            (float, float("nan"))])
def test_prediction_refuses_bad_input(options, answer):
    with pytest.raises(ValueError):
        predict("Q?", options, answer, WHY)


# --- the question bank (lvmlib.exercises.questions) and predict("5.3") ---------------------------

from lvmlib.exercises.questions import QUESTIONS, Question, question  # noqa: E402


def test_predict_by_exercise_id_takes_the_bank_and_keeps_the_answer_in_the_kernel():
    q = QUESTIONS["5.3"]
    p = predict("5.3")
    assert p.exercise_id == "5.3" and repr(p).startswith("Prediction 5.3: " + q.question)
    state = _all_state(p)
    assert q.why[:40] not in state and "Right" not in state and "the answer:" not in repr(p)
    for option in q.options:
        assert json.dumps(option)[1:-1] in state  # the options are shown, all of them
    p.commit(q.options[q.answer])
    assert "Right." in p.children[-1].value and html_escaped(q.why[:30]) in p.children[-1].value


def html_escaped(text: str) -> str:
    import html
    return html.escape(text)


@pytest.mark.parametrize("exercise_id", sorted(QUESTIONS))
def test_a_bank_predictions_stored_state_does_not_depend_on_its_answer(exercise_id, monkeypatch):
    """What a stored notebook keeps of the widget (its model state, before a commit) is the same
    whatever the answer and the why: nothing in it can tell the answer."""
    from dataclasses import replace

    from lvmlib.exercises import questions

    q = QUESTIONS[exercise_id]
    before = _all_state(predict(exercise_id))
    other = replace(q, answer=(q.answer + 1) % len(q.options) if q.options else q.answer * 3 + 1, why="another why")
    monkeypatch.setitem(questions.QUESTIONS, exercise_id, other)
    after = _all_state(predict(exercise_id))
    strip = lambda s: re.sub(r"[0-9a-f]{32}", "ID", s)  # noqa: E731  (model ids differ per widget)
    assert strip(before) == strip(after)
    assert q.why[:40] not in before and q.answer_text not in repr(predict(exercise_id)).split("(")[-1]


def test_the_bank_refuses_an_unknown_id_and_ill_formed_calls():
    with pytest.raises(KeyError, match="question bank"):
        question("99.9")
    with pytest.raises(KeyError, match="known ids"):
        predict("99.9")
    with pytest.raises(ValueError, match="exercise id"):
        predict("What is it?")
    with pytest.raises(ValueError, match="options, answer and why"):
        predict("What is it?", ["a", "b"], 0)


def test_every_bank_entry_is_well_formed():
    for exercise_id, q in QUESTIONS.items():
        assert isinstance(q, Question) and q.id == exercise_id and re.fullmatch(r"\d+\.\d+[a-z]?", exercise_id)
        assert q.question.strip() and q.why.strip() and 0 < q.tolerance < 1
        if q.numeric:
            assert isinstance(q.answer, (int, float)) and q.right(q.answer) and not q.right(q.answer * 2 + 1)
        else:
            assert len(q.options) >= 2 and len(set(q.options)) == len(q.options) and 0 <= q.answer < len(q.options)
            assert q.right(q.options[q.answer]) and not any(q.right(o) for o in q.options if o != q.answer_text)
