"""What a class got wrong, by named mistake: ``make grades`` after ``nbgrader autograde``.

Reads an nbgrader course folder (``build/nbgrader/``):

- ``gradebook.db`` (``nbgrader.api.Gradebook``): every submission's score on every autograded test cell
  (``exN_M_check``);
- the autograded notebooks, ``autograded/STUDENT/ASSIGNMENT/*.ipynb``: the line
  ``lvmlib-outcome: <grade_id> <outcome>`` that the hidden test (``exercises.autograde``) prints, where
  the outcome is ``passed``, a mistake id (e.g. ``not-normalised``), ``wrong``, ``not-done``, ``error``
  or ``timeout``. A test cell with no such line counts as ``passed`` when it got its points, else as
  ``error``; a line that says ``passed`` on a cell that lost points counts as ``error`` (the gradebook wins);
- the submitted answer cells, ``submitted/STUDENT/ASSIGNMENT/*.ipynb``, for :func:`scan_answer`.

Writes ``reports/exercises.csv`` (``assignment,exercise,outcome,students``: one row per assignment,
exercise and outcome), ``reports/flags.csv`` (submissions to look at, and why) and ``reports/index.html``
(per exercise the pass rate and a bar chart of the commonest mistakes; inline SVG and CSS, offline).

    python tools/grades.py build/nbgrader          # make grades
"""

from __future__ import annotations

import argparse
import ast
import csv
import html
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "build" / "nbgrader"
OUTCOME_LINE = re.compile(r"^lvmlib-outcome: (?P<grade_id>\S+) (?P<outcome>\S+)\s*$", re.M)
#: names whose use in an answer cell earns a look: the checks' own machinery
WATCHED_NAMES = {"exercises", "lvmlib", "Report", "setattr", "delattr", "__torch_function__", "builtins",
                 "__builtins__", "globals", "sys", "importlib"}


@dataclass(frozen=True)
class Result:
    assignment: str
    student: str
    exercise: str  # the exercise's grade id, e.g. ex5_1
    outcome: str
    score: float
    max_score: float


