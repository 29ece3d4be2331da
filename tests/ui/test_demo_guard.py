"""Demo mode is enforced by the engines: every API endpoint of the demo app is called, and nothing writes,
starts a job, cancels, resumes, pushes or loads an unlisted model — whoever calls it."""

from __future__ import annotations

import inspect
import os

import pytest

from labkit.errors import LabkitError

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]

# Endpoints that must refuse in demo mode, with the arguments to call them with (None: the component defaults).
REFUSED = {
    "train_launch",
    "train_resume",
    "train_cancel",
    "cancel_run",
    "eval_start",
    "eval_cancel",
    "eval_push",
    "support_push",
    "pull_model",
    "support_roleplay",
    "experiment_launch",
    "dmoe_analyze",
    "dmoe_upcycle",
    "dmoe_show",
    "data_curate",
    "data_preview",
    # the HF Jobs panel of each tab: an anonymous visitor of a demo may not submit, watch, cancel or load back
    *(
        f"{kind}_hf_job{what}"
        for kind in ("train", "eval", "data", "experiment")
        for what in ("", "_status", "_logs", "_cancel", "_results")
    ),
}


def _call(fn, args):
    # Gradio injects gr.Request, gr.OAuthProfile and gr.OAuthToken parameters by annotation, at their place among the
    # inputs; called directly, they are given None (an anonymous visitor who did not sign in).
    args, named = list(args), {}
    for i, p in enumerate(inspect.signature(fn).parameters.values()):
        if p.kind is p.VAR_POSITIONAL:
            break
        if p.name == "request" or any(w in str(p.annotation) for w in ("Request", "OAuth")):
            if i <= len(args):
                args.insert(i, None)
            else:  # after a defaulted parameter (a gr.Progress): by name
                named[p.name] = None
    out = fn(*args, **named)
    if inspect.isgenerator(out):
        out = list(out)
    return out


@pytest.fixture()
def demo_env(monkeypatch, tmp_path, tiny_path):
    from labkit.settings import Settings
    from labkit.store import Store

    home = tmp_path / "home"
    real = Settings.from_env({**os.environ, "LABKIT_HOME": str(home)}).ensure_dirs()
    store = Store(real.store_path)
    finished = store.create("train", "old-run", config={}, run_dir=str(home / "runs" / "old"), tags=[])
    store.update(finished.id, status="succeeded")
    (home / "models").mkdir(exist_ok=True)
    os.symlink(tiny_path, home / "models" / "tiny")  # the demo's tiny model, built once per session
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("LABKIT_DEMO", "1")
    return home, store, finished.id


def test_every_demo_endpoint_is_guarded(demo_env):
    from labkit.settings import get_settings
    from labkit.ui.app import AppContext, build_app

    home, store, finished_id = demo_env
    assert get_settings().demo
    demo = build_app(AppContext.create())
    overrides = {
        "train_cancel": [finished_id],
        "train_resume": [finished_id],
        "eval_cancel": [finished_id],
        "cancel_run": [finished_id, None],
        "pull_model": ["someone/any-model"],
        "eval_push": [finished_id, "me/results"],
    }
    # Server paths typed into the app: refused in demo mode whether or not they exist (argument position given).
    server_paths = {"dmoe_show": 0, "dmoe_upcycle": 1, "data_curate": 0, "data_preview": 0}
    files_before = {p for p in home.rglob("*") if "models" not in p.parts}
    seen, refused = set(), set()
    for block_fn in demo.fns.values():
        name = block_fn.api_name
        if not name or block_fn.fn is None:
            continue
        seen.add(name)
        args = overrides.get(name) or [getattr(c, "value", None) for c in block_fn.inputs]
        if name in server_paths:
            args[server_paths[name]] = "/etc/passwd"
        if name.startswith("data_") and len(args) > 1:  # the recipe editor is filled on page load
            args[1] = (ROOT / "configs" / "curate" / "rules-only.yaml").read_text()
        try:
            _call(block_fn.fn, args)
        except Exception as e:  # noqa: BLE001 — allowed endpoints may fail on placeholder inputs; refused ones must say why
            text = str(e) if not isinstance(e, LabkitError) else e.message
            if "demo" in text.lower():
                refused.add(name)
    missing = {n for n in REFUSED if n in seen} - refused
    assert not missing, f"not refused in demo mode: {sorted(missing)}"
    assert seen >= REFUSED, f"endpoints renamed? {sorted(REFUSED - seen)}"
    runs = store.list()
    assert [r.id for r in runs] == [finished_id] and runs[0].status == "succeeded"  # nothing started, nothing rewritten
    # Session downloads (a trace's JSONL, a chat export) and caches live under cache/; nothing else may appear.
    written = {p for p in home.rglob("*") if not {"models", "cache"} & set(p.relative_to(home).parts)} - files_before
    assert not [p for p in written if not p.name.startswith("labkit.sqlite")], sorted(map(str, written))


def test_demo_app_shows_a_banner(demo_env):
    from labkit.ui.app import DEMO_BANNER, AppContext, build_app

    demo = build_app(AppContext.create())
    texts = [getattr(b, "value", None) for b in demo.blocks.values()]
    assert DEMO_BANNER in texts


def test_every_disabled_button_says_why(demo_env):
    """A control the demo turns off is named in a note that says why; the buttons that start, cancel,
    resume or push are among them."""
    import gradio as gr

    from labkit.ui.app import AppContext, build_app

    demo = build_app(AppContext.create())
    blocks = demo.blocks.values()
    notes = " ".join(str(b.value) for b in blocks if isinstance(b, gr.Markdown) and "🔒" in str(b.value or ""))
    disabled = {b._id: b.value for b in blocks if isinstance(b, gr.Button) and b.interactive is False}
    # DMoE's step buttons open when the step before has finished, which its help says; the rest are the demo's
    steps = {"Upcycle", "Launch stage 1", "Launch stage 1 → stage 2", "Measure routing"}
    from labkit.ui.tabs.dmoe import HELP

    assert "Each step's button opens once the step before it has finished" in HELP
    unexplained = [label for label in disabled.values() if f"**{label}**" not in notes and label not in steps]
    assert disabled and not unexplained, unexplained
    fns = demo.fns

    def clicked_by(fn) -> set:  # a handler chained after a form sync is started by the sync's trigger
        while fn.trigger_after is not None:
            fn = fns[fn.trigger_after]
        return {t[0] for t in fn.targets}

    triggers = {fn.api_name: clicked_by(fn) for fn in fns.values() if fn.api_name}
    for name in ("train_launch", "train_resume", "eval_start", "eval_push", "experiment_launch", "data_curate"):
        assert triggers[name] & set(disabled), f"{name}'s button is enabled in demo mode"


def test_outside_demo_mode_guarded_buttons_are_enabled_and_unannotated(tmp_path, monkeypatch):
    from labkit.settings import Settings
    from labkit.ui.common import guarded_buttons, why_off

    import gradio as gr

    with gr.Blocks() as page, guarded_buttons(Settings.from_env({"LABKIT_HOME": str(tmp_path)})) as button:
        b = button("Launch", "launch")
    assert b.interactive is not False
    assert not [x for x in page.blocks.values() if isinstance(x, gr.Markdown)]
    text = why_off([("Launch", "launch"), ("Cancel", "cancel")])
    assert "Off on this demo: **Launch** (starting runs), **Cancel** (cancelling runs)." in text
