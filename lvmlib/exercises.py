"""Checks for the notebooks' code exercises: run a student's function on known cases, name the mistake.

Each ``check_*`` function takes the student's function, runs it on cases with known answers
(including the hard ones: log-weights around -2000, one sample, one data point), and returns a
:class:`Report` that a notebook shows as its cell's output:

- ``passed``: every case agrees with the reference;
- ``todo``: the function still raises ``NotImplementedError`` (the student edition's stub);
  nothing is raised, so Run All stays clean;
- ``wrong``: a case disagrees; when the answer matches one of the exercise's listed
  :class:`Mistake` s (averaging log-weights where a logsumexp is needed, a missing ``- log K``,
  exponentiating before averaging, ...) the report names it and says what to change;
- ``error``: the function raised something else; the report names the case and the error.

The reference answers are lvmlib's own functions or closed forms; the mistakes are small wrong
implementations, so the tests (``tests/test_exercises.py``) can feed each one in and assert that
its diagnosis comes out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

__all__ = ["Case", "Mistake", "Report", "check_function"]


@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``fn(*args, **kwargs)``, described for the report."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def call(self, fn: Callable) -> Any:
        return fn(*_clone(self.args), **_clone(self.kwargs))


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``fn`` computes it; ``explain`` says what went wrong and what to change."""

    name: str
    explain: str
    fn: Callable


@dataclass
class Report:
    """What a check found.  Shown as the cell's output (its text is :attr:`message`)."""

    exercise: str
    status: str  # "passed" | "todo" | "wrong" | "error"
    message: str
    mistake: str | None = None  # the name of the diagnosed Mistake, if one matched

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


