"""The question bank of the notebooks' predictions, keyed by exercise id ("5.3", "7.5b").

A notebook cell says only ``exercises.predict("5.3")``: the question and its options come from here,
and so do the answer and the why, which the widget keeps in the kernel until the student commits
(:mod:`lvmlib.exercises.scaffold`).  The static site reads the same bank at build time: the page holds
the question and its options, the answers go to a separate file that the page fetches only after a
commit (``tools/site_predict.py``).

Each :class:`Question` is either a choice (``options`` a tuple of strings, ``answer`` an index into it)
or a number (``options`` is ``None``, ``answer`` the number, ``tolerance`` the relative error that still
counts as right).  Every graded answer rests on facts that ``tests/exercises/question_facts.py``
computes for any seed; ``tests/exercises/test_question_bank.py`` checks them for five seeds.

Texts are plain (no markdown or math): they show as they are in a widget, a terminal and a web page.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Question", "QUESTIONS", "question"]


@dataclass(frozen=True)
class Question:
    """One prediction: ``options`` (choices) or ``None`` (a number), ``answer`` (index or number)."""

    id: str
    question: str
    options: tuple[str, ...] | None
    answer: int | float
    why: str
    tolerance: float = 0.1

    @property
    def numeric(self) -> bool:
        return self.options is None

    @property
    def answer_text(self) -> str:
        """The answer as the student reads it: the option's text, or the number (4 significant digits)."""
        return f"{float(self.answer):.4g}" if self.numeric else self.options[self.answer]

    @property
    def notebook(self) -> int:
        """The notebook's number: 5 for "5.3", 10 for "10.3"."""
        return int(self.id.split(".")[0])

    def right(self, guess) -> bool:
        """Whether ``guess`` (an option's text, or a number) counts as right."""
        if self.numeric:
            return abs(float(guess) - float(self.answer)) <= self.tolerance * max(abs(float(self.answer)), 1e-12)
        return str(guess) == self.options[self.answer]


