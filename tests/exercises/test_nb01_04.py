"""The checks of notebooks 01-04's code exercises (lvmlib.exercises): each listed mistake is named,
the right answer passes, the unfilled stub says "not done yet", and a broken answer is reported."""

import pytest
import torch

from lvmlib import exercises as ex


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code, then run the check below")


# (check, a right answer, the listed mistakes: (Mistake, the name the report must give))
EXERCISES = {
    "1.1 sample_story": (ex.check_sample_story, ex.nb01._story_reference,
                         [(m, m.name) for m in ex.nb01._STORY_MISTAKES]),
    "2.1 e_step": (ex.check_e_step, ex.nb02._e_step_reference, [(m, m.name) for m in ex.nb02._E_STEP_MISTAKES]),
    "2.2 m_step": (ex.check_m_step, ex.nb02._m_step_reference,
                   [(m, m.name) for m in ex.nb02._M_WEIGHT_MISTAKES + ex.nb02._M_MEAN_MISTAKES + ex.nb02._M_COV_MISTAKES[:3]]
                   # wrong means make the covariances wrong too: the report names the means first
                   + [(ex.nb02._M_COV_MISTAKES[3], "means-not-divided"), (ex.nb02._M_COV_MISTAKES[4], "means-over-N")]),
    "2.3 em_loop": (ex.check_em_loop, ex.nb02._em_reference, [(m, m.name) for m in ex.nb02._EM_MISTAKES]),
    "3.1 mixture_log_px": (ex.check_mixture_log_px, ex.nb03._mixture_log_px_reference,
                           [(m, m.name) for m in ex.nb03._MIXTURE_MISTAKES]),
    "4.1 naive_mc": (ex.check_naive_mc, ex.nb04._naive_mc,
                     [(m, m.name) for m in ex.nb04._MC_ESTIMATE_MISTAKES + ex.nb04._MC_SE_MISTAKES[:3]]
                     + [(ex.nb04._MC_SE_MISTAKES[3], "mean-log"), (ex.nb04._MC_SE_MISTAKES[4], "exp-first"),
                        (ex.nb04._MC_SE_MISTAKES[5], "no-logN")]),
}
MISTAKE_CASES = [pytest.param(key, m, name, id=f"{key.split()[0]}-{m.name}")
                 for key, (_, _, ms) in EXERCISES.items() for m, name in ms]


@pytest.mark.parametrize("key", EXERCISES)
def test_right_answer_passes(key):
    check, right, _ = EXERCISES[key]
    report = check(right)
    assert report.status == "passed", report.message
    assert "passed on all" in repr(report)


@pytest.mark.parametrize("key", EXERCISES)
def test_stub_is_todo_and_does_not_raise(key):
    check, _, _ = EXERCISES[key]
    report = check(_stub)
    assert report.status == "todo" and "not done yet" in report.message


@pytest.mark.parametrize("key,mistake,name", MISTAKE_CASES)
def test_each_listed_mistake_is_named(key, mistake, name):
    check = EXERCISES[key][0]
    report = check(mistake.fn)
    assert report.status == "wrong", report.message
    assert report.mistake == name, report.message
    explained = {m.name: m.explain for m, _ in EXERCISES[key][2]}[name]
    assert explained in report.message


def test_the_hard_cases_are_there():
    """The cases that make the mistakes show: underflow at -2000, K = 1, a single point."""
    e_cases = [c.name for c in ex.nb02._e_step_cases()]
    assert any("-2000" in n for n in e_cases) and "K = 1" in e_cases and "a single data point" in e_cases
    assert any("-2000" in c.name for c in ex.nb03._mixture_cases()) and any("-2000" in c.name for c in ex.nb04._naive_mc_cases())
    assert any("single" in c.name for c in ex.nb02._m_step_cases()) and any("K = 1" in c.name for c in ex.nb02._m_step_cases())


def test_an_unknown_wrong_answer_is_wrong_without_a_name():
    report = ex.check_mixture_log_px(lambda x, w, m, s: ex.nb03._mixture_log_px_reference(x, w, m, s) + 0.5)
    assert report.status == "wrong" and report.mistake is None and "K = 3" in report.message
    report = ex.check_e_step(lambda x, w, m, c: ex.nb02._e_step_reference(x, w, m, c).T)
    assert report.status == "wrong" and "shape" in report.message


