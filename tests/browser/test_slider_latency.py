"""A slider move in JupyterLab against the floor of a kernel round trip, in the same run (issue 22).

The floor is a bare ``IntSlider`` that swaps two pre-rendered 2x pictures with no work in the
kernel (``labdriver.write_floor_notebook``): the least any kernel-drawn slider costs.  Notebook
05's proposal app is drawn by the page (``lvmlib.widgets.client``).  The test prints both
times and their ratio; it does not assert on them (shared machines are noisy).  What it asserts
is the order of events, which load cannot change: the floor's picture arrives only after its
message left for the kernel, and the page-drawn app has drawn the new state before any message
leaves (so a slow or absent kernel cannot delay it).
"""

import numpy as np
import pytest

from tools import labdriver

pytestmark = pytest.mark.browser

NOTEBOOK = "05_importance_sampling.ipynb"
MOVES = 3


def test_page_drawn_slider_answers_before_the_kernel_and_the_floor(lab, chromium, capsys):
    if NOTEBOOK not in labdriver.notebook_names(lab.root):
        pytest.skip(f"{NOTEBOOK} is not in notebooks/")
    name = labdriver.write_floor_notebook(lab.root)
    floor_nb = labdriver.LabNotebook(lab, labdriver.new_page(chromium), name)
    try:
        floor_nb.open_and_run_all()
        (control,) = floor_nb.controls()
        assert not control.page_drawn
        floor = floor_nb.timed_moves(control, MOVES)
    finally:
        floor_nb.close()
        lab.shutdown_kernels()
    # the floor waits for the kernel: the message goes out first, the picture comes back after
    assert all(r["sent_ms"] is not None and r["sent_ms"] <= r["ms"] for r in floor), floor

    nb = labdriver.LabNotebook(lab, labdriver.new_page(chromium), NOTEBOOK)
    rows = {}
    try:
        nb.open_and_run_all()
        controls = [c for c in nb.controls() if c.page_drawn and not c.disabled]
        assert len(controls) >= 3, f"{NOTEBOOK}: the proposal app's three controls are not page-drawn: {nb.controls()}"
        for c in controls:
            rows[c.name] = runs = nb.timed_moves(c, MOVES)
            late = [r for r in runs if r["sent_ms"] is not None and r["sent_ms"] < r["ms"]]
            assert not late, (f"{NOTEBOOK} {c.title}: the page drew after asking the kernel ({late}): "
                              "the app is not drawing its precomputed states")
    finally:
        nb.close()
        lab.shutdown_kernels()

    f_first, f_warm = floor[0]["ms"], float(np.median([r["ms"] for r in floor[1:]]))
    firsts = [runs[0]["ms"] for runs in rows.values()]
    warms = [float(np.median([r["ms"] for r in runs[1:]])) for runs in rows.values()]
    with capsys.disabled():
        print(f"\n  slider latency, key press to drawn (ms, {MOVES} warm moves): floor (kernel round trip, "
              f"two pictures) first {f_first:.0f}, warm {f_warm:.0f}; {NOTEBOOK} page-drawn, "
              f"{len(rows)} controls: first median {np.median(firsts):.1f} (max {max(firsts):.1f}), warm median "
              f"{np.median(warms):.1f}; ratio to the floor: first {np.median(firsts) / f_first:.3f}, "
              f"warm {np.median(warms) / f_warm:.3f}")
