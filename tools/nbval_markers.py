"""The test harness's markers leave what students read: comment lines in the source become cell metadata.

A code cell of ``tools/notebook_src/*.py`` may start with marker comments for the tests::

    # NBVAL_IGNORE_OUTPUT                  nbval runs the cell but does not compare its outputs
    # NBVAL_SKIP                           nbval does not run the cell
    # NBVAL_RAISES_EXCEPTION               the cell is expected to raise
    # NBVAL_CHECK_OUTPUT                   compare even under --nbval-lax
    # NBVAL_TOLERANCE abs=0.05 rel=0.02    numbers compared within a tolerance (tools/nbval_tolerance.py)
    # (why this tolerance: the measured spread ...)

The source keeps them (one place to read a cell with its test), but the built notebook does not:
:func:`move_to_metadata` takes the marker lines off the top of the cell and writes

- nbval's own markers as the **tags** nbval reads (``nbval-ignore-output``, ``nbval-skip``,
  ``nbval-raises-exception``, ``nbval-check-output``: nbval 0.11's ``metadata_tags``);
- the tolerance as ``metadata["lvmlib"]["tolerance"] = {"abs": 0.05, "rel": 0.02}``, and the
  parenthesised comment right below the marker (why that tolerance: measured spreads, for whoever
  maintains the test) as its ``"why"``.

So JupyterLab, Colab and the site show the code without them.  A marker anywhere but in the
cell's first lines is an error naming the cell (nbval would read it anywhere; the builder would
leave it in the code).  Standard library only: ``tools/nbbuild.py`` and ``tools/site.py`` import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: nbval's comment markers -> the cell tag nbval reads instead (nbval.plugin.metadata_tags)
TAGS = {
    "NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "NBVAL_SKIP": "nbval-skip",
    "NBVAL_RAISES_EXCEPTION": "nbval-raises-exception",
    "NBVAL_CHECK_OUTPUT": "nbval-check-output",
}
TOLERANCE = "NBVAL_TOLERANCE"
#: where the tolerance goes in a cell's metadata: metadata[NAMESPACE]["tolerance"]
NAMESPACE = "lvmlib"

_MARKER_LINE = re.compile(r"^\s*#\s*(?P<name>NBVAL_[A-Z_]+)\b(?P<args>.*)$")
_ARG = re.compile(r"^(abs|rel)=([0-9.]+(?:[eE][-+]?\d+)?)$")


@dataclass(frozen=True)
class Tolerance:
    """How far a printed number may move: within ``abs`` or within ``rel`` times the stored value."""

    abs: float = 0.0
    rel: float = 0.0

    def accepts(self, stored: float, got: float) -> bool:
        import math

        if math.isnan(stored) or math.isnan(got):
            return math.isnan(stored) and math.isnan(got)
        if math.isinf(stored) or math.isinf(got):
            return stored == got
        diff = abs(got - stored)
        return diff <= self.abs or diff <= self.rel * abs(stored)

    def as_metadata(self) -> dict:
        return {k: v for k, v in (("abs", self.abs), ("rel", self.rel)) if v}

    def __str__(self) -> str:
        parts = [f"abs={self.abs:g}"] if self.abs else []
        return " ".join(parts + ([f"rel={self.rel:g}"] if self.rel else []))


def parse_tolerance_args(args: str) -> Tolerance:
    """``"abs=0.05 rel=0.02"`` -> Tolerance; ValueError saying what to write otherwise."""
    values = {}
    for arg in args.split():
        a = _ARG.match(arg)
        if not a:
            raise ValueError(f"bad {TOLERANCE} argument {arg!r}: use abs=X and/or rel=Y, e.g. '# {TOLERANCE} abs=0.05'")
        values[a[1]] = float(a[2])
    if not values:
        raise ValueError(f"{TOLERANCE} needs abs=X and/or rel=Y, e.g. '# {TOLERANCE} abs=0.05'")
    return Tolerance(**values)


def tolerance_from_metadata(metadata) -> Tolerance | None:
    """The tolerance stored in a cell's metadata (:data:`NAMESPACE`), or None; ValueError if malformed."""
    entry = (metadata or {}).get(NAMESPACE, {}).get("tolerance")
    if entry is None:
        return None
    if not isinstance(entry, dict) or not set(entry) - {"why"} <= {"abs", "rel"} or not set(entry) & {"abs", "rel"}:
        raise ValueError(f"metadata.{NAMESPACE}.tolerance must be like {{'abs': 0.05, 'rel': 0.02, 'why': '...'}}, "
                         f"got {entry!r}: rebuild the notebook with tools/nbbuild.py")
    return Tolerance(**{k: float(v) for k, v in entry.items() if k in ("abs", "rel")})