def outcomes_in(nb) -> dict[str, str]:
    """``{grade_id: outcome}`` from the ``lvmlib-outcome:`` lines in a notebook's outputs."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if out.get("output_type") in ("execute_result", "display_data"):
                text = out.get("data", {}).get("text/plain", "")
            if out.get("output_type") == "error":
                text = "\n".join(out.get("traceback", [])) + "\n" + str(out.get("evalue", ""))
            text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(text) if isinstance(text, list) else text)
            for m in OUTCOME_LINE.finditer(text):
                found[m["grade_id"]] = m["outcome"]
    return found


def read_results(course: Path) -> list[Result]:
    """One Result per submission and autograded exercise, from the gradebook and the autograded notebooks."""
    from nbgrader.api import Gradebook

    results = []
    with Gradebook(f"sqlite:///{Path(course).resolve() / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                for snb in sub.notebooks:
                    path = Path(course) / "autograded" / sub.student.id / assignment.name / f"{snb.name}.ipynb"
                    said = outcomes_in(nbformat.read(path, as_version=4)) if path.exists() else {}
                    for grade in snb.grades:
                        if not grade.name.endswith("_check") or grade.max_score == 0:
                            continue
                        exercise = grade.name[: -len("_check")]
                        score = grade.score or 0.0
                        full = score >= grade.max_score
                        # full points with no outcome line: lvmlib's grading did not run (patched in the kernel?)
                        outcome = said.get(exercise, "unverified" if full else "error")
                        if outcome == "passed" and not full:
                            outcome = "error"
                        results.append(Result(assignment.name, sub.student.id, exercise, outcome, score,
                                              grade.max_score))
    return results


def _module_names(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names


def scan_answer(source: str, modules=("torch", "math", "np", "numpy", "F", "nn", "random", "exercises",
                                      "lvmlib", "distributions", "dist")) -> list[str]:
    """Why an answer cell deserves a look (empty when it does not): it touches ``lvmlib.exercises``,
    ``Report``, ``.passed``, ``setattr``, or assigns to an attribute of a module (``torch.allclose = ...``).

    ``modules``: the names of modules in the notebook (an answer's own imports are added)."""
    reasons = []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        words = set(re.findall(r"[A-Za-z_]\w*", source))
        return [f"mentions {w}" for w in sorted(words & WATCHED_NAMES)] + (
            ["uses .passed"] if re.search(r"\.\s*passed\b", source) else [])
    modules = set(modules) | _module_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in WATCHED_NAMES:
            reasons.append(f"mentions {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in ("passed", "__torch_function__", "__class__",
                                                                "exercises", "status", "__code__"):
            reasons.append(f"uses .{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            bound = [a.asname or a.name.split(".")[0] for a in node.names]
            if any(b in WATCHED_NAMES for b in bound) and not (
                    isinstance(node, ast.ImportFrom) and node.module == "lvmlib"):  # reported below
                reasons.append(f"binds {', '.join(b for b in bound if b in WATCHED_NAMES)} by an import")
            if any(m and (m.startswith("lvmlib.exercises") or m.split(".")[0] in ("builtins", "importlib", "sys"))
                   for m in mods) or (getattr(node, "module", None) == "lvmlib"
                                      and any(a.name == "exercises" for a in node.names)):
                reasons.append(f"imports {', '.join(m for m in mods if m)}")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                base = t
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(t, (ast.Attribute, ast.Subscript)) and isinstance(base, ast.Name) and base.id in modules:
                    reasons.append(f"assigns to {ast.unparse(t)}")
                if isinstance(t, ast.Name) and t.id in modules:
                    reasons.append(f"rebinds the module name {t.id}")
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in modules:
            reasons.append(f"rebinds the module name {node.name}")
        if isinstance(node, ast.FunctionDef) and node.name in ("__torch_function__", "__eq__", "__bool__"):
            reasons.append(f"defines {node.name}")
    return sorted(set(reasons))


def answer_cells(nb):
    """``{grade_id: source}`` of a notebook's autograded answer cells (nbgrader ``solution`` code cells)."""
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def scan_submissions(course: Path) -> list[tuple[str, str, str, str]]:
    """``(assignment, student, exercise, reasons)`` for every submitted answer cell :func:`scan_answer` flags."""
    flags = []
    for path in sorted((Path(course) / "submitted").glob("*/*/*.ipynb")):
        student, assignment = path.parent.parent.name, path.parent.name
        for gid, source in answer_cells(nbformat.read(path, as_version=4)).items():
            reasons = scan_answer(source)
            if reasons:
                flags.append((assignment, student, gid, "; ".join(reasons)))
    return flags


def tally(results) -> dict[tuple[str, str], Counter]:
    """``{(assignment, exercise): Counter(outcome -> students)}``."""
    table = defaultdict(Counter)
    for r in results:
        table[(r.assignment, r.exercise)][r.outcome] += 1
    return dict(sorted(table.items(), key=lambda kv: (kv[0][0], _exercise_key(kv[0][1]))))


def _exercise_key(gid: str):
    return [int(n) if n.isdigit() else n for n in re.split(r"(\d+)", gid)]


def _bars(counts: Counter, total: int, width: int = 420) -> str:
    """An inline SVG bar chart of the outcomes other than ``passed``, commonest first."""
    rows = [(o, n) for o, n in counts.most_common() if o != "passed"]
    if not rows:
        return "<p>No wrong answers.</p>"
    bar_h, label_w = 22, 150
    h = bar_h * len(rows)
    parts = [f'<svg role="img" aria-label="outcomes other than passed" width="{label_w + width + 60}" '
             f'height="{h}" viewBox="0 0 {label_w + width + 60} {h}">']
    for i, (outcome, n) in enumerate(rows):
        y, w = i * bar_h, max(1, round(width * n / total))
        colour = "#8c959f" if outcome == "not-done" else "#cf222e"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{html.escape(outcome)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{bar_h - 6}" fill="{colour}"/>'
                     f'<text x="{label_w + w + 6}" y="{y + 15}">{n}</text>')
    return "".join(parts) + "</svg>"


CSS = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#1f2328}"
       "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #d0d7de;text-align:left}"
       "section{margin-bottom:1.5em}svg text{font-size:13px;font-family:inherit}"
       ".rate{font-size:1.1em;font-weight:600}")


def html_report(table, flags) -> str:
    """The offline report: per exercise the pass rate and the commonest mistakes; the flagged answers."""
    out = ["<!doctype html><html lang=en><meta charset=utf-8><title>What the class got wrong</title>",
           f"<style>{CSS}</style><h1>What the class got wrong</h1>"]
    for (assignment, exercise), counts in table.items():
        total = sum(counts.values())
        rate = counts["passed"] / total if total else 0.0
        out.append(f"<section><h2>{html.escape(assignment)}: {html.escape(exercise)}</h2>"
                   f'<p class=rate>{counts["passed"]} of {total} passed ({rate:.0%})</p>{_bars(counts, total)}</section>')
    out.append("<h2>Answers to look at</h2>")
    if flags:
        out.append("<table><tr><th>assignment<th>student<th>exercise<th>why")
        out += [f"<tr><td>{html.escape(a)}<td>{html.escape(s)}<td>{html.escape(e)}<td>{html.escape(r)}"
                for a, s, e, r in flags]
        out.append("</table>")
    else:
        out.append("<p>None: no answer cell touches the checks' machinery.</p>")
    return "\n".join(out) + "\n</html>\n"


def write_reports(course: Path = COURSE) -> Path:
    """Write ``course/reports/{exercises.csv, flags.csv, index.html}``; returns the folder."""
    course = Path(course)
    results = read_results(course)
    table, flags = tally(results), scan_submissions(course)
    flags += [(r.assignment, r.student, r.exercise, "full points but no lvmlib-outcome line: lvmlib's grading did not "
               "run in the hidden test (regrade it: python -m lvmlib.exercises.grading NOTEBOOK)")
              for r in results if r.outcome == "unverified"]
    reports = course / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    with open(reports / "exercises.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "exercise", "outcome", "students"])
        for (assignment, exercise), counts in table.items():
            for outcome, n in sorted(counts.items(), key=lambda kv: (kv[0] != "passed", -kv[1], kv[0])):
                w.writerow([assignment, exercise, outcome, n])
    with open(reports / "flags.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "student", "exercise", "why"])
        w.writerows(flags)
    (reports / "index.html").write_text(html_report(table, flags))
    return reports


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("course", nargs="?", type=Path, default=COURSE)
    args = ap.parse_args(argv)
    if not (args.course / "gradebook.db").exists():
        raise SystemExit(f"no {args.course / 'gradebook.db'}: run `nbgrader autograde ASSIGNMENT` in {args.course} first")
    reports = write_reports(args.course)
    print("wrote", *(reports / n for n in ("exercises.csv", "flags.csv", "index.html")))


if __name__ == "__main__":
    main()
