"""The check machinery shared by every notebook's exercises: cases, mistakes, reports, comparisons.

Every call of a student's function goes through :func:`call_student`, which

- gives the function fresh copies of the case's tensors and compares them with the case's own
  (pristine) tensors after the call: a function that writes into its input is told so;
- stops a function that runs past a time limit (default :data:`TIME_LIMIT` seconds): on the main
  thread, where the OS has ``SIGALRM`` (Linux, macOS: every Jupyter kernel), with ``signal.setitimer``,
  which really stops the function; elsewhere (Windows, a worker thread, or an alarm already set by
  someone else, e.g. pytest-timeout) by running it in a daemon thread and no longer waiting for it;
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

import html
import inspect
import linecache
import math
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

__all__ = ["Case", "Mistake", "Report", "check_function", "same", "same_nan", "call_student", "type_problem",
           "StudentFailure", "TIME_LIMIT", "STUB_MESSAGE", "NO_GRADIENT"]

#: Seconds a student's function may run on one case before the check stops it.
TIME_LIMIT = 20.0
#: The message of the stub's ``raise NotImplementedError(...)`` (tools/nbbuild.py STUB).
STUB_MESSAGE = "Exercise: replace this line with your code, then run the check below"
NO_GRADIENT = "no gradient: training would be impossible"


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


_STYLE = {  # status -> (text colour, background)
    "passed": ("#116329", "#dafbe1"),
    "todo": ("#57606a", "#f6f8fa"),
    "wrong": ("#a40e26", "#ffebe9"),
    "error": ("#a40e26", "#ffebe9"),
}


@dataclass
class Report:
    """What a check found.  Shown as the cell's output: one coloured line in HTML (passed green,
    not done yet grey, wrong or error red), the same words as text (:attr:`message`)."""

    exercise: str
    status: str  # "passed" | "todo" | "wrong" | "error"
    message: str
    mistake: str | None = None  # the name of the diagnosed Mistake, if one matched

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def require(self) -> "Report":
        """Raise ``AssertionError`` with the message unless the check passed (for autograder cells:
        ``check_x(fn).require()``); returns the report itself when it passed."""
        if not self.passed:
            raise AssertionError(self.message)
        return self

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__

    def _repr_html_(self) -> str:
        fg, bg = _STYLE.get(self.status, _STYLE["error"])
        words = " ".join(line.strip() for line in self.message.splitlines() if line.strip())
        return (f'<div class="lvmlib-check lvmlib-check-{html.escape(self.status)}" style="color:{fg};'
                f'background:{bg};border-left:4px solid {fg};padding:4px 8px;margin:2px 0;'
                f'font-family:var(--jp-ui-font-family, sans-serif)">{html.escape(words)}</div>')


class StudentFailure(Exception):
    """A call of the student's function that cannot be compared: carries the report's status and text."""

    def __init__(self, status: str, text: str, mistake: str | None = None):
        super().__init__(text)
        self.status, self.text, self.mistake = status, text, mistake


class _TimeUp(BaseException):
    """Raised into the student's function when it runs past the time limit (not an Exception, so a
    student's ``except Exception`` cannot swallow it)."""


# ---------------------------------------------------------------------------------------------
# Calling the student's function
# ---------------------------------------------------------------------------------------------


