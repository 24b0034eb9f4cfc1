"""What a stored notebook must satisfy for nbval to test something (used by the tests)."""

from __future__ import annotations

import json
from pathlib import Path

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IGNORE = "nbval-ignore-output"  # the cell tag nbval reads (tools/nbbuild.py writes it from the source's marker)


def problems(nb: dict, name: str = "notebook") -> list[str]:
    """Reasons the notebook is not fit to store; empty when it is.

    - every non-empty code cell was executed, in order, top to bottom in one fresh kernel
      (execution counts 1, 2, 3, ...);
    - no error outputs and no tracebacks on stderr;
    - a cell that shows a widget (a slider app, an ``interact``) has the tag ``nbval-ignore-output``
      (its source starts with ``# NBVAL_IGNORE_OUTPUT``): nbval skips widget views, and the text
      beside them is not reproducible;
    - no code cell shows the test harness: no ``NBVAL`` in its source (the markers are tags and
      metadata, ``tools/nbval_markers.py``).
    """
    out = []
    counts = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", ""))
        if not src.strip():
            continue
        where = f"{name} cell {i}"
        count = cell.get("execution_count")
        if count is None:
            out.append(f"{where} is stored unexecuted (run the notebook top to bottom and save it)")
            continue
        counts.append(count)
        shows_widget = "interact(" in src
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"{where} stores an error: {o.get('ename')}: {o.get('evalue')}")
            if o.get("output_type") == "stream" and o.get("name") == "stderr" and "Traceback" in "".join(o.get("text", "")):
                out.append(f"{where} prints a traceback on stderr")
            if WIDGET_MIME in o.get("data", {}):
                shows_widget = True
        if shows_widget and IGNORE not in cell.get("metadata", {}).get("tags", []):
            out.append(f"{where} shows a widget but has no tag '{IGNORE}' (start its source cell with "
                       "'# NBVAL_IGNORE_OUTPUT' and rebuild it with tools/nbbuild.py)")
        if "NBVAL" in src:
            out.append(f"{where} shows a test marker (NBVAL) in its code: rebuild it with tools/nbbuild.py, "
                       "which moves the markers to tags and metadata")
    if counts and counts != list(range(1, len(counts) + 1)):
        out.append(f"{name}: execution counts {counts} are not 1..{len(counts)}: "
                   "run it top to bottom in a fresh kernel before saving")
    return out


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())
