"""The page-drawn sliders: what the page draws for a position is what the kernel callback draws.

For every app, the recorded state of each of up to ``SAMPLE`` positions (the first, the last and
ones spread between, over the precomputed grid) is compared, item by item, with a fresh record of
the figure after ``app.set`` of those values (the kernel path): same paths, markers, pictures,
texts and text line.  Also: grids only where the product is too large, and the byte budget.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from lvmlib.widgets.client import MAX_BYTES, MAX_STATES, decode, positions, record_now

from tests.widgets.test_app import APPS

SAMPLE = 6


@pytest.mark.parametrize("app", APPS)
def test_precomputed_states_equal_what_the_callback_draws(app):
    client = app.client
    spec = json.loads(client.spec)
    states = decode(client.data)["states"]
    names = list(app.controls)
    assert len(states) == spec["states"] == int(np.prod([len(g) for g in spec["grid"]]))
    combos = list(itertools.product(*spec["grid"]))
    start = app.values()
    try:
        for s in sorted(set(np.linspace(0, len(combos) - 1, SAMPLE).round().astype(int))):
            values = {n: positions(app.controls[n])[i] for n, i in zip(names, combos[s])}
            app.set(**values)
            items, text = record_now(app)
            got, got_text, _ = states[s]
            assert got_text == text, f"{app.name} at {values}: text line differs"
            assert len(got) == len(items), f"{app.name} at {values}: {len(got)} items recorded, {len(items)} drawn"
            for a, b in zip(got, items):
                assert a == b, f"{app.name} at {values}: item {a.get('k')} differs"
    finally:
        app.set(**start)


@pytest.mark.parametrize("app", APPS)
def test_grid_only_where_the_product_is_too_large_and_bytes_in_budget(app):
    spec = json.loads(app.client.spec)
    total = int(np.prod([len(positions(c)) for c in app.controls.values()]))
    if total <= MAX_STATES:
        assert spec["states"] == total and not spec["note"]
    else:
        assert spec["states"] < total and "grid" in spec["note"]
        assert len(app.client.data) <= 1.1 * MAX_BYTES
    assert len(app.client.data) + len(app.client.backgrounds) < 2_000_000
