"""The Hugging Face Hub: pull models and datasets into the cache, push folders with a generated card.

Pulled files live in the standard Hugging Face cache (HF_HOME), shared with every other tool, not
copied into LABKIT_HOME. Offline (HF_HUB_OFFLINE=1) a pull resolves from that cache or says what to
do. The token comes from HF_TOKEN or the login cache (`hf auth login`), inside huggingface_hub; labkit
never reads, stores or prints it.

A push is built as a `PushPlan` (the files and the card) before anything is sent, so what would be
sent can be shown and tested; `push()` sends the plan in one commit.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import guard
from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings

KINDS = ("model", "dataset", "space")
DEFAULT_IGNORE = (
    "checkpoint-*",
    "checkpoint-*/*",
    "*/checkpoint-*/*",
    "optimizer.pt",
    "scheduler.pt",
    "rng_state*.pth",
    "*.tmp",
    ".git/*",
    "__pycache__/*",
    "log.txt",
    "command.json",
    "exit.json",
)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise LabkitError(f"Unknown repo kind {kind!r}.", hint="Use 'model' or 'dataset'.")
    return kind


def _pull_error(e: Exception, repo_id: str, kind: str, revision: str | None, offline: bool) -> LabkitError:
    """What went wrong downloading `repo_id`, and what to do. The first matching row wins: a gated repo's error is
    also a not-found error, and every HTTP error is an HfHubHTTPError."""
    from huggingface_hub import errors as hf_errors

    rows = [
        (
            hf_errors.HFValidationError,
            f"{repo_id!r} is neither a local folder nor a valid Hub id.",
            "Hub ids look like org/name; check the path if you meant a folder.",
        ),
        (
            hf_errors.GatedRepoError,
            f"{repo_id} is gated.",
            f"Accept its terms at https://huggingface.co/{repo_id} and log in (`hf auth login` or HF_TOKEN).",
        ),
        (
            hf_errors.RepositoryNotFoundError,
            f"No {kind} {repo_id!r} on the Hub (or it is private).",
            "Check the spelling; for a private repo, log in first.",
        ),
        (
            hf_errors.RevisionNotFoundError,
            f"{repo_id} has no revision {revision!r}.",
            "Use a branch, tag or commit that exists.",
        ),
        (
            (hf_errors.LocalEntryNotFoundError, FileNotFoundError),
            f"{repo_id} is not in the local cache and the Hub is offline (HF_HUB_OFFLINE=1)."
            if offline
            else f"Could not download {repo_id}: the Hub is unreachable.",
            f"Pull it once online (`labkit hub pull {repo_id}`), or use the built-in model 'tiny'."
            if offline
            else "Check the network, or use the built-in model 'tiny'.",
        ),
    ]
    for types, message, hint in rows:
        if isinstance(e, types):
            return LabkitError(message, hint=hint)
    return LabkitError(f"The Hub refused {repo_id}: {e}", hint="Check your login and the repo id.")


def pull(
    repo_id: str,
    kind: str = "model",
    revision: str | None = None,
    settings: Settings | None = None,
    allow_patterns: list[str] | None = None,
) -> Path:
    """Download (or, offline, find in the cache) a snapshot and return its local folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hf_errors

    settings = settings or get_settings()
    _check_kind(kind)
    if kind == "model":
        guard.require_model(repo_id, settings)
    elif kind == "dataset":
        guard.require_dataset(repo_id, settings)
    offline = settings.hub_offline
    try:
        path = snapshot_download(
            repo_id, repo_type=kind, revision=revision, local_files_only=offline, allow_patterns=allow_patterns
        )
    except (
        hf_errors.HFValidationError,
        hf_errors.HfHubHTTPError,
        hf_errors.LocalEntryNotFoundError,
        FileNotFoundError,
    ) as e:
        raise _pull_error(e, repo_id, kind, revision, offline) from e
    return Path(path)


# --- cards -------------------------------------------------------------------------------------
@dataclass
class EvalEntry:
    """One number for the model-index: e.g. task='mgsm', dataset='juletxara/mgsm', config='th', metric='accuracy'."""

    task: str
    dataset: str
    metric: str
    value: float
    config: str | None = None
    split: str | None = None
    dataset_name: str | None = None


def model_card(
    repo_id: str,
    base_model: str | None = None,
    recipe: dict | None = None,
    datasets: list[str] | None = None,
    evals: list[EvalEntry] | None = None,
    languages: list[str] | None = None,
    license: str | None = None,
    tags: list[str] | None = None,
    description: str = "",
) -> str:
    from huggingface_hub import EvalResult, ModelCardData

    evals = evals or []
    data = ModelCardData(
        model_name=repo_id.split("/")[-1],
        base_model=base_model,
        datasets=datasets or None,
        language=languages or None,
        license=license,
        library_name="transformers",
        tags=sorted({"labkit", *(tags or [])}),
        eval_results=[
            EvalResult(
                task_type="text-generation",
                task_name=e.task,
                dataset_type=e.dataset,
                dataset_name=e.dataset_name or e.dataset,
                dataset_config=e.config,
                dataset_split=e.split,
                metric_type=e.metric,
                metric_value=e.value,
            )
            for e in evals
        ]
        or None,
    )
    body = [
        f"# {repo_id.split('/')[-1]}",
        "",
        description or f"Post-trained with labkit from `{base_model or 'an unrecorded base model'}`.",
        "",
    ]
    if evals:
        body += ["## Evaluation", "", "| task | dataset | config | metric | value |", "|---|---|---|---|---|"]
        body += [f"| {e.task} | {e.dataset} | {e.config or ''} | {e.metric} | {e.value:.4g} |" for e in evals]
        body.append("")
    if recipe:
        import yaml

        body += [
            "## Recipe",
            "",
            "```yaml",
            yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True).rstrip(),
            "```",
            "",
        ]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body)


