"""Deploying labkit as a Hugging Face Space: the front matter, requirements and app for the chosen hardware.

    labkit hub deploy-space me/labkit --hardware zero-a10g --dry-run --out space/   # write the files, send nothing

ZeroGPU Spaces (`zero-*`) need Python 3.12 and a torch that ZeroGPU supports, plus the `spaces` package; the
app imports `spaces` before anything touches CUDA, and labkit.zerogpu runs in-process generation under
`@spaces.GPU`. Secrets (HF_TOKEN) are set in the Space's settings by name, never written into a file here.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from labkit.errors import LabkitError, unknown
from labkit.hub import PushPlan
from labkit import guard
from labkit import hub

# Space hardware names (https://huggingface.co/docs/hub/spaces-gpus; `hf` lists them with `list_spaces_hardware`).
CPU = ("cpu-basic", "cpu-upgrade")
GPU = (
    "t4-small",
    "t4-medium",
    "l4x1",
    "l4x4",
    "a10g-small",
    "a10g-large",
    "a10g-largex2",
    "a10g-largex4",
    "a100-large",
    "h100",
    "l40sx1",
)
ZERO = ("zero-a10g",)
HARDWARE = (*CPU, *GPU, *ZERO)
ZERO_PYTHON = "3.12"  # ZeroGPU runs only Python 3.10.13 or 3.12.12; transformers 5 needs >= 3.11
ZERO_TORCH = "torch==2.11.0"  # ZeroGPU supports torch 2.8.0, 2.9.1, 2.10.0 and 2.11.0
DEFAULT_PYTHON = "3.11"
# Sign in with Hugging Face: what an owner's OAuth token may do (run Jobs, create and fill the results repo, read it
# back), and how long a sign-in lasts (a Job's results are pushed with it at the end: longer than the Hub's 8 h).
OAUTH_SCOPES = ["read-repos", "write-repos", "manage-repos", "jobs"]
OAUTH_MINUTES = 1440
OAUTH_REQUIREMENTS = ["authlib", "itsdangerous"]  # gradio[oauth]: the login routes and the session cookie


def _root() -> Path:
    root = Path(__file__).resolve().parent.parent
    if not (root / "spaces" / "app.py").exists() or not (root / "pyproject.toml").exists():
        raise LabkitError(
            "No spaces/ folder and pyproject.toml next to the labkit package.",
            hint="Deploy from a checkout of the labkit repository.",
        )
    return root


def requirements(hardware: str) -> str:
    """requirements.txt: the package's dependencies, with the torch build the hardware needs."""
    project = tomllib.loads((_root() / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["data"]  # the Data tab curates on the Space
    lines = ["# labkit's dependencies and its [data] extra (pyproject.toml); the package is uploaded beside app.py."]
    if hardware in CPU:
        lines.append("--extra-index-url https://download.pytorch.org/whl/cpu")
    for dep in deps:
        lines.append(ZERO_TORCH if hardware in ZERO and dep.startswith("torch") else dep)
    if hardware in ZERO:
        lines.append("spaces>=0.40")
    lines += ["# Sign in with Hugging Face (gradio[oauth])", *OAUTH_REQUIREMENTS]
    return "\n".join(lines) + "\n"


def front_matter(hardware: str, models: list[str] = (), datasets: list[str] = ()) -> dict:
    try:
        gradio_version = metadata.version("gradio")
    except metadata.PackageNotFoundError:
        gradio_version = "6.31.0"
    meta = {
        "title": "labkit",
        "emoji": "🧪",
        "colorFrom": "indigo",
        "colorTo": "blue",
        "sdk": "gradio",
        "sdk_version": gradio_version,
        "python_version": ZERO_PYTHON if hardware in ZERO else DEFAULT_PYTHON,
        "app_file": "app.py",
        "suggested_hardware": hardware,
        "pinned": False,
        "license": "apache-2.0",
        "short_description": "Multilingual LLM lab: models, evaluation, provenance, support chat, translation",
        "hf_oauth": True,  # the owner signs in to send heavy work to HF Jobs (labkit/ui/hfjobs_panel.py)
        "hf_oauth_scopes": list(OAUTH_SCOPES),
        "hf_oauth_expiration_minutes": OAUTH_MINUTES,
    }
    if models:
        meta["models"] = list(models)
    if datasets:
        meta["datasets"] = list(datasets)
    return meta


def readme(meta: dict) -> str:
    import yaml

    body = (_root() / "spaces" / "README.md").read_text(encoding="utf-8")
    if body.startswith("---\n"):  # a hand-written front matter in the template is replaced by the generated one
        body = body.split("---\n", 2)[2]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n" + body.lstrip("\n")


def space_files(hardware: str = "cpu-basic", models: list[str] = (), datasets: list[str] = ()) -> dict[str, str]:
    """The generated files of the Space (README.md, requirements.txt, app.py), by name."""
    if hardware not in HARDWARE:
        raise unknown("Space hardware", hardware, HARDWARE)
    return {
        "README.md": readme(front_matter(hardware, models, datasets)),
        "requirements.txt": requirements(hardware),
        "app.py": (_root() / "spaces" / "app.py").read_text(encoding="utf-8"),
    }


def plan_space(
    repo_id: str, hardware: str = "cpu-basic", models: list[str] = (), datasets: list[str] = (), private: bool = False
) -> tuple[PushPlan, dict[str, str]]:
    """The Space as one commit: the generated files plus the labkit package's sources."""

    guard.require("deploy")
    if "/" not in repo_id:
        raise LabkitError(f"Repo id {repo_id!r} has no namespace.", hint="Use your-user/name or your-org/name.")
    generated = space_files(hardware, models, datasets)
    package = _root() / "labkit"
    files = []
    for f in sorted(package.rglob("*")):
        if (
            f.is_file()
            and f.suffix in (".py", ".txt", ".css", ".yaml", ".jinja", ".json")
            and "__pycache__" not in f.parts
        ):
            files.append((f"labkit/{f.relative_to(package).as_posix()}", f))
    return PushPlan(repo_id, "space", files, None, private), generated


def write_space(plan: PushPlan, generated: dict[str, str], out: str | Path) -> Path:
    """--dry-run --out DIR: the whole Space on disk, exactly as it would be uploaded."""
    import shutil

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabkitError(f"{out} exists and is not an empty folder.", hint="Choose a new folder for --out.")
    for name, text in generated.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    for rel, src in plan.files:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
    return out


def push_space(plan: PushPlan, generated: dict[str, str], hardware: str, api=None) -> str:
    """Upload the Space as one commit and ask for its hardware (secrets are set by name in the Space settings)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        extra = []
        for name, text in generated.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
            extra.append((name, Path(tmp) / name))
        url = hub.push(
            PushPlan(plan.repo_id, "space", [*extra, *plan.files], None, plan.private),
            commit_message="Deploy labkit",
            api=api,
        )
        if hardware != "cpu-basic":  # the free tier needs no request
            from huggingface_hub import HfApi

            (api or HfApi()).request_space_hardware(plan.repo_id, hardware)
    return url
