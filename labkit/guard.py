"""The one guard for shared and demo deployments: which actions may run here, and for whom.

Engines call `require(action)` at their entry points (starting a job, cancelling, resuming, submitting a
Hugging Face Job, writing an export, pushing to the Hub), so the rule holds whoever calls them: a UI button,
the Gradio API or the CLI. In demo mode (`LABKIT_DEMO=1`, the public Space) every such action is refused;
what remains is interactive work on bundled or uploaded inputs, bounded by each engine's own limits.
"""

from __future__ import annotations

from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings

ACTIONS = {
    "launch": "Starting runs (training, evaluation, sweeps, curation, experiments)",
    "resume": "Resuming runs",
    "cancel": "Cancelling runs",
    "hf-jobs": "Submitting Hugging Face Jobs",
    "export": "Writing launch scripts to the server",
    "push": "Pushing to the Hugging Face Hub",
    "deploy": "Deploying a Space",
    "batch": "Batch generation (role-play data, preference pairs)",
    "write": "Writing models or files on the server",
}
DEMO_HINT = (
    "This is a public demo: it runs nothing heavy and writes nothing. Duplicate the Space with your own "
    "token, or run labkit yourself (`make serve`), to train, evaluate and push."
)


def require(action: str, settings: Settings | None = None) -> None:
    """Refuse `action` where this deployment does not allow it (demo mode refuses every write and heavy job)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown guarded action {action!r}")  # a programming error, not user input
    if (settings or get_settings()).demo:
        raise LabkitError(f"{ACTIONS[action]} is turned off on this demo.", hint=DEMO_HINT)


# What a Space owner who logged in may still do on a demo: send work to HF Jobs with their own token, cancel it,
# and read its results back. Everything else stays refused to everyone.
OWNER_ACTIONS = ("hf-jobs", "cancel")


def owners(settings: Settings | None = None) -> set[str]:
    """Who owns this deployment: LABKIT_OWNERS (comma-separated Hub user names), else on a Space its author
    (SPACE_AUTHOR_NAME, which the Hub sets). Compared without case, as Hub names are."""
    env = (settings or get_settings()).env
    listed = env.get("LABKIT_OWNERS") or env.get("SPACE_AUTHOR_NAME") or ""
    return {name.strip().lower() for name in listed.split(",") if name.strip()}


def require_owner_login(action: str, login: str | None, settings: Settings | None = None) -> None:
    """`require(action)`, except that on a demo an owner who logged in (Sign in with Hugging Face, or --auth)
    may do the OWNER_ACTIONS. Off demo mode this is `require(action)`: a local lab lets its user do everything."""
    settings = settings or get_settings()
    if not settings.demo or action not in OWNER_ACTIONS:
        return require(action, settings)
    if not login:
        raise LabkitError(
            f"{ACTIONS[action]} on this demo needs an owner of the Space to sign in.",
            hint="Click 'Sign in with Hugging Face'. Visitors can try the demo; only its owners send work to Jobs.",
        )
    if login.lower() not in owners(settings):
        raise LabkitError(
            f"{login} is not an owner of this demo, so {ACTIONS[action].lower()} is turned off.",
            hint="The Space's owners are named in LABKIT_OWNERS (default: the Space's author). " + DEMO_HINT,
        )


def require_model(name: str, settings: Settings | None = None) -> None:
    """On a demo, only the models the Space's owner listed may be loaded or pulled."""
    settings = settings or get_settings()
    if settings.demo and name not in settings.demo_models:
        raise LabkitError(
            f"This demo only runs {', '.join(sorted(settings.demo_models))}.",
            hint="The Space's owner can list more in LABKIT_DEMO_MODELS. " + DEMO_HINT,
        )


def _url(url) -> str:
    return str(url or "").strip().rstrip("/")


def require_server(url, what: str = "The server", settings: Settings | None = None) -> None:
    """On a shared app (a demo Space, or a server beyond this machine), an OpenAI-compatible server must be one the
    owner configured (LABKIT_OPENAI_BASE_URL, LABKIT_OPENAI_SERVERS): a URL a visitor types is never fetched, so the
    app is no proxy into its network and sends its key nowhere else. A local lab reaches any server its user names."""
    settings = settings or get_settings()
    if settings.shared and _url(url) not in settings.openai_servers:
        raise LabkitError(
            f"{what} {_url(url)[:80]!r} is not one this app may reach.",
            hint="A shared app talks only to the OpenAI-compatible servers its owner configured "
            "(LABKIT_OPENAI_BASE_URL, LABKIT_OPENAI_SERVERS). Leave the URL empty to use the configured one.",
        )


def api_key_for(url, settings: Settings | None = None) -> str | None:
    """The API key to send to `url`: on a shared app only the configured server (LABKIT_OPENAI_BASE_URL) gets it,
    never another listed one; a local lab sends it wherever its user points the backend."""
    settings = settings or get_settings()
    if settings.shared and _url(url) != settings.openai_servers[0]:
        return None
    return settings.openai_api_key()


def require_dataset(repo_id: str, settings: Settings | None = None) -> None:
    """On a demo, only the Hub datasets the owner listed (LABKIT_DEMO_DATASETS) may be fetched."""
    settings = settings or get_settings()
    if settings.demo and repo_id not in settings.demo_datasets:
        raise LabkitError(
            "This demo fetches no Hub dataset but the ones its owner listed.",
            hint="Upload the data as a file instead. The owner can list datasets in LABKIT_DEMO_DATASETS. " + DEMO_HINT,
        )