def test_errors_and_wrong_arity_are_reported_not_raised():
    report = ex.check_m_step(lambda x, r: (r.sum(0) / len(x), r.T @ x))   # two values, three expected
    assert report.status == "error" and "return 3 values" in report.message
    report = ex.check_naive_mc(lambda lw: lw.foo)
    assert report.status == "error" and "AttributeError" in report.message
    report = ex.check_sample_story(lambda dec, n, g: torch.randn(n, 2))
    assert report.status == "error" and "return 2 values" in report.message


def test_other_right_answers_pass():
    """Equivalent implementations are not penalised: softmax, decoder(z).sample(), std with N."""
    assert ex.check_e_step(lambda x, w, m, c: torch.softmax(torch.log(w) + ex.nb02._mvn_log_prob(x, m, c), 1)).passed

    def story_with_sample(decoder, n, generator):
        z = torch.randn(n, decoder.latent_dim, generator=generator).to(decoder.device)
        return z, decoder(z).sample()
    assert ex.check_sample_story(story_with_sample).passed
    assert ex.check_naive_mc(lambda lw: ex.nb04._naive_mc(lw, ddof=0)).passed


def test_story_check_on_the_notebook_decoder_shape():
    """The notebook passes its own GaussianDecoder (float32): the check's decoders take float32 z too."""
    z32 = ex.nb01._story_reference(ex.nb01._LinearTanhDecoder(2, 3, 0.5), 5, torch.Generator().manual_seed(0))[0].float()
    assert ex.nb01._LinearTanhDecoder(2, 3, 0.5)(z32).mean.shape == (5, 3)
    with pytest.raises(ValueError, match="latent_dim"):
        ex.nb01._LinearTanhDecoder(2, 3, 0.5)(torch.zeros(5, 4))


# -- the notebooks 01-04 carry their exercises (structure of issue 13, read from the sources) --------------

import re  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
from tools.nbbuild import BEGIN, parse  # noqa: E402

SOURCES_01_04 = sorted(p for p in (ROOT / "tools" / "notebook_src").glob("0[1-4]_*.py"))
CHECKS = {"01": ["check_sample_story"], "02": ["check_e_step", "check_m_step", "check_em_loop"], "03": ["check_mixture_log_px"],
          "04": ["check_naive_mc"]}


@pytest.mark.parametrize("src", SOURCES_01_04, ids=lambda p: p.stem[:2])
def test_notebook_structure(src):
    cells = parse(src.read_text(), "student").cells
    md = [(i, c.source) for i, c in enumerate(cells) if c.cell_type == "markdown"]
    first = cells[0].source
    assert "You will learn" in first and "Before this notebook" in first, "objectives and prerequisites on top"
    exercises = [i for i, text in md if re.match(r"#+ .*Exercise", text)]
    assert len(exercises) >= 3
    assert not [text for _, text in md if "<summary>Answer" in text], "the answers are in the solutions edition only"
    solved_md = [c.source for c in parse(src.read_text(), "solutions").cells if c.cell_type == "markdown"]
    folded = [text for text in solved_md if text.startswith("<!-- solutions only -->") and "<summary>Answer" in text]
    assert len(folded) >= 2, "the non-code exercises have their answers, in the solutions edition"
    assert re.search(r"\*\*About \d+ minutes\*\*", first), "a time estimate on top"
    marks = [text for _, text in md if re.match(r"#+ Exercise \d+\.\d+", text)]
    assert marks and all(re.search(r"\(\d+ min, [★☆]{3}\)", t.splitlines()[0]) for t in marks), "time and difficulty"
    numbers = [tuple(map(int, re.match(r"#+ Exercise (\d+)\.(\d+)", t).groups())) for t in marks]
    assert numbers == [(numbers[0][0], i + 1) for i in range(len(numbers))], f"exercises numbered in order: {numbers}"
    notes = [i for i, text in md if text.startswith("## Instructor notes")]
    takeaway = [i for i, text in md if text.startswith("## What to take away")]
    assert notes and takeaway and takeaway[0] < notes[0], "take-aways stay; instructor notes at the end"
    student_path = "\n".join(c.source for c in cells[:notes[0]])
    assert "target" not in student_path.lower() or "<= 25 ms" not in student_path
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    for check in CHECKS[src.stem[:2]]:
        assert f"exercises.{check}(" in code
    solved = "\n".join(c.source for c in parse(src.read_text(), "solutions").cells if c.cell_type == "code")
    assert "NotImplementedError" in code and "NotImplementedError" not in solved and BEGIN not in solved
