"""The check machinery shared by every notebook's exercises: cases, mistakes, reports, comparisons.

Every call of a student's function goes through :func:`call_student`, which

- gives the function fresh copies of the case's tensors and compares them with the case's own
  (pristine) tensors after the call: a function that writes into its input is told so;
- stops a function that runs past a time limit (default :data:`TIME_LIMIT` seconds): on the main
  thread, where the OS has ``SIGALRM`` (Linux, macOS: every Jupyter kernel), with ``signal.setitimer``,
  which really stops the function; elsewhere (Windows, a worker thread, or an alarm already set by
  someone else, e.g. pytest-timeout) by running it in a daemon thread and no longer waiting for it;
  a notebook's ``exercises.check_*`` runs the whole check in a forked child on Linux
  (:func:`~lvmlib.exercises._calls.run_check`), killed when a call outlives its limit even if the
  function swallows the alarm with a bare ``except:``; the student's functions are :func:`guard` ed:
  their answers must be plain tensors (a subclass is refused), and the comparisons are bound when
  the checks load;
- tells the stub's own ``NotImplementedError`` (raised on the stub's ``raise`` line, see
  ``tools/nbbuild.py`` STUB) from any other, e.g. one raised inside torch: that one is an error of
  the student's code and is shown with torch's message.

:func:`check_function` then checks the type of what came back (a tensor, not a NumPy array,
a float or a list; real, on the expected device and dtype), its values (a wrong tensor is
shown with its largest difference, where it is, and a few values side by side), optionally
that a gradient reaches given inputs (``grad=``: a loss or log-density meant for training; the
probe runs under ``torch.enable_grad()``), and names a listed :class:`Mistake` when one
reproduces the answer.  A :class:`Report` shows as one coloured line in HTML and as the same
words in text; ``report.require()`` raises ``AssertionError`` unless it passed (autograder cells).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from lvmlib.exercises._calls import (
    StudentFailure,
    guard,
    _as_tuple,
    _param_names,
    call_student,
)
from lvmlib.exercises._compare import (
    _capital,
    _signature_of,
    _tensor_difference,
    float64_reference,
    same,
    same_nan,
    type_problem,
)
from lvmlib.exercises._device import device_problem
from lvmlib.exercises._types import (
    NO_GRADIENT,
    STUB_MESSAGE,
    TIME_LIMIT,
    Case,
    Mistake,
    Report,
)
from lvmlib.exercises._types import allclose, isnan

__all__ = ["Case", "Mistake", "Report", "check_function", "check_parts", "parts_of", "same", "same_nan", "call_student",
           "type_problem", "float64_reference", "StudentFailure", "guard", "TIME_LIMIT", "STUB_MESSAGE", "NO_GRADIENT"]















# ---------------------------------------------------------------------------------------------
# Calling the student's function
# ---------------------------------------------------------------------------------------------










# torch, the standard library and lvmlib itself: a NotImplementedError raised there is never the stub's
















# ---------------------------------------------------------------------------------------------
# Types and values
# ---------------------------------------------------------------------------------------------
















# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


def _grads(fn: Callable, case: Case, indices: Sequence[int], time_limit=None, exercise=""):
    """(value, [grad per index] or None) of ``fn`` on ``case``, under ``torch.enable_grad()``,
    backpropagating sum(value * fixed positive weights); None when nothing requires a gradient."""
    with torch.enable_grad():
        out, by_index = call_student(exercise or "reference", fn, case, time_limit=time_limit if exercise else 0,
                                     grad=indices, return_args=True,
                                     what=f"with inputs that require gradients, on the case: {case.name}")
        leaves = [by_index[i] for i in indices]
        outs = [o for o in _as_tuple(out) if isinstance(o, torch.Tensor) and o.requires_grad]
        if not outs:
            return out, None
        g = torch.Generator().manual_seed(1234)
        total = sum((o * (torch.rand(o.shape, generator=g, dtype=torch.float64) + 0.5).to(o.dtype)).sum() for o in outs)
        grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return out, list(grads)


def _gradient_problem(exercise: str, student: Callable, reference: Callable, cases: Sequence[Case],
                      indices, names: Sequence[str], time_limit, rtol: float, atol: float) -> str | None:
    """None if the student's answer carries the reference's gradient to every input in ``indices``
    on every case (run under ``torch.enable_grad()``); else what is wrong."""
    for case in cases:
        _, want = _grads(reference, case, indices)
        _, got = _grads(student, case, indices, time_limit=time_limit, exercise=exercise)
        if got is None:
            return (f"{NO_GRADIENT}. Your answer is cut from the autograd graph (.item(), float(), .detach(), "
                    "torch.tensor(...), NumPy or torch.no_grad() cut it); build it from torch operations on the "
                    f"inputs.\n  (on the case: {case.name})")
        for name, g, w in zip(names, got, want):
            if w is None:
                continue
            if g is not None and bool(isnan(g).any()) and not bool(isnan(w).any()):
                return (f"the values are right, but the gradient with respect to `{name}` is NaN: training would "
                        "stop with NaN parameters. (Typical: torch.where or a mask around log(0) or 0 * inf; the "
                        "gradient of the unused branch is still computed. Use a formula that is finite everywhere.)"
                        f"\n  (on the case: {case.name})")
            if g is None or (not bool(g.abs().sum() > 0) and bool(w.abs().sum() > 0)):
                return (f"{NO_GRADIENT} through `{name}`: no gradient reaches it (part of the computation was cut "
                        f"from the graph: .detach(), .item(), .data, torch.tensor(...) or NumPy).\n  (on the case: {case.name})")
            g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
            scale = max(1.0, float(w64.abs().max()))
            if not allclose(g64, w64, rtol=max(rtol, 1e-4), atol=max(atol, 1e-5) * scale):
                return (f"the values are right, but the gradient with respect to `{name}` is not: part of the "
                        "computation is cut from the graph (.detach(), .data, .item()) or replaced by a constant. "
                        f"{_tensor_difference(g64, w64, 'gradient: ')}\n  (on the case: {case.name})")
    return None


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


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
    grad: dict | Sequence[int] = (),
    types: bool = True,
    time_limit: float | None = None,
    device: bool | Sequence[Case] = True,
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
        grad: positions of arguments that must receive a gradient (a loss or log-density meant for
            training): checked by a backward pass once the values are right, against the
            reference's gradient.  A dict maps a position to a function that makes the argument
            from its leaf (see :func:`call_student`).
        types: check the answer's type, device and dtype against the reference's (:func:`type_problem`).
        time_limit: seconds per call of ``student`` (default :data:`TIME_LIMIT`; None or 0: none).
        device: once the values are right, run ``student`` with the cases' tensors on the ``meta``
            device (standing in for a GPU) and require its answer there, with no device mix
            (:func:`lvmlib.exercises._device.device_problem`); a list of cases replaces the check's
            own for that; False: no device check (say why where it is turned off).

    Returns:
        a :class:`Report` (shown as the cell's output).
    """
    compare = compare or (lambda g, w: same(g, w, rtol=rtol, atol=atol))
    limit = TIME_LIMIT if time_limit is None else time_limit
    wants = [case.call(reference) for case in cases]
    gots = []
    for case, want in zip(cases, wants):
        try:
            got = call_student(exercise, student, case, time_limit=limit)
        except StudentFailure as fail:
            return Report(exercise, fail.status, fail.text, fail.mistake)
        problem = type_problem(got, want, grad=bool(grad)) if types else None
        if problem:
            return Report(exercise, "wrong", f"{exercise}: not yet. {_capital(problem)}.\n  (on the case: {case.name})",
                          "wrong-type")
        gots.append(got)
    failures = [(case, why) for case, got, want in zip(cases, gots, wants) for ok, why in [compare(got, want)] if not ok]
    if not failures:
        if grad:
            names = _param_names(reference, max(grad) + 1)
            try:
                problem = _gradient_problem(exercise, student, reference, cases, grad, [names[i] for i in grad],
                                            limit, rtol, atol)
            except StudentFailure as fail:
                return Report(exercise, fail.status, fail.text, fail.mistake)
            if problem:
                return Report(exercise, "wrong", f"{exercise}: not yet. {_capital(problem)}", "no-gradient")
        if device is not False:
            found = device_problem(exercise, student, reference, cases if device is True else device,
                                   time_limit=limit)
            if found:
                return Report(exercise, "wrong", f"{exercise}: not yet. {_capital(found[0])}", found[1])
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
            shows = f"{case.name}: {why}" if mistake.detail else case.name
            return Report(exercise, "wrong", f"{exercise}: not yet. {mistake.explain}\n"
                                             f"  (first case that shows it: {shows})", mistake.name)
    case, why = failures[0]
    more = f" (and {len(failures) - 1} more case(s))" if len(failures) > 1 else ""
    return Report(exercise, "wrong", f"{exercise}: not yet. On the case {case.name}: {why}{more}.")






