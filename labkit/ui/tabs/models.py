"""Models tab: choose the backend and model every tab uses, pull from the Hub, try a prompt
(streamed), and see the runs in the store."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit import jobs
from labkit.backends import CHOICES, GenParams, load_backend
from labkit.errors import LabkitError
from labkit.settings import TINY, TINY_REF
from labkit.ui.common import LastSent, clear_first, guarded_buttons, handler, header_markdown, heavy, who

TITLE = "Models"
ID = "models"
SUGGESTED = [
    TINY,
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "google/gemma-3-1b-it",
]
RUN_COLUMNS = ["id", "kind", "name", "status", "created", "updated", "metrics"]
MAX_NEW = 2048  # the slider's top when the model's context is not known (a server, a model not loaded yet)
STREAM_EVERY_S = 0.1  # at most ~10 page updates a second while a reply streams: each one re-renders the box


def context_length(backend, fallback: int = MAX_NEW) -> int:
    """The most tokens the loaded model reads (prompt + reply), where its backend knows it."""
    try:
        return int(backend.context_length())
    except (AttributeError, TypeError, ValueError):
        return fallback


def known_context(state: dict, settings) -> int:
    """The context of the model a page opens with, read from its config.json when it is on disk already (the
    built-in tiny model: 512), without loading it."""
    import json

    if state.get("backend") != "hf":
        return MAX_NEW
    folder = settings.tiny_model_dir.with_name(state["model"]) if state["model"] in (TINY, TINY_REF) else None
    try:
        config = json.loads(((folder or Path(state["model"])) / "config.json").read_text(encoding="utf-8"))
        return int(config.get("max_position_embeddings") or MAX_NEW)
    except (OSError, ValueError, TypeError):
        return MAX_NEW


def runs_table(kind: str | None = None, limit: int = 100, caller: dict | None = None) -> list[list]:
    """The runs in the store, newest first; with `caller` (labkit.ui.common.who) only those it may see."""
    from labkit import guard

    fmt = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""
    rows = []
    for r in jobs.list_runs(kind=kind or None, limit=limit):
        if caller and not guard.may_see(r, caller["caller"], caller["authenticated"]):
            continue
        metrics = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(r.metrics.items())[:4]
        )
        rows.append([r.id, r.kind, r.name, r.status, fmt(r.created), fmt(r.updated), metrics])
    return rows


def _layout(ctx) -> SimpleNamespace:
    """The tab's components, in page order (no events)."""
    ui = SimpleNamespace()
    with gr.Row():
        ui.backend = gr.Dropdown(
            list(CHOICES),
            value=ctx.model["backend"],
            label="Backend",
            scale=1,
            info="hf = transformers (CPU/GPU) · vllm = GPU engine · openai = any OpenAI-compatible server",
        )
        ui.model = gr.Dropdown(
            SUGGESTED,
            value=ctx.model["model"],
            label="Model",
            allow_custom_value=True,
            scale=3,
            info="'tiny' (offline demo), a local folder, or a Hub id",
        )
        ui.base_url = gr.Textbox(
            "" if ctx.shared_server else ctx.model["base_url"],  # a shared page carries no server address
            placeholder="(the configured server)",
            label="Server URL (openai backend)",
            scale=2,
            visible=ctx.model["backend"] == "openai",
        )
    with gr.Row():
        ui.use_btn = gr.Button("Use this model", variant="primary")
        ui.pull_btn = gr.Button("Pull from the Hub")
    ui.status = gr.Markdown(elem_classes="lk-note")

    with gr.Accordion("Try a prompt", open=True):
        ui.system = gr.Textbox(label="System message (optional)", lines=1)
        ui.prompt = gr.Textbox(
            label="Prompt", lines=3, value="Janet has 16 eggs. She eats 3 and bakes with 4. How many are left?"
        )
        with gr.Row():
            top = known_context(ctx.model, ctx.settings)
            ui.max_new = gr.Slider(1, top, value=min(128, top), step=1, label="Max new tokens")
            ui.temperature = gr.Slider(0, 2, value=0.0, step=0.05, label="Temperature (0 = greedy)")
            ui.top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p")
            ui.raw = gr.Checkbox(False, label="Raw text (no chat template)")
        with gr.Row():
            ui.gen_btn = gr.Button("Generate", variant="primary")
            ui.stop_btn = gr.Button("Stop")
        ui.output = gr.Textbox(label="Output", lines=8, elem_id="lk-output")

    with gr.Accordion("Runs", open=True):
        with gr.Row():
            ui.kind_filter = gr.Dropdown(
                ["", "train", "eval", "fit", "trace"], value="", label="Kind", allow_custom_value=True, scale=1
            )
            ui.refresh_btn = gr.Button("Refresh", scale=0)
        ui.runs = gr.Dataframe(  # a shared app sends no run in the page itself: each session asks for its own
            headers=RUN_COLUMNS,
            value=[] if ctx.shared_server else runs_table(),
            interactive=False,
            wrap=True,
            elem_id="lk-runs",
        )
        ui.poll = gr.Timer(5.0)  # statuses change while the page is open; a tick sends the table only when it changed
        with guarded_buttons(ctx.settings) as button, gr.Row():
            ui.run_id = gr.Textbox(label="Run id", scale=3)
            ui.log_btn = gr.Button("Show log", scale=0)
            ui.cancel_btn = button("Cancel run", "cancel", variant="stop", scale=0)
        ui.run_log = gr.Code(label="Log (tail)", language=None, lines=12)
    return ui