# Who is calling, on a shared app: the face registers a function that names the current browser session (the UI
# reads Gradio's request context); None on the command line and in engines called directly.
_caller_source = None
_owned: dict[str, set] = {}  # session → the files it uploaded or produced (resolved paths)
_OWNED_SESSIONS = 10_000  # a long-lived Space forgets the oldest sessions first


def set_caller_source(fn) -> None:
    global _caller_source
    _caller_source = fn


def current_caller() -> str | None:
    try:
        return _caller_source() if _caller_source else None
    except Exception:  # noqa: BLE001 — outside an event there is no caller
        return None


def own(path, caller: str | None = None) -> None:
    """Record that `caller` (default: the current session) uploaded or produced the file at `path`: on a demo it
    may read it back, and no other session may."""
    from pathlib import Path

    caller = caller if caller is not None else current_caller()
    if caller is None or not path:
        return
    if caller not in _owned and len(_owned) >= _OWNED_SESSIONS:
        _owned.pop(next(iter(_owned)))
    _owned.setdefault(caller, set()).add(Path(str(path)).expanduser().resolve())


def require_readable(path, what: str = "The file", settings: Settings | None = None):
    """On a demo, a path typed into the app may name only bundled files and the files this visitor's own session
    uploaded or produced (`own`): never a folder of uploads, never another session's file. The refusal is the same
    whether or not the path exists, so it tells nothing about the server's files."""
    from pathlib import Path

    settings = settings or get_settings()
    try:
        resolved = Path(str(path)).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte: refused like any unreadable path
        resolved = None
    if not settings.demo and resolved is not None:
        return resolved
    bundled = [settings.configs_dir, Path(__file__).resolve().parent]
    if resolved is not None and any(resolved.is_relative_to(Path(r).expanduser().resolve()) for r in bundled):
        return resolved
    if resolved is not None and resolved in _owned.get(current_caller() or "", ()):
        return resolved
    raise LabkitError(
        f"{what} {str(path)[:80]!r} is not a file this demo may read.",
        hint="Upload the file, or use one of the bundled examples. " + DEMO_HINT,
    )


def readable_text(path, what: str = "The file", settings: Settings | None = None, max_bytes: int = 10_000_000):
    """The text of a file a person named, through `require_readable`, bounded in size, as UTF-8: a refusal or a
    failure names the file as given and never carries an errno or the server's own error text."""
    p = require_readable(path, what, settings)
    shown = str(path)[:80]
    try:
        if not p.is_file():
            raise FileNotFoundError
        if p.stat().st_size > max_bytes:
            raise LabkitError(
                f"{what} {shown!r} is larger than {max_bytes // 1_000_000} MB.", hint="Give a smaller file."
            )
        text = p.read_text(encoding="utf-8")
        if "\x00" in text:  # valid UTF-8 can still be binary: no text file holds a NUL
            raise UnicodeDecodeError("utf-8", b"", 0, 1, "NUL")
        return text
    except UnicodeDecodeError:
        raise LabkitError(f"{what} {shown!r} is not UTF-8 text.", hint="Save it as UTF-8 text.") from None
    except OSError:
        raise LabkitError(f"{what} {shown!r} cannot be read.", hint="Check the path.") from None


def exceeds(value, cap: int) -> bool:
    """Whether `value` (a text, or the lists, mappings and tables a JSON request carries) holds more than `cap`
    characters, each item of a list and each key of a mapping counting as one more: so a long list of empty strings or
    numbers is bounded too. Measured without recursion (a deeply nested value cannot exhaust the stack), and stopped
    as soon as the cap is passed, before a long list is walked."""
    total, todo = 0, [value]
    while todo:
        v = todo.pop()
        if isinstance(v, (str, bytes, bytearray)):
            total += len(v)
        elif isinstance(v, dict):
            total += len(v)
            if total <= cap:
                todo.extend(v.keys())
                todo.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += len(v)
            if total <= cap:
                todo.extend(v)
        if total > cap:
            return True
    return False


def allowed(action: str, settings: Settings | None = None) -> bool:
    try:
        require(action, settings)
    except LabkitError:
        return False
    return True


OWNER = "owner:"


def owner_tag(caller: str | None) -> list[str]:
    """The tag that records who started a run from a shared app (a session or a login name)."""
    return [f"{OWNER}{caller}"] if caller else []


def owner_of(tags) -> str | None:
    """Who started a run from a shared app (None: the command line or a local app)."""
    return next((t[len(OWNER) :] for t in tags or [] if str(t).startswith(OWNER)), None)


def may_see(run, caller: str | None, authenticated: bool, settings: Settings | None = None) -> bool:
    """On a shared app an anonymous visitor sees (in run lists, logs, statuses) the runs their own session started
    and the host's (the command line, the owners' Jobs), never another visitor's."""
    if caller is None or authenticated:
        return True
    owner = owner_of(run.tags)
    return owner is None or owner == caller or owner.lower() in owners(settings)


def require_visible(run, caller: str | None, authenticated: bool, settings: Settings | None = None) -> None:
    if not may_see(run, caller, authenticated, settings):  # worded like an unknown run: it tells nothing
        raise LabkitError(f"No run {run.id!r} in the store.", hint="`labkit runs list` shows the runs.")


def require_owner(run, caller: str | None, authenticated: bool) -> None:
    """On a shared app, a visitor may cancel or resume only the runs their own session started.
    Authenticated users (`--auth`) and the command line (caller None) may act on any run."""
    if caller is None or authenticated:
        return
    if owner_of(run.tags) != caller:
        raise LabkitError(
            f"Run {run.id} was not started from this browser session.",
            hint="Only the session that launched a run (or a logged-in user) can cancel or resume it.",
        )
