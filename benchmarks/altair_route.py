"""The third slider route of issue 22, built and measured: Altair / Vega-Lite.

Two lesson apps rebuilt as Vega-Lite charts from the same precomputed data the matplotlib apps
draw (``lvmlib.lessons.nb05.precompute`` and ``lvmlib.lessons.nb08.interpolation_paths``): every
state of the app is in tidy tables inside the chart, the controls are Vega-Lite params bound to
range inputs (dropdowns: ``<select>``), and a move is redrawn by ``transform_filter`` on the
params (plus ``flatten`` / ``window`` / ``lookup`` to unpack the packed arrays) in the page,
with no kernel message.

- :func:`proposal_chart`: notebook 05's proposal app (q mean / q scale / samples N, 819 states):
  integrand and p(x) q(z) with the run's samples as a rug; the weights curve and the run's
  weights on a log axis; the histogram of the repeated estimates with the exact value and
  their mean; mean ESS / N for every q at the current N, the current q circled; the text line.
- :func:`interpolation_chart`: notebook 08's interpolation app (from / to / t: 20 digits, 400
  ordered pairs, 11 t, 4400 states): both 11-step strips with the red box at t, both images at
  t, the two data digits, the norm |z(t)| along both paths against the prior's shell, the text.

``python benchmarks/altair_route.py --moves 6`` then, in one JupyterLab server in headless
Chromium at device scale factor 2 (``tests/browser/labdriver.py``), measures key press -> the
chart redrawn for every bound control, against, in the same run, the floor (a bare ipywidgets
``IntSlider`` swapping two pre-rendered 2x PNGs of notebook 05's app, measured by
``bench_browser_latency.measure_notebook``) and the anywidget canvas route on the rebuilt
notebooks 05 and 08 (``--no-anywidget`` leaves those out: they train two VAEs in the kernel).
Also: the bytes each chart adds to a stored notebook (written with nbformat, executed with
nbclient) against the anywidget route's recorded bytes for the same app; the static HTML page
(vega, vega-lite and vega-embed inlined from the npm registry's packages, every request off the
machine refused) and a slider moved there; lines of code per app; screenshots of each route at
the same state for a look (``--shots DIR``).

How a redraw is timed (in the page, from the keydown's ``timeStamp``, as for the other routes):
Vega draws on a ``<canvas>`` by default (vega-embed's default, what JupyterLab shows).  The page
wraps ``CanvasRenderingContext2D.prototype.save``: the first ``save()`` on the chart's canvas after
the key press (Vega's renderer starts every frame with it) queues a microtask, which runs once
the synchronous render is over; its ``performance.now()`` is the time (the same point as the
canvas route's ``lvm-drawn`` event and the PNG path's ``img.decode()``: drawn, not yet
composited).  With ``--renderer svg`` a MutationObserver on the chart's SVG is used instead.

Altair is a benchmark-only tool here (``pip install -e '.[bench]'``, or ``pip install
'altair>=5.4,<6'``): Altair 6 writes Vega-Lite 6 under the ``application/vnd.vegalite.v6.json``
mime type, which JupyterLab 4.6 (vega-lite 5.6.1, vega 5.33 in its vega5 extension) does not
render, and its ``html`` / ``JupyterChart`` outputs load vega from a CDN.  Without altair,
Chromium or Playwright this prints why and exits 0.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(HERE))

try:
    import altair as alt
except ImportError:  # checked in main()
    alt = None

# the vega JS a static page inlines (what Altair 5.5 and JupyterLab 4.6 speak: Vega-Lite 5, Vega 5)
VEGA_PACKAGES = {"vega": "5.33.0", "vega-lite": "5.20.1", "vega-embed": "6.29.0"}
GRAY_R = ["#ffffff", "#000000"]  # matplotlib's gray_r from 0 to 1
NO_FRAME = {"stroke": None}  # a text line's view: no frame
# a five-pointed star as a Vega symbol path (matplotlib's "*" marker)
STAR = "M" + "L".join(f"{r * math.sin(a * math.pi / 5):.3f},{-r * math.cos(a * math.pi / 5):.3f}"
                      for a, r in zip(range(10), [1, 0.38] * 5)) + "Z"


def _require_altair():
    if alt is None:
        raise RuntimeError("altair is not installed: pip install 'altair>=5.4,<6' (or pip install -e '.[bench]')")
    if not alt.SCHEMA_VERSION.startswith("v5"):
        raise RuntimeError(f"altair {alt.__version__} writes Vega-Lite {alt.SCHEMA_VERSION}; JupyterLab 4.6 renders "
                           "Vega-Lite 5: pip install 'altair>=5.4,<6'")


def _inline(rows: list[dict]):
    """Inline data stored as one JSON string (one line in the notebook, not one line per number)."""
    return alt.InlineData(values=json.dumps(rows, separators=(",", ":")), format=alt.DataFormat(type="json"))


def _r(a, digits: int) -> list:
    return [float(v) for v in np.round(np.asarray(a, dtype=float), digits)]


def _sig(a, sig: int = 4) -> list:
    """Numbers to ``sig`` significant digits (curves spanning many orders of magnitude)."""
    return [float(f"{v:.{sig}g}") for v in np.asarray(a, dtype=float)]


# ----------------------------------------------------------------------------------------
# the data: the lesson code, with the notebooks' settings
# ----------------------------------------------------------------------------------------


def nb05_grid(total: int = 20_000):
    """Notebook 05's ProposalGrid (as ``nb05.examples()``: 20 000 samples per proposal; the
    notebook takes 100 000, which changes the histograms' smoothness, not what is stored)."""
    import torch

    from lvmlib.lessons import nb05

    model, x = nb05.toy_problem()
    return nb05.precompute(model, x, total=total, generator=torch.Generator().manual_seed(0))


def nb08_paths(per_class: int = 2, epochs: int = 3):
    """Notebook 08's interpolation Paths: ``per_class(y_test, 2)`` digits as the notebook (20
    digits, 400 pairs; ``nb08.examples()`` takes 1 per class); the 8-D VAE trained ``epochs``
    epochs (the notebook: 100; the images differ, not their number)."""
    import torch

    from lvmlib.data import load_dataset
    from lvmlib.device import one_thread
    from lvmlib.lessons import nb08
    from lvmlib.vae import per_class as pick
    from lvmlib.vae import train_vaes

    with one_thread():
        g = torch.Generator().manual_seed(0)
        data = load_dataset("digits", binarize=True)
        models, _ = train_vaes(data.x_train, (8,), epochs, generator=g, progress=False)
        return nb08.interpolation_paths(models[8], data.x_test, data.y_test, pick(data.y_test, per_class))


