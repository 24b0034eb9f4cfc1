"""Find-the-bugs exercises: a draft with two planted bugs, and a check that says how many remain.

A find-the-bugs exercise shows the student a draft of the function with two planted bugs. The
student's answer is the fixed function, checked by the exercise's usual check, whose listed mistakes
start with :func:`planted`'s: the draft itself ("both planted bugs are still there") and the draft
with one bug fixed ("one is fixed, one remains: it shows ..."). Their messages describe where a
remaining bug **shows** (a case, a symptom), never the fix, so the search stays the student's.
"""

from __future__ import annotations

from typing import Callable, Sequence

from lvmlib.exercises._types import Mistake

__all__ = ["planted", "BOTH", "ONE_LEFT"]

#: the mistake id of an answer that still has every planted bug (the draft as given)
BOTH = "planted-bugs"


def ONE_LEFT(draft: str, symptom: str) -> str:
    """The message of an answer with one planted bug of ``draft`` fixed and one left."""
    return (f"One of the two planted bugs of `{draft}` is fixed; one remains. It shows {symptom} "
            "Read the lines that compute it again.")


def planted(draft: str, draft_fn: Callable, bugs: Sequence[tuple[str, str, Callable]], *,
            detail: bool = True) -> list[Mistake]:
    """The listed mistakes of a find-the-bugs exercise, to put first in its check's list.

    Args:
        draft: the draft's name as the notebook shows it (e.g. ``"ess_draft"``).
        draft_fn: the draft as given, with both bugs (called like the answer).
        bugs: per planted bug, ``(mistake id, symptom, fn)``: ``fn`` is the draft with only that bug
            left (the other fixed); ``symptom`` completes "It shows ..." (where it shows, not the fix).
        detail: whether a report adds how the first case that shows the bug differs (False where the check's
            description of a difference names the fix, as exercise 1.1's statistical one does).
    """
    both = Mistake(BOTH, f"Both planted bugs of `{draft}` are still there (0 of {len(bugs)} fixed): your answer "
                         f"gives what the draft gives. Each bug shows on some case below; find them one at a time.",
                   draft_fn, detail)
    return [both] + [Mistake(name, ONE_LEFT(draft, symptom), fn, detail) for name, symptom, fn in bugs]