def parts_of(fn: Callable, count: int, names: str) -> Callable:
    """``fn`` whose answer must be a tuple of ``count`` values (else a clear error)."""
    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if not isinstance(out, (tuple, list)) or len(out) != count:
            got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"one {type(out).__name__}"
            raise ValueError(f"return {count} values ({names}), got {got}")
        return tuple(out)
    call.__signature__ = _signature_of(fn)
    return call




def check_parts(exercise: str, student: Callable, reference: Callable, cases: Sequence[Case],
                 parts: Sequence[tuple[str, Sequence[Mistake]]], *, passed: str = "", time_limit: float | None = None,
                 **kw) -> Report:
    """Check a function that returns several values, each value against its own listed mistakes.

    ``parts`` lists (label, mistakes) per returned value, in order; each Mistake's ``fn`` returns
    the whole tuple.  The report is the first wrong value's (it names the value), or a pass.
    The student's function is called once per case (its answers are reused for every part).
    """
    names = ", ".join(label for label, _ in parts)
    limit = TIME_LIMIT if time_limit is None else time_limit
    whole = parts_of(student, len(parts), names)
    answers = []
    for case in cases:  # one call per case: inputs, time, stub and errors checked here
        try:
            answers.append(call_student(exercise, whole, case, time_limit=limit))
        except StudentFailure as fail:
            return Report(exercise, fail.status, fail.text, fail.mistake)
    by_case = {id(case): answer for case, answer in zip(cases, answers)}

    reports = []
    for i, (label, mistakes) in enumerate(parts):
        pick = (lambda f, i=i: (lambda *a, **k: f(*a, **k)[i]))
        own = [Mistake(m.name, m.explain, pick(m.fn)) for m in mistakes]
        keyed = [Case(c.name, c.args, {**c.kwargs, "_lvmlib_case": id(c)}) for c in cases]

        def strip(f):
            return lambda *a, _lvmlib_case=None, **k: f(*a, **k)

        def student_part(*a, _lvmlib_case=None, i=i, **k):
            return by_case[_lvmlib_case][i]
        report = check_function(f"{exercise} [{label}]", student_part, strip(pick(reference)), keyed,
                                [Mistake(m.name, m.explain, strip(m.fn)) for m in own],
                                compare=lambda g, w: same_nan(g, w, **kw), time_limit=0, device=False)
        if report.status in ("todo", "error"):
            return Report(exercise, report.status, report.message.replace(f" [{label}]", ""), report.mistake)
        reports.append(report)
    wrong = [r for r in reports if r.status == "wrong"]
    if not wrong:
        found = device_problem(exercise, whole, reference, cases, time_limit=limit)
        if found:
            return Report(exercise, "wrong", f"{exercise}: not yet. {_capital(found[0])}", found[1])
        extra = f" {passed}" if passed else ""
        return Report(exercise, "passed", f"{exercise}: passed on all {len(cases)} cases ({names}).{extra}")
    first = wrong[0]
    also = [label for (label, _), r in zip(parts, reports) if r.status == "wrong" and r is not first]
    more = f"\n  (also not yet right: {', '.join(also)})" if also else ""
    return Report(exercise, "wrong", first.message + more, first.mistake)
