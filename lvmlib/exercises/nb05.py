"""Checks for notebook 05 (importance sampling): `check_log_weights` (with the reduction `check_log_p_hat`), `check_ess`."""

from __future__ import annotations

import math
from typing import Callable

import torch

from lvmlib.exercises._types import allclose, equal  # (bound when the checks load)

from lvmlib.exercises._planted import planted
from lvmlib.exercises._core import NO_GRADIENT, Case, Mistake, Report, check_function, float64_reference, same_nan


#
# Exercise 5.1: log p-hat from log-weights; Exercise 5.2: the effective sample size.  Both take
# log-weights of shape [K, B] (K samples along dim 0, B data points) like lvmlib.inference.

from lvmlib import inference as _est
from lvmlib.exercises._cases import log_mean_exp, log_weight_cases
from lvmlib.models.toy import toy_problem


LOG_P_HAT_MISTAKES = [
    Mistake("mean", "You averaged the log-weights: that is the ELBO (notebook 06), a lower bound, not the log of "
                    "the importance-sampling estimate. Average the weights, not their logs: "
                    "logsumexp over the K samples, minus log K.", lambda lw: lw.mean(0)),
    Mistake("no-logK", "You forgot the - log K: logsumexp adds the K weights; the estimate averages them "
                       "(subtract math.log(K), K = log_w.shape[0]).", lambda lw: torch.logsumexp(lw, 0)),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and its log is -inf. "
                         "Stay in log space: torch.logsumexp(log_w, 0) - math.log(K).",
            lambda lw: lw.exp().mean(0).log()),
    Mistake("log-B", "You divided by the number of data points B (log_w.shape[1]) instead of the number of "
                     "samples K (log_w.shape[0]).",
            lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1])),
    Mistake("dim", "You reduced over dim 1, the data points. log_w has shape [K, B]: the K samples of each "
                   "point run along dim 0, and the answer has shape [B].",
            lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1])),
]


def check_log_p_hat(student: Callable) -> Report:
    """Exercise 5.1, its reduction: ``student(log_w [K, B]) -> [B]``, log p-hat = logsumexp_k log w_k - log K."""
    return check_function("Exercise 5.1 (log p-hat, the reduction of the log-weights)", student, float64_reference(log_mean_exp), log_weight_cases(),
                          LOG_P_HAT_MISTAKES, compare=same_nan,
                          passed="Your log p-hat is lvmlib's est.log_mean_exp(log_w, 0).")


def _ess(log_w):
    return _est.effective_sample_size(log_w)


def _ess_exp_first(lw):
    w = lw.exp()
    return w.sum(0) ** 2 / (w ** 2).sum(0)


def ess_draft(log_w):
    """Exercise 5.2's draft, as the notebook shows it, with its two planted bugs: log_w [K, B] -> [B]."""
    w = torch.exp(log_w)                          # the weights, [K, B]
    w_bar = w / w.sum(dim=1, keepdim=True)        # normalised
    return 1 / (w_bar ** 2).sum(dim=0)            # ESS = 1 / sum_k w_bar_k^2


def _ess_points_normalised(lw):
    """The draft with its underflow fixed: still normalised over the data points (dim 1)."""
    return torch.exp(-torch.logsumexp(2 * (lw - torch.logsumexp(lw, 1, keepdim=True)), 0))


ESS_MISTAKES = planted("ess_draft", ess_draft, [
    ("exp-first", "only where the log-weights are far below 0 (near -2000 your ESS is NaN, while moderate "
                  "log-weights come out right).",
     _ess_exp_first),
    ("normalised-over-points", "even on moderate log-weights: the ESS of one data point changes when you "
                               "change another point's log-weights.", _ess_points_normalised),
]) + [
    Mistake("not-normalised", "Your weights are not normalised: 1 / sum_k w_bar_k^2 needs w_bar = w / sum_j w_j "
                              "(in log space: log_w - torch.logsumexp(log_w, 0, keepdim=True)) before squaring.",
            lambda lw: torch.exp(-torch.logsumexp(2 * lw, 0))),
    Mistake("fraction", "You returned ESS / K, a fraction; the exercise asks for the ESS itself, a number "
                        "between 1 and K.", lambda lw: _ess(lw) / lw.shape[0]),
    Mistake("no-square", "You forgot the square: sum_k w_bar_k = 1 always, so 1 / sum_k w_bar_k is 1. "
                         "ESS = 1 / sum_k w_bar_k^2.",
            lambda lw: torch.exp(-torch.logsumexp(lw - torch.logsumexp(lw, 0, keepdim=True), 0))),
    Mistake("dim", "You normalised or summed over dim 1, the data points. log_w has shape [K, B]: samples "
                   "along dim 0.", lambda lw: _ess(lw.T)),
]


