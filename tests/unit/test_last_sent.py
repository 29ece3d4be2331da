"""LastSent: a timer's tick resends only the outputs whose content changed, per browser session, and never leaves a
value that another event replaced."""

from types import SimpleNamespace

import pandas as pd
import pytest

pytest.importorskip("gradio")

from labkit.ui.common import LastSent, fingerprint  # noqa: E402


def _session(name):
    return SimpleNamespace(session_hash=name)


def _kept(v):
    return isinstance(v, dict) and v.get("__type__") == "update" and len(v) == 1


def test_a_tick_resends_only_what_changed():
    shown, a = LastSent(), _session("a")
    rows = [["run-1", "running"], ["run-0", "succeeded"]]
    assert shown.changed(a, "runs", (rows, "log 1")) == (rows, "log 1")  # the first tick sends all
    same, log = shown.changed(a, "runs", ([r[:] for r in rows], "log 2"))
    assert _kept(same) and log == "log 2"
    rows2 = [["run-1", "succeeded"], ["run-0", "succeeded"]]
    assert shown.changed(a, "runs", (rows2, "log 2"))[0] == rows2


def test_sessions_and_names_are_apart():
    shown, a, b = LastSent(), _session("a"), _session("b")
    shown.changed(a, "runs", ([1],))
    assert shown.changed(b, "runs", ([1],)) == ([1],)  # b's page has not been sent it
    assert shown.changed(a, "other", ([1],)) == ([1],)
    assert shown.changed(SimpleNamespace(session_hash=None), "runs", ([1],)) == ([1],)  # no session: always sent


def test_another_event_that_sets_the_output_is_remembered():
    shown, a = LastSent(), _session("a")
    shown.changed(a, "runs", ([1],))
    shown.sent(a, "runs", ([2],))  # Refresh or a filter showed [2]
    assert shown.changed(a, "runs", ([1],)) == ([1],)  # the tick brings [1] back


def test_a_frame_is_compared_whole_and_an_opaque_value_is_always_sent():
    big = pd.DataFrame({"x": range(1000), "y": [0.5] * 1000})
    other = big.copy()
    other.loc[500, "y"] = 0.25  # a middle row, which a repr would elide
    assert fingerprint(big) != fingerprint(other) and fingerprint(big) == fingerprint(big.copy())
    assert fingerprint(object()) is None
    shown, a = LastSent(), _session("a")
    fig = object()
    shown.changed(a, "plot", (fig,))
    assert shown.changed(a, "plot", (fig,)) == (fig,)


def test_plotly_figures_are_compared_by_content():
    go = pytest.importorskip("plotly.graph_objects")
    f1 = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    assert fingerprint(f1) == fingerprint(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    assert fingerprint(f1) != fingerprint(go.Figure(go.Scatter(x=[1, 2], y=[3, 5])))
