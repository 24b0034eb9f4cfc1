"""What a check is made of: a case, a known mistake, and the report a notebook shows."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

# The comparisons every check makes, bound when the checks load: a student's cell that rebinds
# ``torch.allclose`` (or ``math.isclose``, ...) afterwards changes nothing a check compares.
allclose, equal, isnan, isclose = torch.allclose, torch.equal, torch.isnan, math.isclose

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
    """A known wrong answer: ``fn`` computes it; ``explain`` says what went wrong and what to change.

    ``detail``: the report adds how the first case that shows it differs (False where that description
    would name the fix, as a find-the-bugs exercise's statistical check's does: :mod:`lvmlib.exercises._planted`).
    """

    name: str
    explain: str
    fn: Callable
    detail: bool = True


_STYLE = {  # status -> (text colour, background)
    "passed": ("#116329", "#dafbe1"),
    "todo": ("#57606a", "#f6f8fa"),
    "wrong": ("#a40e26", "#ffebe9"),
    "error": ("#a40e26", "#ffebe9"),
}


class _Sealed(type):
    """A class whose attributes cannot be reassigned once sealed (``Report.passed = True`` raises):
    a report's verdict is not a student cell's to change.  (``type.__setattr__`` still can; the
    graded re-check, :mod:`lvmlib.exercises.grading`, never uses a report from the student's kernel.)"""

    def __setattr__(cls, name, value):
        if cls.__dict__.get("_sealed"):
            raise AttributeError(f"{cls.__name__}.{name} cannot be changed: a check's report is read-only")
        super().__setattr__(name, value)

    def __delattr__(cls, name):
        if cls.__dict__.get("_sealed"):
            raise AttributeError(f"{cls.__name__}.{name} cannot be deleted: a check's report is read-only")
        super().__delattr__(name)


#: the fixed outcome ids of a check that names no mistake (see :attr:`Report.outcome`)
FIXED_OUTCOMES = ("passed", "wrong", "not-done", "error", "timeout")


@dataclass(frozen=True)
class Report(metaclass=_Sealed):
    """What a check found.  Shown as the cell's output: one coloured line in HTML (passed green,
    not done yet grey, wrong or error red), the same words as text (:attr:`message`).

    Frozen (its fields cannot be assigned) and sealed (its class attributes, ``passed`` included,
    cannot be replaced).  :attr:`mistake` is a stable kebab-case id (``"no-logK"``,
    ``"changed-input"``, ``"timeout"``, ...) when the check named what went wrong.
    """

    exercise: str
    status: str  # "passed" | "todo" | "wrong" | "error"
    message: str
    mistake: str | None = None  # the name of the diagnosed Mistake, if one matched

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def outcome(self) -> str:
        """One stable id for tallies: ``passed``, the named mistake (``no-logK``, ``timeout``, ...),
        or ``wrong`` / ``not-done`` / ``error`` when no mistake is named."""
        if self.status == "passed":
            return "passed"
        if self.mistake:
            return self.mistake
        return {"todo": "not-done", "wrong": "wrong"}.get(self.status, "error")

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


type.__setattr__(Report, "_sealed", True)


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