def check_ess(student: Callable) -> Report:
    """Exercise 5.2: ``student(log_w [K, B]) -> [B]``, ESS = (sum w)^2 / sum w^2, in log space: the fixed
    :func:`ess_draft` (a find-the-bugs exercise: its two planted bugs are the first listed mistakes)."""
    return check_function("Exercise 5.2 (the effective sample size)", student, float64_reference(_ess), log_weight_cases(),
                          ESS_MISTAKES, compare=same_nan,
                          passed="Equal weights give ESS = K, one sample gives ESS = 1.")


# ---------------------------------------------------------------------------------------------
# Exercise 5.1: the log-weights of a model and a proposal (and their reduction, log p-hat)
# ---------------------------------------------------------------------------------------------
#
# The student's log_weights draws its own samples, so two correct answers agree exactly only when
# both draw z from the same generator the same way (lvmlib.distributions.sample(q, (K,), generator)
# after q.expand([B])).  A case is therefore compared in two steps: exactly, with the same seed, and
# if that fails, statistically: per data point the mean and the variance of the K log-weights, and
# the correlation between two points' log-weights (the joint structure: points must not share their
# samples), each at SIGMAS standard errors.  Cases with q = the exact posterior are exact whatever
# the samples: every log-weight equals log p(x).  False alarms: each statistic is compared at 6
# standard errors (two-sided, probability about 2e-9 each for a normal statistic); over the 30-odd
# statistics of one check, below 1e-7 (tests/exercises/test_wrong_answers.py runs a correct answer
# that ignores the generator on 20 seeds of the global generator and expects no failure).

SIGMAS = 6.0


