"""The slider machinery: one app model, :class:`SliderApp` (a matplotlib figure, its controls and the
callback that updates the figure's artists), and two views of it, chosen explicitly; no lesson content
lives here (that is :mod:`lvmlib.lessons`).

- ``"page"`` (the default, ``app.client``, :mod:`lvmlib.widgets.client`): every state is precomputed
  once in the kernel and drawn by the page on a canvas (the JavaScript is in ``widgets/static/``), so a
  move needs no kernel; the course site shows the same view with no kernel at all.
- ``"kernel"`` (``app.widget``): each move runs the callback in the kernel, which blits and sends a PNG
  into an image widget (used to compare latency, and where precomputing is not wanted).

    app = SliderApp(fig, controls, update)   # a lesson module builds it
    app                                      # a notebook shows the page view
    app.show("kernel")                       # or the kernel view, explicitly (SliderApp(..., view="kernel"))
    app.set(noise=0.3)                       # runs the callback once (tests)
"""

from lvmlib.widgets.app import SliderApp, control_layout, log_slider, style_control

__all__ = ["SliderApp", "log_slider", "style_control", "control_layout"]
