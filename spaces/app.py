"""Hugging Face Space entry point: the labkit app in demo mode.

`labkit hub deploy-space` uploads the `labkit/` package next to this file.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LABKIT_DEMO", "1")
os.environ.setdefault("LABKIT_HOME", "/tmp/labkit")

from labkit.ui.app import launch  # noqa: E402

launch(host="0.0.0.0", port=int(os.environ.get("PORT", 7860)))
