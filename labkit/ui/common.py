"""What every tab shares: turning LabkitError into a message the person sees, and the model header."""

from __future__ import annotations

import contextlib
import functools
import itertools
import hashlib
import inspect
import re
import threading
from collections import OrderedDict

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


def field_cap(component, default: int) -> int:
    """The most one field may carry: its own declared bound (a Textbox's `max_length`, which the browser enforces
    too), else the app's (Settings.max_text_chars)."""
    declared = getattr(component, "max_length", None)
    return int(declared) if isinstance(declared, int) and declared > 0 else default


def field_name(component, index: int) -> str:
    return str(getattr(component, "label", None) or getattr(component, "elem_id", None) or "").strip()[:80] or (
        f"input {index + 1} ({type(component).__name__})"
    )


def check_sizes(block_fn, inputs: list, default: int) -> None:
    """Refuse an event whose values are missing or too large, before Gradio processes them (stores them in the
    session, moves files, builds tables) and before the handler runs. Only what the visitor sends is measured: a
    gr.State's value is the server's own."""
    if len(inputs) < len(block_fn.inputs):
        raise LabkitError(
            f"This action takes {len(block_fn.inputs)} values; the request sent {len(inputs)}.",
            hint="Send one value for each input the API page lists.",
        )
    for i, component in enumerate(block_fn.inputs):
        if getattr(component, "stateful", False):
            continue
        cap = field_cap(component, default)
        if guard.exceeds(inputs[i], cap):
            raise LabkitError(
                f"The field {field_name(component, i)!r} holds more than {cap:,} characters.",
                hint=f"This app takes at most {cap:,} characters in that field (a list or a table: its items and "
                "characters together). Send less, or upload a file where the tab takes one.",
            )


def bound_inputs(blocks: gr.Blocks, settings=None) -> gr.Blocks:
    """Every event of the app, whatever calls it (the page, the named API, a private step by its index), has its
    values' sizes checked first (`check_sizes`): a text over its field's cap is refused with a message that names
    the field and the cap, and nothing runs. Call once on the built app."""
    from labkit.settings import get_settings

    default = (settings or get_settings()).max_text_chars
    preprocess = blocks.preprocess_data

    async def preprocess_data(block_fn, inputs, *args, **kwargs):
        try:
            check_sizes(block_fn, inputs, default)
        except LabkitError as e:
            raise _as_gr_error(e) from None
        return await preprocess(block_fn, inputs, *args, **kwargs)

    blocks.preprocess_data = preprocess_data
    return blocks