# ----------------------------------------------------------------------------------------
# notebook 05: the proposal app
# ----------------------------------------------------------------------------------------


def proposal_chart(grid, *, mean: float = 0.0, scale: float = 1.0, samples: int = 100, renderer: str = "canvas"):
    """The proposal app of ``lvmlib.lessons.nb05.proposal_app`` as one Vega-Lite chart."""
    from lvmlib.lessons.toy import second_moment_of_weights

    _require_altair()
    means, ls = np.asarray(grid.means), np.asarray(grid.log2_scales)
    counts = list(grid.counts)
    p_x = math.exp(grid.log_p)
    z = grid.z_grid
    lo, hi = float(z[0]), float(z[-1])
    top = 2.0 * float(grid.joint.max())
    dm, dv = float(means[1] - means[0]), float(ls[1] - ls[0])
    W2, H2 = 390, 190  # each panel, CSS px (the matplotlib figure: 1000 x 660 CSS px)

    # -- params bound to the range inputs (the values the sliders show)
    p_mean = alt.param(name="qmean", value=float(mean), bind=alt.binding_range(
        min=float(means[0]), max=float(means[-1]), step=dm, name="q mean "))
    p_ls = alt.param(name="qlog2scale", value=float(math.log2(scale)), bind=alt.binding_range(
        min=float(ls[0]), max=float(ls[-1]), step=dv, name="q scale, log2 "))
    p_k = alt.param(name="nidx", value=counts.index(samples), bind=alt.binding_range(
        min=0, max=len(counts) - 1, step=1, name=f"samples N: index into {', '.join(map(str, counts))} "))
    i_expr = f"round((qmean - {means[0]}) / {dm})"
    j_expr = f"round((qlog2scale - {ls[0]}) / {dv})"
    n_expr = f"{counts}[nidx]"
    state_ij = f"datum.i == {i_expr} && datum.j == {j_expr}"

    # -- tables: static curves; per q (i, j): p(x) q(z) on the z grid, the run's samples; per
    #    (i, j, k): the histogram, the statistics; ESS / N for every (i, j, k)
    static = _inline([{"k": k + 1, "z": round(float(zz), 4), "joint": float(f"{jj:.5g}"),
                       "prior": float(f"{p_x * pp:.5g}")} for k, (zz, jj, pp) in enumerate(zip(z, grid.joint, grid.prior))])
    M, S = len(means), len(ls)
    q_rows, run_rows, hist_rows, stat_rows = [], [], [], []
    st = grid.stats
    ess_frac = st["ess_mean"] / np.asarray(counts, dtype=float)
    for i in range(M):
        for j in range(S):
            q_rows.append({"i": i, "j": j, "q": _sig(p_x * grid.q_pdf[i, j], 4)})
            run_rows.append({"i": i, "j": j, "z": _r(grid.z_run[i, j], 3),
                             "lw": _r((grid.log_w_run[i, j] - grid.log_p) / math.log(10), 3)})
            m, t = float(means[i]), float(2.0 ** ls[j])
            second = float(second_moment_of_weights(m, t, grid.post_mean, grid.post_scale))
            for k, n in enumerate(counts):
                h = st["hist"][i, j, k]
                hist_rows.append({"i": i, "j": j, "k": k, "h": _r(h / max(h.max(), 1.0), 3),
                                  "rm": round(float(min(st["ratio_mean"][i, j, k], grid.ratio_max)), 4)})
                exact_sd = math.sqrt(max(second - 1.0, 0.0) / n) if math.isfinite(second) else math.inf
                at_post = abs(m - grid.post_mean) < 1e-9 and abs(t - grid.post_scale) < 1e-9
                tag = " = the posterior" if at_post else (" = the prior (naive Monte Carlo)" if m == 0 and t == 1 else "")
                stat_rows.append({
                    "i": i, "j": j, "k": k, "m": m, "ls": float(ls[j]), "e": round(float(ess_frac[i, j, k]), 4),
                    # the text line of the app's redraw, one per state
                    "line": (f"q = N({m:.2f}, {t:.3g}²){tag}, N = {n} samples per estimate. The run drawn: ESS = "
                             f"{st['run_ess'][i, j, k]:.1f} of {n}. Over {grid.total // n} independent runs: mean "
                             f"p̂/p(x) = {st['ratio_mean'][i, j, k]:.3f}, sd {st['ratio_sd'][i, j, k]:.3g} (exact sd "
                             f"{'∞ (q too narrow)' if not math.isfinite(exact_sd) else f'{exact_sd:.3g}'}), median "
                             f"{st['ratio_median'][i, j, k]:.3f}; E[log p̂] − log p(x) = "
                             f"{st['log_mean'][i, j, k] - grid.log_p:+.4f}; mean ESS = {st['ess_mean'][i, j, k]:.1f} of {n}")})
    X = alt.X("z:Q", scale=alt.Scale(domain=[lo, hi], nice=False, zero=False), title="z")

    # integrand p(x, z), p(x) p(z), p(x) q(z) and the rug
    base = alt.Chart(static).properties(width=W2, height=H2)
    y_int = alt.Y("joint:Q", scale=alt.Scale(domain=[-0.06 * top, top], nice=False), title=None)
    fill = base.mark_area(color="#cccccc").encode(X, y_int)
    joint = base.mark_line(color="black", strokeWidth=1.2).encode(X, y_int)
    prior = base.mark_line(color="gray", strokeDash=[1, 2], strokeWidth=1).encode(X, alt.Y("prior:Q"))
    q_curve = alt.Chart(_inline(q_rows)).transform_filter(state_ij).transform_flatten(["q"]).transform_window(
        k="row_number()").transform_lookup(lookup="k", from_=alt.LookupData(static, "k", ["z", "joint"])
    ).properties(width=W2, height=H2)
    q_line = q_curve.mark_line(color="#1f77b4", strokeWidth=2, clip=True).encode(X, alt.Y("q:Q"))
    run = alt.Chart(_inline(run_rows)).transform_filter(state_ij).transform_flatten(["z", "lw"]).transform_window(
        r="row_number()").transform_filter(f"datum.r <= {n_expr}").properties(width=W2, height=H2)
    rug = run.mark_tick(color="#1f77b4", opacity=0.6, thickness=0.8, size=9, orient="vertical", clip=True).encode(
        X, y=alt.datum(-0.03 * top))
    ax_int = alt.layer(fill, joint, prior, q_line, rug, *_legend([("p(x, z)  (area = p(x))", "#cccccc", 8, None),
                         ("p(x) p(z)  (the prior)", "gray", 1, [1, 2]), ("p(x) q(z)", "#1f77b4", 2, None)], 6)).properties(
        title="integrand p(x, z) and proposal q")

    # the weights: curve w(z) / p(x) = p(x, z) / (p(x) q(z)) and the run's weights (log axis)
    y_w = alt.Y("w:Q", scale=alt.Scale(type="log", domain=[1e-4, 1e4], nice=False), title="w(z) / p(x)")
    w_curve = q_curve.transform_calculate(w="datum.joint / max(datum.q, 1e-300)").transform_filter(
        "datum.w > 0").mark_line(color="#1f77b4", strokeWidth=1.2, clip=True).encode(X, y_w)
    w_dots = run.transform_calculate(w="pow(10, datum.lw)").mark_point(
        filled=True, color="#d62728", size=12, opacity=0.5, clip=True).encode(X, y_w)
    one = alt.Chart(alt.InlineData(values=[{"w": 1.0}])).encode(y=y_w)
    ax_w = alt.layer(one.mark_rule(color="black", strokeDash=[4, 3]),
                     one.mark_text(text="w = p(x)", align="right", baseline="bottom", fontSize=10, dy=-2).encode(
                         x=alt.value(W2 - 4)),
                     w_curve, w_dots).properties(width=W2, height=H2, title="weights: the curve, and the N samples of one run")

    # histogram of the repeated estimates p-hat / p(x)
    bw = grid.bin_width
    hist = alt.Chart(_inline(hist_rows)).transform_filter(f"{state_ij} && datum.k == nidx")
    bars = hist.transform_flatten(["h"]).transform_window(b="row_number()").transform_calculate(
        x0=f"(datum.b - 1.5) * {bw}", x1=f"(datum.b - 0.5) * {bw}").mark_rect(color="#1f77b4", opacity=0.6).encode(
        x=alt.X("x0:Q", scale=alt.Scale(domain=[-0.5 * bw, grid.ratio_max + 0.5 * bw], nice=False, zero=False),
                title=f"estimate p̂ / p(x)  (last bin: ≥ {grid.ratio_max:g})"),
        x2="x1:Q", y=alt.Y("h:Q", scale=alt.Scale(domain=[0, 1.08], nice=False), axis=alt.Axis(ticks=False, labels=False),
                           title="runs (scaled to the tallest bin)"), y2=alt.datum(0))
    exact = alt.Chart(alt.InlineData(values=[{"x0": 1.0}])).mark_rule(color="black", strokeWidth=1.5).encode(x="x0:Q")
    mean_rule = hist.mark_rule(color="#d62728", strokeWidth=1.5, strokeDash=[5, 3]).encode(x=alt.X("rm:Q"))
    ax_h = alt.layer(bars, exact, mean_rule,
                     *_legend([("exact p(x)", "black", 1.5, None), ("mean of the estimates", "#d62728", 1.5, [5, 3])],
                              W2 - 150)
                     ).properties(width=W2, height=H2, title="repeated estimates: independent runs of N samples")

    # mean ESS / N over the whole slider grid at the current N, the current q circled
    stats = alt.Chart(_inline(stat_rows))
    xm = alt.X("m0:Q", scale=alt.Scale(domain=[means[0] - dm / 2, means[-1] + dm / 2], nice=False, zero=False),
               title="q mean   (★ posterior, ■ prior = naive MC)")
    ym = alt.Y("l0:Q", scale=alt.Scale(domain=[ls[0] - dv / 2, ls[-1] + dv / 2], nice=False, zero=False),
               axis=alt.Axis(values=_r(ls[::2], 3), labelExpr="format(pow(2, datum.value), '.3g')"),
               title="q scale   (Var(w) = ∞ below - - -)")
    cells = stats.transform_filter("datum.k == nidx").transform_calculate(
        m0=f"datum.m - {dm / 2}", m1=f"datum.m + {dm / 2}", l0=f"datum.ls - {dv / 2}", l1=f"datum.ls + {dv / 2}"
    ).mark_rect().encode(xm, alt.X2("m1:Q"), ym, alt.Y2("l1:Q"), color=alt.Color(
        "e:Q", scale=alt.Scale(scheme="viridis", domain=[0, 1]), title="mean ESS / N",
        legend=alt.Legend(orient="right", gradientLength=H2, titleOrient="right")))
    marks = alt.Chart(alt.InlineData(values=[
        {"m0": grid.post_mean, "l0": math.log2(grid.post_scale), "s": STAR, "z": 15},
        {"m0": 0.0, "l0": 0.0, "s": "square", "z": 8}])).mark_point(filled=True, fill="white", stroke="black",
                                                                 opacity=1).encode(
        x="m0:Q", y="l0:Q", shape=alt.Shape("s:N", scale=None), size=alt.Size("z:Q", scale=alt.Scale(range=[60, 160]),
                                                                             legend=None))
    limit = math.log2(grid.post_scale / math.sqrt(2)) + dv / 2
    line = alt.Chart(alt.InlineData(values=[{"l0": limit}])).mark_rule(color="white", strokeDash=[4, 3]).encode(y="l0:Q")
    circle = alt.Chart(alt.InlineData(values=[{}])).transform_calculate(m0="qmean", l0="qlog2scale").mark_point(
        shape="circle", filled=False, color="#d62728", strokeWidth=2.5, size=200, opacity=1).encode(x="m0:Q", y="l0:Q")
    ax_e = alt.layer(cells, marks, line, circle).properties(width=W2 - 40, height=H2,
                                                            title="mean ESS / N for every q, at the current N")

    text = stats.transform_filter(f"{state_ij} && datum.k == nidx").mark_text(
        align="left", baseline="top", fontSize=12, fontWeight="normal").encode(
        x=alt.value(0), y=alt.value(0), text="line:N").properties(width=2 * W2 + 80, height=16, view=NO_FRAME)
    chart = alt.vconcat(text, alt.hconcat(ax_int, ax_w, spacing=60), alt.hconcat(ax_h, ax_e, spacing=60),
                        spacing=28).add_params(p_mean, p_ls, p_k)
    return _finish(chart, renderer)


