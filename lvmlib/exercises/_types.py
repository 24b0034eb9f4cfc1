"""What a check is made of: a case, a known mistake, and the report a notebook shows."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

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

