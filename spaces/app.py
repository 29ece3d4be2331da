"""Hugging Face Space entry point: the labkit app in demo mode.

`labkit hub deploy-space` uploads the `labkit/` package next to this file and writes README.md (front matter)
and requirements.txt for the chosen hardware. On ZeroGPU, `spaces` must be imported before anything touches
CUDA; labkit.zerogpu then runs in-process generation under `@spaces.GPU`.
"""

import os
import sys
from pathlib import Path

if os.environ.get("SPACES_ZERO_GPU"):
    import spaces  # noqa: F401  (first: ZeroGPU patches torch before CUDA is initialised)

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LABKIT_DEMO", "1")
os.environ.setdefault("LABKIT_HOME", "/tmp/labkit")

from labkit.ui.app import launch  # noqa: E402

launch(host="0.0.0.0", port=int(os.environ.get("PORT", 7860)))