def _legend(items, x: float, y: float = 8, dy: float = 15) -> list:
    """A matplotlib-like legend at a fixed place: (label, colour, line width, dash) per line."""
    out = []
    for n, (label, colour, width, dash) in enumerate(items):
        one = alt.Chart(alt.InlineData(values=[{}]))
        out.append(one.mark_rule(color=colour, strokeWidth=width, strokeDash=dash or [1, 0]).encode(
            x=alt.value(x), x2=alt.value(x + 18), y=alt.value(y + n * dy)))
        out.append(one.mark_text(text=label, align="left", baseline="middle", fontSize=10).encode(
            x=alt.value(x + 24), y=alt.value(y + n * dy)))
    return out


def _finish(chart, renderer: str):
    return chart.configure_view(stroke="black", strokeWidth=0.8).configure_axis(
        grid=False, labelFontSize=10, titleFontSize=11, domain=False).configure_title(
        fontSize=12, fontWeight="normal", anchor="middle").properties(
        usermeta={"embedOptions": {"renderer": renderer, "actions": False}})


# ----------------------------------------------------------------------------------------
# notebook 08: the interpolation app
# ----------------------------------------------------------------------------------------


def interpolation_chart(paths, *, start: int = 1, end: int = 3, t: float = 0.5, renderer: str = "canvas"):
    """The interpolation app of ``lvmlib.lessons.nb08.interpolation_app`` as one Vega-Lite chart."""
    _require_altair()
    h, w = paths.image_shape
    T, M = len(paths.t), len(paths.picks)
    step = float(paths.t[1] - paths.t[0])
    px = 6  # CSS px per image pixel in the strips (matplotlib: 0.62 x 10.5 in / 109 columns ~ 6.0)
    big = 16  # CSS px per pixel of the images at t (0.14 x 10.5 in / 8 ~ 18, as tall as allowed)
    options = list(range(M))
    labels = [f"a {lab} (test #{idx})" for idx, lab in zip(paths.picks, paths.labels)]
    p_from = alt.param(name="dfrom", value=start, bind=alt.binding_select(options=options, labels=labels, name="from "))
    p_to = alt.param(name="dto", value=end, bind=alt.binding_select(options=options, labels=labels, name="to "))
    p_t = alt.param(name="t", value=float(t), bind=alt.binding_range(min=0.0, max=1.0, step=step, name="t "))
    ti = f"round(t / {step})"
    pair = "datum.i == dfrom && datum.j == dto"

    # every decoded image of every path: one row per (method, i, j, t), its 64 pixels packed
    rows = []
    for k in range(len(paths.methods)):
        for i in range(M):
            for j in range(M):
                for s in range(T):
                    rows.append({"k": k, "i": i, "j": j, "s": s, "n": round(float(paths.norms[k, i, j, s]), 3),
                                 "p": [int(v) for v in np.round(np.clip(paths.images[k, i, j, s], 0, 1) * 99)]})
    images = _inline(rows)
    fine = _inline([{"k": k, "i": i, "j": j, "n": _r(paths.norms_fine[k, i, j], 3)}
                    for k in range(len(paths.methods)) for i in range(M) for j in range(M)])
    digits = _inline([{"d": d, "p": [int(v) for v in np.round(paths.data[d] * 99)]} for d in range(M)])
    gray = alt.Scale(domain=[0, 99], range=GRAY_R)
    color = alt.Color("p:Q", scale=gray, legend=None)

    def pixels(chart, group):  # packed pixels -> one row per pixel, with its row r and column c
        return chart.transform_flatten(["p"]).transform_window(q="row_number()", groupby=group).transform_calculate(
            r=f"floor((datum.q - 1) / {w})", c=f"(datum.q - 1) % {w}")

    def plain(size_x, size_y):
        return {"x": alt.X("x0:Q", axis=None, scale=alt.Scale(domain=[0, size_x], nice=False, zero=False)),
                "x2": "x1:Q", "y": alt.Y("y0:Q", axis=None, scale=alt.Scale(domain=[size_y, 0], nice=False, zero=False)),
                "y2": "y1:Q"}

    titles = {"linear": "linear:  z(t) = (1 - t) z0 + t z1", "slerp": "slerp:  along the great circle, |z| stays near the endpoints'"}
    sw, sh = T * (w + 1) - 1, h
    strips, bigs = [], []
    for k, method in enumerate(paths.methods):
        strip = pixels(alt.Chart(images).transform_filter(f"{pair} && datum.k == {k}"), ["s"]).transform_calculate(
            x0=f"datum.s * {w + 1} + datum.c", x1=f"datum.s * {w + 1} + datum.c + 1", y0="datum.r", y1="datum.r + 1"
        ).mark_rect().encode(color=color, **plain(sw, sh))
        box = alt.Chart(alt.InlineData(values=[{}])).transform_calculate(
            x0=f"{ti} * {w + 1} - 1", x1=f"{ti} * {w + 1} + {w}", y0="-1", y1=f"{h}").mark_rect(
            fill=None, stroke="red", strokeWidth=2, clip=False).encode(**plain(sw, sh))
        strips.append(alt.layer(strip, box).properties(
            width=sw * px, height=sh * px, title=alt.Title(titles.get(method, method), anchor="start", fontSize=12)))
        at_t = pixels(alt.Chart(images).transform_filter(f"{pair} && datum.k == {k} && datum.s == {ti}"), ["s"]
                      ).transform_calculate(x0="datum.c", x1="datum.c + 1", y0="datum.r", y1="datum.r + 1")
        bigs.append(at_t.mark_rect().encode(color=color, **plain(w, h)).properties(
            width=w * big, height=h * big, title=alt.Title({"expr": f"'{method}, t = ' + format({ti} * {step}, '.2f')"},
                                                           fontSize=12)))
    ends = []
    for what, param in (("from", "dfrom"), ("to", "dto")):
        d = pixels(alt.Chart(digits).transform_filter(f"datum.d == {param}"), ["d"]).transform_calculate(
            x0="datum.c", x1="datum.c + 1", y0="datum.r", y1="datum.r + 1")
        ends.append(d.mark_rect().encode(color=color, **plain(w, h)).properties(
            width=w * 11, height=h * 11, title=alt.Title(f"{what} (data)", fontSize=11)))

    # the norm |z(t)| along both paths, against the prior's shell
    lo, hi = paths.norm_band
    top = max(float(paths.norms_fine.max()), hi) * 1.08
    d = paths.latent_dim
    colors = ["#1f77b4", "#ff7f0e"]
    meth = alt.Color("method:N", scale=alt.Scale(domain=list(paths.methods), range=colors),
                     legend=alt.Legend(orient="bottom-left", direction="horizontal", title=None, symbolType="stroke"))
    xt = alt.X("tt:Q", scale=alt.Scale(domain=[-0.02, 1.02], nice=False, zero=False), title="t")
    yn = alt.Y("n:Q", scale=alt.Scale(domain=[0, top], nice=False), title="|z(t)|")
    method_name = f"{list(paths.methods)}[datum.k]"
    band = alt.Chart(alt.InlineData(values=[{"a": lo, "b": hi}])).mark_rect(color="#d9d9d9").encode(
        y=alt.Y("a:Q", scale=alt.Scale(domain=[0, top])), y2="b:Q")
    sqrt_d = alt.Chart(alt.InlineData(values=[{"n": math.sqrt(d)}])).mark_rule(
        color="#666666", strokeDash=[1, 2], strokeWidth=1.2).encode(y="n:Q")
    curves = alt.Chart(fine).transform_filter(pair).transform_flatten(["n"]).transform_window(
        q="row_number()", groupby=["k"]).transform_calculate(
        tt=f"(datum.q - 1) / {len(paths.t_fine) - 1}", method=method_name).mark_line(strokeWidth=2).encode(
        xt, yn, meth)
    dots = alt.Chart(images).transform_filter(f"{pair} && datum.s == {ti}").transform_calculate(
        tt=f"datum.s * {step}", method=method_name).mark_point(filled=True, size=40, opacity=1).encode(
        xt, yn, alt.Color("method:N", scale=alt.Scale(domain=list(paths.methods), range=colors), legend=None))
    vline = alt.Chart(alt.InlineData(values=[{}])).transform_calculate(tt=f"{ti} * {step}").mark_rule(
        color="red").encode(x="tt:Q")
    shell = alt.Chart(alt.InlineData(values=[{"t": f"90% of |z| under N(0, I_{d}) (grey); sqrt(d) = {math.sqrt(d):.2f} (dotted)"}])
                      ).mark_text(align="right", baseline="top", fontSize=10, color="#444444").encode(
        x=alt.value(sw * px - 4), y=alt.value(4), text="t:N")
    norm = alt.layer(band, sqrt_d, curves, dots, vline, shell).properties(width=sw * px - 50, height=110)

    # the text line: from the same rows (both methods' norms at t, the endpoints' norms at t = 0, 1)
    ends_n = _inline([{"pk": i * 1000 + j, "li": int(paths.labels[i]), "lj": int(paths.labels[j]),
                       "n0": round(float(paths.norms[0, i, j, 0]), 2), "n1": round(float(paths.norms[0, i, j, -1]), 2)}
                      for i in range(M) for j in range(M)])
    text = alt.Chart(images).transform_filter(f"{pair} && datum.s == {ti}").transform_pivot(
        "k", value="n", groupby=["i", "j"]).transform_calculate(pk="datum.i * 1000 + datum.j").transform_lookup(
        lookup="pk", from_=alt.LookupData(ends_n, "pk", ["li", "lj", "n0", "n1"])).transform_calculate(
        line=f"'from a ' + datum.li + ' to a ' + datum.lj + ', t = ' + format({ti} * {step}, '.2f') + ': |z(t)| linear '"
             f" + format(datum['0'], '.2f') + ', slerp ' + format(datum['1'], '.2f') + '; endpoints |z0| = '"
             f" + format(datum.n0, '.2f') + ', |z1| = ' + format(datum.n1, '.2f') + '; sqrt(d) = {math.sqrt(d):.2f}'"
    ).mark_text(align="left", baseline="top", fontSize=12).encode(x=alt.value(0), y=alt.value(0), text="line:N"
                                                                   ).properties(width=sw * px + 300, height=16, view=NO_FRAME)

    left = alt.vconcat(*strips, norm, spacing=14)
    right = alt.vconcat(alt.hconcat(*bigs, spacing=24), alt.hconcat(*ends, spacing=40), spacing=18)
    chart = alt.vconcat(text, alt.hconcat(left, right, spacing=40), spacing=16).add_params(p_from, p_to, p_t)
    return _finish(chart, renderer)


