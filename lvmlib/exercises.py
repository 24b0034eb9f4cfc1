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


def _score_terms_reference(f_values, z, loc, scale):
    """f(z_n) d/d(mu, sigma) log N(z_n; mu, diag sigma^2), per sample: ([N, D], [N, D])."""
    u = z - loc  # [N, D]
    f = f_values[:, None]  # [N, 1]
    return f * u / scale**2, f * (u**2 / scale**3 - 1 / scale)


def _score_cases():
    g = torch.Generator().manual_seed(9)
    cases = []
    for name, n, d, s in (("N = 5 samples, D = 3, sigma = 0.7", 5, 3, 0.7),
                          ("one sample, D = 1, sigma = 2", 1, 1, 2.0),
                          ("N = 4, D = 2, different sigma per dimension", 4, 2, None)):
        loc = torch.randn(d, generator=g, dtype=torch.float64)
        scale = torch.full((d,), s, dtype=torch.float64) if s else torch.tensor([0.5, 1.5], dtype=torch.float64)
        z = loc + scale * torch.randn(n, d, generator=g, dtype=torch.float64)
        f_values = ((z - 1.0) ** 2).sum(-1)
        cases.append(Case(name, (f_values, z, loc, scale)))
    return cases


_SCORE_MISTAKES = (
    Mistake("no -1/sigma", "The sigma part misses the derivative of the normalizer: log N(z; mu, sigma^2) contains "
            "-log sigma, whose derivative -1/sigma must be added to (z - mu)^2 / sigma^3.",
            lambda f, z, m, s: (f[:, None] * (z - m) / s**2, f[:, None] * (z - m) ** 2 / s**3)),
    Mistake("sigma not squared", "d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2, not (z - mu) / sigma: the density "
            "has (z - mu)^2 / (2 sigma^2) in the exponent.",
            lambda f, z, m, s: (f[:, None] * (z - m) / s, f[:, None] * ((z - m) ** 2 / s**3 - 1 / s))),
    Mistake("no f", "Each term is f(z_n) times the score; without f(z_n) you estimate E_q[score] = 0, not the gradient.",
            lambda f, z, m, s: ((z - m) / s**2, (z - m) ** 2 / s**3 - 1 / s)),
    Mistake("averaged", "Return one term per sample, shape [N, D] (the notebook averages them and measures their spread), "
            "not their mean over the samples.",
            lambda f, z, m, s: tuple(t.mean(0) for t in _score_terms_reference(f, z, m, s))),
)


def check_score_function_terms(student) -> Report:
    """Exercise 9.1: ``student(f_values [N], z [N, D], loc [D], scale [D]) -> (terms for mu, terms for sigma)``,
    each [N, D]: the score-function (REINFORCE) terms f(z_n) d/dphi log q(z_n)."""
    return check_function("Exercise 9.1 (the score-function estimator)", student, _score_terms_reference,
                          _score_cases(), _SCORE_MISTAKES, rtol=1e-7, atol=1e-9,
                          passed="Their mean is an unbiased estimate of the gradient; the next cell compares it with the exact one.")

# == 10 priors and labels ==