# --- handlers: thin, over labkit.backends and labkit.jobs -----------------------------------------------------
@handler
def use_model(backend_name, model_name, url, current, progress=gr.Progress()):
    new = {
        "backend": backend_name,
        "model": (model_name or "").strip(),
        "base_url": (url or "").strip() or current["base_url"],
    }
    progress(0.2, desc=f"Loading {new['model']} on {backend_name} …")
    b = load_backend(new)
    top = context_length(b)
    note = f"✅ Loaded `{new['model']}` on `{backend_name}`."
    if backend_name == "openai":
        served = b.models()
        if new["model"] not in served:
            note = (
                f"⚠️ The server at `{b.base_url}` serves {', '.join(f'`{m}`' for m in served) or 'no models'},"
                f" not `{new['model']}`."
            )
    return new, header_markdown(new), note, gr.Slider(maximum=top, value=min(128, top))


@handler
def pull(model_name, progress=gr.Progress()):
    from labkit.models import resolve_model

    progress(0.1, desc=f"Pulling {model_name} …")
    return f"✅ `{model_name}` is at `{resolve_model(model_name)}`."


@handler
@heavy
def generate(current, system_msg, text, max_new_tokens, temp, top_p, raw_text):
    if not (text or "").strip():
        raise LabkitError("Write a prompt first.", hint="Type it in the Prompt box.")
    p = GenParams(max_new_tokens=int(max_new_tokens), temperature=float(temp), top_p=float(top_p))
    if raw_text:
        messages = text
    else:
        messages = [
            *([{"role": "system", "content": system_msg}] if system_msg else []),
            {"role": "user", "content": text},
        ]
    out, shown_at = "", 0.0
    for delta in load_backend(current).stream(messages, p):
        out += delta
        if time.monotonic() - shown_at >= STREAM_EVERY_S:  # a page update per token blocked the page for seconds
            shown_at = time.monotonic()
            yield out
    yield out


def build(ctx, shared) -> None:
    ui, state = _layout(ctx), shared.model_state
    shown = LastSent()  # the timer resends the runs table only when it changed

    @handler
    def cancel(rid, kind, request: gr.Request):
        run = jobs.cancel((rid or "").strip(), **who(ctx, request))
        gr.Info(f"{run.id}: {run.status}")
        return table(kind, request)

    ui.backend.change(lambda b: gr.update(visible=b == "openai"), ui.backend, ui.base_url, api_name="backend_changed")
    clear_first(ui.use_btn.click, ui.status).then(  # an earlier "✅ …" never stands beside a new error
        use_model,
        [ui.backend, ui.model, ui.base_url, state],
        [state, shared.header, ui.status, ui.max_new],
        api_name="set_model",
    )
    clear_first(ui.pull_btn.click, ui.status).then(pull, ui.model, ui.status, api_name="pull_model")
    gen_inputs = [state, ui.system, ui.prompt, ui.max_new, ui.temperature, ui.top_p, ui.raw]
    clicked = ui.gen_btn.click(generate, gen_inputs, ui.output, api_name="generate")
    submitted = ui.prompt.submit(generate, gen_inputs, ui.output, api_name="generate_submit")
    ui.stop_btn.click(None, cancels=[clicked, submitted], api_name="stop_generate")  # Enter starts one too

    def table(kind, request: gr.Request):
        rows = runs_table(kind, caller=who(ctx, request))
        shown.sent(request, "runs", (rows,))
        return rows

    def poll(kind, request: gr.Request):
        return shown.changed(request, "runs", (runs_table(kind, caller=who(ctx, request)),))[0]

    @handler
    def show_log(rid, request: gr.Request):
        from labkit import guard

        caller = who(ctx, request)
        run = jobs.status((rid or "").strip())
        guard.require_visible(run, caller["caller"], caller["authenticated"], ctx.settings)
        return jobs.tail_log(run.run_dir) or f"(no log yet — status {run.status})"

    ui.refresh_btn.click(table, ui.kind_filter, ui.runs, api_name="list_runs")
    ui.kind_filter.change(table, ui.kind_filter, ui.runs, api_name="filter_runs")
    ui.poll.tick(poll, ui.kind_filter, ui.runs, api_name="poll_runs", show_progress="hidden")

    def in_view(kind, evt: gr.SelectData, request: gr.Request):
        """The runs table follows statuses only while this tab is shown, and is brought up to date when it is shown
        again. A tick on a hidden tab cost the page a walk over every component's status (~0.1 s of the browser's CPU
        each, 5 s apart, for as long as the page stayed open) and the server a look at every run."""
        shown_now = evt.value == TITLE
        return gr.Timer(active=shown_now), table(kind, request) if shown_now else gr.update()

    if shared.tabs is not None:
        shared.tabs.select(
            in_view, ui.kind_filter, [ui.poll, ui.runs], api_visibility="private", show_progress="hidden"
        )
    ui.log_btn.click(show_log, ui.run_id, ui.run_log, api_name="run_log")
    ui.cancel_btn.click(cancel, [ui.run_id, ui.kind_filter], ui.runs, api_name="cancel_run")
