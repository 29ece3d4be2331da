"""What every tab shares: turning LabkitError into a message the person sees, and the model header."""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import threading

import gradio as gr

from labkit import guard
from labkit.errors import LabkitError
from labkit.settings import TINY
from labkit.guard import owner_tag

DEMO_MODEL_NOTE = (
    "⚠️ **You are using the built-in demo model `tiny`** (140k parameters, trained for seconds on a few KB of text). "
    "Its output is meaningless: it exists so that every feature runs offline on a laptop. "
    "Choose a real model (e.g. `Qwen/Qwen2.5-1.5B-Instruct`) in the **Models** tab for real results."
)


def demo_model_note(settings=None) -> str:
    """DEMO_MODEL_NOTE, whose suggestion loads where the app runs: offline (no Hub), a model already in the Hub
    cache, a local folder or the bundled trained `tiny-math-sft`, never a Hub id that cannot be downloaded."""
    from labkit.settings import get_settings, hub_reachable

    settings = settings or get_settings()
    if not settings.hub_offline and hub_reachable(settings.env.get("HF_ENDPOINT", "https://huggingface.co")):
        return DEMO_MODEL_NOTE
    cached = cached_models()
    choice = (
        "one already on this machine (" + ", ".join(f"`{m}`" for m in cached[:3]) + ") or a local model folder"
        if cached
        else "a local model folder, or `tiny-math-sft` (bundled: trained on the synthetic arithmetic world)"
    )
    return DEMO_MODEL_NOTE.split("Choose a real model")[0] + (
        f"The Hub cannot be reached, so choose {choice} in the **Models** tab."
    )


def cached_models() -> list[str]:
    """Model repositories in the local Hugging Face cache (what loads offline), by name."""
    try:
        from huggingface_hub import scan_cache_dir

        return sorted(r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model")
    except Exception:  # no cache folder yet, or one being written: nothing to suggest from it
        return []


def _session() -> str | None:
    """The browser session of the event being handled (Gradio sets its request for each call and each step of a
    generator), for labkit.guard's per-session rules."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    return getattr(request, "session_hash", None) if request is not None else None


guard.set_caller_source(_session)


def hide_upload_dirs(text: str) -> str:
    """An uploaded file by its name alone: Gradio's temporary upload folders are server paths, not for visitors."""
    from labkit.settings import get_settings

    root = get_settings().gradio_temp_dir
    roots = sorted({str(root), str(root.expanduser().resolve())}, key=len, reverse=True)
    folders = "(?:" + "|".join(re.escape(r.rstrip("/")) for r in roots) + r")/(?:[^/\s'\"]+/)*"
    return re.sub(folders, "", text)


def _as_gr_error(e: LabkitError) -> gr.Error:
    # bad input is not a bug: shown to the person, with no traceback in the server's log
    text = f"{e.message} — {e.hint}" if e.hint else e.message
    return gr.Error(hide_upload_dirs(text), duration=None, print_exception=False)


def handler(fn):
    """Wrap an event handler (plain or generator) so that a LabkitError reaches the page as gr.Error."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except LabkitError as e:
                raise _as_gr_error(e) from e

        return gen

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LabkitError as e:
            raise _as_gr_error(e) from e

    return plain


def clear_first(trigger, *components):
    """`trigger` (a button's `.click`) first empties `components`, the messages of an earlier click (a "✅ Ready",
    a status line): chain the button's handler with `.then(...)`. A message then belongs to its moment: when the
    handler fails, the toast does not stand beside the last click's success text."""
    blanks = ["" if isinstance(c, (gr.Markdown, gr.Textbox)) else None for c in components]
    return trigger(
        lambda: blanks if len(blanks) > 1 else blanks[0],
        None,
        list(components),
        api_visibility="private",
        show_progress="hidden",
        queue=False,
    )


_busy: set[str] = set()
_busy_lock = threading.Lock()


def heavy(fn):
    """On a demo, one heavy request (generation, a trace, a translation) per browser session at a time: a second
    one while the first runs is refused at once instead of queueing work for the server. Put it under @handler."""

    def claim() -> str | None:
        from labkit.settings import get_settings

        key = _session()
        if key is None or not get_settings().demo:
            return None
        with _busy_lock:
            if key in _busy:
                raise LabkitError(
                    "This session already has a request running.",
                    hint="Wait for it to finish (or stop it); the demo runs one heavy request per visitor at a time.",
                )
            _busy.add(key)
        return key

    def release(key: str | None) -> None:
        if key is not None:
            with _busy_lock:
                _busy.discard(key)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            key = claim()
            try:
                yield from fn(*args, **kwargs)
            finally:
                release(key)

        return gen

    @functools.wraps(fn)
    def plain(*args, **kwargs):
        key = claim()
        try:
            return fn(*args, **kwargs)
        finally:
            release(key)

    return plain


def header_markdown(model: dict) -> str:
    where = f" at `{model['base_url']}`" if model.get("backend") == "openai" and model.get("base_url") else ""
    text = f"### labkit &nbsp;·&nbsp; model **`{model['model']}`** on backend **`{model['backend']}`**{where}"
    return text + ("\n\n" + demo_model_note() if model["model"] == TINY else "")


class SessionFlags:
    """A stop flag per browser session, for work that runs inside the app (not a job): a Stop button stops only
    its own session's work, never a visitor's next door."""

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, request) -> threading.Event:
        key = getattr(request, "session_hash", None) or ""
        with self._lock:
            return self._flags.setdefault(key, threading.Event())


def who(ctx, request) -> dict:
    """The caller of an event, for the ownership rules of labkit.guard: on a local app nobody is restricted;
    on a shared one a visitor is their browser session, and a logged-in user (--auth) is trusted."""
    if not getattr(ctx, "shared_server", False) or request is None:
        return {"caller": None, "authenticated": True}
    username = getattr(request, "username", None)
    return {
        "caller": username or getattr(request, "session_hash", None) or "anonymous",
        "authenticated": bool(username),
    }


def owner_tags(ctx, request) -> list[str]:
    """Tags that record which session started a run from a shared app."""

    return owner_tag(who(ctx, request)["caller"])


@contextlib.contextmanager
def guarded_buttons(settings):
    """Buttons whose handlers run guarded actions (labkit.guard): `button(label, action, **kwargs)` makes one,
    disabled where this deployment refuses the action (a demo Space), and after the block one line names the
    disabled buttons and says why, so no control is greyed out unexplained. Put the layout block inside:

        with guarded_buttons(settings) as button, gr.Row():
            launch = button("Launch", "launch", variant="primary")
    """

    off: list[tuple[str, str]] = []

    def button(label: str, action: str, **kwargs) -> gr.Button:
        ok = guard.allowed(action, settings)
        if not ok:
            off.append((label, action))
        wanted = kwargs.pop("interactive", True)  # popped first: with `ok` False, `and` would skip the pop
        return gr.Button(label, interactive=ok and wanted, **kwargs)

    yield button
    if off:
        gr.Markdown(why_off(off), elem_classes=["lk-why-off"])


def why_off(off: list[tuple[str, str]]) -> str:

    what = ", ".join(f"**{label}** ({guard.ACTIONS[action].split(' (')[0].lower()})" for label, action in off)
    return f"🔒 Off on this demo: {what}. {guard.DEMO_HINT}"
