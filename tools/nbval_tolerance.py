"""Numbers compared at the precision they mean: a tolerance for nbval.

A code cell with a tolerance in its metadata (written by ``tools/nbbuild.py`` from the source's
first-line marker ``# NBVAL_TOLERANCE abs=0.05``, see ``tools/nbval_markers.py``)::

    "metadata": {"lvmlib": {"tolerance": {"abs": 0.05, "rel": 0.02, "why": "measured spread ..."}}}

(a number passes if it is within either) has its outputs compared as text with numbers in it: the
text between the numbers must match exactly (same words, same lines, same count of numbers), and
each number must lie within the tolerance of the stored one.  A notebook written by hand may
instead start the cell with the marker line itself.  Everything else about nbval is unchanged (the
sanitize file still applies first; cells without a tolerance are compared exactly).

What it is for: numbers downstream of training or Monte Carlo differ in their last digits from
one CPU, BLAS kernel or thread count to another.  The tolerance of each cell is chosen from a
measured spread (see the README), so the check still fails on a real change.

``install()`` patches ``nbval.plugin.IPyNbCell.compare_outputs``; the repository's root
``conftest.py`` calls it.
"""

from __future__ import annotations

import copy
import re

try:
    from tools.nbval_markers import Tolerance, parse_tolerance_args, tolerance_from_metadata
except ModuleNotFoundError:  # run as a script: its own folder is on sys.path
    from nbval_markers import Tolerance, parse_tolerance_args, tolerance_from_metadata

MARKER = "NBVAL_TOLERANCE"
_MARKER_LINE = re.compile(r"^\s*#\s*NBVAL_TOLERANCE\b(?P<args>.*)$")
# a decimal number, optionally signed and in scientific notation; also nan / inf words
# (not part of a word such as "nb05" or "x1.18", and a sentence's full stop after it is not its decimal point)
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?!\w)(?!\.\d)|(?<!\w)[-+]?(?:nan|inf)(?!\w)")


def parse_marker(source: str) -> Tolerance | None:
    """The tolerance declared on a cell's first line, or None; a malformed marker raises ValueError."""
    first = source.lstrip("\n").split("\n", 1)[0]
    m = _MARKER_LINE.match(first)
    if not m:
        if MARKER in source:
            raise ValueError(f"{MARKER} must be the cell's first line (e.g. '# {MARKER} abs=0.05')")
        return None
    return parse_tolerance_args(m["args"])


def cell_tolerance(cell) -> Tolerance | None:
    """A cell's tolerance: from its metadata (what nbbuild writes), else from a marker line in its source."""
    tol = tolerance_from_metadata(cell.get("metadata"))
    return tol if tol is not None else parse_marker(cell.get("source", ""))


def compare_text(stored: str, got: str, tol: Tolerance) -> list[str]:
    """Why ``got`` does not match ``stored`` under ``tol``; empty when it matches.

    The text around the numbers must be identical; each number within the tolerance.
    """
    s_nums, g_nums = NUMBER.findall(stored), NUMBER.findall(got)
    s_text, g_text = NUMBER.split(stored), NUMBER.split(got)
    if s_text != g_text:
        return ["the text around the numbers differs"]
    problems = []
    for i, (s, g) in enumerate(zip(s_nums, g_nums)):
        if not tol.accepts(float(s), float(g)):
            problems.append(f"number {i + 1}: stored {s}, got {g}: outside {tol}")
    return problems


def reconcile(stored: str, got: str, tol: Tolerance) -> tuple[str, list[str]]:
    """``stored`` when ``got`` matches it under ``tol`` (so an exact comparison then passes), else ``got``."""
    problems = compare_text(stored, got, tol)
    return (stored, []) if not problems else (got, problems)


def _texts(output: dict):
    """(container, key) of every text field of one nbval output dict."""
    if "text" in output and isinstance(output["text"], str):
        yield output, "text"
    data = output.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and (key.startswith("text/") or key == "application/json"):
                yield data, key


def install() -> bool:
    """Patch nbval so cells with a tolerance compare numbers within it; False without nbval."""
    try:
        import nbformat
        from nbval.plugin import IPyNbCell
    except ImportError:
        return False
    if getattr(IPyNbCell, "_lvmlib_tolerance", False):
        return True
    original = IPyNbCell.compare_outputs
    from_dict = nbformat.from_dict

    def compare_outputs(self, test, ref, skip_compare=None):
        tol = cell_tolerance(self.cell) if hasattr(self, "cell") else None
        if tol is None:
            return original(self, test, ref, skip_compare)
        notes = []
        test = [from_dict(copy.deepcopy(dict(o))) for o in test]  # edited below; nbval's own list stays
        for t_out, r_out in zip(test, ref):
            if t_out.get("output_type") != r_out.get("output_type"):
                continue
            r_fields = {key: box[key] for box, key in _texts(r_out)}
            for box, key in _texts(t_out):
                if key in r_fields:
                    s, g = self.sanitize(r_fields[key]), self.sanitize(box[key])
                    box[key], problems = reconcile(s, g, tol)
                    notes += [f"{key}: {p}" for p in problems]
        ok = original(self, test, ref, skip_compare)
        if not ok and notes:
            self.comparison_traceback.append(f"{MARKER} {tol}: " + "; ".join(notes))
        return ok

    IPyNbCell.compare_outputs = compare_outputs
    IPyNbCell._lvmlib_tolerance = True
    return True