def _clone(value):
    """Fresh copies of tensor arguments, so a function that writes into its input harms no other case."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad) if value.is_leaf else value.clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _param_names(fn: Callable, count: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(count)]


def _changed(before, after) -> bool:
    if not isinstance(before, torch.Tensor):
        return False
    if not isinstance(after, torch.Tensor) or after.shape != before.shape or after.dtype != before.dtype:
        return True
    a, b = after.detach(), before.detach()
    if a.is_floating_point() or a.is_complex():
        same_place = (a == b) | (torch.isnan(a) & torch.isnan(b))
        return not bool(same_place.all())
    return not torch.equal(a, b)


# torch, the standard library and lvmlib itself: a NotImplementedError raised there is never the stub's
_LIBRARY_DIRS = tuple(os.path.dirname(os.path.abspath(f)) for f in (torch.__file__, inspect.__file__,
                                                                     os.path.dirname(os.path.dirname(__file__)) + "/x"))


def _is_stub_error(err: BaseException) -> bool:
    """Whether a NotImplementedError is the unfinished stub's own (raised on a ``raise
    NotImplementedError`` line of the student's code, or carrying the stub's message), not one raised
    from inside torch or elsewhere."""
    if not isinstance(err, NotImplementedError):
        return False
    tb, last = err.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return str(err) in ("", STUB_MESSAGE)
    filename = os.path.abspath(last.tb_frame.f_code.co_filename)
    if any(filename.startswith(d + os.sep) for d in _LIBRARY_DIRS) or f"{os.sep}site-packages{os.sep}" in filename:
        return False
    line = linecache.getline(last.tb_frame.f_code.co_filename, last.tb_lineno).strip()
    if line:
        return line.startswith("raise NotImplementedError")
    return str(err) in ("", STUB_MESSAGE)  # source not available (exec of a string): trust the message


def _signal_timer_usable() -> bool:
    return (hasattr(signal, "SIGALRM") and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0)


def _run_with_time_limit(fn: Callable, args, kwargs, seconds: float | None):
    """``fn(*args, **kwargs)``, stopped after ``seconds`` (raises :class:`_TimeUp`)."""
    if not seconds or seconds <= 0:
        return fn(*args, **kwargs)
    if _signal_timer_usable():
        def on_alarm(signum, frame):
            raise _TimeUp()
        previous = signal.signal(signal.SIGALRM, on_alarm)
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                return fn(*args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
    # elsewhere: a daemon thread, waited for at most `seconds` (it cannot be stopped; it is abandoned)
    box: dict = {}
    grad_mode = torch.is_grad_enabled()

    def run():
        try:
            with torch.set_grad_enabled(grad_mode):
                box["value"] = fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed back to the caller
            box["error"] = err
    worker = threading.Thread(target=run, daemon=True, name="lvmlib-check")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _TimeUp()
    if "error" in box:
        raise box["error"]
    return box["value"]


def call_student(exercise: str, fn: Callable, case: Case, *, time_limit: float | None = TIME_LIMIT,
                 what: str = "", grad: dict | Sequence[int] = (), return_args: bool = False) -> Any:
    """Call the student's ``fn`` on ``case`` (fresh copies of its tensors); return its answer.

    Raises :class:`StudentFailure` (status ``"todo"`` for the stub's own NotImplementedError,
    ``"error"`` for any other exception or a time-out, ``"wrong"`` when the function wrote into
    one of its inputs).  ``what`` describes the call for the report (default: the case's name).
    ``grad``: positions of arguments made from leaves that require a gradient (a dict may map a
    position to a function applied to the leaf, e.g. ``log_softmax`` for log-probabilities: its
    value is unchanged, and gradients then mean what they mean in training); with
    ``return_args``, returns ``(answer, the leaves by position)``.
    """
    args, kwargs = _clone(case.args), _clone(case.kwargs)
    leaves = {}
    if grad:
        through = grad if isinstance(grad, dict) else {i: None for i in grad}
        args = list(args)
        for i, f in through.items():
            leaves[i] = args[i].detach().clone().requires_grad_(True)
            args[i] = f(leaves[i]) if f is not None else leaves[i]
        args = tuple(args)
    pristine = tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args)
    where = what or f"on the case: {case.name}"
    try:
        got = _run_with_time_limit(fn, args, kwargs, time_limit)
    except _TimeUp:
        raise StudentFailure("error", f"{exercise}: your function was stopped after {time_limit:g} s {where}. "
                                      "Look for a loop that never ends (or one over every element: use tensor "
                                      "operations instead).") from None
    except NotImplementedError as err:
        if _is_stub_error(err):
            raise StudentFailure("todo", f"{exercise}: not done yet. Fill in the function above (replace the "
                                         "`raise NotImplementedError`), run its cell, then run this check "
                                         "again.") from None
        inside = " inside torch" if _raised_in_library(err) else ""
        raise StudentFailure("error", f"{exercise}: your function raised NotImplementedError{inside}: {_short(err)}\n"
                                      f"  {where}. This is an error of your code (not the unfinished stub): "
                                      "the operation is not available for these inputs; use another one.") from None
    except Exception as err:  # noqa: BLE001 - any error of the student's code is reported, not raised
        raise StudentFailure("error", f"{exercise}: your function raised {type(err).__name__}: {_short(err)}\n"
                                      f"  {where}") from None
    names = _param_names(fn, len(case.args))
    for i, (before, after) in enumerate(zip(pristine, args)):
        if _changed(before, after):
            raise StudentFailure("wrong", _changed_message(exercise, names[i], where), "changed-input")
    for key, before in case.kwargs.items():
        if _changed(before, kwargs.get(key)):
            raise StudentFailure("wrong", _changed_message(exercise, key, where), "changed-input")
    return (got, leaves) if return_args else got


def _short(err: BaseException, limit: int = 300) -> str:
    """An error's message, its first line only and at most ``limit`` characters (torch's dispatcher
    errors run to pages)."""
    text = str(err).strip()
    first = text.splitlines()[0] if text else ""
    if len(first) > limit:
        first = first[:limit].rstrip() + " ..."
    elif first != text:
        first += " ..."
    return first


def _changed_message(exercise: str, name: str, where: str) -> str:
    return (f"{exercise}: not yet. Your function changed its input `{name}` (an in-place operation such as "
            f"`{name} -= ...`, `{name}[...] = ...`, `{name}.exp_()` or `.unsqueeze_()`); the notebook passes its "
            f"own tensors and would find them changed. Compute new tensors instead (`{name} = {name} - m`, "
            f"or start from `{name}.clone()`).\n  ({where})")


def _raised_in_library(err: BaseException) -> bool:
    tb, last = err.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    filename = os.path.abspath(last.tb_frame.f_code.co_filename)
    return any(filename.startswith(d + os.sep) for d in _LIBRARY_DIRS[:1]) or "torch" in str(err).lower() or \
        "aten::" in str(err)


# ---------------------------------------------------------------------------------------------
# Types and values
# ---------------------------------------------------------------------------------------------


def type_problem(got, want, *, grad: bool = False) -> str | None:
    """What is wrong with the type of ``got`` given the expected ``want`` (None if nothing).

    A tensor is expected wherever ``want`` is one: not a NumPy array, a Python number or a list;
    real, not complex; on ``want``'s device and of its dtype.  A complex number is refused
    wherever a number is expected.  With ``grad``, the messages say that training needs a tensor.
    """
    if isinstance(want, torch.Tensor) and isinstance(got, (list, tuple)):
        kind = f"a {type(got).__name__} of {len(got)} values"
        if grad:
            return f"you returned {kind}, not one tensor: {NO_GRADIENT} unless it is one tensor (torch.stack the pieces)"
        return f"you returned {kind}; the answer must be one torch tensor (torch.stack the pieces)"
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) != len(want_t):
        return None  # the count is :func:`same`'s to report
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        label = f"value {i + 1}: " if len(want_t) > 1 else ""
        if isinstance(g, complex) or (isinstance(g, torch.Tensor) and g.is_complex()) or \
                (type(g).__module__ == "numpy" and getattr(getattr(g, "dtype", None), "kind", "") == "c"):
            return (f"{label}your answer is complex-valued; the answer is a real number (a complex value comes "
                    "from complex arithmetic, e.g. a square root or power of a negative number in NumPy or Python)")
        if not isinstance(w, torch.Tensor):
            continue
        if not isinstance(g, torch.Tensor):
            kind = type(g).__module__ + "." + type(g).__name__ if type(g).__module__ not in ("builtins",) else type(g).__name__
            if type(g).__module__ == "numpy":
                hint = ("a NumPy array" if type(g).__name__ == "ndarray" else f"a NumPy number ({kind})")
                fix = "Stay in torch throughout (torch.logsumexp, torch.exp, ...): the notebook uses the answer as a tensor"
            elif isinstance(g, (int, float)):
                hint, fix = f"a Python {type(g).__name__} (from .item() or float()?)", "Return the tensor itself"
            elif isinstance(g, (list, tuple)):
                hint, fix = f"a {type(g).__name__}", "Return one tensor (torch.stack the pieces)"
            else:
                hint, fix = f"a {kind}", "Return a torch tensor"
            if grad:
                return f"{label}you returned {hint}, not a tensor: {NO_GRADIENT}. {fix}"
            return f"{label}you returned {hint}; the answer must be a torch tensor. {fix}"
        if g.dtype != w.dtype:
            return (f"{label}your tensor has dtype {str(g.dtype).replace('torch.', '')}, expected "
                    f"{str(w.dtype).replace('torch.', '')} (the inputs' dtype): make any new tensor with "
                    "dtype=x.dtype (torch.zeros(..., dtype=x.dtype, device=x.device)), or torch.zeros_like(x)")
        if g.device != w.device:
            return (f"{label}your tensor is on {g.device}, expected {w.device} (the inputs' device): make any new "
                    "tensor with device=x.device")
    return None


def float64_reference(fn: Callable) -> Callable:
    """``fn`` computed in float64 and its tensors cast back to the inputs' dtype: the reference
    answer of a float32 case is then the exact answer rounded, not float32 arithmetic's."""
    def call(*args, **kwargs):
        dtypes = [a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
        up = tuple(a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
        out = fn(*up, **kwargs)
        if not dtypes:
            return out
        cast = lambda v: v.to(dtypes[0]) if isinstance(v, torch.Tensor) and v.is_floating_point() else v  # noqa: E731
        return tuple(cast(v) for v in out) if isinstance(out, tuple) else cast(out)
    call.__signature__ = _signature_of(fn)
    call.__wrapped__ = fn
    return call


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _index(flat: int, shape) -> str:
    if not shape:
        return ""
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    return f" at index {list(reversed(idx))}"


def _tensor_difference(g64: torch.Tensor, w64: torch.Tensor, label: str) -> str:
    """Where and by how much two float64 CPU tensors of one shape differ, with a few values side by side."""
    shape = tuple(w64.shape)
    gf, wf = g64.flatten(), w64.flatten()
    equal = (gf == wf)
    nan = torch.isnan(gf) & ~torch.isnan(wf)
    diff = torch.where(equal, torch.zeros_like(gf), (gf - wf).abs())
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
    if nan.any():
        k = int(nan.nonzero()[0])
        head = (f"{label}your answer contains NaN{_index(k, shape)} (expected {_fmt(float(wf[k]))}; "
                f"{int(nan.sum())} of {gf.numel()} entries are NaN)")
    else:
        k = int(diff.argmax())
        where = _index(k, shape)
        head = (f"{label}largest difference {_fmt(float(diff[k]))}{where}: got {_fmt(float(gf[k]))}, "
                f"expected {_fmt(float(wf[k]))}")
    if gf.numel() == 1:
        return head
    off = int((diff > 0).sum() + 0)
    show = list(range(min(gf.numel(), 4)))
    if k not in show:
        show = show[:3] + [k]
    pairs = ", ".join(f"{_index(j, shape).replace(' at index ', '') or '[]'}: {_fmt(float(gf[j]))} vs "
                      f"{_fmt(float(wf[j]))}" for j in show)
    return f"{head}; {off} of {gf.numel()} entries differ (got vs expected: {pairs})"


_LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


def same(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """Whether ``got`` matches ``want`` (tensors, numbers, or tuples of them); if not, why not.

    Shapes must agree exactly; values within ``rtol``/``atol`` (in float64; for a float32 answer at
    least 3e-4 / 1e-4: float32's rounding of inputs near -2000 alone is 1e-4); equal infinities
    match, NaN never does.  A tensor is expected wherever ``want`` is one (a NumPy array or a
    float is refused; types are :func:`type_problem`'s).  A wrong tensor is described by its
    largest difference, where it is, and a few values side by side.
    """
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) != len(want_t):
        return False, f"returned {len(got_t)} value(s), expected {len(want_t)}"
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        label = f"value {i + 1}: " if len(want_t) > 1 else ""
        if isinstance(w, torch.Tensor):
            if not isinstance(g, torch.Tensor):
                return False, f"{label}returned {type(g).__name__}, expected a tensor"
            if g.is_complex():
                return False, f"{label}returned a complex tensor, expected a real one"
            if tuple(g.shape) != tuple(w.shape):
                return False, f"{label}shape {list(g.shape)}, expected {list(w.shape)}"
            g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
            r, a = (max(rtol, 3e-4), max(atol, 1e-4)) if w.dtype in _LOW_PRECISION else (rtol, atol)
            if torch.isnan(g64).any() or not torch.allclose(g64, w64, rtol=r, atol=a):
                return False, _tensor_difference(g64, w64, label)
        else:
            if isinstance(g, complex):
                return False, f"{label}returned a complex number, expected a real one"
            try:
                gf, wf = float(g), float(w)
            except (TypeError, ValueError):
                if g != w:
                    return False, f"{label}got {g!r}, expected {w!r}"
                continue
            if math.isnan(gf) or not (gf == wf or math.isclose(gf, wf, rel_tol=rtol, abs_tol=atol)):
                return False, f"{label}got {gf:.6g}, expected {wf:.6g}"
    return True, ""


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
            if g is None or (not bool(g.abs().sum() > 0) and bool(w.abs().sum() > 0)):
                return (f"{NO_GRADIENT} through `{name}`: no gradient reaches it (part of the computation was cut "
                        f"from the graph: .detach(), .item(), .data, torch.tensor(...) or NumPy).\n  (on the case: {case.name})")
            g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
            if torch.isnan(g64).any() and not torch.isnan(w64).any():
                return (f"the values are right, but the gradient with respect to `{name}` is NaN: training would "
                        "stop with NaN parameters. (Typical: torch.where or a mask around log(0) or 0 * inf; the "
                        "gradient of the unused branch is still computed. Use a formula that is finite everywhere.)"
                        f"\n  (on the case: {case.name})")
            scale = max(1.0, float(w64.abs().max()))
            if not torch.allclose(g64, w64, rtol=max(rtol, 1e-4), atol=max(atol, 1e-5) * scale):
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


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def same_nan(got, want, *, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[bool, str]:
    """:func:`same`, except that NaN matches NaN at the same places (to recognise a mistake that
    produces NaN, e.g. 0/0 after exponentiating; the reference answers are never NaN)."""
    got_t, want_t = _as_tuple(got), _as_tuple(want)
    if len(got_t) == len(want_t):
        pairs = []
        for g, w in zip(got_t, want_t):
            if isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor) and g.shape == w.shape and not g.is_complex():
                g64, w64 = g.detach().to("cpu", torch.float64), w.detach().to("cpu", torch.float64)
                gn, wn = torch.isnan(g64), torch.isnan(w64)
                if gn.any() and torch.equal(gn, wn):
                    g64, w64 = g64.masked_fill(gn, 0.0), w64.masked_fill(wn, 0.0)
                keep = w.dtype if w.is_floating_point() else torch.float64  # (same's float32 tolerance)
                g, w = g64.to(keep), w64.to(keep)
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
    call.__signature__ = _signature_of(fn)
    return call


def _signature_of(fn: Callable):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return inspect.Signature()


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
                                compare=lambda g, w: same_nan(g, w, **kw), time_limit=0)
        if report.status in ("todo", "error"):
            return Report(exercise, report.status, report.message.replace(f" [{label}]", ""), report.mistake)
        reports.append(report)
    wrong = [r for r in reports if r.status == "wrong"]
    if not wrong:
        extra = f" {passed}" if passed else ""
        return Report(exercise, "passed", f"{exercise}: passed on all {len(cases)} cases ({names}).{extra}")
    first = wrong[0]
    also = [label for (label, _), r in zip(parts, reports) if r.status == "wrong" and r is not first]
    more = f"\n  (also not yet right: {', '.join(also)})" if also else ""
    return Report(exercise, "wrong", first.message + more, first.mistake)