# ----------------------------------------------------------------------------------------
# the static page: vega, vega-lite and vega-embed inlined (from the npm registry's packages)
# ----------------------------------------------------------------------------------------


def vega_js(cache: Path | None = None) -> dict[str, str]:
    """The three minified bundles, from ``npm pack`` of the pinned versions (cached in ``cache``).
    Raises RuntimeError when npm is missing and nothing is cached."""
    cache = Path(cache or os.environ.get("LVMLIB_VEGA_JS", Path(tempfile.gettempdir()) / "lvmlib-vega-js"))
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, version in VEGA_PACKAGES.items():
        tgz = cache / f"{name}-{version}.tgz"
        if not tgz.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError(f"npm not found and {tgz} not cached: cannot vendor {name}@{version}")
            subprocess.run([npm, "pack", f"{name}@{version}", "--silent"], cwd=cache, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        with tarfile.open(tgz) as tar:
            out[name] = tar.extractfile(f"package/build/{name}.min.js").read().decode("utf-8")
    return out


def static_html(charts: dict, js: dict[str, str]) -> str:
    """One HTML page, no request off the page: the bundles inline, each chart embedded."""
    scripts = "\n".join(f"<script>{js[n]}</script>" for n in VEGA_PACKAGES)
    divs, calls = [], []
    for key, chart in charts.items():
        divs.append(f'<h2>{key}</h2><div id="{key}" class="chart"></div>')
        calls.append(f"vegaEmbed('#{key}', {json.dumps(chart.to_dict(), separators=(',', ':'))})"
                     f".then(r => {{ window.__views['{key}'] = r.view; }});")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Altair route</title>" + scripts +
            "</head><body style='font-family: sans-serif'>" + "".join(divs) +
            "<script>window.__views = {};\n" + "\n".join(calls) + "</script></body></html>")


