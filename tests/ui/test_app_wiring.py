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


@pytest.mark.slow
def test_a_click_first_empties_the_messages_of_the_click_before():
    """Messages belong to their moment: every button whose handler writes a message (a Markdown: "✅ Ready to
    launch", a run's status line, "✅ tiny is at …") empties it earlier in the click's own chain, so a handler that
    fails leaves its toast alone, not beside the last click's success text."""
    import gradio as gr

    from labkit.ui.app import AppContext, build_app

    demo = build_app(AppContext.create())
    deps = demo.config["dependencies"]
    by_id = {d["id"]: d for d in deps}
    blocks = demo.blocks
    messages = {i for i, b in blocks.items() if isinstance(b, gr.Markdown)}
    buttons = {i for i, b in blocks.items() if isinstance(b, gr.Button)}
    # Not a new message: a run's own status (cancel, an HF Job's status), the run panel's first look at a run just
    # started (it writes that run's status), the chat's session badges.
    exempt = ("_cancel", "_status", "_first_look", "support_send", "support_reset")
    missing = []
    for d in deps:
        chain = []
        root = d
        while root.get("trigger_after") is not None:
            root = by_id[root["trigger_after"]]
            chain.append(root)
        clicked = [t for t in root["targets"] if t[0] in buttons and t[1] == "click"]
        said = set(d["outputs"]) & messages
        name = d.get("api_name") or ""
        if not clicked or not said or not name or d.get("api_visibility") == "private" or name.endswith(exempt):
            continue
        if not said & {o for c in chain for o in c["outputs"]}:
            missing.append(name)
    assert missing == []
    # a launch also empties the run panel's status line of the run before ("succeeded · 55/55")
    ids = {b.elem_id: i for i, b in blocks.items() if getattr(b, "elem_id", None)}
    for api, status in (
        ("train_launch", "lk-train-status"),
        ("data_curate", "lk-data-status"),
        ("eval_start", "lk-eval-status"),
    ):
        d = next(d for d in deps if d.get("api_name") == api)
        chain = []
        while d.get("trigger_after") is not None:
            d = by_id[d["trigger_after"]]
            chain.append(d)
        assert ids[status] in {o for c in chain for o in c["outputs"]}, api
    # the clearing step gives blanks
    fn = next(f for f in demo.fns.values() if f.api_name == "pull_model")
    first = by_id[fn._id]["trigger_after"]
    assert demo.fns[first].fn() == ""


@pytest.mark.slow
def test_the_runs_table_polls_only_while_the_models_tab_is_shown():
    """The Models tab's 5 s poll stops when another tab is selected (a tick on a hidden tab cost the page a walk over
    every component's status) and restarts, with the table brought up to date, when the Models tab is selected.
    Gradio's SelectData for a tab carries its label (checked in a browser: no poll in 11 s on the Train tab)."""
    import gradio as gr

    from labkit.ui.app import AppContext, build_app
    from labkit.ui.tabs import models

    demo = build_app(AppContext.create())
    tabs = next(i for i, b in demo.blocks.items() if isinstance(b, gr.Tabs))
    poll = next(b for b in demo.blocks.values() if isinstance(b, gr.Timer) and b.value == 5.0)
    (dep,) = [d for d in demo.config["dependencies"] if [tabs, "select"] in [list(t) for t in d["targets"]]]
    assert poll._id in dep["outputs"] and poll.active
    in_view = demo.fns[dep["id"]].fn

    def select(label):
        return gr.SelectData(None, {"value": label, "index": 0, "selected": True})

    timer, table = in_view("", select("Train"), None)
    assert timer.active is False and table == gr.update()
    timer, table = in_view("", select(models.TITLE), None)
    assert timer.active is True and isinstance(table, list)
