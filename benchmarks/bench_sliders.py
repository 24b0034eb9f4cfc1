"""Kernel-side cost of every slider of every notebook: redraw + PNG render per move.

Each notebook's apps are built through ``lvmlib.lessons.nbXX.examples()`` (as the notebook
builds them), then every control is moved through ``--moves`` values spread over its range;
the table shows the median and 90th percentile of ``SliderApp.last_seconds`` per control.
Target: median <= 50 ms.  Run:  .venv/bin/python benchmarks/bench_sliders.py
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import numpy as np

from lvmlib import lessons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=12)
    parser.add_argument("--only", nargs="*", help="notebook modules to run, e.g. nb01 nb02")
    args = parser.parse_args()
    rows = []
    for mod_name in args.only or lessons.NOTEBOOK_MODULES:
        mod = importlib.import_module(f"lvmlib.lessons.{mod_name}")
        t0 = time.perf_counter()
        apps = list(mod.examples())
        build = time.perf_counter() - t0
        for app_name, app in apps:
            for control in app.controls:
                values = app.slider_values(control, args.moves)
                times = []
                for rep in range(2):  # there and back: each value is visited twice
                    for v in (values if rep == 0 else values[::-1]):
                        app.set(**{control: v})
                        times.append(app.last_seconds * 1000)
                rows.append((mod_name, app_name, control, statistics.median(times), float(np.percentile(times, 90)),
                             len(times), build))
    print("| notebook | app | slider | median ms | p90 ms | moves | build s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for mod_name, app_name, control, med, p90, n, build in rows:
        flag = "" if med <= 50 else " (over 50 ms)"
        print(f"| {mod_name} | {app_name} | {control} | {med:.1f}{flag} | {p90:.1f} | {n} | {build:.1f} |")


if __name__ == "__main__":
    main()