# ----------------------------------------------------------------------------------------
# measuring in the page
# ----------------------------------------------------------------------------------------

# Installed once per page (JupyterLab or the static page): the bound inputs of the Vega charts,
# and a timer from the key press to the chart redrawn.
VEGA_PAGE_JS = r"""
() => {
  if (window.__vg) return;
  const root = () => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook') || document.body;
  const inputs = () => [...root().querySelectorAll('.vega-bindings input[type=range], .vega-bindings select')];
  let timer = null;
  // Vega's canvas renderer opens every frame with save(): the first one on the chart's canvas
  // after the key press queues a microtask, run once the (synchronous) render is over.
  const save = CanvasRenderingContext2D.prototype.save;
  CanvasRenderingContext2D.prototype.save = function () {
    const t = timer;
    if (t && t.m.start !== null && t.m.first === null && this.canvas && t.scope.contains(this.canvas)) {
      t.m.first = performance.now();
      queueMicrotask(() => t.done());
    }
    return save.apply(this, arguments);
  };
  window.__vg = {
    controls() {
      const charts = [...root().querySelectorAll('.vega-embed')];
      return inputs().map((el, i) => {
        const box = el.closest('.vega-bind');
        const name = box && box.querySelector('.vega-bind-name');
        return {index: i, name: name ? name.textContent.trim() : `control ${i}`, chart: charts.indexOf(el.closest('.vega-embed')),
                kind: el.tagName === 'SELECT' ? 'dropdown' : 'slider'};
      });
    },
    value(i) {
      const el = inputs()[i];
      if (el.tagName === 'SELECT') return {value: el.selectedIndex, min: 0, max: el.options.length - 1};
      return {value: parseFloat(el.value), min: parseFloat(el.min), max: parseFloat(el.max), step: parseFloat(el.step)};
    },
    renderer(i) { const s = inputs()[i].closest('.vega-embed'); return s.querySelector('svg.marks') ? 'svg' : 'canvas'; },
    arm(i) {
      const el = inputs()[i];
      const scope = el.closest('.vega-embed');
      const m = {start: null, first: null, drawn: null, painted: null};
      let resolve;
      const finished = new Promise(r => { resolve = r; });
      const onStart = (e) => { if (m.start === null) m.start = e.timeStamp; };
      ['pointerdown', 'keydown', 'input', 'change'].forEach(t => el.addEventListener(t, onStart, true));
      const done = () => {
        if (m.drawn !== null) return;
        m.drawn = performance.now();
        requestAnimationFrame(() => { m.painted = performance.now(); resolve(m); });
      };
      const svg = scope.querySelector('svg.marks');   // the SVG renderer: its DOM changes
      const obs = new MutationObserver(() => { if (m.start !== null) done(); });
      if (svg) obs.observe(svg, {subtree: true, childList: true, attributes: true, characterData: true});
      timer = {m, scope, done, finished, stop() {
        obs.disconnect(); ['pointerdown', 'keydown', 'input', 'change'].forEach(t => el.removeEventListener(t, onStart, true));
        timer = null; return m; }};
    },
    wait(ms) { return Promise.race([timer.finished, new Promise(r => setTimeout(() => r(null), ms))]); },
    disarm() { const t = timer; return t ? t.stop() : null; },
    async settle(ms) {
      await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
      await new Promise(r => setTimeout(r, ms));
    },
  };
}
"""

