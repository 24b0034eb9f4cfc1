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

# == 06 the ELBO and its gap ==

# == 07 the variational autoencoder ==

# == 08 latent interpolation ==

# == 09 learning with the ELBO ==

# == 10 priors and labels ==

__all__ += ["check_mixture_log_prob", "check_m2_unlabelled"]


def _mixture_reference(z, logits, loc, scale):
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    comps = Independent(Normal(loc, scale), 1)
    return MixtureSameFamily(Categorical(logits=logits), comps).log_prob(z)


def _mixture_cases() -> list:
    g = torch.Generator().manual_seed(10)
    d64 = torch.float64
    z = torch.randn(5, 2, generator=g, dtype=d64)
    loc = torch.randn(3, 2, generator=g, dtype=d64) * 2
    scale = torch.rand(3, 2, generator=g, dtype=d64) + 0.3
    return [
        Case("5 points, 3 components in 2-D, normalized logits", (z, torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=d64)), loc, scale)),
        Case("unnormalized logits [1, 2, 3] (the weights are their softmax)", (z, torch.tensor([1.0, 2.0, 3.0], dtype=d64), loc, scale)),
        Case("points 60 standard deviations away (densities below 1e-300)", (z + 60.0, torch.zeros(3, dtype=d64), loc, scale * 0 + 1)),
        Case("one component", (z, torch.zeros(1, dtype=d64), loc[:1], scale[:1])),
    ]


def _normal_log_prob(z, loc, scale):  # [B, K]: log N(z_b; m_k, s_k^2), summed over dimensions
    from torch.distributions import Independent, Normal

    return Independent(Normal(loc, scale), 1).log_prob(z[:, None, :])


_MIXTURE_MISTAKES = [
    Mistake("unnormalized weights",
            "the logits are not log-weights until they are normalized: use torch.log_softmax(logits, 0) "
            "(log pi_k = logits_k - logsumexp(logits)) before adding them to the components' log densities.",
            lambda z, logits, loc, scale: torch.logsumexp(logits + _normal_log_prob(z, loc, scale), -1)),
    Mistake("exp then log",
            "you exponentiated the log densities and took the log of their weighted sum: far from every "
            "component the densities underflow to 0 and log 0 = -inf. Stay in log space: "
            "torch.logsumexp(log_softmax(logits) + log N(z; m_k, s_k), dim=-1).",
            lambda z, logits, loc, scale: torch.log((torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale).exp()).sum(-1))),
    Mistake("average of logs",
            "you averaged the components' log densities with the weights, sum_k pi_k log N_k, which is only a "
            "lower bound (Jensen). The mixture's density is the weighted sum of densities: "
            "log sum_k pi_k N_k = logsumexp_k(log pi_k + log N_k).",
            lambda z, logits, loc, scale: (torch.softmax(logits, 0) * _normal_log_prob(z, loc, scale)).sum(-1)),
]


def check_mixture_log_prob(fn: Callable) -> Report:
    """Exercise 10.1: ``fn(z [B, Dz], logits [K], loc [K, Dz], scale [K, Dz]) -> log p(z) [B]`` of a Gaussian mixture."""
    return check_function("Exercise 10.1 (the mixture prior's log-density)", fn, _mixture_reference,
                          _mixture_cases(), _MIXTURE_MISTAKES, rtol=1e-6, atol=1e-6,
                          passed="Your function is the log-density of lvmlib.priors.MixturePrior.")


def _m2_reference(log_q_y, labelled):
    return (log_q_y.exp() * (labelled - log_q_y)).sum(-1)


def _m2_cases() -> list:
    g = torch.Generator().manual_seed(11)
    d64 = torch.float64
    logits = torch.randn(4, 10, generator=g, dtype=d64) * 2
    lab = -30 - 10 * torch.rand(4, 10, generator=g, dtype=d64)
    return [
        Case("4 digits, 10 classes", (torch.log_softmax(logits, -1), lab)),
        Case("a confident classifier (q(y|x) ~ one-hot)", (torch.log_softmax(logits * 20, -1), lab)),
        Case("a uniform classifier (entropy log 10)", (torch.full((2, 10), -math.log(10), dtype=d64), lab[:2])),
        Case("3 classes", (torch.log_softmax(logits[:, :3], -1), lab[:, :3])),
    ]


_M2_MISTAKES = [
    Mistake("no entropy",
            "you took the expected labelled bound sum_y q(y|x) B_l(x, y) but left out the entropy H(q(y|x)) = "
            "-sum_y q(y|x) log q(y|x): without it the sum is not a bound on log p(x) of the model where y is "
            "latent (it is E_q[log p(x, y)], missing the -log q(y|x) of the ELBO).",
            lambda lq, lab: (lq.exp() * lab).sum(-1)),
    Mistake("entropy sign",
            "the entropy enters with a plus sign, H = -sum_y q log q >= 0: the bound is sum_y q(y|x) (B_l - log q(y|x)).",
            lambda lq, lab: (lq.exp() * (lab + lq)).sum(-1)),
    Mistake("logsumexp",
            "you combined the classes with a logsumexp, log sum_y q(y|x) exp(B_l): that mixes the two bounds "
            "inside one log (an importance-weighted estimate with one sample per class), not the M2 bound. The "
            "ELBO over y is an expectation: sum_y q(y|x) (B_l(x, y) - log q(y|x)).",
            lambda lq, lab: torch.logsumexp(lq + lab, -1)),
    Mistake("plain average over classes",
            "you averaged over the classes with equal weights; weight each class by q(y|x) = exp(log_q_y).",
            lambda lq, lab: lab.mean(-1)),
]


def check_m2_unlabelled(fn: Callable) -> Report:
    """Exercise 10.2: ``fn(log_q_y [B, C], labelled [B, C]) -> [B]``, the unlabelled bound of M2."""
    return check_function("Exercise 10.2 (M2's bound for an unlabelled digit)", fn, _m2_reference, _m2_cases(),
                          _M2_MISTAKES, rtol=1e-6, atol=1e-6,
                          passed="This is what lvmlib.m2.M2.unlabelled_bound computes.")