def _clone(value):
    """Fresh copies of tensor arguments, so a function that writes into its input harms no other case."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return f"tensor {[round(v, 4) for v in value.detach().double().flatten().tolist()]} (shape {list(value.shape)})"
        return f"a tensor of shape {list(value.shape)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def same(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """Whether ``got`` matches ``want`` (tensors, numbers, or tuples of them); if not, why not.

    Shapes must agree exactly; values within ``rtol``/``atol`` (in float64); equal infinities
    match, NaN never does.
    """
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) != len(want_t):
        return False, f"returned {len(got_t)} value(s), expected {len(want_t)}"
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        label = f"value {i + 1}: " if len(want_t) > 1 else ""
        if isinstance(w, torch.Tensor):
            if not isinstance(g, torch.Tensor):
                try:
                    g = torch.as_tensor(g, dtype=w.dtype)
                except (TypeError, ValueError, RuntimeError):
                    return False, f"{label}returned {type(g).__name__}, expected a tensor"
            if tuple(g.shape) != tuple(w.shape):
                return False, f"{label}shape {list(g.shape)}, expected {list(w.shape)}"
            g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
            if torch.isnan(g64).any():
                return False, f"{label}contains NaN"
            if not torch.allclose(g64, w64, rtol=rtol, atol=atol):
                return False, f"{label}got {_describe(g)}, expected {_describe(w)}"
        else:
            try:
                gf, wf = float(g), float(w)
            except (TypeError, ValueError):
                if g != w:
                    return False, f"{label}got {g!r}, expected {w!r}"
                continue
            if math.isnan(gf) or not (gf == wf or math.isclose(gf, wf, rel_tol=rtol, abs_tol=atol)):
                return False, f"{label}got {gf:.6g}, expected {wf:.6g}"
    return True, ""


def check_function(
    exercise: str,
    student: Callable,
    reference: Callable,
    cases: Sequence[Case],
    mistakes: Sequence[Mistake] = (),
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    passed: str = "",
    compare: Callable | None = None,
) -> Report:
    """Run ``student`` on every case against ``reference``; diagnose a wrong answer by ``mistakes``.

    Args:
        exercise: its title, e.g. ``"Exercise 6.1 (the IWAE bound)"``.
        student, reference: the two functions, called alike on each case.
        cases: the known cases, hard ones included.
        mistakes: known wrong implementations; the first that reproduces the student's answer on
            every case where it differs from the reference is the diagnosis.
        passed: what a pass means, appended to the pass line.
        compare: ``compare(got, want) -> (ok, why)``; default :func:`same` with ``rtol``/``atol``.

    Returns:
        a :class:`Report` (shown as the cell's output).
    """
    compare = compare or (lambda g, w: same(g, w, rtol=rtol, atol=atol))
    wants = [case.call(reference) for case in cases]
    gots = []
    for case in cases:
        try:
            gots.append(case.call(student))
        except NotImplementedError:
            return Report(exercise, "todo", f"{exercise}: not done yet. Fill in the function above "
                                            "(replace the `raise NotImplementedError`), run its cell, then run this check again.")
        except Exception as err:  # noqa: BLE001 - any error of the student's code is reported, not raised
            return Report(exercise, "error", f"{exercise}: your function raised {type(err).__name__}: {err}\n"
                                             f"  on the case: {case.name}")
    failures = [(case, why) for case, got, want in zip(cases, gots, wants) for ok, why in [compare(got, want)] if not ok]
    if not failures:
        extra = f" {passed}" if passed else ""
        return Report(exercise, "passed", f"{exercise}: passed on all {len(cases)} cases.{extra}")
    for mistake in mistakes:
        hits, differs = True, False
        for case, got, want in zip(cases, gots, wants):
            try:
                wrong = case.call(mistake.fn)
            except Exception:  # noqa: BLE001 - a mistake that cannot run on this case does not explain it
                hits = False
                break
            if not compare(wrong, want)[0]:
                differs = True
                if not compare(got, wrong)[0]:
                    hits = False
                    break
            elif not compare(got, want)[0]:
                hits = False  # the mistake is right here but the student is not: something else
                break
        if hits and differs:
            case, why = failures[0]
            return Report(exercise, "wrong", f"{exercise}: not yet. {mistake.explain}\n"
                                             f"  (first case that shows it: {case.name}: {why})", mistake.name)
    case, why = failures[0]
    more = f" (and {len(failures) - 1} more case(s))" if len(failures) > 1 else ""
    return Report(exercise, "wrong", f"{exercise}: not yet. On the case {case.name}: {why}{more}.")


# ---------------------------------------------------------------------------------------------
# The checks, one section per notebook (each section keeps its own cases and mistakes).
# ---------------------------------------------------------------------------------------------

# == 01 latent variable models ==

# == 02 mixtures of Gaussians and EM ==

# == 03 marginalization ==

# == 04 naive Monte Carlo ==

# == 05 importance sampling ==
#
# Exercise 5.1: log p-hat from log-weights; Exercise 5.2: the effective sample size.  Both take
# log-weights of shape [K, B] (K samples along dim 0, B data points) like lvmlib.estimators.

from lvmlib import estimators as _est  # noqa: E402 - each notebook's section keeps its own imports


def _same_nan(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """:func:`same`, except that NaN matches NaN at the same places (to recognise a mistake that
    produces NaN, e.g. 0/0 after exponentiating; the reference answers are never NaN)."""
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) == len(want_t):
        pairs = []
        for g, w in zip(got_t, want_t):
            if isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor) and g.shape == w.shape:
                g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
                gn, wn = torch.isnan(g64), torch.isnan(w64)
                if gn.any() and torch.equal(gn, wn):
                    g64, w64 = g64.masked_fill(gn, 0.0), w64.masked_fill(wn, 0.0)
                g, w = g64, w64
            elif not isinstance(g, torch.Tensor) and not isinstance(w, torch.Tensor):
                try:
                    if math.isnan(float(g)) and math.isnan(float(w)):
                        g = w = 0.0
                except (TypeError, ValueError):
                    pass
            pairs.append((g, w))
        got, want = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        if len(pairs) == 1:
            got, want = got[0], want[0]
    return same(got, want, rtol=rtol, atol=atol)


def _log_weight_cases(dtype=torch.float64) -> list[Case]:
    """Log-weights [K, B] with known answers, the hard ones included."""
    t = lambda rows: torch.tensor(rows, dtype=dtype)  # noqa: E731
    return [
        Case("K=4 samples, B=3 points", (t([[0.0, -1.0, 2.0], [-2.0, -3.0, 1.5], [-1.0, 0.5, 0.0], [-0.5, -4.0, 1.0]]),)),
        Case("log-weights near -2000 (exp underflows to 0)", (t([[-2000.0, -2003.0], [-2001.0, -2000.5], [-1999.0, -2002.0]]),)),
        Case("K=1 sample", (t([[-5.0, 1.0, -2000.0]]),)),
        Case("a single data point, K=5", (t([[-3.0], [-1.0], [-7.0], [-2.5], [-1.5]]),)),
        Case("K=2 samples, B=2 points, equal weights", (t([[-4.0, 10.0], [-4.0, 10.0]]),)),
    ]


def _lmexp(log_w):
    return _est.log_mean_exp(log_w, 0)


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
    """Exercise 5.1: ``student(log_w [K, B]) -> [B]``, log p-hat = logsumexp_k log w_k - log K."""
    return check_function("Exercise 5.1 (log p-hat from log-weights)", student, _lmexp, _log_weight_cases(),
                          LOG_P_HAT_MISTAKES, compare=_same_nan,
                          passed="Your log p-hat is lvmlib's est.log_mean_exp(log_w, 0).")


def _ess(log_w):
    return _est.effective_sample_size(log_w)


def _ess_exp_first(lw):
    w = lw.exp()
    return w.sum(0) ** 2 / (w ** 2).sum(0)


ESS_MISTAKES = [
    Mistake("not-normalised", "Your weights are not normalised: 1 / sum_k w_bar_k^2 needs w_bar = w / sum_j w_j "
                              "(in log space: log_w - torch.logsumexp(log_w, 0, keepdim=True)) before squaring.",
            lambda lw: torch.exp(-torch.logsumexp(2 * lw, 0))),
    Mistake("exp-first", "You exponentiated the log-weights: exp(-2000) underflows to 0 and the ESS becomes "
                         "0 / 0 = NaN. Normalise in log space first (subtract the logsumexp), then exponentiate.",
            _ess_exp_first),
    Mistake("fraction", "You returned ESS / K, a fraction; the exercise asks for the ESS itself, a number "
                        "between 1 and K.", lambda lw: _ess(lw) / lw.shape[0]),
    Mistake("no-square", "You forgot the square: sum_k w_bar_k = 1 always, so 1 / sum_k w_bar_k is 1. "
                         "ESS = 1 / sum_k w_bar_k^2.",
            lambda lw: torch.exp(-torch.logsumexp(lw - torch.logsumexp(lw, 0, keepdim=True), 0))),
    Mistake("dim", "You normalised or summed over dim 1, the data points. log_w has shape [K, B]: samples "
                   "along dim 0.", lambda lw: _ess(lw.T)),
]


def check_ess(student: Callable) -> Report:
    """Exercise 5.2: ``student(log_w [K, B]) -> [B]``, ESS = (sum w)^2 / sum w^2, in log space."""
    return check_function("Exercise 5.2 (the effective sample size)", student, _ess, _log_weight_cases(),
                          ESS_MISTAKES, compare=_same_nan,
                          passed="Equal weights give ESS = K, one sample gives ESS = 1.")


# == 06 the ELBO and its gap ==
#
# Exercise 6.1: the ELBO from log-weights; Exercise 6.2: the IWAE bound from log-weights.


def _elbo_ref(log_w):
    return log_w.mean(0)


ELBO_MISTAKES = [
    Mistake("logsumexp", "You took logsumexp - log K: that is the IWAE bound L_K (exercise 6.2), not the ELBO. "
                         "The ELBO averages the log-weights: log_w.mean(0).", _lmexp),
    Mistake("sum", "You summed the K log-weights; the ELBO estimate is their mean.", lambda lw: lw.sum(0)),
    Mistake("dim", "You averaged over dim 1, the data points. log_w has shape [K, B]: average over the K "
                   "samples (dim 0), one ELBO per data point.", lambda lw: lw.mean(1)),
]


def check_elbo(student: Callable) -> Report:
    """Exercise 6.1: ``student(log_w [K, B]) -> [B]``, the Monte Carlo ELBO = mean_k log w_k."""
    return check_function("Exercise 6.1 (the ELBO from log-weights)", student, _elbo_ref, _log_weight_cases(),
                          ELBO_MISTAKES, compare=_same_nan, passed="With K = 1 it is the single log-weight.")


IWAE_MISTAKES = [
    Mistake("mean", "You averaged the log-weights: that is the ELBO, not the IWAE bound. L_K puts the "
                    "average inside the log: logsumexp over the K samples, minus log K.", lambda lw: lw.mean(0)),
    Mistake("no-logK", "You forgot the - log K: without it the bound grows by log K and passes log p(x).",
            lambda lw: torch.logsumexp(lw, 0)),
    Mistake("exp-first", "You exponentiated before averaging: exp(-2000) underflows to 0 and its log is -inf. "
                         "Use torch.logsumexp(log_w, 0) - math.log(K).", lambda lw: lw.exp().mean(0).log()),
    Mistake("log-B", "You divided by the number of data points B (log_w.shape[1]) instead of the number of "
                     "samples K (log_w.shape[0]).", lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1])),
    Mistake("dim", "You reduced over dim 1, the data points; the K samples run along dim 0.",
            lambda lw: torch.logsumexp(lw, 1) - math.log(lw.shape[1])),
]


def check_iwae_bound(student: Callable) -> Report:
    """Exercise 6.2: ``student(log_w [K, B]) -> [B]``, L_K = logsumexp_k log w_k - log K."""
    return check_function("Exercise 6.2 (the IWAE bound from log-weights)", student, _lmexp, _log_weight_cases(),
                          IWAE_MISTAKES, compare=_same_nan,
                          passed="With K = 1 it equals the ELBO; with equal weights it is exact.")


# == 07 the variational autoencoder ==
#
# Exercise 7.1: the reparameterized sample; Exercise 7.2: the negative ELBO of a batch.

from torch.distributions import Bernoulli as _Bernoulli  # noqa: E402
from torch.distributions import Independent as _Independent  # noqa: E402
from torch.distributions import Normal as _Normal  # noqa: E402
from torch.distributions import kl_divergence as _kl  # noqa: E402


def _reparam_ref(mu, log_sigma, eps):
    return mu + log_sigma.exp() * eps


def _reparam_cases() -> list[Case]:
    g = torch.Generator().manual_seed(7)
    mu, ls = torch.randn(3, 2, generator=g, dtype=torch.float64), 0.5 * torch.randn(3, 2, generator=g, dtype=torch.float64)
    return [
        Case("B=3, d=2", (mu, ls, torch.randn(3, 2, generator=g, dtype=torch.float64))),
        Case("K=5 samples per point: eps [5, 3, 2]", (mu, ls, torch.randn(5, 3, 2, generator=g, dtype=torch.float64))),
        Case("a single data point, d=1, log_sigma = -3", (torch.tensor([[0.5]], dtype=torch.float64),
                                                          torch.tensor([[-3.0]], dtype=torch.float64),
                                                          torch.tensor([[1.5]], dtype=torch.float64))),
    ]


REPARAM_MISTAKES = [
    Mistake("log-sigma-as-sigma", "You scaled eps by log_sigma itself; the scale is sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + ls * eps),
    Mistake("variance", "You scaled eps by the variance sigma^2; scale it by the standard deviation sigma = "
                        "log_sigma.exp().", lambda mu, ls, eps: mu + (2 * ls).exp() * eps),
    Mistake("log-variance", "You read log_sigma as a log-variance (exp(log_sigma / 2)); here it is the log of "
                            "the standard deviation: sigma = log_sigma.exp().",
            lambda mu, ls, eps: mu + (0.5 * ls).exp() * eps),
]

NO_REPARAM = ("No gradient reaches mu and log_sigma: you sampled z without the reparameterization "
              "(.sample(), torch.normal(...), or .detach() cut the graph), so the encoder would never learn. "
              "Build z from the given noise: z = mu + log_sigma.exp() * eps.")
IGNORES_EPS = ("Your z changes from call to call with the same eps: you drew fresh noise instead of using the "
               "eps given. Build z from it: z = mu + log_sigma.exp() * eps.")


def _gradient_probe(student: Callable) -> str | None:
    """None if z = student(mu, log_sigma, eps) is reparameterized (the right gradient reaches mu and
    log_sigma); else the name of what is wrong ("no-reparam" or "ignores-eps")."""
    g = torch.Generator().manual_seed(11)
    mu0, ls0 = torch.randn(4, 3, generator=g, dtype=torch.float64), 0.3 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps, w = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    mu, ls = mu0.clone().requires_grad_(), ls0.clone().requires_grad_()
    z = student(mu, ls, eps.clone())
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return "no-reparam"
    (z * w).sum().backward()
    if mu.grad is None or ls.grad is None or not mu.grad.abs().sum() > 0 or not ls.grad.abs().sum() > 0:
        return "no-reparam"
    again = student(mu0.clone(), ls0.clone(), eps.clone())
    if not torch.allclose(z.detach(), torch.as_tensor(again).detach().to(z.dtype)):
        return "ignores-eps"
    if not (torch.allclose(mu.grad, w) and torch.allclose(ls.grad, w * ls0.exp() * eps)):
        return "no-reparam"
    return None


def check_reparameterized_sample(student: Callable) -> Report:
    """Exercise 7.1: ``student(mu, log_sigma, eps) -> z = mu + exp(log_sigma) * eps`` (broadcasting).

    Besides the values, checks that a gradient flows to ``mu`` and ``log_sigma`` (the point of the trick).
    """
    name = "Exercise 7.1 (the reparameterized sample)"
    report = check_function(name, student, _reparam_ref, _reparam_cases(), REPARAM_MISTAKES)
    if report.status in ("todo", "error") or report.mistake is not None:
        return report
    try:
        problem = _gradient_probe(student)
    except Exception as err:  # noqa: BLE001 - reported, not raised
        return Report(name, "error", f"{name}: your function raised {type(err).__name__}: {err}\n"
                                     "  when called with mu and log_sigma that require gradients")
    if problem is not None:
        return Report(name, "wrong", f"{name}: not yet. {NO_REPARAM if problem == 'no-reparam' else IGNORES_EPS}",
                      problem)
    if report.passed:
        return Report(name, "passed", report.message + " The gradient reaches mu and log_sigma.")
    return report


def _neg_elbo_ref(x, logits, mu, log_sigma):
    rec = _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]
    q = _Independent(_Normal(mu, log_sigma.exp()), 1)
    prior = _Independent(_Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    return -(rec - _kl(q, prior)).mean()


def _rec(x, logits):
    return _Independent(_Bernoulli(logits=logits), 1).log_prob(x)  # [B]


def _kl_std(mu, log_sigma):
    return 0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1 - 2 * log_sigma).sum(-1)  # [B]


def _neg_elbo_cases() -> list[Case]:
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 6, generator=g) < 0.5).float()
    confident = torch.tensor([[40.0, -40.0, 40.0, -40.0]])
    return [
        Case("B=3 digits, 6 pixels, d=2", (x, torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g),
                                           0.5 * torch.randn(3, 2, generator=g))),
        Case("a single data point, d=1", (x[:1], torch.randn(1, 6, generator=g), torch.tensor([[0.7]]),
                                          torch.tensor([[-1.0]]))),
        Case("confident logits +-40, half of them wrong", (torch.tensor([[1.0, 0.0, 0.0, 1.0]]), confident,
                                                           torch.zeros(1, 2), torch.zeros(1, 2))),
    ]


NEG_ELBO_MISTAKES = [
    Mistake("kl-sign", "The KL has the wrong sign: ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z)), so the "
                       "loss (minus the ELBO) ADDS the KL to the reconstruction loss.",
            lambda x, l, mu, ls: -(_rec(x, l) + _kl_std(mu, ls)).mean()),
    Mistake("sum-batch", "You summed over the batch; average over the digits (the loss per digit does not "
                         "change with the batch size, so the learning rate means the same for any batch).",
            lambda x, l, mu, ls: -(_rec(x, l) - _kl_std(mu, ls)).sum()),
    Mistake("not-negated", "You returned the ELBO itself; the loss to minimize is minus the ELBO.",
            lambda x, l, mu, ls: (_rec(x, l) - _kl_std(mu, ls)).mean()),
    Mistake("pixel-mean", "You averaged the reconstruction term over the pixels too (binary_cross_entropy's "
                          "default reduction='mean'): log p(x | z) SUMS over the pixels; average only over digits.",
            lambda x, l, mu, ls: torch.nn.functional.binary_cross_entropy_with_logits(l, x) + _kl_std(mu, ls).mean()),
    Mistake("no-kl", "You left out the KL term: that is an autoencoder's reconstruction loss, not minus the ELBO.",
            lambda x, l, mu, ls: -_rec(x, l).mean()),
    Mistake("log-variance", "Your KL reads log_sigma as a log-variance; here it is the log of the standard "
                            "deviation: KL = 0.5 * sum(mu^2 + sigma^2 - 1 - 2 log sigma).",
            lambda x, l, mu, ls: -(_rec(x, l) - 0.5 * (mu ** 2 + ls.exp() - 1 - ls).sum(-1)).mean()),
    Mistake("sigmoid-log", "You took log(sigmoid(logits)) by hand: at a confident pixel sigmoid(40) is exactly 1.0 "
                           "in float32 and log(1 - 1) = -inf. Use Bernoulli(logits=logits).log_prob(x) or "
                           "binary_cross_entropy_with_logits (stable for any logit).",
            lambda x, l, mu, ls: (-(x * torch.sigmoid(l).log() + (1 - x) * (1 - torch.sigmoid(l)).log()).sum(-1)
                                  + _kl_std(mu, ls)).mean()),
]


def check_negative_elbo(student: Callable) -> Report:
    """Exercise 7.2: ``student(x [B, D], logits [B, D], mu [B, d], log_sigma [B, d]) -> scalar``:
    minus the ELBO, mean over the batch of ( -log p(x | z) + KL(N(mu, sigma^2) || N(0, I)) )."""
    return check_function("Exercise 7.2 (the negative ELBO of a batch)", student, _neg_elbo_ref, _neg_elbo_cases(),
                          NEG_ELBO_MISTAKES, compare=lambda g, w: _same_nan(g, w, rtol=1e-4, atol=1e-4),
                          passed="Minimizing it is maximizing the ELBO, per digit.")


# == 08 latent interpolation ==
#
# Exercise 8.1: slerp.


def _slerp_ref(z0, z1, t):
    from lvmlib.vae import slerp as _vae_slerp

    return _vae_slerp(z0, z1, torch.tensor([[float(t)]], dtype=z0.dtype))[0]  # [Dz]


def _slerp_naive(z0, z1, t):
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    return torch.sin((1 - t) * omega) / torch.sin(omega) * z0 + torch.sin(t * omega) / torch.sin(omega) * z1


def _slerp_cases() -> list[Case]:
    d = torch.float64
    e0, e1 = torch.tensor([1.0, 0.0], dtype=d), torch.tensor([0.0, 1.0], dtype=d)
    a, b = torch.tensor([3.0, 1.0, -2.0], dtype=d), torch.tensor([-1.0, 2.0, 0.5], dtype=d)
    g = torch.Generator().manual_seed(3)
    u, v = torch.randn(8, generator=g, dtype=d), torch.randn(8, generator=g, dtype=d)
    p = torch.tensor([1.0, 2.0, 2.0], dtype=d)
    return [
        Case("orthogonal unit vectors, t = 0.5", (e0, e1, 0.5)),
        Case("orthogonal unit vectors, t = 0.25", (e0, e1, 0.25)),
        Case("different norms, t = 0 (must return z0)", (a, b, 0.0)),
        Case("different norms, t = 1 (must return z1)", (a, b, 1.0)),
        Case("8-D codes, t = 0.3", (u, v, 0.3)),
        Case("parallel endpoints z1 = 2 z0 (angle 0), t = 0.5", (p, 2 * p, 0.5)),
    ]


SLERP_MISTAKES = [
    Mistake("lerp", "That is the straight line (1 - t) z0 + t z1 (lerp), not slerp: use the angle omega between "
                    "z0 and z1 and the weights sin((1 - t) omega) / sin(omega), sin(t omega) / sin(omega).",
            lambda z0, z1, t: (1 - t) * z0 + t * z1),
    Mistake("swapped", "At t = 0 it returns z1 and at t = 1 z0: the weights are swapped. z0's weight is "
                       "sin((1 - t) omega) / sin(omega), which is 1 at t = 0.",
            lambda z0, z1, t: _slerp_ref(z0, z1, 1 - t)),
    Mistake("unit-only", "You interpolated the unit directions only: the path must start at z0 and end at z1, "
                         "norms included. Apply the slerp weights to z0 and z1 themselves.",
            lambda z0, z1, t: _slerp_ref(z0 / z0.norm(), z1 / z1.norm(), t)),
]
# the same two mistakes without the fallback for parallel endpoints (NaN there): a student often makes both
SLERP_MISTAKES += [
    Mistake(m.name, m.explain + " (And for parallel endpoints your slerp returns NaN: fall back to the straight "
                                "line when sin(omega) is tiny.)", fn)
    for m, fn in [(SLERP_MISTAKES[1], lambda z0, z1, t: _slerp_naive(z0, z1, 1 - t)),
                  (SLERP_MISTAKES[2], lambda z0, z1, t: _slerp_naive(z0 / z0.norm(), z1 / z1.norm(), t))]
]
SLERP_MISTAKES += [
    Mistake("no-norms", "You took omega = arccos(<z0, z1>) without dividing by |z0| |z1|: the cosine of the "
                        "angle is <z0, z1> / (|z0| |z1|).",
            lambda z0, z1, t: (lambda om: torch.sin((1 - t) * om) / torch.sin(om) * z0
                               + torch.sin(t * om) / torch.sin(om) * z1)(torch.arccos(torch.dot(z0, z1)))),
    Mistake("nan-parallel", "For parallel endpoints the angle is 0 and sin(omega) = 0: your slerp divides 0 by 0 "
                            "and returns NaN. When sin(omega) is tiny, fall back to the straight line (slerp and "
                            "lerp agree there).", _slerp_naive),
]


def check_slerp(student: Callable) -> Report:
    """Exercise 8.1: ``student(z0 [d], z1 [d], t: float) -> [d]``, spherical linear interpolation."""
    return check_function("Exercise 8.1 (slerp)", student, _slerp_ref, _slerp_cases(), SLERP_MISTAKES,
                          compare=lambda g, w: _same_nan(g, w, rtol=1e-6, atol=1e-8),
                          passed="It starts at z0, ends at z1, and survives parallel endpoints.")

# == 09 learning with the ELBO ==

# == 10 priors and labels ==
