"""How long `nbgrader autograde` takes: per assignment, and for a synthetic class (benchmarks/README.md).

    python -m benchmarks.nbgrader_autograde assignments 02_mixture_of_gaussians_em 05_importance_sampling \
        07_variational_autoencoder --grading fresh kernel
    python -m benchmarks.nbgrader_autograde class --students 30

``assignments``: one submission answered with the source's solutions, autograded once per grading mode
(``fresh``: the hidden tests re-grade each exercise in a fresh process with ``exercises.autograde``;
``kernel``: they assert the check run in the student's kernel). ``class``: the synthetic class of
tools/nbgrader_class.py over 03 and 05, autograded, then ``make grades``'s report, whose counts are
compared with the known ones. Not in ``make bench`` (minutes per notebook). Run from the repository
root with the venv's Python; set OMP_NUM_THREADS=1 on a shared machine.
"""

from __future__ import annotations

import argparse
import csv
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from tools import grades, nbgrader_class  # noqa: E402


def time_assignments(names, gradings) -> None:
    for grading in gradings:
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                nbgrader_class.submit_solutions(Path(tmp), name, grading=grading)
                start = time.perf_counter()
                nbgrader_class.autograde(Path(tmp), [name])
                seconds = time.perf_counter() - start
                rows = list(csv.DictReader(open(grades.write_reports(Path(tmp)) / "exercises.csv")))
                passed = sum(int(r["students"]) for r in rows if r["outcome"] == "passed")
                other = [f'{r["exercise"]}: {r["outcome"]}' for r in rows if r["outcome"] != "passed"]
                print(f"{name:30s} grading={grading:6s} autograde {seconds:6.1f} s   {passed}/{len(rows)} exercises "
                      "passed", *(["(", ", ".join(other), ")"] if other else []), flush=True)


def time_class(students: int, keep: Path | None, assignments) -> None:
    course = keep or Path(tempfile.mkdtemp())
    start = time.perf_counter()
    expected = nbgrader_class.make_class(course, students, assignments)
    made = time.perf_counter() - start
    for a in assignments:
        start = time.perf_counter()
        nbgrader_class.autograde(course, [a])
        print(f"autograde {a}: {students} students in {time.perf_counter() - start:.0f} s", flush=True)
    reports = grades.write_reports(course)
    got = Counter({(r["assignment"], r["exercise"], r["outcome"]): int(r["students"])
                   for r in csv.DictReader(open(reports / "exercises.csv"))})
    print(f"class made and released in {made:.0f} s; report {reports}; counts equal the known ones: {got == expected}")
    if got != expected:
        print("expected", sorted(expected.items()), "\ngot", sorted(got.items()))
        raise SystemExit(1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("assignments")
    a.add_argument("names", nargs="+")
    a.add_argument("--grading", nargs="+", default=["fresh", "kernel"])
    c = sub.add_parser("class")
    c.add_argument("--students", type=int, default=30)
    c.add_argument("--keep", type=Path, help="build the class here and keep it (default: a temporary folder)")
    c.add_argument("--assignments", nargs="+", default=list(nbgrader_class.ASSIGNMENTS),
                   choices=nbgrader_class.ASSIGNMENTS)
    args = ap.parse_args(argv)
    print(platform.processor() or platform.machine(), f"python {platform.python_version()}", flush=True)
    if args.what == "assignments":
        time_assignments(args.names, args.grading)
    else:
        time_class(args.students, args.keep, args.assignments)


if __name__ == "__main__":
    main()
