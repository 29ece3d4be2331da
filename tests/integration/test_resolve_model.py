"""Model names resolve to the built tiny model or a model folder; demo mode refuses local folders."""

from pathlib import Path

import pytest

from labkit.errors import LabkitError


def test_resolve_model_names(tiny_path, tmp_path):
    from labkit.models import resolve_model

    assert Path(resolve_model("tiny")) == tiny_path
    assert resolve_model(str(tiny_path)) == str(tiny_path)
    with pytest.raises(LabkitError):
        resolve_model(str(tmp_path))  # a folder that is not a model
    with pytest.raises(LabkitError):
        resolve_model("")


def test_demo_mode_refuses_local_folders(tiny_path):
    from labkit.models import resolve_model
    from labkit.settings import Settings

    demo = Settings.from_env({"LABKIT_HOME": str(tiny_path.parent.parent), "LABKIT_DEMO": "1", "HF_HUB_OFFLINE": "1"})
    with pytest.raises(LabkitError):
        resolve_model(str(tiny_path), settings=demo)
    assert resolve_model("tiny", settings=demo)