def _why(lines: list[str]) -> tuple[str, int]:
    """The parenthesised comment at the top of ``lines`` (``# (measured ...)``, over one or more comment
    lines, until its parentheses close) as one line of text, and how many lines it took; ("", 0) if none."""
    if not lines or not re.match(r"^\s*#\s*\(", lines[0]):
        return "", 0
    depth, words = 0, []
    for n, line in enumerate(lines):
        m = re.match(r"^\s*#\s?(.*)$", line)
        if not m:
            break
        text = m[1].strip()
        words.append(text)
        depth += text.count("(") - text.count(")")
        if depth <= 0:
            why = " ".join(words)
            return why[1:-1].strip() if why.startswith("(") and why.endswith(")") else why, n + 1
    return "", 0


def split_markers(source: str, where: str = "<cell>") -> tuple[str, list[str], dict]:
    """``(code, tags, lvmlib metadata)`` of a code cell's source (see the module docstring).

    Raises ValueError, naming ``where``, for a marker below the cell's first lines, an unknown
    ``NBVAL_`` marker or a malformed tolerance.
    """
    lines = source.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    tags, meta, n = [], {}, 0
    while n < len(lines):
        m = _MARKER_LINE.match(lines[n])
        if not m:
            break
        name, n = m["name"], n + 1
        if name in TAGS:
            if m["args"].strip():
                raise ValueError(f"{where}: '# {name}' takes no arguments, got {m['args'].strip()!r}")
            tags.append(TAGS[name])
        elif name == TOLERANCE:
            try:
                tol = parse_tolerance_args(m["args"])
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            why, used = _why(lines[n:])
            meta["tolerance"] = tol.as_metadata() | ({"why": why} if why else {})
            n += used
        else:
            raise ValueError(f"{where}: unknown marker '# {name}': use one of "
                             f"{', '.join(sorted([*TAGS, TOLERANCE]))}")
    rest = lines[n:]
    for k, line in enumerate(rest, n + 1):
        if "NBVAL_" in line and _MARKER_LINE.match(line):
            raise ValueError(f"{where}: line {k}: {line.strip()!r}: a test marker must be among the cell's first "
                             "lines (before any code or other comment)")
    return "\n".join(rest), tags, meta


def move_to_metadata(cell, where: str = "<cell>"):
    """The code cell with its marker lines moved to ``metadata.tags`` / ``metadata.lvmlib`` (in place;
    returned). Markdown cells are left as they are."""
    if cell.get("cell_type") != "code":
        return cell
    code, tags, meta = split_markers(cell["source"], where)
    if not tags and not meta:
        return cell
    cell["source"] = code
    old = list(cell["metadata"].get("tags", []))
    cell["metadata"]["tags"] = old + [t for t in tags if t not in old]
    if meta:
        cell["metadata"].setdefault(NAMESPACE, {}).update(meta)
    return cell


def ignores_output(cell) -> bool:
    """Whether nbval leaves a code cell's outputs uncompared (or skips the cell): by tag, or by a
    marker comment left in an old notebook's source."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    source = cell.get("source", "")
    return bool(tags & {"nbval-ignore-output", "nbval-skip"}) or "NBVAL_IGNORE_OUTPUT" in source \
        or "NBVAL_SKIP" in source