def clear_first(trigger, *components, stop: SessionFlags | None = None):
    """`trigger` (a button's `.click`) first empties `components`, the messages of an earlier click (a "✅ Ready",
    a status line): chain the button's handler with `.then(...)`. A message then belongs to its moment: when the
    handler fails, the toast does not stand beside the last click's success text.
    `stop`: the Cancel flags of the work the click starts. This session's flag is lowered here, at the click (this
    step is not queued), and never by the handler: a Cancel pressed at once, while the work still waits in the queue
    or loads its model, then stops it instead of being wiped when the work begins."""
    blanks = ["" if isinstance(c, (gr.Markdown, gr.Textbox)) else None for c in components]

    def clear(request: gr.Request = None):
        if stop is not None:
            stop.arm(request)
        return blanks if len(blanks) > 1 else blanks[0]

    return trigger(
        clear,
        None,
        list(components),
        js=stop.arm_js if stop is not None else None,  # the page counts the clicks its Cancel follows
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


class LoginThrottle:
    """Gradio's `auth` for `launch(auth=...)` with a bound on guessing, which Gradio's /login lacks: after `failures`
    wrong passwords for one user name within `window_s` seconds, every login as that name is answered 429 (Too Many
    Requests, with Retry-After) until the oldest of those failures is `window_s` old, right password or not, so
    guessing goes no faster than `failures` per window. Names that are no user's share one count. `accounts`: what
    Gradio takes (a (user, password) pair, a list of pairs, or a function of user and password); pairs are compared
    in constant time."""

    def __init__(self, accounts, failures: int = 10, window_s: float = 600.0, clock=None):
        import time

        if callable(accounts):
            self._check = accounts
        else:
            pairs = [accounts] if isinstance(accounts, tuple) else list(accounts)
            table = {str(u): str(p) for u, p in pairs}
            self._check = lambda user, password: self._compare(table, user, password)
        self.failures, self.window_s = failures, window_s
        self._clock = clock or time.monotonic
        self._failed: dict[str, list[float]] = {}
        self._users = None if callable(accounts) else set(table)
        self._lock = threading.Lock()

    @staticmethod
    def _compare(table: dict, user: str, password: str) -> bool:
        import hmac

        expected = table.get(user)
        same = hmac.compare_digest(str(password).encode(), (expected or "\0").encode())
        return expected is not None and same

    def _key(self, user: str) -> str:
        return user if self._users is None or user in self._users else "\0unknown"

    def __call__(self, username: str, password: str) -> bool:
        from fastapi import HTTPException

        key, now = self._key(username), self._clock()
        with self._lock:
            recent = [t for t in self._failed.get(key, []) if now - t < self.window_s]
            self._failed[key] = recent
            if len(recent) >= self.failures:
                wait = max(1, int(self.window_s - (now - recent[0])) + 1)
                raise HTTPException(
                    status_code=429,
                    detail=f"Too many wrong passwords for this name; try again in {wait} s.",
                    headers={"Retry-After": str(wait)},
                )
        ok = bool(self._check(username, password))
        if not ok:
            with self._lock:
                self._failed.setdefault(key, []).append(now)
                if len(self._failed) > 10_000:  # names tried once and never again are forgotten first
                    self._failed.pop(next(iter(self._failed)))
        return ok


def login_throttle(auth):
    """`auth` for Gradio's launch, throttled (LoginThrottle); None stays None (no login)."""
    return None if auth is None else LoginThrottle(auth)


def header_markdown(model: dict) -> str:
    where = f" at `{model['base_url']}`" if model.get("backend") == "openai" and model.get("base_url") else ""
    text = f"### labkit &nbsp;·&nbsp; model **`{model['model']}`** on backend **`{model['backend']}`**{where}"
    return text + ("\n\n" + demo_model_note() if model["model"] == TINY else "")


class _Opaque(Exception):
    """A value whose content `fingerprint` cannot read (a component, a matplotlib figure)."""


def _feed(h, v) -> None:
    if v is None or isinstance(v, (str, int, float, bool)):
        h.update(repr((type(v).__name__, v)).encode())
    elif isinstance(v, dict):
        h.update(b"{")
        for k in sorted(v, key=str):
            _feed(h, k)
            _feed(h, v[k])
        h.update(b"}")
    elif isinstance(v, (list, tuple)):
        h.update(b"[")
        for x in v:
            _feed(h, x)
        h.update(b"]")
    elif type(v).__name__ == "DataFrame":  # the whole frame: its repr would elide rows
        h.update(v.to_json(orient="split", date_format="iso").encode())
    elif type(v).__module__.startswith("plotly") and hasattr(v, "to_json"):
        h.update(v.to_json().encode())
    else:
        raise _Opaque(type(v).__name__)


def fingerprint(value) -> str | None:
    """A digest of an output's whole content, or None for a value it cannot read (always sent)."""
    h = hashlib.blake2b(digest_size=16)
    try:
        _feed(h, value)
    except _Opaque:
        return None
    return h.hexdigest()


class LastSent:
    """What a page's timer last sent to each output, per browser session: a tick whose value is the one the page
    already has sends `gr.update()` instead. A Dataframe or a Plot given its own value again is rebuilt in the
    page: the Models tab's runs table, sent every 5 s, kept a headless Chromium at 0.1 of a core while nothing
    changed, and a followed run's charts are rebuilt at every look. An event other than the timer that sets the
    outputs says so with `sent`, so a tick never leaves a value that something else replaced."""

    SESSIONS = 4096  # entries kept, least recently used dropped

    def __init__(self):
        self._last: OrderedDict[tuple, tuple] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(request, name: str) -> tuple:
        return (getattr(request, "session_hash", None) or "", name)

    def _store(self, key: tuple, prints: tuple) -> None:  # under the lock
        self._last[key] = prints
        self._last.move_to_end(key)
        while len(self._last) > self.SESSIONS:
            self._last.popitem(last=False)

    def sent(self, request, name: str, values) -> None:
        """`values` (one per output) are now what the page shows."""
        prints = tuple(fingerprint(v) for v in values)
        with self._lock:
            self._store(self._key(request, name), prints)

    def changed(self, request, name: str, values) -> tuple:
        """`values` with each one the page already shows replaced by `gr.update()`; remembers what it sends."""
        values = tuple(values)
        prints = tuple(fingerprint(v) for v in values)
        key = self._key(request, name)
        with self._lock:
            before = self._last.get(key)
            self._store(key, prints)
        if not key[0] or before is None or len(before) != len(values):  # no session: nothing to compare with
            return values
        return tuple(gr.update() if p is not None and p == b else v for v, p, b in zip(values, prints, before))


class SessionFlags:
    """A Cancel flag per browser session, for work that runs inside the app (not a job): a Cancel button stops only
    its own session's work, never a visitor's next door. The flag stands only while the session's work is coming
    (`arm`, at the click) or running (`running`), so a Cancel pressed at once after the click is kept until the work
    begins, and a Cancel pressed when nothing runs cannot stop the next run.

    The click's unqueued step (`arm`) and a Cancel pressed at once are separate requests, and a loaded server (or a
    loaded browser) may handle the Cancel first — by seconds. So the page counts its clicks (`arm_js`, run in the
    browser at each click) and the Cancel says how many it follows (`count_js`): a Cancel that follows a click the
    server has not seen yet waits for it (up to LATE_CLICK_S); one whose clicks have all arrived answers at once. An
    API caller, which sends no count, waits ARM_WAIT_S for a click that may still come."""

    ARM_WAIT_S = 3.0
    LATE_CLICK_S = 120.0
    _made = itertools.count()

    def __init__(self):
        self._flags: dict[str, threading.Event] = {}
        self._pending: set[str] = set()
        self._busy: dict[str, int] = {}
        self._clicks: dict[str, int] = {}  # the arms seen per session
        self._lock = threading.Lock()
        self._armed = threading.Condition(self._lock)
        counter = f"window.__lkClicks{next(self._made)}"
        self.arm_js = f"() => {{ {counter} = ({counter} || 0) + 1; return []; }}"
        self.count_js = f"() => [{counter} || 0]"

    @staticmethod
    def _key(request) -> str:
        return getattr(request, "session_hash", None) or ""

    def _flag(self, key: str) -> threading.Event:
        return self._flags.setdefault(key, threading.Event())

    def arm(self, request) -> None:
        """The click that starts the work: an earlier Cancel is forgotten, and one pressed from now on counts."""
        with self._lock:
            key = self._key(request)
            self._flag(key).clear()
            self._pending.add(key)
            self._clicks[key] = self._clicks.get(key, 0) + 1
            self._armed.notify_all()

    @contextlib.contextmanager
    def running(self, request):
        """Around the work: yields the flag it must watch; when the session's last work ends, the flag is lowered."""
        key = self._key(request)
        with self._lock:
            self._pending.discard(key)
            self._busy[key] = self._busy.get(key, 0) + 1
            flag = self._flag(key)
        try:
            yield flag
        finally:
            with self._lock:
                self._busy[key] -= 1
                if not self._busy[key] and key not in self._pending:
                    flag.clear()

    def wire_cancel(self, button, fn, api_name: str) -> None:
        """`button.click(fn)`, where `fn(request, clicks)` calls `stop` and returns what to tell the person: a toast,
        and the event's value for an API caller (a hidden field). Not the work's status line: the work writes its
        end there ("Cancelled after 3 of 40"), and on a loaded server a Cancel's answer could arrive after that end
        and overwrite it with "Cancelling …" for good. No concurrency limit: `stop` may wait for its click, and one
        visitor's wait must never hold back another's Cancel."""

        def cancel(clicks, request: gr.Request):
            text = fn(request, clicks)
            gr.Info(text)
            return text

        clicks, said = gr.Number(0, visible=False), gr.Textbox(visible=False)  # 0: no count (an API caller)
        button.click(cancel, clicks, said, js=self.count_js, api_name=api_name, concurrency_limit=None)

    def stop(self, request, clicks: float | None = None, wait: float | None = None) -> bool:
        """Raise the flag of this session's coming or running work; False when there is none. `clicks`: how many
        starting clicks the page had made when Cancel was pressed (None from an API caller); the Cancel waits until
        the server has seen them all (at most LATE_CLICK_S), else `wait` seconds (ARM_WAIT_S) for a click that may
        still arrive."""
        key = self._key(request)

        def coming_or_running():
            return key in self._pending or self._busy.get(key)

        with self._armed:
            if isinstance(clicks, (int, float)) and clicks > 0:
                self._armed.wait_for(lambda: self._clicks.get(key, 0) >= clicks, timeout=self.LATE_CLICK_S)
                found = coming_or_running()
            else:
                wait = self.ARM_WAIT_S if wait is None else wait
                found = self._armed.wait_for(coming_or_running, timeout=wait)
            if not found:
                return False
            self._flag(key).set()
            return True


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
