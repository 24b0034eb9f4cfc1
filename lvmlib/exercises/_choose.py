"""The student's code runs the notebook: :func:`choose` picks the student's function once its check passed."""

from __future__ import annotations

import html
from typing import Callable

from lvmlib.exercises._types import Report

__all__ = ["choose", "Chosen"]


class Chosen:
    """A callable that is the student's function (its check passed) or lvmlib's (until then).

    Call it like either; ``.student`` says whose it is and ``.who`` says it in words ("your negative_elbo",
    "lvmlib's negative_elbo"); ``.calls`` counts the calls of that function that returned (so a notebook can
    show that its later cells really ran it: ``f"{used.who} ran {used.calls} times"``), and it displays as one line.
    """

    def __init__(self, name: str, fn: Callable, student: bool, library_name: str):
        self.name, self.fn, self.student, self.library_name, self.calls = name, fn, student, library_name, 0

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
        self.calls += 1  # counted once the function ran to the end
        return out

    @property
    def who(self) -> str:
        """Whose function runs, in words: "your NAME" (its check passed) or "lvmlib's NAME"."""
        if self.student:
            return f"your {self.name}"
        return f"lvmlib's {self.library_name.rpartition('.')[2] or self.name}"

    @property
    def message(self) -> str:
        if self.student:
            return f"The cells below run your {self.name} (its check passed)."
        return (f"The cells below run lvmlib's {self.library_name} until your {self.name} passes its check "
                f"(then re-run them).")

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.student else "#57606a"
        return f'<div style="color:{colour}; margin:0.2em 0">{html.escape(self.message)}</div>'


def choose(report: Report, student: Callable, library: Callable, *, name: str | None = None) -> Chosen:
    """The function the notebook runs from here on: ``student`` if ``report`` passed, else ``library``.

    Args:
        report: what the exercise's check returned (``lvmlib.exercises.check_*``).
        student: the student's function (the exercise cell's ``def``).
        library: lvmlib's function with the same signature and meaning.
        name: how to call the student's function in the message (default: its ``__name__``).
    """
    if not isinstance(report, Report):
        raise TypeError(f"choose needs the Report a check returned, got {type(report).__name__}: "
                        "write choose(exercises.check_...(your_function), your_function, lvmlib_function)")
    name = name or getattr(student, "__name__", "function")
    lib_name = f"{getattr(library, '__module__', 'lvmlib')}.{getattr(library, '__qualname__', 'function')}"
    return Chosen(name, student if report.passed else library, report.passed, lib_name)
