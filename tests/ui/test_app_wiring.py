"""How the app's events are wired, read from the built Blocks (no server)."""

import pytest


@pytest.mark.slow
def test_stop_cancels_a_generation_started_by_the_button_or_by_enter():
    from labkit.ui.app import AppContext, build_app

    demo = build_app(AppContext.create())
    ids = {f.api_name: f._id for f in demo.fns.values()}
    cancelled = {i for d in demo.config["dependencies"] for i in d.get("cancels") or []}
    assert {ids["generate"], ids["generate_submit"]} <= cancelled
