"""Calling a student's function safely: fresh inputs compared after the call, a time limit, the stub told from real errors."""

from __future__ import annotations

import inspect
import linecache
import os
import pickle
import signal
import struct
import sys
import threading
from typing import Any, Callable, Sequence

import torch

from lvmlib.exercises._types import STUB_MESSAGE, TIME_LIMIT, Case, _clone
from lvmlib.exercises._types import equal


class StudentFailure(Exception):
    """A call of the student's function that cannot be compared: carries the report's status and text."""

    def __init__(self, status: str, text: str, mistake: str | None = None):
        super().__init__(text)
        self.status, self.text, self.mistake = status, text, mistake


class _TimeUp(BaseException):
    """Raised into the student's function when it runs past the time limit (not an Exception, so a
    student's ``except Exception`` cannot swallow it)."""


class Refused(Exception):
    """An answer a check does not compare: e.g. a ``torch.Tensor`` subclass, whose ``__torch_function__``
    could answer ``torch.allclose`` with anything.  Carries the mistake id."""

    def __init__(self, text: str, mistake: str):
        super().__init__(text)
        self.text, self.mistake = text, mistake


class _StudentState:
    """Whether the student's code is running now (``depth > 0``), for :mod:`lvmlib.exercises.grading`'s
    gates on lvmlib's own answers, and the calls those gates refused."""

    def __init__(self):
        self.depth = 0
        self.refused: list[str] = []


STUDENT = _StudentState()


