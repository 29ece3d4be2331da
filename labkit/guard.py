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


def require_readable(path, what: str = "The file", settings: Settings | None = None):
    """On a demo, a path typed into the app may name only bundled files and uploads. The refusal is the same
    whether or not the path exists, so it tells nothing about the server's files."""
    from pathlib import Path

    settings = settings or get_settings()
    resolved = Path(str(path)).expanduser().resolve()
    if not settings.demo:
        return resolved
    roots = [settings.configs_dir, settings.uploads_dir, settings.gradio_temp_dir, Path(__file__).resolve().parent]
    if any(resolved.is_relative_to(Path(r).expanduser().resolve()) for r in roots):
        return resolved
    raise LabkitError(
        f"{what} {str(path)[:80]!r} is not a file this demo may read.",
        hint="Upload the file, or use one of the bundled examples. " + DEMO_HINT,
    )


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
