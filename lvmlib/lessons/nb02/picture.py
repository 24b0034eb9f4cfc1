"""The 2-D data panel that notebook 02's EM app and K app both draw: responsibility-coloured points,
each component's ellipses and its mean (:class:`MixturePicture`), with axis limits from the data
(:func:`data_limits`)."""

from __future__ import annotations

import numpy as np

from lvmlib.plotting import COLORS, ResponsibilityPoints

__all__ = ["data_limits", "MixturePicture"]


def data_limits(x: np.ndarray, pad: float = 0.08) -> tuple[tuple, tuple]:
    """((x1_min, x1_max), (x2_min, x2_max)) of 2-D points x [N, 2], widened by ``pad`` of the span on each side."""
    lo, hi = x.min(0), x.max(0)
    span = hi - lo
    return (lo[0] - pad * span[0], hi[0] + pad * span[0]), (lo[1] - pad * span[1], hi[1] + pad * span[1])


class MixturePicture:
    """A 2-D data panel for a mixture: responsibility-coloured points, each component's
    1- and 2-standard-deviation ellipses (line width grows with its weight) and its mean.
    Everything is animated; axis limits are fixed from the data."""

    def __init__(self, ax, x: np.ndarray, n_components: int, *, limits=None):
        self.x = np.asarray(x)
        self.points = ResponsibilityPoints(ax, n_components)
        self.ell1 = [ax.plot([], [], "-", color=COLORS[k % 10], lw=1.0, animated=True, zorder=3)[0]
                     for k in range(n_components)]
        self.ell2 = [ax.plot([], [], "--", color=COLORS[k % 10], lw=1.0, animated=True, zorder=3)[0]
                     for k in range(n_components)]
        self.centres = [ax.plot([], [], "X", color=COLORS[k % 10], mec="k", mew=1.0, ms=10, animated=True, zorder=4)[0]
                        for k in range(n_components)]
        xlim, ylim = limits or data_limits(self.x)
        ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$")
        ax.set_aspect("equal", adjustable="box")

    def set(self, groups, weights, means, ell1, ell2) -> None:
        """Draw components 0..len(weights)-1 and hide the rest.

        Args:
            groups: (N,) colour groups (``ResponsibilityPoints.groups``).
            weights: (K,).  means: (K, 2).  ell1, ell2: (K, P, 2) ellipse outlines.
        """
        self.points.set(self.x, groups)
        k_used = len(weights)
        for k in range(len(self.ell1)):
            for art in (self.ell1[k], self.ell2[k], self.centres[k]):
                art.set_visible(k < k_used)
            if k < k_used:
                lw = min(5.0, 0.8 + 2.4 * float(np.sqrt(weights[k] * k_used)))  # 3.2 at weight 1/K
                self.ell1[k].set_data(ell1[k, :, 0], ell1[k, :, 1])
                self.ell2[k].set_data(ell2[k, :, 0], ell2[k, :, 1])
                self.ell1[k].set_linewidth(lw)
                self.ell2[k].set_linewidth(0.6 * lw)
                self.centres[k].set_data([means[k, 0]], [means[k, 1]])
