"""Every path and environment default of labkit, in one place.

LABKIT_HOME (default ~/.labkit) holds the run store, run directories, caches and the tiny model.
Secrets (HF_TOKEN, API keys) are read from the environment when needed and never stored here
in a form that is serialised, logged or shown.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

TINY = "tiny"
TINY_REF = "tiny-ref"
# A small real instruct model: the default when the Hub is reachable.
ONLINE_DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


PROJECT = Path(__file__).resolve().parents[1]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _positive_int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    home: Path
    default_model: str | None = None  # None: decided by hub_reachable() when first asked
    default_backend: str = "hf"
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    demo: bool = False  # Space mode: no local file browsing, no training on the host
    max_jobs: int = 4  # jobs (train, eval, ...) queued or running at once, over all callers
    max_jobs_per_caller: int = 2  # of those, started by one browser session or login of a shared app
    env: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: dict | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        home = Path(env.get("LABKIT_HOME") or Path.home() / ".labkit").expanduser()
        return cls(
            home=home,
            default_model=env.get("LABKIT_MODEL") or None,
            default_backend=env.get("LABKIT_BACKEND", "hf"),
            openai_base_url=env.get("LABKIT_OPENAI_BASE_URL")
            or env.get("OPENAI_BASE_URL")
            or "http://127.0.0.1:8000/v1",
            demo=_truthy(env.get("LABKIT_DEMO")),
            max_jobs=_positive_int(env.get("LABKIT_MAX_JOBS"), 4),
            max_jobs_per_caller=_positive_int(env.get("LABKIT_MAX_JOBS_PER_CALLER"), 2),
            env=env,
        )

    # --- paths -----------------------------------------------------------------------------
    @property
    def store_path(self) -> Path:
        return self.home / "labkit.sqlite"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def uploads_dir(self) -> Path:
        """Files people upload for recipes and data (recipes may read them, like configs/ and runs/)."""
        return self.home / "uploads"

    @property
    def configs_dir(self) -> Path:
        """The bundled recipes and sample data (`configs/` of the project; LABKIT_CONFIGS moves it)."""
        return Path(self.env.get("LABKIT_CONFIGS") or PROJECT / "configs").expanduser().resolve()

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def tiny_model_dir(self) -> Path:
        return self.home / "models" / "tiny"

    def ensure_dirs(self) -> Settings:
        for d in (self.home, self.runs_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self

    # --- network and models ------------------------------------------------------------------
    @property
    def hub_offline(self) -> bool:
        return _truthy(self.env.get("HF_HUB_OFFLINE")) or _truthy(self.env.get("TRANSFORMERS_OFFLINE"))

    def openai_api_key(self) -> str | None:
        # Read on use, never kept in a config: local servers accept any key.
        return self.env.get("LABKIT_OPENAI_API_KEY") or self.env.get("OPENAI_API_KEY")

    @property
    def max_upload_mb(self) -> int:
        """The largest file a browser may upload (LABKIT_MAX_UPLOAD_MB; 50 MB: a long PDF, a big JSONL sample)."""
        try:
            return max(1, int(self.env.get("LABKIT_MAX_UPLOAD_MB", "50")))
        except ValueError:
            return 50

    @property
    def max_text_chars(self) -> int:
        """The most a visitor may send in one field of the app (LABKIT_MAX_TEXT_CHARS; 1,000,000 characters, as much
        as a recipe may hold): a text's characters, a list's or a table's items and characters together. A field that
        declares its own bound (a Textbox's `max_length`) keeps it."""
        return _positive_int(self.env.get("LABKIT_MAX_TEXT_CHARS"), 1_000_000)

    @property
    def warm_starts(self) -> bool:
        """LABKIT_WARM: jobs forked from a warm server that has imported torch/TRL (labkit.warm; Linux; on unless 0)."""
        return self.env.get("LABKIT_WARM", "1").strip().lower() not in {"0", "false", "no", "off"}

    @property
    def warm_idle_s(self) -> float:
        """LABKIT_WARM_IDLE_S: seconds a warm server waits for its next job before it exits (600)."""
        try:
            return max(1.0, float(self.env.get("LABKIT_WARM_IDLE_S", "600")))
        except ValueError:
            return 600.0

    @property
    def ui_sync_delay_s(self) -> float:
        """LABKIT_UI_SYNC_DELAY: seconds each form ⇄ YAML sync waits (a test hook that plays a busy server; 0)."""
        try:
            return max(0.0, float(self.env.get("LABKIT_UI_SYNC_DELAY", "0")))
        except ValueError:
            return 0.0

    @property
    def gradio_temp_dir(self) -> Path:
        """Where Gradio puts uploaded files (GRADIO_TEMP_DIR, else its default under the system temp folder)."""
        import tempfile

        return Path(self.env.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")

    @property
    def shared(self) -> bool:
        """Served to people other than its host: a demo Space, or `labkit serve` beyond this machine (which sets
        LABKIT_SHARED=1 for itself and the jobs it starts). Visitors there steer no outbound request."""
        return self.demo or _truthy(self.env.get("LABKIT_SHARED"))

    @property
    def openai_servers(self) -> list[str]:
        """The OpenAI-compatible servers a shared app may reach: the configured base URL (the only one that gets
        the API key) and any listed in LABKIT_OPENAI_SERVERS (comma-separated)."""
        listed = [u.strip().rstrip("/") for u in self.env.get("LABKIT_OPENAI_SERVERS", "").split(",") if u.strip()]
        return [self.openai_base_url.strip().rstrip("/"), *listed]

    @property
    def demo_datasets(self) -> set[str]:
        """The Hub datasets a shared app may fetch (LABKIT_DEMO_DATASETS, comma-separated; none by default)."""
        return {d.strip() for d in self.env.get("LABKIT_DEMO_DATASETS", "").split(",") if d.strip()}

    @property
    def demo_models(self) -> set[str]:
        """The models a demo Space may load (LABKIT_DEMO_MODELS, comma-separated): loading any Hub id would let
        visitors fill the Space's disk and memory."""
        listed = {m.strip() for m in self.env.get("LABKIT_DEMO_MODELS", "").split(",") if m.strip()}
        return listed | {TINY, TINY_REF, self.default_model or ONLINE_DEFAULT_MODEL}

    def resolved_default_model(self) -> str:
        """`LABKIT_MODEL` if set; `tiny` offline; otherwise a small real instruct model."""
        if self.default_model:
            return self.default_model
        if self.hub_offline or not hub_reachable(self.env.get("HF_ENDPOINT", "https://huggingface.co")):
            return TINY
        return ONLINE_DEFAULT_MODEL


@lru_cache(maxsize=4)
def hub_reachable(endpoint: str = "https://huggingface.co", timeout: float = 1.5) -> bool:
    """One TCP connect to the Hub's host; cached for the life of the process."""
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def get_settings() -> Settings:
    """Settings from the current environment (cheap; read again so tests can monkeypatch env)."""
    return Settings.from_env()
