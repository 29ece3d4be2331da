import tomllib
from pathlib import Path

import yaml

from labkit import hub

ROOT = Path(__file__).resolve().parents[2]


def test_space_front_matter():
    text = (ROOT / "spaces" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["suggested_hardware"]
    compile((ROOT / "spaces" / "app.py").read_text(), "app.py", "exec")


def test_space_requirements_match_the_package():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = [ln.strip() for ln in (ROOT / "spaces" / "requirements.txt").read_text().splitlines() if ln.strip() and not ln.startswith(("#", "-"))]
    assert sorted(reqs) == sorted(deps)


def test_space_plan_carries_app_and_package():
    plan = hub.plan_space("me/labkit-demo")
    files = [p for p, _ in plan.files]
    assert {"README.md", "app.py", "requirements.txt", "labkit/__init__.py", "labkit/ui/app.py", "labkit/models/corpus/zh.txt"} <= set(files)
    assert not any("__pycache__" in f for f in files) and plan.kind == "space"


def test_demo_mode_refuses_local_folders(tiny_path):
    import pytest

    from labkit.errors import LabkitError
    from labkit.models import resolve_model
    from labkit.settings import Settings

    demo = Settings.from_env({"LABKIT_HOME": str(tiny_path.parent.parent), "LABKIT_DEMO": "1", "HF_HUB_OFFLINE": "1"})
    with pytest.raises(LabkitError):
        resolve_model(str(tiny_path), settings=demo)
    assert resolve_model("tiny", settings=demo)