def plain(value, *, _depth: int = 0):
    """``value`` with every tensor a plain ``torch.Tensor`` (tuples, lists and dicts gone through).

    ``nn.Parameter`` becomes a plain tensor (the same values, autograd kept); any other subclass of
    ``torch.Tensor`` is refused (:class:`Refused`): its ``__torch_function__`` or ``__torch_dispatch__``
    could make every comparison agree.  ``type()`` is used, never ``isinstance`` or ``__class__``
    (which a class can fake).
    """
    kind = type(value)
    if kind is torch.Tensor or _depth > 6:
        return value
    if kind is torch.nn.Parameter:
        with torch._C.DisableTorchFunctionSubclass():
            return value.as_subclass(torch.Tensor)  # (stays in the autograd graph)
    if issubclass(kind, torch.Tensor):
        raise Refused(f"your function returned a {kind.__name__}, a subclass of torch.Tensor; return a plain "
                      "torch.Tensor (the tensor operations on the inputs give one)", "tensor-subclass")
    if kind is tuple or kind is list:
        return kind(plain(v, _depth=_depth + 1) for v in value)
    if kind is dict:
        return {k: plain(v, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, (tuple, list, dict)):  # a subclass of a container (a namedtuple is fine)
        if isinstance(value, tuple) and hasattr(kind, "_fields"):
            return kind(*(plain(v, _depth=_depth + 1) for v in value))
        raise Refused(f"your function returned a {kind.__name__}; return plain tensors (in a tuple or list "
                      "where several values are asked for)", "wrong-type")
    return value


def guard(fn: Callable) -> Callable:
    """The student's ``fn``, marked as the student's while it runs (:data:`STUDENT`), its answer made
    :func:`plain`.  Signature, name and docstring are ``fn``'s."""
    if getattr(fn, "_lvmlib_guarded", False):
        return fn

    def student(*args, **kwargs):
        STUDENT.depth += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            STUDENT.depth -= 1
        return plain(out)
    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:
            setattr(student, attr, getattr(fn, attr))
        except (AttributeError, TypeError):
            pass
    try:
        student.__signature__ = inspect.signature(fn)
    except (TypeError, ValueError):
        pass
    student._lvmlib_guarded = True
    return student




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
    return not equal(a, b)


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
        WATCH.started(time_limit, exercise, where)
        try:
            got = _run_with_time_limit(fn, args, kwargs, time_limit)
        finally:
            WATCH.ended()
    except _TimeUp:
        raise StudentFailure("error", timeout_message(exercise, time_limit, where), "timeout") from None
    except StudentFailure:
        raise
    except Refused as err:
        raise StudentFailure("wrong", f"{exercise}: not yet. {err.text[:1].upper()}{err.text[1:]}.\n  ({where})",
                             err.mistake) from None
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


def timeout_message(exercise: str, seconds: float, where: str) -> str:
    return (f"{exercise}: your function was stopped after {seconds:g} s {where}. Look for a loop that never "
            "ends (or one over every element: use tensor operations instead).")


class _Watch:
    """In a check's child process (:func:`run_check`), tells the parent when a call of the student's
    function starts (with its time limit) and ends, so the parent can kill the child at the limit even
    when the function swallows every exception (a bare ``except:`` defeats any in-process alarm)."""

    def __init__(self):
        self.fd: int | None = None

    def send(self, message) -> None:
        if self.fd is not None:
            data = pickle.dumps(message)
            view = memoryview(struct.pack("!I", len(data)) + data)
            while view:
                view = view[os.write(self.fd, view):]

    def started(self, limit, exercise: str, where: str) -> None:
        if self.fd is not None and limit:
            self.send(("start", float(limit), exercise, where))

    def ended(self) -> None:
        if self.fd is not None:
            self.send(("end",))


WATCH = _Watch()


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
# Running a whole check where it can be stopped: a forked child, watched by the kernel
# ---------------------------------------------------------------------------------------------

#: seconds a whole check may take in its child process (the student's calls have their own limits)
CHECK_LIMIT = 300.0
#: seconds past a call's limit before the child is killed (its own alarm speaks first when it can)
GRACE = 2.0
#: "auto" (fork where it is safe), or "off" (in this process; the graded re-check, already in a fresh
#: process killed at its own limit, runs so).  The environment variable LVMLIB_CHECK_ISOLATION overrides.
ISOLATION = "auto"


def _fork_usable() -> bool:
    mode = os.environ.get("LVMLIB_CHECK_ISOLATION", ISOLATION)
    if mode == "off" or not hasattr(os, "fork") or WATCH.fd is not None:
        return False
    if mode != "fork" and not sys.platform.startswith("linux"):
        return False  # macOS: a forked child of a process that loaded Objective-C frameworks can crash
    return not torch.cuda.is_initialized()  # CUDA does not survive a fork


def _rng_state():
    import random

    state = {"random": random.getstate(), "torch": torch.get_rng_state()}
    if "numpy" in sys.modules:
        state["numpy"] = sys.modules["numpy"].random.get_state()
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state) -> None:
    import random

    random.setstate(state["random"])
    torch.set_rng_state(state["torch"])
    if "numpy" in state:
        sys.modules["numpy"].random.set_state(state["numpy"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _in_process(check: Callable, args, kwargs, name: str):
    from lvmlib.exercises._types import Report

    try:
        return check(*args, **kwargs)
    except StudentFailure as fail:
        return Report(name, fail.status, fail.text, fail.mistake)
    except Refused as err:
        return Report(name, "wrong", f"{name}: not yet. {err.text[:1].upper()}{err.text[1:]}.", err.mistake)


def run_check(check: Callable, args: tuple, kwargs: dict, name: str):
    """``check(*args, **kwargs)`` with the student's functions among ``args`` / ``kwargs`` :func:`guard` ed,
    run where it can be stopped, and with the notebook's random generators as they were.

    On Linux without CUDA initialised the check runs in a forked child process: the kernel waits, kills
    the child when a call of the student's function runs :data:`GRACE` s past its limit (or the whole check
    past :data:`CHECK_LIMIT`), and gets the report's fields back; whatever the student's code changed
    (random generators, globals, its inputs) changed in the child only.  Elsewhere the check runs here
    (the in-process alarm of :func:`call_student`), and the random generators of torch, NumPy and
    ``random`` are restored afterwards.  Returns a :class:`~lvmlib.exercises._types.Report`.
    """
    args = tuple(guard(a) if callable(a) and not isinstance(a, type) else a for a in args)
    kwargs = {k: guard(v) if callable(v) and not isinstance(v, type) else v for k, v in kwargs.items()}
    state = _rng_state()
    try:
        if _fork_usable():
            return _forked(check, args, kwargs, name)
        return _in_process(check, args, kwargs, name)
    finally:
        _restore_rng(state)


def _forked(check: Callable, args, kwargs, name: str):
    import io
    import select
    import time
    import warnings

    from lvmlib.exercises._types import Report

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or odd stream: nothing to flush
            pass
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (3.12: "this process is multi-threaded")
        pid = os.fork()
    if pid == 0:  # the child: run the check, send the report's fields, leave at once
        code = 0
        try:
            os.close(read_fd)
            WATCH.fd = write_fd
            torch.set_num_threads(1)  # no OpenMP pool of the parent's is usable here
            out = io.StringIO()
            sys.stdout = sys.stderr = out
            try:
                report = _in_process(check, args, kwargs, name)
                message = ("report", (report.exercise, report.status, report.message, report.mistake), out.getvalue())
            except BaseException as err:  # noqa: BLE001 - handed to the kernel, which raises it
                import traceback

                try:
                    pickle.dumps(err)
                    exc = err
                except Exception:  # noqa: BLE001
                    exc = RuntimeError(f"{type(err).__name__}: {err}")
                message = ("raise", exc, traceback.format_exc(), out.getvalue())
            WATCH.send(message)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    start = time.monotonic()
    call_deadline, call, buffer, result = None, None, b"", None
    try:
        while result is None:
            deadline = start + CHECK_LIMIT if call_deadline is None else min(start + CHECK_LIMIT, call_deadline)
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                if call is not None:
                    return Report(name, "error", timeout_message(call[1] or name, call[0], call[2]), "timeout")
                return Report(name, "error", f"{name}: the check was stopped after {CHECK_LIMIT:g} s (your "
                                             "function ran too long overall).", "timeout")
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack("!I", buffer[:4])[0]:
                size = struct.unpack("!I", buffer[:4])[0]
                message, buffer = pickle.loads(buffer[4:4 + size]), buffer[4 + size:]
                if message[0] == "start":
                    call, call_deadline = message[1:], time.monotonic() + message[1] + GRACE
                elif message[0] == "end":
                    call, call_deadline = None, None
                else:
                    result = message
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # e.g. the kernel interrupted: the child goes too
        raise
    finally:
        os.close(read_fd)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    if result is None:
        return Report(name, "error", f"{name}: the check's process ended before it reported (your function "
                                     "may have called exit() or crashed the interpreter).")
    if result[-1]:
        sys.stdout.write(result[-1])
    if result[0] == "raise":
        err = result[1]
        if hasattr(err, "add_note"):
            err.add_note("(raised in the check's process)\n" + result[2])
        raise err
    return Report(*result[1])
