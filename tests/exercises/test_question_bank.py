"""The question bank of the predictions (lvmlib.exercises.questions): every notebook's prediction cell
names a bank id and holds no answer, and every graded answer holds for five seeds.

The facts (tests/exercises/question_facts.py) recompute, for each seed, what the answer rests on: the
numbers the notebook prints are one seed's; a prediction is graded right only if all five agree.
The ones that train VAEs (notebooks 07 to 10's recipes) are ``slow``.
"""

import re
from pathlib import Path

import pytest

from tests.exercises.question_facts import FACTS, TRAINED
from lvmlib.exercises.questions import QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "tools" / "notebook_src").glob("[0-9][0-9]_*.py"))
SEEDS = range(5)


def _calls():
    """(source file, the text inside each exercises.predict(...) call)."""
    for path in SOURCES:
        for m in re.finditer(r"exercises\.predict\((.*?)\)\s*$", path.read_text(), re.M | re.S):
            yield path, m.group(1)


def test_every_prediction_cell_names_a_bank_id_and_each_id_is_used_once():
    used = []
    for path, inside in _calls():
        m = re.fullmatch(r'"(\d+\.\d+[a-z]?)"', inside.strip())
        assert m, f"{path.name}: a prediction cell must be exercises.predict(\"N.M\") (the bank's id), not {inside[:80]!r}"
        q = QUESTIONS.get(m.group(1))
        assert q is not None, f"{path.name}: prediction {m.group(1)} is not in lvmlib/exercises/questions.py"
        assert path.name.startswith(f"{q.notebook:02d}_"), f"prediction {q.id} sits in {path.name}"
        used.append(q.id)
    assert sorted(used) == sorted(QUESTIONS), "each bank question is asked once, in its notebook"


def test_no_cell_source_holds_an_answers_why():
    for path in SOURCES:
        text = path.read_text()
        for q in QUESTIONS.values():
            assert q.why[:50] not in text, f"{path.name} holds the why of prediction {q.id}"


def test_every_question_has_its_facts():
    assert set(FACTS) == set(QUESTIONS) and set(TRAINED) <= set(FACTS)


@pytest.mark.parametrize("exercise_id", [i for i in sorted(FACTS) if i not in TRAINED])
def test_the_answer_holds_for_five_seeds(exercise_id):
    failed = [str(f) for f in (FACTS[exercise_id](seed) for seed in SEEDS) if not f.holds]
    assert not failed, "the bank's answer does not hold:\n" + "\n".join(failed)


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", TRAINED)
def test_the_answer_on_trained_vaes_holds_for_five_seeds(exercise_id):
    failed = [str(f) for f in (FACTS[exercise_id](seed) for seed in SEEDS) if not f.holds]
    assert not failed, "the bank's answer does not hold:\n" + "\n".join(failed)


STORED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", STORED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_stored_output_or_widget_state_holds_an_answers_why(path):
    """What a stored notebook keeps of its predictions (outputs and the saved widget state, before any
    commit) names the question and options only."""
    import json

    nb = json.loads(path.read_text())
    kept = json.dumps(nb.get("metadata", {}).get("widgets", {})) + json.dumps(
        [c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])
    for q in QUESTIONS.values():
        assert json.dumps(q.why[:40])[1:-1] not in kept, f"{path.name} stores the why of prediction {q.id}"
