"""Every slider of every notebook, moved headless: the picture changes, nothing is retrained."""

import importlib

import ipywidgets as W
import pytest
from traitlets import TraitError

from lvmlib import lessons
from lvmlib.plotting import BinnedPoints, new_figure
from lvmlib.widgets.app import SliderApp


def _apps():
    for mod_name in lessons.NOTEBOOK_MODULES:
        mod = importlib.import_module(f"lvmlib.lessons.{mod_name}")
        for name, app in mod.examples():
            yield pytest.param(app, id=f"{mod_name}:{name}")


APPS = list(_apps())


def test_some_apps_exist():
    assert APPS


@pytest.mark.parametrize("app", APPS)
def test_every_control_changes_the_picture(app):
    assert app.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    for name in app.controls:
        values = app.slider_values(name, 3)
        assert len(values) >= 2, f"{app.name}: control {name} offers a single value"
        pictures = []
        for v in (values[0], values[-1]):
            app.set(**{name: v})
            pictures.append(app.image.value)
        assert pictures[0] != pictures[1], f"{app.name}: moving {name} did not change the picture"


@pytest.mark.parametrize("app", APPS)
def test_moving_a_slider_through_its_widget_redraws(app):
    name, control = next(iter(app.controls.items()))
    values = app.slider_values(name, 3)
    before = app.image.value
    control.value = values[-1] if control.value != values[-1] else values[0]  # as the browser does
    assert app.image.value != before


def test_blit_redraws_only_animated_artists_and_notices_static_changes():
    fig = new_figure(4, 3)
    ax = fig.subplots()
    ax.set(xlim=(0, 1), ylim=(0, 1))
    pts = BinnedPoints(ax, vmin=0, vmax=1, bins=3)

    def redraw(x, lim):
        pts.set([[x, x]], [x])
        ax.set_xlim(0, lim)

    app = SliderApp(fig, {"x": W.FloatSlider(0.5, min=0, max=1), "lim": W.FloatSlider(1, min=1, max=2)}, redraw,
                    name="test_blit")
    assert app.full_draws == 2  # the first picture, and (warm) the next limit the first move of lim shows
    first = app.image.value
    app.set(x=0.2)
    assert app.full_draws == 2 and app.image.value != first  # a blit
    app.set(lim=1.1)
    assert app.full_draws == 2  # the first move of lim was warmed at build time: a blit
    app.set(lim=2.0)
    assert app.full_draws == 3  # limits changed: full draw
    app.set(lim=1.0)
    assert app.full_draws == 3  # back to limits seen before: the cached background is reused
    app.full_draw()
    app.set(x=0.3)
    assert app.full_draws == 4
    with pytest.raises(KeyError, match="controls are"):
        app.set(nope=1)


def test_picture_is_rendered_at_twice_its_css_size_and_labels_are_whole():
    import io

    from PIL import Image

    from lvmlib.widgets.app import CONTROL_STYLE, CSS_PX_PER_INCH, RATIO

    fig = new_figure(4, 3)
    ax = fig.subplots()
    line, = ax.plot([0, 1], [0, 1], animated=True)
    slider = W.FloatSlider(0.5, min=0, max=1, description="a long description that must show whole")
    app = SliderApp(fig, {"a": slider}, lambda a: line.set_ydata([0, a]), name="test_ratio")
    width, height = Image.open(io.BytesIO(app.image.value)).size
    assert (width, height) == (4 * CSS_PX_PER_INCH * RATIO, 3 * CSS_PX_PER_INCH * RATIO)
    assert app.image.layout.width == f"{4 * CSS_PX_PER_INCH}px" and app.image.layout.max_width == "100%"
    assert slider.style.description_width == CONTROL_STYLE["description_width"] == "initial"
    with pytest.raises(ValueError, match="ratio must be a positive"):
        SliderApp(new_figure(1, 1), {}, lambda: None, name="bad", ratio=0)


def test_static_state_sees_a_changed_left_title_and_text():
    fig = new_figure(3, 2)
    ax = fig.subplots()
    note = ax.text(0.5, 0.5, "a")

    def redraw(k):
        ax.set_title(f"k={k}", loc="left")
        note.set_text(str(k))

    app = SliderApp(fig, {"k": W.IntSlider(0, min=0, max=3)}, redraw, name="test_titles")
    seen = app.full_draws
    app.set(k=3)  # a value warming did not visit: the left title is static, so a full draw
    assert app.full_draws == seen + 1


