"""What the slider apps of notebooks 05 and 06 share: the grids of q's mean and scale and of N.

The toy problem itself and its exact answers are :mod:`lvmlib.models.toy`.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

__all__ = ["COUNTS", "MEANS", "LOG2_SCALES", "proposal_controls"]

#: numbers of samples per estimate (the samples slider of notebook 05).
COUNTS = (1, 3, 10, 30, 100, 300, 1000)


#: slider grid of q's mean: 0 (the prior's mean) .. 3, through the posterior mean 1.5.
MEANS = tuple(float(m) for m in np.round(np.arange(0.0, 3.0001, 0.25), 2))


#: slider grid of q's scale, as log2: 2^-3.5 = 0.088 .. 2^0.5 = 1.41, through 0.25 (the
#: posterior's scale), 0.177 (= 0.25 / sqrt 2, where the weights' variance becomes infinite)
#: and 1 (the prior's scale).
LOG2_SCALES = tuple(float(v) for v in np.arange(-3.5, 0.5001, 0.5))


def proposal_controls(grid, mean: float, scale: float) -> dict:
    """The q-mean and q-scale sliders over a proposal grid (shared by notebooks 05 and 06)."""
    return {
        "mean": W.FloatSlider(value=mean, min=float(grid.means[0]), max=float(grid.means[-1]),
                              step=float(grid.means[1] - grid.means[0]), description="q mean",
                              readout_format=".2f"),
        "scale": W.FloatLogSlider(value=scale, base=2.0, min=float(grid.log2_scales[0]),
                                  max=float(grid.log2_scales[-1]),
                                  step=float(grid.log2_scales[1] - grid.log2_scales[0]),
                                  description="q scale", readout_format=".3g"),
    }

