"""How the app's events are wired, read from the built Blocks (no server)."""

import pytest


@pytest.mark.slow
def test_stop_cancels_a_generation_started_by_the_button_or_by_enter():
    from labkit.ui.app import AppContext, build_app

    demo = build_app(AppContext.create())
    ids = {f.api_name: f._id for f in demo.fns.values()}
    cancelled = {i for d in demo.config["dependencies"] for i in d.get("cancels") or []}
    assert {ids["generate"], ids["generate_submit"]} <= cancelled


@pytest.mark.slow
def test_the_apps_backend_lists_offer_real_backends_only():
    """The scripted backend (answers from a script, for tests and dry runs) is never offered in a list."""
    import gradio as gr

    from labkit.ui.app import AppContext, build_app

    demo = build_app(AppContext.create())
    lists = [b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and "backend" in (b.label or "").lower()]
    offered = {c[1] if isinstance(c, tuple) else c for b in lists for c in b.choices}
    assert len(lists) >= 3 and "hf" in offered and "scripted" not in offered
