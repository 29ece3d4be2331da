"""The job entry point of a DMoE training run (`python -m labkit.dmoe.worker RECIPE.yaml [--resume]`): importing
labkit.dmoe registers the dmoe-stage1 and dmoe-stage2 methods, then labkit.train.worker runs the recipe."""

from __future__ import annotations

import sys

from labkit.dmoe import train as _registers_methods  # noqa: F401
from labkit.train.worker import main

if __name__ == "__main__":
    sys.exit(main())
