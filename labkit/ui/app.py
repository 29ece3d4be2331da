"""Build and launch the labkit web app.

    from labkit.ui.app import build_app
    build_app().launch()

Each tab is a module in labkit/ui/tabs/ with TITLE, ID and build(ctx, shared); handlers there are
thin: widget values in, a call into labkit.*, components out. The active model is per browser
session (a gr.State) shared by every tab, and shown in the header.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import gradio as gr

from labkit import dmoe  # noqa: F401  registers its training methods (dmoe-stage1/2) for the Train tab
from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings
from labkit.store import Store
from labkit.ui.common import bound_inputs, header_markdown, login_throttle

# Tab modules in display order.
TABS = [
    "labkit.ui.tabs.models",
    "labkit.ui.tabs.train",
    "labkit.ui.tabs.evaluate",
    "labkit.ui.tabs.scaling",
    "labkit.ui.tabs.experiment",
    "labkit.ui.tabs.dmoe",
    "labkit.ui.tabs.provenance",
    "labkit.ui.tabs.support",
    "labkit.ui.tabs.translate",
    "labkit.ui.tabs.data",
]

DEMO_BANNER = (
    "🧪 **This is a public demo of labkit.** You can chat, generate, trace provenance, fit scaling laws and translate "
    "a page with the listed models. Nothing here trains, evaluates at scale, pushes to the Hub or writes files: those "
    "buttons are off and say so. The Space's owners can sign in with Hugging Face and send training, evaluation, "
    "curation and experiments to HF Jobs on their own account. Run `make serve` on your own machine (or duplicate "
    "this Space) for the whole lab."
)

CSS = """
.lk-note {font-size: 0.9em; opacity: 0.85}
footer {display: none !important}
"""


@dataclass
class AppContext:
    settings: Settings
    store: Store
    model: dict = field(default_factory=dict)  # initial {"backend", "model", "base_url"} for new sessions
    shared_server: bool = False  # served beyond this machine: visitors act only on their own session's runs

    @classmethod
    def create(
        cls, settings: Settings | None = None, model: str | None = None, backend: str | None = None
    ) -> AppContext:
        settings = (settings or get_settings()).ensure_dirs()
        initial = {
            "backend": backend or settings.default_backend,
            "model": model or settings.resolved_default_model(),
            "base_url": settings.openai_base_url,
        }
        return cls(settings=settings, store=Store(settings.store_path), model=initial)


@dataclass
class Shared:
    """Components that several tabs read or update."""

    model_state: gr.State
    header: gr.Markdown
    demo: gr.Blocks  # for page-load events (re-attaching to running jobs)
    tabs: gr.Tabs | None = None  # the top-level tabs: a tab whose timer only matters in view follows their select


QUEUE_IDLE_S = 0.01  # how often an idle queue looks for a new event (Gradio: 0.001)
PROGRESS_IDLE_S = 0.05  # how often it sends progress (Gradio: 0.01)


def build_app(ctx: AppContext | None = None) -> gr.Blocks:
    ctx = ctx or AppContext.create()
    with gr.Blocks(title="labkit") as demo:
        model_state = gr.State(dict(ctx.model))
        shown = {**ctx.model, "base_url": None} if ctx.shared_server else ctx.model  # no server address in the page
        header = gr.Markdown(header_markdown(shown), elem_id="lk-header")
        if ctx.settings.demo:
            gr.Markdown(DEMO_BANNER, elem_id="lk-demo-banner")
        shared = Shared(model_state=model_state, header=header, demo=demo)
        with gr.Tabs() as shared.tabs:
            for name in TABS:
                tab = importlib.import_module(name)
                with gr.Tab(tab.TITLE, id=tab.ID, elem_id=f"tab-{tab.ID}"):
                    tab.build(ctx, shared)
    demo.queue(default_concurrency_limit=4)
    # After every event Gradio rebuilt a pandas summary of its last 10,000 events (25–30 ms of CPU each, growing with
    # the app's age) for its /monitoring page, which labkit does not offer: every timer tick and form sync paid it,
    # ~90 CPU-s of a test suite. Refresh it once per 10**6 events instead (the attribute is Gradio's own spelling).
    demo._queue.ANAYLTICS_CACHE_FREQUENCY = 10**6
    # An idle Gradio queue looked for work every 1 ms and for progress every 10 ms: ~900 wake-ups a second and 4 % of
    # a core per served app, doing nothing, for as long as it serves (a cost that doubles when a busy machine makes
    # everything take twice as long). 10 ms and 50 ms cost ~1 % and ~120 wake-ups a second; an event waits at most
    # 10 ms longer to start, and progress still reaches the page 20 times a second.
    demo._queue.sleep_when_free = QUEUE_IDLE_S
    demo._queue.progress_update_sleep_when_free = PROGRESS_IDLE_S
    return bound_inputs(demo, ctx.settings)  # every value a visitor sends is size-checked before work


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    auth=None,
    model: str | None = None,
    backend: str | None = None,
    block: bool = True,
    settings: Settings | None = None,
):
    import os

    demo = (settings or get_settings()).demo  # a demo is public wherever it listens
    shared = share or demo or host not in ("127.0.0.1", "localhost", "::1")
    marked_before = os.environ.get("LABKIT_SHARED")
    if shared:  # the engines (and the jobs this app starts) read it: visitors steer no outbound request
        os.environ["LABKIT_SHARED"] = "1"
    ctx = AppContext.create(settings=settings, model=model, backend=backend)
    ctx.shared_server = shared
    demo = build_app(ctx)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        auth=login_throttle(auth),  # Gradio's /login does not throttle wrong passwords
        prevent_thread_lock=True,
        theme=gr.themes.Soft(),
        css=CSS,
        show_error=True,
        footer_links=["api"],
        max_file_size=f"{ctx.settings.max_upload_mb}mb",
        # Gradio's own check gives the new server one 3-second request, then refuses to start: "localhost is not
        # accessible, set share=True". On a loaded machine the page takes longer than that (seen at load 10).
        _frontend=False,
    )  # Gradio refuses bigger uploads before they land
    try:
        wait_until_served(demo.local_url)
    except LabkitError:
        demo.close()
        raise
    if shared and not block:  # an app served from inside another program (tests): closing it ends the marking
        close = demo.close

        def close_and_unmark(*args, **kwargs):
            try:
                return close(*args, **kwargs)
            finally:
                if marked_before is None:
                    os.environ.pop("LABKIT_SHARED", None)

        demo.close = close_and_unmark
    if block:
        demo.block_thread()
    return demo


def wait_until_served(url: str, timeout: float = 180.0) -> None:
    """Until the app at `url` answers a request (any HTTP status: a login page is an answer). A loaded machine can
    take a minute to serve a page as large as this app's."""
    import time

    import httpx

    end = time.monotonic() + timeout
    while True:
        try:
            httpx.head(url, timeout=10, verify=False)
            return
        except httpx.HTTPError as e:
            if time.monotonic() > end:
                raise LabkitError(
                    f"The app started but did not answer at {url} within {timeout:.0f} s ({type(e).__name__}).",
                    hint="The machine may be overloaded, or a proxy setting may catch requests to localhost"
                    " (set NO_PROXY=localhost,127.0.0.1).",
                ) from e
        time.sleep(0.5)
