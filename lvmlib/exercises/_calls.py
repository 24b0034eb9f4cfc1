"""Calling a student's function safely: fresh inputs compared after the call, a time limit, the stub told from real errors."""

from __future__ import annotations

import inspect
import linecache
import os
import signal
import threading
from typing import Any, Callable, Sequence

import torch

from lvmlib.exercises._types import STUB_MESSAGE, TIME_LIMIT, Case, _clone


class StudentFailure(Exception):
    """A call of the student's function that cannot be compared: carries the report's status and text."""

    def __init__(self, status: str, text: str, mistake: str | None = None):
        super().__init__(text)
        self.status, self.text, self.mistake = status, text, mistake


class _TimeUp(BaseException):
    """Raised into the student's function when it runs past the time limit (not an Exception, so a
    student's ``except Exception`` cannot swallow it)."""




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

