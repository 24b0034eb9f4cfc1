"""The check machinery shared by every notebook's exercises: cases, mistakes, reports, comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

__all__ = ["Case", "Mistake", "Report", "check_function", "same", "same_nan"]


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


def same_nan(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
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


def parts_of(fn: Callable, count: int, names: str) -> Callable:
    """``fn`` whose answer must be a tuple of ``count`` values (else a clear error)."""
    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if not isinstance(out, (tuple, list)) or len(out) != count:
            got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"one {type(out).__name__}"
            raise ValueError(f"return {count} values ({names}), got {got}")
        return tuple(out)
    return call


def check_parts(exercise: str, student: Callable, reference: Callable, cases: Sequence[Case],
                 parts: Sequence[tuple[str, Sequence[Mistake]]], *, passed: str = "", **kw) -> Report:
    """Check a function that returns several values, each value against its own listed mistakes.

    ``parts`` lists (label, mistakes) per returned value, in order; each Mistake's ``fn`` returns
    the whole tuple.  The report is the first wrong value's (it names the value), or a pass.
    """
    names = ", ".join(label for label, _ in parts)
    student = parts_of(student, len(parts), names)
    reports = []
    for i, (label, mistakes) in enumerate(parts):
        pick = (lambda f, i=i: (lambda *a, **k: f(*a, **k)[i]))
        own = [Mistake(m.name, m.explain, pick(m.fn)) for m in mistakes]
        report = check_function(f"{exercise} [{label}]", pick(student), pick(reference), cases, own,
                                compare=lambda g, w: same_nan(g, w, **kw))
        if report.status in ("todo", "error"):
            return Report(exercise, report.status, report.message.replace(f" [{label}]", ""), None)
        reports.append(report)
    wrong = [r for r in reports if r.status == "wrong"]
    if not wrong:
        extra = f" {passed}" if passed else ""
        return Report(exercise, "passed", f"{exercise}: passed on all {len(cases)} cases ({names}).{extra}")
    first = wrong[0]
    also = [label for (label, _), r in zip(parts, reports) if r.status == "wrong" and r is not first]
    more = f"\n  (also not yet right: {', '.join(also)})" if also else ""
    return Report(exercise, "wrong", first.message + more, first.mistake)