# ------------------------------------------------------------------------------------------
# a control set from code to None or NaN (issue 24): refused in one clear line, the picture kept
# ------------------------------------------------------------------------------------------


def _small_app(calls):
    fig = new_figure(3, 2)
    ax = fig.subplots()
    (line,) = ax.plot([0, 1], [0, 1], animated=True)

    def redraw(kind, x):
        calls.append((kind, x))
        line.set_ydata([0, x] if kind == "up" else [x, 0])
        return f"{kind} {x:.2f}"

    controls = {"kind": W.Dropdown(options=["up", "down"], value="up", description="kind"),
                "x": W.FloatSlider(0.5, min=0, max=1, description="x")}
    return SliderApp(fig, controls, redraw, name="test_refuse")


@pytest.mark.parametrize("name, bad", [("kind", None), ("x", float("nan"))])
def test_a_control_set_to_none_or_nan_is_refused_with_one_line(name, bad):
    calls = []
    app = _small_app(calls)
    picture, text, before, n = app.image.value, app.text.value, app.controls[name].value, len(calls)
    with pytest.raises(ValueError) as info:
        app.set(**{name: bad})
    msg = str(info.value)
    assert "\n" not in msg and name in msg and "test_refuse" in msg
    assert app.controls[name].value == before and len(calls) == n and app.image.value == picture
    with pytest.raises(ValueError) as info:  # through the widget itself, as code would set it
        app.controls[name].value = bad
    assert str(info.value) == msg
    assert app.controls[name].value == before and len(calls) == n and app.image.value == picture
    assert msg in app.text.value  # the app says it too, on its text line
    app.set(x=0.25)  # and works on
    assert len(calls) == n + 1 and app.text.value == "up 0.25" and app.image.value != picture


def _bad_value(control):
    if hasattr(control, "options") and not hasattr(control, "min"):
        return None
    if isinstance(control.value, float):
        return float("nan")
    return None


@pytest.mark.parametrize("app", APPS)
def test_every_app_refuses_none_and_nan_in_every_control(app):
    for name, control in app.controls.items():
        bad = _bad_value(control)
        if bad is None and not (hasattr(control, "options") and not hasattr(control, "min")):
            continue  # an int slider: traitlets refuses NaN itself
        before, picture = control.value, app.image.value
        with pytest.raises(ValueError, match=name):
            app.set(**{name: bad})
        try:
            control.value = bad
        except TraitError:  # a SelectionSlider's index refuses None itself, but leaves value at None
            with pytest.raises(ValueError, match=name):
                app.update()  # the app will not draw it
            app.set(**{name: before})
        except ValueError as err:
            assert name in str(err)
        else:
            raise AssertionError(f"{app.name}: {name} = {bad} was accepted")
        assert control.value == before and app.image.value == picture, f"{app.name}: {name}"


def test_one_model_two_views_chosen_explicitly(monkeypatch):
    """The page-drawn view is the default; ``view="kernel"`` or ``show("kernel")`` picks the kernel-drawn one; no
    environment variable decides (issue 29: the view is a parameter)."""
    import ipywidgets as W

    from lvmlib.plotting import new_figure

    def app_with(**kwargs):
        fig = new_figure(1, 1)
        (line,) = fig.subplots().plot([0, 1], [0, 0], animated=True)
        return SliderApp(fig, {"a": W.IntSlider(1, min=0, max=3)}, lambda a: line.set_ydata([0, a]), name="views",
                         **kwargs)

    def shown_model(app):
        bundle = app._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle  # anywidget: (data, metadata)
        return data["application/vnd.jupyter.widget-view+json"]["model_id"]

    monkeypatch.setenv("LVMLIB_SLIDERS", "kernel")  # the old switch does nothing now
    page = app_with()
    assert page.show() is page.client and page.show("kernel") is page.widget
    assert shown_model(page) == page.client.model_id
    kernel = app_with(view="kernel")
    assert shown_model(kernel) == kernel.widget.model_id and kernel._client is None  # the page view was never built
    assert kernel.show() is kernel.widget and kernel.show("page") is kernel.client
    for bad in ("png", "Page", None):
        with pytest.raises(ValueError, match=r"view must be one of \('page', 'kernel'\)"):
            app_with(view=bad)
    with pytest.raises(ValueError, match="view must be one of"):
        page.show("canvas")