CONTROL_SELECTOR = ".vega-bindings input[type=range], .vega-bindings select"
THUMB = 16  # CSS px: Chromium's range thumb (a click at the step's place lands on that step)


def _root(page):
    lab = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    return lab if lab.count() else page.locator("body")


def timed_vega_move(page, index: int, kind: str, direction: int, *, click: bool = False,
                    timeout: float = 15.0) -> dict:
    """One key press (ArrowRight/Left) on bound input ``index`` (a select: the next/previous
    option; with ``click``, a mouse click on the slider's track at the next step, for
    JupyterLab, which takes the arrow keys of a Vega range input); ms from the event's
    timeStamp to the chart drawn (and to the next frame)."""
    loc = _root(page).locator(CONTROL_SELECTOR).nth(index)
    loc.scroll_into_view_if_needed()
    loc.focus()
    page.evaluate("ms => window.__vg.settle(ms)", 300)
    page.evaluate("i => window.__vg.arm(i)", index)
    try:
        pos = page.evaluate("i => window.__vg.value(i)", index)
        if kind == "dropdown":
            loc.select_option(index=pos["value"] + direction)
        elif click:
            box = loc.bounding_box()
            frac = (pos["value"] + direction * pos["step"] - pos["min"]) / (pos["max"] - pos["min"])
            page.mouse.click(box["x"] + THUMB / 2 + frac * (box["width"] - THUMB), box["y"] + box["height"] / 2)
        else:
            page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
        m = page.evaluate("ms => window.__vg.wait(ms)", timeout * 1000)
    finally:
        page.evaluate("() => window.__vg.disarm()")
    if m is None or m["start"] is None:
        raise RuntimeError(f"control {index}: no redraw within {timeout:.0f} s of the key press "
                           f"(started: {m is not None and m.get('start') is not None})")
    return {"ms": m["drawn"] - m["start"], "frame_ms": m["painted"] - m["start"]}


def measure_vega_controls(page, moves: int, label: str, *, click: bool = False) -> list[dict]:
    """Every bound input on the page: the first move, then ``moves`` warm moves."""
    page.evaluate(VEGA_PAGE_JS)
    rows = []
    for c in page.evaluate("() => window.__vg.controls()"):
        direction, runs = +1, []
        for _ in range(moves + 1):
            pos = page.evaluate("i => window.__vg.value(i)", c["index"])
            if (direction > 0 and pos["value"] >= pos["max"]) or (direction < 0 and pos["value"] <= pos["min"]):
                direction = -direction
            runs.append(timed_vega_move(page, c["index"], c["kind"], direction, click=click))
        warm = [r["ms"] for r in runs[1:]]
        how = "select" if c["kind"] == "dropdown" else ("click" if click else "key")
        rows.append({"route": label, "chart": c["chart"], "control": f"{c['name']} ({how})", "kind": c["kind"],
                     "renderer": page.evaluate("i => window.__vg.renderer(i)", c["index"]),
                     "first": runs[0]["ms"], "median": float(np.median(warm)),
                     "frame": float(np.median([r["frame_ms"] for r in runs[1:]]))})
        print(f"    {label} {c['name']}: first {rows[-1]['first']:.0f} ms, warm median {rows[-1]['median']:.0f} ms "
              f"(next frame {rows[-1]['frame']:.0f})", file=sys.stderr)
    return rows