class _Seeded:
    """Calls ``fn(x, model, q, K, generator=torch.Generator().manual_seed(seed))``: a fresh generator per
    call, so the reference, the student and every listed mistake draw from the same stream."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, x, model, q, K, seed):
        return self.fn(x, model, q, K, generator=torch.Generator().manual_seed(seed))


def _lw_ref(x, model, q, K, generator=None):
    return _est.log_weights(x, model, q, K, generator=generator)


def _expand(q, B):
    return q.expand(torch.Size([B])) if q.batch_shape != torch.Size([B]) else q


def _lw_parts(x, model, q, K, generator=None, *, shared=False, detach=False):
    """z ~ q (one q per point), and log p(z), log p(x | z), log q(z) [K, B] each."""
    from lvmlib.distributions import sample

    B = x.shape[0]
    if shared and q.batch_shape != torch.Size([B]):
        z = sample(q, (K,), generator)  # [K, Dz] or [K, 1, Dz]: one z for every point
        if q.batch_shape == torch.Size():
            z = z.unsqueeze(1)
        z = z.expand((K, B) + tuple(z.shape[2:]))
        qb = _expand(q, B)
    else:
        qb = _expand(q, B)
        z = sample(qb, (K,), generator)
    if detach:
        z = z.detach()
    return model.prior().log_prob(z), model.likelihood(z).log_prob(x), qb.log_prob(z), z, qb


def _lw_event_mean(x, model, q, K, generator=None):
    lp, ll, lq, z, qb = _lw_parts(x, model, q, K, generator)
    base = getattr(qb, "base_dist", None)
    if isinstance(base, torch.distributions.Normal):
        lq = base.log_prob(z).mean(-1)
    return lp + ll - lq


LOG_WEIGHTS_MISTAKES = [
    Mistake("no-log-q", "You left out log q(z): a log-weight is log p(z) + log p(x | z) - log q(z). Without "
                        "the - log q(z), samples from a narrow q are not corrected for where q put them.",
            lambda x, m, q, K, generator=None: (lambda p: p[0] + p[1])(_lw_parts(x, m, q, K, generator))),
    Mistake("prior-as-q", "You subtracted the prior's log-density log p(z) where the proposal's log q(z) belongs: "
                          "that leaves log p(x | z), the weight of naive Monte Carlo, which is right only when q is "
                          "the prior. Use q.log_prob(z).",
            lambda x, m, q, K, generator=None: _lw_parts(x, m, q, K, generator)[1]),
    Mistake("plus-log-q", "You added log q(z); the weight divides by q: log w = log p(x, z) - log q(z).",
            lambda x, m, q, K, generator=None: (lambda p: p[0] + p[1] + p[2])(_lw_parts(x, m, q, K, generator))),
    Mistake("event-mean", "You averaged log q(z) over z's coordinates: the log-density of independent "
                          "coordinates is their sum (torch's Independent(..., 1).log_prob sums them for you: use "
                          "q.log_prob(z), shape [K, B]).", _lw_event_mean),
    Mistake("sum-points", "You summed log p(x | z) over the data points: likelihood(z).log_prob(x) is already "
                          "summed over x's Dx coordinates (its event dimension) and has shape [K, B], one number "
                          "per sample and point; an extra .sum(-1) adds up the B points.",
            lambda x, m, q, K, generator=None: (lambda p: p[0] + p[1].sum(-1, keepdim=True) - p[2])(
                _lw_parts(x, m, q, K, generator))),
    Mistake("shared-samples", "Your data points share their samples: with a proposal of batch shape [] or [1], "
                              "z of shape [K, Dz] is broadcast to every point, so the B columns of log_w are not "
                              "independent (the notebook's 2000 repeated estimates would all be the same number). "
                              "Expand q to one proposal per point first: q = q.expand(torch.Size([B])), then draw "
                              "(K,) samples of shape [K, B, Dz].",
            lambda x, m, q, K, generator=None: (lambda p: p[0] + p[1] - p[2])(
                _lw_parts(x, m, q, K, generator, shared=True))),
]


def _moments_problem(got: torch.Tensor, want: torch.Tensor) -> str | None:
    """None if the K log-weights of every point have the reference's mean and variance, and two points'
    log-weights the reference's correlation, within SIGMAS standard errors; else what differs."""
    g, w = got.detach().to("cpu", torch.float64), want.detach().to("cpu", torch.float64)
    K = w.shape[0]
    if not bool(torch.isfinite(g).all()):
        return "some of your log-weights are not finite (NaN or inf) where lvmlib's are"
    for b in range(w.shape[1]):
        gb, wb = g[:, b], w[:, b]
        se = math.sqrt((gb.var() + wb.var()).item() / K) + 1e-9
        if abs((gb.mean() - wb.mean()).item()) > SIGMAS * se:
            return (f"for data point {b} the mean of your K = {K} log-weights is {gb.mean().item():.4g}, lvmlib's "
                    f"{wb.mean().item():.4g} (a difference of {abs((gb.mean() - wb.mean()).item()) / se:.1f} "
                    "standard errors)")
        m4 = ((wb - wb.mean()) ** 4).mean().item()
        var_se = math.sqrt(max(m4 - wb.var().item() ** 2, 0.0) * 2 / K) + 1e-9
        if abs((gb.var() - wb.var()).item()) > SIGMAS * var_se:
            return (f"for data point {b} the variance of your log-weights is {gb.var().item():.4g}, lvmlib's "
                    f"{wb.var().item():.4g} ({abs((gb.var() - wb.var()).item()) / var_se:.1f} standard errors apart)")
    if w.shape[1] >= 2 and w[:, 0].std() > 0 and w[:, 1].std() > 0:
        corr = lambda t: torch.corrcoef(t[:, :2].T)[0, 1].item() if t[:, :2].std(0).min() > 0 else 1.0  # noqa: E731
        cg, cw = corr(g), corr(w)
        if abs(cg - cw) > SIGMAS / math.sqrt(K) + 0.02:
            return (f"the log-weights of data points 0 and 1 have a correlation of {cg:.3f} in your answer and "
                    f"{cw:.3f} in lvmlib's: the points must get independent samples")
    return None


