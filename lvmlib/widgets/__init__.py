"""The slider machinery: :class:`SliderApp` draws a matplotlib figure into an image widget, blitting
the animated artists over cached backgrounds; no lesson content lives here (that is
:mod:`lvmlib.lessons`).

    app = SliderApp(fig, controls, update)   # a lesson module builds it
    app.set(noise=0.3)                       # runs the callback once, re-renders the picture
    app.image.value                          # PNG bytes the browser shows
"""

from lvmlib.widgets.app import SliderApp, control_layout, log_slider, style_control

__all__ = ["SliderApp", "log_slider", "style_control", "control_layout"]
