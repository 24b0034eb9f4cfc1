"""The facts behind each graded prediction of the question bank, computed for any seed.

``FACTS[id](seed)`` recomputes, with lvmlib and the notebook's own set-up, the quantities the
answer of prediction ``id`` rests on, drawn from ``seed`` (data, samples, starts or training), and
returns a :class:`Facts`: the numbers and whether the bank's answer holds for them.
``tests/exercises/test_question_bank.py`` runs every one for five seeds, so an answer that another seed
would overturn (the old 10.3, about the prior mass in holes) cannot stay in the bank.  (A test helper,
not part of lvmlib: the facts use the lessons' set-ups, a layer lvmlib.exercises may not import.)

Facts that need trained VAEs are listed in ``TRAINED`` (seconds each, not milliseconds); they
train with the notebooks' recipes, sharing the models of one seed (``_trained``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from lvmlib.exercises.questions import QUESTIONS

__all__ = ["Facts", "FACTS", "TRAINED"]


@dataclass
class Facts:
    """What the answer of one prediction rests on, for one seed: ``holds`` and the numbers."""

    id: str
    seed: int
    holds: bool
    numbers: dict = field(default_factory=dict)

    def __str__(self) -> str:
        nums = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in self.numbers.items())
        return f"prediction {self.id}, seed {self.seed}: {'holds' if self.holds else 'DOES NOT HOLD'} ({nums})"


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _answer(exercise_id: str):
    q = QUESTIONS[exercise_id]
    return q, (q.answer if q.numeric else q.options[q.answer])


def facts_1_2(seed: int) -> Facts:
    """Noise 0: a 1-D z draws a curve, a 2-D z an area.  On a 64 x 64 grid over the samples' box, the
    1-D samples fill under a quarter of the cells the 2-D ones fill (5000 samples each)."""
    from lvmlib.lessons import nb01

    story = nb01.sample_story(nb01.story_decoders(sizes=(1, 2), seed=seed), 5000, generator=_gen(seed))
    filled = {}
    for d in (1, 2):
        _, x = nb01.story_samples(story, d, 0.0, 5000)  # [5000, 2]
        lo, hi = x.min(0), x.max(0)
        cells = np.floor((x - lo) / np.maximum(hi - lo, 1e-12) * 63.999).astype(int)
        filled[d] = len({tuple(c) for c in cells}) / 64**2
    return Facts("1.2", seed, filled[1] < 0.25 * filled[2], {"cells filled, d=1": filled[1], "d=2": filled[2]})


@functools.lru_cache(maxsize=2)
def _em_fit(random_state: int):
    """Notebook 02's blobs and its fit from a ``random_from_data`` start (its tol = 1e-5): (fit, x)."""
    from lvmlib.lessons import nb02
    from lvmlib.mixtures import GaussianMixture

    x = np.asarray(nb02.blobs_data()[0])
    return GaussianMixture(4, init_params="random_from_data", random_state=random_state, tol=1e-5,
                           max_iter=500).fit(x), x