def _log_weights_compare(got, want):
    ok, why = same_nan(got, want)
    if ok or not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return ok, why
    if want.shape[0] < 100:  # a small exact case (q = the posterior): no statistics
        return ok, why
    problem = _moments_problem(got, want)
    return (True, "") if problem is None else (False, problem)


def _log_weights_cases() -> list[Case]:
    from lvmlib.distributions import gaussian_proposals
    from lvmlib.models import LinearGaussian, MixtureOfGaussians
    from torch.distributions import Categorical, Independent, Normal

    d = torch.float64
    model, x1 = toy_problem()
    x3 = torch.cat([x1, x1 - 1.0, x1 + 0.5])  # [3, 1]
    x2 = x1.expand(2, -1).clone()  # two copies of one point
    W = torch.tensor([[1.0, -0.5], [0.3, 2.0], [-1.0, 0.8]], dtype=d)
    lg2 = LinearGaussian(W, torch.tensor([0.1, -0.2, 0.0], dtype=d), 0.7)
    xd = torch.tensor([[0.5, 1.5, -1.0], [-1.0, 0.2, 0.4]], dtype=d)
    q2 = Independent(Normal(torch.tensor([[0.2, 0.5], [-0.3, 0.1]], dtype=d),
                            torch.tensor([[0.8, 0.5], [0.6, 1.2]], dtype=d)), 1)
    mog = MixtureOfGaussians(torch.tensor([0.5, 0.3, 0.2], dtype=d), torch.tensor([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.0]], dtype=d),
                             torch.eye(2, dtype=d).expand(3, 2, 2) * 0.5)
    xm = torch.tensor([[0.5, 0.5], [1.0, 1.5], [-0.5, 1.0]], dtype=d)
    q_cat = Categorical(probs=torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]], dtype=d))
    m32, x32 = toy_problem(dtype=torch.float32)
    x32 = torch.cat([x32, x32 + 0.5])
    K = 4000
    return [
        Case("the toy model, q = N(m_b, t_b^2) for each of B = 3 points (batch [3]), K = 4000",
             (x3, model, gaussian_proposals([1.25, 0.8, 1.6], [0.5, 0.4, 0.6]), K, 1)),
        Case("two copies of one point and one q shared by both (batch shape []), K = 4000",
             (x2, model, Independent(Normal(torch.tensor([1.2], dtype=d), torch.tensor([0.5], dtype=d)), 1), K, 2)),
        Case("q with batch shape [1] (as gaussian_proposals([1.25], [0.5]) makes it), B = 2, K = 4000",
             (x2, model, gaussian_proposals([1.25], [0.5]), K, 3)),
        Case("q = the exact posterior (every log-weight equals log p(x)), B = 3, K = 3",
             (x3, model, model.posterior(x3), 3, 4)),
        Case("K = 1 sample, one point, q = the exact posterior", (x1, model, model.posterior(x1), 1, 5)),
        Case("a 2-D latent and a 3-D x (log-densities summed over coordinates), B = 2, K = 4000",
             (xd, lg2, q2, K, 6)),
        Case("a mixture: a categorical z, q = Categorical(probs) for each point, K = 4000",
             (xm, mog, q_cat, K, 7)),
        Case("a mixture, q = the exact posterior (responsibilities), K = 5", (xm, mog, mog.posterior(xm), 5, 8)),
        Case("float32: the toy model in float32, B = 2, K = 4000",
             (x32, m32, gaussian_proposals([1.2, 1.5], [0.5, 0.3], dtype=torch.float32), K, 9)),
    ]


def _grad_case():
    """(x, model, loc, log_scale, K, seed): a q away from the posterior, where the reparameterization
    gradient (through z = loc + scale * eps) and a detached z's gradient differ by far more than the noise."""
    model, x = toy_problem()
    return x, model, torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([[math.log(0.7)]], dtype=torch.float64), 20_000, 11