def dataset_card(
    repo_id: str,
    license: str,
    provenance: str,
    languages: list[str] | None = None,
    tags: list[str] | None = None,
    description: str = "",
) -> str:
    from huggingface_hub import DatasetCardData

    if not license:
        raise LabkitError(
            "A dataset card must state a licence.", hint="e.g. cc-by-4.0, or cc-by-nc-4.0 when derived from ESConv."
        )
    data = DatasetCardData(
        license=license,
        language=languages or None,
        tags=sorted({"labkit", *(tags or [])}),
        pretty_name=repo_id.split("/")[-1],
    )
    body = [
        f"# {repo_id.split('/')[-1]}",
        "",
        description,
        "",
        "## Provenance",
        "",
        provenance,
        "",
        "## Licence",
        "",
        f"{license}",
        "",
    ]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body)


# --- push ------------------------------------------------------------------------------------
@dataclass
class PushPlan:
    repo_id: str
    kind: str
    files: list[tuple[str, Path]] = field(default_factory=list)  # (path in repo, local file)
    card: str | None = None
    private: bool = True

    def summary(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "kind": self.kind,
            "private": self.private,
            "files": [p for p, _ in self.files] + (["README.md"] if self.card else []),
            "bytes": sum(f.stat().st_size for _, f in self.files),
        }


def check_repo_id(repo_id: str) -> str:
    """A Hub repo id the Hub will accept: namespace/name, letters, digits, '-', '_', '.' (checked before any upload)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo_id, str) or "/" not in repo_id:
        raise LabkitError(
            f"Repo id {str(repo_id)[:80]!r} has no namespace.", hint="Use your-user/name or your-org/name."
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise LabkitError(
            f"{repo_id[:80]!r} is not a valid Hub repo id.",
            hint="Use namespace/name with letters, digits, '-', '_' or '.' (96 characters at most).",
        ) from e
    return repo_id


def plan_push(
    folder: str | Path,
    repo_id: str,
    kind: str = "model",
    card: str | None = None,
    private: bool = True,
    ignore: tuple[str, ...] = DEFAULT_IGNORE,
) -> PushPlan:
    guard.require("deploy" if kind == "space" else "push")
    folder = Path(folder)
    _check_kind(kind)
    if not folder.is_dir():
        raise LabkitError(f"{folder} is not a folder.", hint="Push a saved model or dataset folder.")
    check_repo_id(repo_id)
    files = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if f.is_file() and not any(fnmatch.fnmatch(rel, pat) for pat in ignore):
            if rel == "README.md" and card is not None:
                continue  # the generated card replaces it
            files.append((rel, f))
    if not files:
        raise LabkitError(f"Nothing to push in {folder}.", hint="Is training finished and the model saved?")
    return PushPlan(repo_id, kind, files, card, private)


def push(plan: PushPlan, commit_message: str = "Upload from labkit", api=None, settings: Settings | None = None) -> str:
    """Send a plan as one commit; returns the repo URL. `api` is an HfApi (injectable for tests)."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub import errors as hf_errors

    settings = settings or get_settings()
    guard.require("deploy" if plan.kind == "space" else "push", settings)
    if settings.hub_offline and api is None:
        raise LabkitError(
            "The Hub is offline (HF_HUB_OFFLINE=1): nothing was pushed.", hint="Unset HF_HUB_OFFLINE and retry."
        )
    api = api or HfApi()
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(f)) for p, f in plan.files]
    if plan.card is not None:
        ops.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=plan.card.encode("utf-8")))
    extra = {"space_sdk": "gradio"} if plan.kind == "space" else {}
    try:
        url = api.create_repo(plan.repo_id, repo_type=plan.kind, private=plan.private, exist_ok=True, **extra)
        api.create_commit(plan.repo_id, operations=ops, commit_message=commit_message, repo_type=plan.kind)
    except hf_errors.LocalTokenNotFoundError as e:
        raise LabkitError(
            "Not logged in to the Hub.", hint="Run `hf auth login` or set HF_TOKEN (write access)."
        ) from e
    except hf_errors.HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        hint = (
            "Your token needs write access to this namespace."
            if status in (401, 403)
            else "Check the repo id and your network."
        )
        raise LabkitError(f"The Hub refused the push to {plan.repo_id}: {e}", hint=hint) from e
    return str(url)


CARD_INPUTS = "labkit_card.json"


def card_inputs(folder: str | Path) -> dict:
    """Card fields a run left in its output folder (base_model, recipe, datasets, evals, languages, ...)."""
    path = Path(folder) / CARD_INPUTS
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        raise LabkitError(
            f"{path} is not valid JSON: {e}", hint="Fix or delete it; it only feeds the model card."
        ) from e
    data["evals"] = [EvalEntry(**e) for e in data.get("evals", [])]
    return data
