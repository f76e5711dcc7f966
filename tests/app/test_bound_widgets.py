"""Every run tells the browser to show the review's value in each widget bound to it
(``ui/session.bound``), not only the run that changed it.

Streamlit identifies a keyed widget by its key alone, so a browser that has no value of its own for
it (the widget mounted anew, or the run that first drew it was cut short before it arrived) shows
what the run sends: the value it orders shown (``set_value``), or else the widget's default. The CI
walk of 2026-12-07 saw the Window box read 0 while the page announced window 4, and the load test a
Methods box with no method: the runs after the first sent the widgets' defaults (the range's
minimum, an empty list) and no order. Read here off the messages each run sends.
"""

from streamlit.testing.v1 import AppTest

from tests.app.test_pages import APP, TIMEOUT, signed_in


def _browser_shows(widget):
    """What a browser holding no value of its own shows for this widget after this run."""
    p = widget.proto
    kind = type(p).__name__
    if kind == "NumberInput":
        return int(p.value if p.set_value else p.default)
    if kind == "MultiSelect":
        return list(p.raw_values) if p.set_value else [p.options[i] for i in p.default]
    if kind == "Selectbox":
        if p.set_value:
            return p.raw_value if p.HasField("raw_value") else None
        return p.options[p.default] if p.HasField("default") else None
    if kind == "Slider":
        return [int(v) for v in (p.value if p.set_value else p.default)]
    raise AssertionError(f"no reading for a {kind}")


def _agree(at) -> list[str]:
    s = at.session_state["review"].state
    wanted = {("number_input", "window_input"): s.window, ("multiselect", "methods"): list(s.methods)}
    if s.held is not None:
        wanted[("slider", "frame_slider")] = [s.frame]
        wanted[("selectbox", "overlay_method")] = s.overlay
    bad = []
    for (kind, key), value in wanted.items():
        shown = _browser_shows(getattr(at, kind)(key=key))
        if shown != value:
            bad.append(f"{key}: a browser is told {shown!r}, the review holds {value!r}")
    return bad


def test_each_run_sends_the_reviews_value_to_every_bound_widget(app_env):
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.run()
    assert not at.exception, at.exception
    at.number_input(key="window_input").set_value(2).run()
    assert at.session_state["review"].state.window == 2
    seen = [_agree(at)]
    at.run()  # nothing changed: the widgets were drawn by the run before
    seen.append(_agree(at))
    at.button(key="explain").click().run()
    assert at.session_state["review"].state.held is not None
    seen.append(_agree(at))
    at.slider(key="frame_slider").set_value(7).run()
    assert at.session_state["review"].state.frame == 7
    at.run()
    seen.append(_agree(at))
    methods = at.multiselect(key="methods").options
    at.switch_page("views/temporal.py").run()  # off the Review page, then back: every widget drawn anew
    at.switch_page("views/review.py").run()
    seen.append(_agree(at))
    assert not at.exception, at.exception
    assert methods and seen == [[]] * len(seen), seen


def test_a_change_counts_when_its_widget_is_on_screen_even_if_the_last_run_was_cut_short(app_env):
    """A typed window reaches the review when the box is on the reviewer's screen: drawn by the last
    run that reached its end, though a run after it (started by some other event, cut short by this
    click before it drew the box) did not draw it. The rule before counted only the very last run,
    and the CI walk's typed window was lost. A box that the last run to end did not draw (the page
    had left it) still changes nothing."""
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.run()
    review = at.session_state["review"]
    assert review.state.window != 3 and at.session_state["ui_run_ended"]["run"] == at.session_state["ui_run"]
    at.session_state["ui_run"] += 1  # a run began and was cut short before it drew the Window box
    at.number_input(key="window_input").set_value(3).run()
    assert review.state.window == 3, "the typed window was lost"
    at.session_state["ui_run"] += 1  # this time that run reached its end without drawing the box
    at.session_state["ui_run_ended"]["run"] = at.session_state["ui_run"]
    at.number_input(key="window_input").set_value(1).run()
    assert review.state.window == 3, "a box the screen no longer showed changed the window"
