"""Model names → local paths. `tiny` is the built-in offline demo model everywhere a name is accepted;
`tiny-math` the from-scratch model that learns the synthetic world (labkit.models.tiny_math), untrained;
`tiny-math-sft` the same model after the synthetic world's SFT recipe, bundled (docs/experiment.md says how it
was made): the trained checkpoint the Evaluate tab starts from, offline, on a fresh install."""

from __future__ import annotations

from pathlib import Path

from labkit import guard
from labkit.errors import LabkitError
from labkit.settings import TINY, TINY_REF, Settings, get_settings
from labkit.hub import pull
from labkit.models.tiny import ensure_tiny
from labkit.models.tiny_math import ensure

TINY_MATH = "tiny-math"
TINY_MATH_SFT = "tiny-math-sft"
BUNDLED = Path(__file__).resolve().parent / "bundled"  # checkpoints shipped with labkit: <name>/


def check_local_path(name: str, what: str = "model", example: str = "Qwen/Qwen2.5-0.5B-Instruct") -> None:
    """A name written as a local path (./x, ../x, /x, ~/x) must exist: checked before anything heavy is imported
    or loaded (a Hub id is checked when it is pulled)."""
    if name.startswith(("./", "../", "/", "~")) and not Path(name).expanduser().exists():
        raise LabkitError(
            f"No {what} folder {name[:300]!r}.",
            hint=f"Check the path, or give a Hub id such as {example}.",
        )


def resolve_model(name: str, settings: Settings | None = None, revision: str | None = None) -> str:
    """Return a local directory for `name`: `tiny`, an existing path, or a Hub id pulled into the cache."""
    settings = settings or get_settings()
    name = (name or "").strip()
    if not name:
        raise LabkitError(
            "No model given.",
            hint=f"Use '{TINY}' for the built-in demo model or a Hub id such as Qwen/Qwen2.5-0.5B-Instruct.",
        )
    if name == TINY_MATH_SFT:
        return str(BUNDLED / name)
    if name == TINY_MATH:
        return str(ensure(settings.tiny_model_dir.with_name(name)))
    if name in (TINY, TINY_REF):
        # tiny-ref: the same architecture and tokenizer from another seed — a second model for methods that
        # need two (ICR's reference model) in offline tests and demos
        return str(ensure_tiny(settings.tiny_model_dir.with_name(name), seed=0 if name == TINY else 1))
    if len(name) > 300:  # no model name or path is this long; a path component over 255 bytes fails with Errno 36
        raise LabkitError(
            f"The model name is {len(name)} characters long.",
            hint="Use 'tiny', a local model folder or a Hub id such as Qwen/Qwen2.5-0.5B-Instruct.",
        )
    path = Path(name).expanduser()
    if settings.demo and (path.is_absolute() or name.startswith((".", "~"))):
        raise LabkitError("Local folders are not available in demo mode.", hint="Use a Hub id, or 'tiny'.")
    guard.require_model(name, settings)
    if path.exists():
        if not (path / "config.json").exists():
            raise LabkitError(
                f"{path} is not a model folder (no config.json).",
                hint="Point to a folder saved with save_pretrained, or use a Hub id.",
            )
        return str(path)
    check_local_path(name)  # a path that is not there: say so, rather than "not a valid Hub id"

    return str(pull(name, kind="model", revision=revision, settings=settings))
