"""Slider apps for the notebooks.

Each notebook's sliders are built by a function in ``lvmlib.widgets.nbXX``; the expensive
work (fitting, training, sampling) happens before the app is built, and the app's callback
only redraws from what is ready.  Because a callback is plain Python on a plain matplotlib
figure, tests and ``benchmarks/bench_sliders.py`` move the sliders without a browser:

    app = lvmlib.widgets.nb01.generative_story_app(...)
    app.set(noise=0.3)          # runs the callback once, re-renders the picture
    app.image.value             # PNG bytes the browser shows

Every ``nbXX`` module has ``examples()`` yielding ``(name, app)`` built the way its
notebook builds them, for the slider benchmark.
"""

from lvmlib.widgets.core import SliderApp, log_slider

NOTEBOOK_MODULES = ("nb01", "nb02", "nb03", "nb04", "nb05", "nb06", "nb07", "nb08", "nb09", "nb10")

__all__ = ["SliderApp", "log_slider", "NOTEBOOK_MODULES"]