def _mean_log_w_grads(fn: Callable, exercise: str):
    from torch.distributions import Independent, Normal

    from lvmlib.exercises._calls import call_student

    x, model, loc0, ls0, K, seed = _grad_case()
    loc, ls = loc0.clone().requires_grad_(True), ls0.clone().requires_grad_(True)
    q = Independent(Normal(loc, ls.exp()), 1)
    with torch.enable_grad():
        out = call_student(exercise or "reference", _Seeded(fn), Case("gradient", (x, model, q, K, seed)),
                           time_limit=20.0 if exercise else 0,
                           what="on the gradient case (q's loc and log-scale require gradients)")
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return None
        grads = torch.autograd.grad(out.mean(), [loc, ls], allow_unused=True)
    return [torch.zeros(1, dtype=torch.float64) if g_ is None else g_.detach().reshape(-1) for g_ in grads]


def _log_weights_gradient_problem(student: Callable, exercise: str) -> str | None:
    got = _mean_log_w_grads(student, exercise)
    if got is None:
        return (f"{NO_GRADIENT}: your log-weights carry no gradient to q's parameters (z = q.sample(), .detach(), "
                ".item(), torch.no_grad() or NumPy cut them from the graph). Draw z with "
                "lvmlib.distributions.sample(q, (K,), generator), which is reparameterized: z = loc + scale * eps.")
    want = _mean_log_w_grads(_lw_ref, "")
    for name, g_, w_ in zip(("loc", "log-scale"), got, want):
        # 0.5: five standard errors of these means (0.06 for loc, 0.10 for the log-scale over seeds 12-21): an
        # answer that draws its own samples passes; a log q(z.detach()) is 1.0 off in the log-scale (issue 31)
        if not allclose(g_, w_, rtol=0.0, atol=0.5):
            return (f"the values are right, but the gradient of the mean log-weight with respect to q's {name} is "
                    f"{g_.item():.3g}, lvmlib's {w_.item():.3g}: your samples z do not carry the gradient (z = "
                    "q.sample() or z.detach() keeps only the gradient of -log q(z)), or log q is taken at a detached "
                    "z (q.log_prob(z.detach()) blocks the path through z). Draw z with "
                    "lvmlib.distributions.sample(q, (K,), generator): z = loc + scale * eps is reparameterized.")
    return None


def check_log_weights(student: Callable, log_p_hat: Callable | None = None) -> Report:
    """Exercise 5.1: ``student(x [B, Dx], model, q, K, generator=None) -> log_w [K, B]``, and with
    ``log_p_hat`` its reduction ``log_p_hat(log_w [K, B]) -> [B]`` (:func:`check_log_p_hat`)."""
    title = "Exercise 5.1 (the log-weights of a model and a proposal)"
    cases = _log_weights_cases()
    report = check_function(title, _Seeded(student), _Seeded(_lw_ref), cases,
                            [Mistake(m.name, m.explain, _Seeded(m.fn)) for m in LOG_WEIGHTS_MISTAKES],
                            compare=_log_weights_compare,
                            passed="With q = the posterior every log-weight is log p(x).")
    if not report.passed:
        return _rename(report)
    from lvmlib.exercises._calls import StudentFailure

    try:
        problem = _log_weights_gradient_problem(student, title)
    except StudentFailure as fail:
        return Report(title, fail.status, fail.text, fail.mistake)
    if problem:
        return Report(title, "wrong", f"{title}: not yet. {problem[:1].upper()}{problem[1:]}", "no-gradient")
    exact = all(bool(equal(c.call(_Seeded(student)), c.call(_Seeded(_lw_ref)))) or
                same_nan(c.call(_Seeded(student)), c.call(_Seeded(_lw_ref)))[0] for c in cases[:1])
    note = "" if exact else (" (Your samples are not lvmlib's for the same generator, which is fine: the "
                             "statistics agree; the notebook's numbers will differ a little from the printed ones.)")
    if log_p_hat is None:
        return Report(title, "passed", report.message + note)
    reduce = check_log_p_hat(log_p_hat)
    if not reduce.passed:
        return reduce
    return Report(title, "passed", f"{title}: passed on all {len(cases)} cases and the gradient, and log_p_hat "
                                   f"on all {len(log_weight_cases())} of its cases. With q = the posterior every "
                                   f"log-weight is log p(x).{note}")


def _rename(report: Report) -> Report:
    """A report whose messages name the student's parameters (the wrapper's ``seed`` is the generator)."""
    text = report.message.replace("`seed`", "`generator`")
    return Report(report.exercise, report.status, text, report.mistake)