_BANK = [
    Question(
        "1.2", "Noise scale 0, latent size 1: what do the samples x make on the right?",
        ("a cloud that fills an area", "a curve", "a single point", "a Gaussian blob"), 1,
        "A curve: without noise x = mu(z) exactly, and a 1-D z traces the image of a line under the decoder's mean "
        "function, a 1-D curve in the 2-D data space."),
    Question(
        "2.4", "If EM ran 1000 more iterations from the end of start 2, would it leave this configuration for "
        "start 1's better fit?",
        ("yes, slowly: the bound keeps rising", "no: it stays at this local maximum", "it depends on the tolerance tol"),
        1,
        "No. Every EM iteration raises (or keeps) the likelihood, and at a local maximum the E- and M-steps "
        "reproduce the same parameters: EM has no step that goes down to climb elsewhere, and a smaller tol only "
        "polishes the same maximum."),
    Question(
        "3.3", "How many more binary latents multiply the time of the exact sum by a thousand?", None, 10,
        "Ten: each latent doubles the number of terms, and 2^10 = 1024, about a thousand (twenty for a million, "
        "2^20).", tolerance=0.05),
    Question(
        "4.2", "The spread of p-hat at N = 10 000, in % of p(x) (it is 19% at N = 100)?", None, 1.87,
        "About 2%: the spread falls as 1/sqrt(N), so 100 times more samples make it 10 times narrower "
        "(1.87 / sqrt(10 000) = 1.9%). 0.2% needs about N = 10^6, another factor 100.", tolerance=0.2),
    Question(
        "5.3", "At N = 10, which proposal has the larger ESS / N: the too-narrow q (t = 0.125) or the too-wide q "
        "(t = 0.5)?",
        ("the too-narrow q", "the too-wide q", "about the same"), 0,
        "The narrow q: about 0.74 of N against 0.67. Its samples all land where the posterior is large and get "
        "similar weights. That is the trap: the ESS is computed from the weights that were drawn and cannot see the "
        "tails the narrow q almost never visits. As N grows, the rare tail samples with huge weights appear: the "
        "narrow q's ESS / N keeps falling (about 0.45 at N = 100, 0.23 at N = 1000) while the wide one's settles "
        "near 0.66, and at N = 1000 the narrow q's median run is still visibly below 1 (most runs have not seen a "
        "tail sample) while the wide q's runs are centred on 1. The section 'Too narrow is worse than too wide' "
        "below puts numbers on it: the narrow q's weights have infinite variance."),
    Question(
        "6.2", "For q = N(1.5, 0.5^2), as K goes from 1 to 10 to 100, the gap log p(x) - L_K ...",
        ("does not change", "shrinks about like 1/K", "shrinks about like 1/sqrt(K)"), 1,
        "For large K the gap is about Var_q(w / p(x)) / 2K: about 0.8 nats at K = 1, 0.03 at K = 10. "
        "L_K stays below log p(x) in expectation for every K."),
    Question(
        "6.4", "With K = 10 000 samples from the exact posterior, the harmonic-mean estimate of log p(x), averaged "
        "over 200 runs, lies ...",
        ("below log p(x), like the IWAE bound", "within 0.01 nats of log p(x)", "above log p(x), by about a nat"), 2,
        "About a nat above log p(x) even at K = 10 000 (the printout below), falling only slowly with K: the "
        "weights 1 / p(x | z) have infinite variance, and the rare tail samples that would pull the estimate down "
        "are almost never drawn. The IWAE bound at the same K is within 0.001 nats."),
    Question(
        "7.5b", "(b) From d = 8 to d = 16, the held-out log p(x) after 50 epochs ...",
        ("rises clearly (by more than a nat)", "stays about the same (within a few tenths)", "falls clearly"), 1,
        "The table above has d = 16 no better than d = 8: the KL term charges for every latent the encoder uses, "
        "and the larger model is still climbing at epoch 50."),
    Question(
        "7.5c", "(c) With d = 2, which look more like digits?", ("the reconstructions", "the samples"), 0,
        "Reconstructions start from a real digit's code; samples come from anywhere in N(0, I), including the "
        "regions between classes."),
    Question(
        "8.3", "For two digits of the same class, will the linear and slerp images at t = 1/2 differ more or less "
        "than for the 0 and the 1?", ("more", "less", "the same"), 1,
        "Less: codes of one class point in similar directions, the angle between them is small, and slerp's "
        "midpoint is the linear one divided by cos(omega / 2), close to 1."),
    Question(
        "8.4", "Sweeping the smallest-variance coordinate from -3 to 3, the image changes ... than for the "
        "largest-variance coordinate.", ("more", "less (usually)", "exactly as much"), 1,
        "Usually less: a coordinate the encoder uses little is one the decoder has learned little to do with."),
    Question(
        "9.2", "At sigma = 1, going from D = 1 to D = 16, the baseline's advantage over the plain score function "
        "(the ratio of their variances) ...", ("stays about the same", "grows", "shrinks"), 1,
        "The baseline removes the mean of f, which grows like D, and leaves its spread, which grows like the "
        "square root of D: the share it removes grows with D (the next cell measures it)."),
    Question(
        "9.4", "1. After how many of the 300 steps is most of the amortization gap closed?",
        ("within the first 25 steps", "around step 150", "only near step 300"), 0,
        "The curve drops steeply and then flattens: the encoder's q is a good start, the per-digit optimum is near."),
    Question(
        "9.5", "(b) The identity's gradient with K = 200 samples per digit takes, against one ELBO gradient ...",
        ("about as long", "2 to 5 times as long", "tens to hundreds of times as long", "over 10 000 times as long"),
        2,
        "It runs the decoder K = 200 times per digit instead of once; fixed costs (the encoder, the Python "
        "overhead) keep the ratio below 200."),
    Question(
        "10.3", "Which prior will be closer to the aggregate posterior q(z), in KL(q(z) || p(z)) (the term of the "
        "ELBO that a prior wastes)?", ("N(0, I)", "the mixture", "about the same"), 1,
        "The mixture: its components are learned where the codes clump, so it matches q(z) more closely than a "
        "single standard Gaussian can (the numbers below the app; across training seeds the mixture's KL stays "
        "clearly the smaller). Its mass in holes is also smaller here, but by a margin that another training "
        "seed can erase."),
]

#: exercise id -> :class:`Question`
QUESTIONS: dict[str, Question] = {q.id: q for q in _BANK}


def question(exercise_id: str) -> Question:
    """The bank's question for ``exercise_id`` (e.g. ``"5.3"``); a clear error for an unknown id."""
    try:
        return QUESTIONS[str(exercise_id)]
    except KeyError:
        raise KeyError(f"no prediction {exercise_id!r} in the question bank (lvmlib/exercises/questions.py); "
                       f"known ids: {', '.join(QUESTIONS)}") from None