def measure_lab_notebook(lab, browser, name: str, moves: int, scale: float, label: str,
                         shots: Path | None = None, app_selector: str | None = None) -> list[dict]:
    """A notebook of ipywidgets / anywidget controls, with the browser test's driver: Run All,
    then for every control the first move and ``moves`` warm moves (``LabNotebook.timed_move``:
    key press to the new picture decoded, or the canvas app's ``lvm-drawn``)."""
    import labdriver

    nb = labdriver.LabNotebook(lab, labdriver.new_page(browser, scale=scale), name)
    rows = []
    try:
        seconds = nb.open_and_run_all(timeout=900)
        print(f"  {name}: ran all cells in {seconds:.1f} s", file=sys.stderr)
        if shots is not None and app_selector:
            _shot(nb.page, app_selector, shots / f"{Path(name).stem}.png")
        for control in (c for c in nb.controls() if not c.disabled):
            runs = nb.timed_moves(control, moves)
            how = "select" if control.kind == "dropdown" else "key"
            rows.append({"route": label, "chart": control.cell, "control": f"{control.name} ({how})", "kind": control.kind,
                         "renderer": "", "first": runs[0]["ms"], "median": float(np.median([r["ms"] for r in runs[1:]])),
                         "frame": float("nan")})
            print(f"    {label} {control.title}: first {rows[-1]['first']:.0f} ms, warm median "
                  f"{rows[-1]['median']:.0f} ms", file=sys.stderr)
    finally:
        nb.close()
        lab.shutdown_kernels()
    return rows


def _shot(page, selector: str, path: Path) -> None:
    loc = _root(page).locator(selector).first
    loc.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    loc.screenshot(path=str(path))


def measure_altair_notebook(lab, browser, name: str, moves: int, scale: float, shots: Path | None) -> list[dict]:
    """The notebook of Vega-Lite charts in JupyterLab's own renderer: Run All, then every bound input."""
    import labdriver

    nb = labdriver.LabNotebook(lab, labdriver.new_page(browser, scale=scale), name)
    try:
        seconds = nb.open_and_run_all()
        nb.page.wait_for_function(f"document.querySelectorAll('{CONTROL_SELECTOR}').length >= 6", timeout=60_000)
        print(f"  {name}: ran all cells in {seconds:.1f} s", file=sys.stderr)
        if shots is not None:
            for n, key in enumerate(("altair_nb05", "altair_nb08")):
                loc = _root(nb.page).locator(".vega-embed").nth(n)
                loc.scroll_into_view_if_needed()
                nb.page.wait_for_timeout(500)
                loc.screenshot(path=str(shots / f"{key}.png"))
        # JupyterLab's key bindings take ArrowLeft/Right (preventDefault) before a Vega range
        # input sees them: the sliders do not move by key there; they are clicked instead
        loc = _root(nb.page).locator(".vega-bindings input[type=range]").first
        nb.page.evaluate(VEGA_PAGE_JS)
        before = nb.page.evaluate("() => window.__vg.value(0)")["value"]
        loc.focus()
        nb.page.keyboard.press("ArrowRight")
        nb.page.wait_for_timeout(300)
        keys_work = nb.page.evaluate("() => window.__vg.value(0)")["value"] != before
        print(f"  {name}: ArrowRight on a Vega range input {'moves' if keys_work else 'does not move'} it "
              "in JupyterLab", file=sys.stderr)
        rows = measure_vega_controls(nb.page, moves, "Altair / Vega-Lite (JupyterLab)", click=not keys_work)
        errors = [c for c in nb.console if "WARN" not in c]
        if errors:
            print(f"  {name}: console errors: {errors[:5]}", file=sys.stderr)
        return rows
    finally:
        nb.close()
        lab.shutdown_kernels()


# ----------------------------------------------------------------------------------------
# the notebooks of the run
# ----------------------------------------------------------------------------------------

NB_CELL = """import json
from IPython.display import display
# the mime bundle Altair's mimetype renderer emits (alt.renderers.enable('mimetype')), from the saved spec
display({{"application/vnd.vegalite.v5+json": json.load(open("{file}"))}}, raw=True)"""

def write_altair_notebook(folder: Path, charts: dict) -> dict:
    """The notebook of the charts, executed with nbclient and stored; returns the bytes each
    chart's output adds to the stored .ipynb."""
    import nbclient
    import nbformat

    cells = []
    for key, chart in charts.items():
        (folder / f"{key}.vl.json").write_text(json.dumps(chart.to_dict(), separators=(",", ":")))
        cells.append(nbformat.v4.new_code_cell(NB_CELL.format(file=f"{key}.vl.json")))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    path = folder / "altair_route.ipynb"
    nbformat.write(nb, path)
    full = len(path.read_bytes())
    out = {}
    for cell, key in zip(nb.cells, charts):
        saved, cell.outputs = cell.outputs, []
        out[key] = full - len(nbformat.writes(nb).encode("utf-8")) - 1
        cell.outputs = saved
    return out


def anywidget_bytes(app) -> tuple[int, int]:
    """The canvas route's recorded bytes for the same app (data + backgrounds), before base64."""
    from lvmlib.widgets.client import precompute

    pre = precompute(app)
    return len(pre.data), len(pre.backgrounds)


def lines_of(*funcs) -> int:
    """Non-blank, non-comment source lines."""
    return sum(sum(1 for ln in inspect.getsource(f).splitlines() if ln.strip() and not ln.strip().startswith("#"))
               for f in funcs)


# ----------------------------------------------------------------------------------------
# the static page, offline
# ----------------------------------------------------------------------------------------


def measure_static_page(browser, html: Path, moves: int, scale: float, shots: Path | None) -> dict:
    """Serve ``html`` on 127.0.0.1, refuse every other request (as the site test does), wait for
    both charts, move every bound input; returns refused requests, errors and the timings."""
    import functools
    import http.server
    import threading
    from urllib.parse import urlparse

    import labdriver

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{html.name}"
    page = labdriver.new_page(browser, scale=scale)
    refused, errors = [], []

    def route(r):
        if urlparse(r.request.url).netloc != urlparse(url).netloc and not r.request.url.startswith("data:"):
            refused.append(r.request.url)
            return r.abort()
        return r.continue_()

    try:
        page.route("**/*", route)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.monotonic()
        page.goto(url, wait_until="load")
        page.wait_for_function("Object.keys(window.__views || {}).length == 2", timeout=60_000)
        shown = time.monotonic() - t0
        if shots is not None:
            page.locator("#nb05").screenshot(path=str(shots / "static_nb05.png"))
        rows = measure_vega_controls(page, moves, "Altair / Vega-Lite (static page)")
        return {"refused": refused, "errors": errors, "rows": rows, "seconds_to_show": shown,
                "bytes": html.stat().st_size}
    finally:
        page.context.close()
        server.shutdown()


# ----------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------