def facts_2_4(seed: int) -> Facts:
    """Start 2's end, nudged (every mean moved by 0.05 in a direction drawn from ``seed``), then 200 more
    EM iterations: the fit comes back to start 2's local maximum (within 1e-3 nats per point) and stays
    more than 0.1 nats per point below start 1's fit.  A maximum that pulls nudged parameters back is
    one that 1000 more iterations do not leave (200 here: each iteration costs milliseconds)."""
    import warnings

    from lvmlib.lessons import nb02
    from lvmlib.mixtures import ConvergenceWarning, GaussianMixture

    (end, x), (best, _) = _em_fit(nb02.EM_STARTS["start 2"]), _em_fit(nb02.EM_STARTS["start 1"])
    rng = np.random.default_rng(seed)
    step = rng.standard_normal(end.means_.shape)
    means = end.means_ + 0.05 * step / np.linalg.norm(step, axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol = 0: it runs all 200
        more = GaussianMixture(4, weights_init=end.weights_, means_init=means,
                               precisions_init=np.linalg.inv(end.covariances_), tol=0.0, max_iter=200).fit(x)
    after, start2, start1 = more.score(x), end.score(x), best.score(x)
    out = {"start 2": start2, "nudged, after 200 more": after, "start 1": start1}
    return Facts("2.4", seed, bool(abs(after - start2) < 1e-3 and start1 - after > 0.1), out)


def facts_3_3(seed: int) -> Facts:
    """The exact sum over n binary latents has 2^n terms (counted, at a seed-drawn n): the number of
    added latents that multiplies the terms by at least a thousand is the bank's answer."""
    from lvmlib.models.binary import binary_configurations

    q, _ = _answer("3.3")
    n = 2 + seed
    terms = {k: binary_configurations(n + k).shape[0] / binary_configurations(n).shape[0] for k in range(0, 12)}
    needed = min(k for k, t in terms.items() if t >= 1000)
    return Facts("3.3", seed, q.right(needed), {"n": n, "latents for x1000": needed, "factor": terms[needed]})


def facts_4_2(seed: int) -> Facts:
    """The spread of p-hat at N = 10 000 over 200 runs, in % of p(x), is within the bank's tolerance."""
    from lvmlib.inference import log_weights
    from lvmlib.lessons import nb04

    q, _ = _answer("4.2")
    model = nb04.demo_model()
    x = torch.tensor([[nb04.DEMO_X]], dtype=torch.float64)
    p = model.log_marginal(x).exp().item()
    g = _gen(seed)
    runs = torch.cat([log_weights(x.expand(20, 1), model, model.prior(), 10_000, generator=g).exp().mean(0)
                      for _ in range(10)])  # [200] p-hat
    spread = 100 * runs.std().item() / p
    return Facts("4.2", seed, q.right(spread), {"spread %": spread, "answer": float(q.answer)})


def _toy_ess_over_n(mean: float, scale: float, n: int, runs: int, g) -> float:
    from lvmlib.inference import effective_sample_size, log_weights
    from lvmlib.models.toy import toy_problem

    model, x = toy_problem()
    q = torch.distributions.Independent(torch.distributions.Normal(torch.tensor([mean], dtype=torch.float64),
                                                                   torch.tensor([scale], dtype=torch.float64)), 1)
    log_w = log_weights(x.expand(runs, 1), model, q, n, generator=g)  # [N, runs]
    return effective_sample_size(log_w).mean().item() / n


def facts_5_3(seed: int) -> Facts:
    """At N = 10, the mean ESS / N over 10 000 runs: the too-narrow q (t = 0.125) above the too-wide one."""
    g = _gen(seed)
    narrow, wide = _toy_ess_over_n(1.5, 0.125, 10, 10_000, g), _toy_ess_over_n(1.5, 0.5, 10, 10_000, g)
    return Facts("5.3", seed, narrow > wide + 0.02, {"ESS/N narrow": narrow, "ESS/N wide": wide})


def facts_6_2(seed: int) -> Facts:
    """For q = N(1.5, 0.5^2) the gap log p(x) - L_K (100 000 samples, runs of K) shrinks like 1/K:
    from K = 1 to 10 by more than 10^0.75 (nearer 10 than sqrt(10)), and it keeps shrinking to K = 100."""
    from lvmlib.inference import log_weights
    from lvmlib.models.toy import toy_problem

    model, x = toy_problem()
    log_p = model.log_marginal(x).item()
    q = torch.distributions.Independent(torch.distributions.Normal(torch.tensor([1.5], dtype=torch.float64),
                                                                   torch.tensor([0.5], dtype=torch.float64)), 1)
    log_w = log_weights(x, model, q, 100_000, generator=_gen(seed))[:, 0]  # [100 000]
    gap = {k: log_p - (torch.logsumexp(log_w.view(-1, k), 1) - math.log(k)).mean().item() for k in (1, 10, 100)}
    ratio = gap[1] / gap[10]
    holds = ratio > 10**0.75 and gap[100] < gap[10]
    return Facts("6.2", seed, holds, {"gap K=1": gap[1], "gap K=10": gap[10], "gap K=100": gap[100], "ratio": ratio})


def facts_6_4(seed: int) -> Facts:
    """The harmonic-mean estimate with K = 10 000 posterior samples, averaged over 200 runs, lies above
    log p(x) by between 0.3 and 3 nats ("about a nat")."""
    from lvmlib.inference import harmonic_mean_estimate
    from lvmlib.models.toy import toy_problem

    model, x = toy_problem()
    log_p = model.log_marginal(x).item()
    above = (harmonic_mean_estimate(x.expand(200, 1), model, 10_000, generator=_gen(seed)) - log_p).mean().item()
    return Facts("6.4", seed, 0.3 < above < 3.0, {"HM - log p(x)": above})


def facts_9_2(seed: int) -> Facts:
    """At sigma = 1, N = 20, 100 runs (notebook 09's grid): the variance ratio score / baseline at D = 16
    is more than twice the one at D = 1."""
    from lvmlib.inference import gradient_runs, quadratic

    g = _gen(seed)
    adv = {}
    for d in (1, 16):
        f = quadratic(torch.ones(d, dtype=torch.float64))
        loc = torch.zeros(d, dtype=torch.float64)
        v = {e: float(gradient_runs(f, loc, 1.0, 20, e, repeats=100, generator=g).variance())
             for e in ("score", "baseline")}
        adv[d] = v["score"] / v["baseline"]
    return Facts("9.2", seed, adv[16] > 2 * adv[1], {"advantage D=1": adv[1], "advantage D=16": adv[16]})


def facts_9_5(seed: int) -> Facts:
    """The identity's gradient with K = 200 importance samples runs the decoder on K rows per digit, one
    ELBO gradient on one: counted with a stand-in decoder on 100 digits (seed-drawn), the ratio of
    decoder rows is 200 (the cost before fixed costs), in the "tens to hundreds" range."""
    from lvmlib.vae import VAE

    model = VAE(64, 8, (128,), generator=_gen(seed))
    rows = []
    model.decoder_net.register_forward_hook(lambda m, inp, out: rows.append(inp[0].reshape(-1, inp[0].shape[-1]).shape[0]))
    x = (torch.rand(100, 64, generator=_gen(seed)) < 0.5).float()
    with torch.no_grad():
        model.elbo(x, 1)
        one = sum(rows)
        rows.clear()
        model.iwae(x, 200)
        many = sum(rows)
    ratio = many / one
    return Facts("9.5", seed, 10 <= ratio < 1000, {"decoder rows ratio": ratio})


# --- facts that need trained VAEs (notebooks 07-10's recipes) -------------------------------------


@functools.lru_cache(maxsize=2)
def _digits():
    import lvmlib

    return lvmlib.load_dataset("digits", binarize=True)


@functools.lru_cache(maxsize=8)
def _trained(seed: int, latent: int, epochs: int, prior: str = "N(0, I)"):
    """One VAE of the notebooks' recipe (DIGITS_RECIPE), trained from ``seed``; shared between facts."""
    from lvmlib.vae import DIGITS_RECIPE, VAE, MixturePrior, train

    data = _digits()
    g = _gen(seed)
    mix = MixturePrior(10, latent, generator=_gen(seed + 1)) if prior == "mixture" else None
    model = VAE(data.x_train.shape[1], latent, DIGITS_RECIPE.hidden, prior=mix, generator=g)
    train(model, data.x_train, epochs, batch_size=DIGITS_RECIPE.batch_size, lr=DIGITS_RECIPE.lr, generator=g,
          progress=False)
    return model.eval()


def facts_7_5b(seed: int) -> Facts:
    """After 50 epochs the held-out log p(x) (importance sampling, K = 200) of d = 16 is within a few
    tenths of d = 8's (|difference| < 0.5 nats)."""
    from lvmlib.inference import importance_sampling

    x = _digits().x_test
    lp = {}
    for d in (8, 16):
        m = _trained(seed, d, 50)  # trained outside no_grad
        with torch.no_grad():
            lp[d] = importance_sampling(x, m, m.encoder, 200, generator=_gen(seed)).mean().item()
    diff = lp[16] - lp[8]
    return Facts("7.5b", seed, abs(diff) < 0.5, {"log p(x) d=8": lp[8], "d=16": lp[16], "difference": diff})


def _nearest_distance(images: torch.Tensor, reference: torch.Tensor) -> float:
    return torch.cdist(images, reference).min(1).values.mean().item()


def facts_7_5c(seed: int) -> Facts:
    """With d = 2 (50 epochs): the decoded reconstructions of 200 test digits lie closer to their nearest
    training digit than 200 decoded samples of N(0, I) do (mean Euclidean distance of the mean images)."""
    data = _digits()
    m = _trained(seed, 2, 50)
    with torch.no_grad():
        rec = m.decoder(m.encoder(data.x_test[:200]).mean).mean
        z = torch.randn(200, 2, generator=_gen(seed))
        smp = m.decoder(z).mean
    r, s = _nearest_distance(rec, data.x_train), _nearest_distance(smp, data.x_train)
    return Facts("7.5c", seed, r < s, {"reconstructions": r, "samples": s})


def _codes(m, x):
    with torch.no_grad():
        return m.encoder(x).mean


def facts_8_3(seed: int) -> Facts:
    """d = 8 VAE (100 epochs): at t = 1/2, the linear and slerp images of a same-class pair differ less
    (mean squared pixel difference, averaged over the first two test digits of each class) than those of
    the test 0 and 1 whose codes make the widest angle."""
    data = _digits()
    m = _trained(seed, 8, 100)
    x, y = data.x_test, np.asarray(data.y_test)

    def differ(a, b):
        with torch.no_grad():
            lin = m.interpolate(x[a:a + 1], x[b:b + 1], steps=3, method="linear")
            sl = m.interpolate(x[a:a + 1], x[b:b + 1], steps=3, method="slerp")
        return ((lin[1] - sl[1]) ** 2).mean().item()

    same = np.mean([differ(*np.flatnonzero(y == c)[:2]) for c in range(10)])
    mu = _codes(m, x)
    zeros, ones = np.flatnonzero(y == 0)[:20], np.flatnonzero(y == 1)[:20]
    cos = torch.nn.functional.cosine_similarity(mu[zeros][:, None], mu[ones][None], dim=-1)  # [20, 20]
    i, j = divmod(int(cos.argmin()), cos.shape[1])
    far = differ(int(zeros[i]), int(ones[j]))
    return Facts("8.3", seed, same < far, {"same class": float(same), "0 and 1": far})


def facts_8_4(seed: int) -> Facts:
    """d = 8 VAE (100 epochs): sweeping the coordinate of least variance of mu(x) over the test set from -3
    to 3 changes the decoded image less, averaged over 20 test digits, than sweeping the one of most."""
    data = _digits()
    m = _trained(seed, 8, 100)
    mu = _codes(m, data.x_test)
    var = mu.var(0)
    lo, hi = int(var.argmin()), int(var.argmax())

    def change(i):
        z = mu[:20].clone()
        with torch.no_grad():
            z[:, i] = -3.0
            a = m.decoder(z).mean
            z[:, i] = 3.0
            b = m.decoder(z).mean
        return ((a - b) ** 2).sum(1).mean().item()

    small, large = change(lo), change(hi)
    return Facts("8.4", seed, small < large, {"change, least variance": small, "most variance": large})


def facts_9_4(seed: int) -> Facts:
    """d = 8 VAE (100 epochs), 50 test digits: per-digit optimization of q (notebook 09's gap_run, 300 steps)
    has closed more than half of its 300-step gain within the first 25 steps."""
    from lvmlib.inference import gap_run

    data = _digits()
    m = _trained(seed, 8, 100)
    run = gap_run(m, data.x_test[:50], steps=300, lr=0.02, num_samples=4, eval_samples=100, record_every=25,
                  is_samples=100, generator=_gen(seed))
    steps = list(np.asarray(run.local.steps))
    elbo = run.local.elbo.mean(1).cpu().numpy()  # [T] mean over the digits of the best q so far
    closed = (elbo[steps.index(25)] - elbo[0]) / max(elbo[-1] - elbo[0], 1e-12)
    return Facts("9.4", seed, closed > 0.5, {"share closed by step 25": float(closed),
                                             "gain by step 300 (nats)": float(elbo[-1] - elbo[0])})


def facts_10_3(seed: int) -> Facts:
    """Notebook 10's pair (2-D latents, 100 epochs, same weights and batches): KL(q(z) || p(z)) of the
    mixture prior is below N(0, I)'s (nb10.prior_views, Monte Carlo)."""
    from lvmlib.lessons import nb10
    from lvmlib.vae import train_prior_pair

    data = _digits()
    vaes = train_prior_pair(data.x_train, latent_dim=2, num_components=10, seed=seed)
    view = nb10.prior_views(vaes, data.x_train, data.x_test, data.y_test, generator=_gen(seed))
    kl = dict(zip(view.names, view.kl_aggregate))
    return Facts("10.3", seed, kl["mixture"] < kl["N(0, I)"],
                 {"KL(q || N(0, I))": float(kl["N(0, I)"]), "KL(q || mixture)": float(kl["mixture"])})


#: exercise id -> facts(seed)
FACTS = {"1.2": facts_1_2, "2.4": facts_2_4, "3.3": facts_3_3, "4.2": facts_4_2, "5.3": facts_5_3,
         "6.2": facts_6_2, "6.4": facts_6_4, "7.5b": facts_7_5b, "7.5c": facts_7_5c, "8.3": facts_8_3,
         "8.4": facts_8_4, "9.2": facts_9_2, "9.4": facts_9_4, "9.5": facts_9_5, "10.3": facts_10_3}
#: the facts that train VAEs
TRAINED = ("7.5b", "7.5c", "8.3", "8.4", "9.4", "10.3")