def _table(rows: list[dict]) -> str:
    lines = ["| route | app | control | first move ms | warm median ms |", "|---|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['route']} | {r.get('app', '')} | {r['control']} | {r['first']:.0f} | {r['median']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=6, help="timed warm key presses per control (after the first)")
    ap.add_argument("--scale", type=float, default=2.0, help="device scale factor of the page (default 2)")
    ap.add_argument("--renderer", choices=("canvas", "svg"), default="canvas", help="Vega's renderer (default canvas)")
    ap.add_argument("--no-anywidget", action="store_true",
                    help="leave out the anywidget route on notebooks 05 and 08 (they train VAEs when run)")
    ap.add_argument("--shots", type=Path, default=None, help="folder for screenshots of each route at the same state")
    args = ap.parse_args(argv)

    try:
        _require_altair()
    except RuntimeError as err:
        print(f"altair_route: skipped: {err}")
        return 0
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    import labdriver

    try:
        sync_playwright = labdriver.import_playwright()
        executable = labdriver.find_chromium()
    except labdriver.BrowserMissing as err:
        print(f"altair_route: skipped: {err}")
        return 0
    os.environ.pop("LVMLIB_FIGURES", None)
    from lvmlib.lessons import nb05, nb08

    t0 = time.monotonic()
    grid, paths = nb05_grid(), nb08_paths()
    app05 = nb05.proposal_app(grid, mean=0.0, scale=1.0, samples=100)
    app08 = nb08.interpolation_app(paths, start=1, end=3, t=0.5)
    charts = {"nb05": proposal_chart(grid, renderer=args.renderer),
              "nb08": interpolation_chart(paths, start=1, end=3, t=0.5, renderer=args.renderer)}
    aw = {"nb05": anywidget_bytes(app05), "nb08": anywidget_bytes(app08)}
    print(f"  data, apps and charts built in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    shots = args.shots.resolve() if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        app05.set(mean=0.0)
        (shots / "png_nb05.png").write_bytes(app05.png)
        (shots / "png_nb08.png").write_bytes(app08.png)

    with tempfile.TemporaryDirectory(prefix="lvmlib-altair-") as tmp:
        folder = Path(tmp) / "notebooks"
        folder.mkdir()
        nb_bytes = write_altair_notebook(folder, charts)
        labdriver.write_floor_notebook(folder, app05)
        names = ["floor.ipynb", "altair_route.ipynb"]
        if not args.no_anywidget:
            for stem in ("05_importance_sampling", "08_latent_interpolation"):
                shutil.copy(REPO / "notebooks" / f"{stem}.ipynb", folder)
                names.append(f"{stem}.ipynb")
        static = None
        try:
            js = vega_js()
            page_path = Path(tmp) / "static" / "altair_route.html"
            page_path.parent.mkdir()
            page_path.write_text(static_html(charts, js), encoding="utf-8")
        except (RuntimeError, OSError, subprocess.SubprocessError) as err:
            page_path, static = None, {"failed": str(err)}
        rows = []
        with sync_playwright() as pw, labdriver.LabServer(folder) as lab:
            browser = labdriver.launch_browser(pw, executable)
            try:
                for row in measure_lab_notebook(lab, browser, "floor.ipynb", args.moves, args.scale,
                                                "floor: bare IntSlider, two 2x PNGs", shots, ".jupyter-widgets img"):
                    rows.append({**row, "app": "nb05 pictures"})
                for row in measure_altair_notebook(lab, browser, "altair_route.ipynb", args.moves, args.scale, shots):
                    rows.append({**row, "app": ("nb05 proposal", "nb08 interpolation")[row["chart"]]})
                if not args.no_anywidget:
                    for row in measure_lab_notebook(lab, browser, "05_importance_sampling.ipynb", args.moves, args.scale,
                                                    "anywidget canvas, notebook 05", shots, ".lvm-app"):
                        rows.append({**row, "app": "nb05"})
                    for row in measure_lab_notebook(lab, browser, "08_latent_interpolation.ipynb", args.moves,
                                                    args.scale, "anywidget canvas, notebook 08", shots, ".lvm-app"):
                        rows.append({**row, "app": "nb08"})
                if page_path is not None:
                    static = measure_static_page(browser, page_path, min(args.moves, 3), args.scale, shots)
            finally:
                browser.close()
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())

    print(f"\nKey press -> redrawn, JupyterLab {__import__('jupyterlab').__version__} in headless Chromium at device "
          f"scale factor {args.scale:g}, Vega renderer {args.renderer}; first move after Run All, then {args.moves} "
          f"warm moves per control; {time.monotonic() - t0:.0f} s in all; load average {load}\n")
    print(_table(rows))
    print("\nBytes per app (Altair: what the chart's output adds to the stored .ipynb; anywidget: recorded data + "
          "backgrounds before base64, the same app on the same data)\n")
    print("| app | Altair output in the .ipynb | Altair spec JSON | anywidget data + backgrounds (x 4/3 as base64) |")
    print("|---|---:|---:|---:|")
    for key, chart in charts.items():
        spec = len(json.dumps(chart.to_dict(), separators=(",", ":")))
        d, b = aw[key]
        print(f"| {key} | {nb_bytes[key] / 1e3:.0f} KB | {spec / 1e3:.0f} KB | {d / 1e3:.0f} + {b / 1e3:.0f} KB "
              f"({(d + b) * 4 / 3 / 1e3:.0f} KB) |")
    print("\nLines of code (non-blank, non-comment): Altair chart functions vs the matplotlib apps\n")
    print(f"| app | Altair | matplotlib SliderApp |\n|---|---:|---:|\n"
          f"| nb05 proposal | {lines_of(proposal_chart)} (+ {lines_of(_legend, _finish, _inline)} shared) | "
          f"{lines_of(nb05.proposal_app)} |\n"
          f"| nb08 interpolation | {lines_of(interpolation_chart)} | {lines_of(nb08.interpolation_app)} |")
    print("\nStatic HTML page (vega, vega-lite, vega-embed inlined; every request off 127.0.0.1 refused):")
    if static is None or "failed" in static:
        print(f"  not measured: {static and static['failed']}")
    else:
        print(f"  {static['bytes'] / 1e6:.2f} MB, both charts shown in {static['seconds_to_show']:.1f} s, "
              f"{len(static['refused'])} requests refused {static['refused'][:3]}, errors {static['errors'][:3]}")
        print(_table([{**r, "app": ("nb05 proposal", "nb08 interpolation")[r["chart"]]} for r in static["rows"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
