"""The task registry: `get_task("mgsm")`, `TASKS` (name → class). One Python spec per benchmark."""

from __future__ import annotations

from labkit.errors import unknown
from labkit.evaluate.tasks.base import Doc, Task
from labkit.evaluate.tasks.mgsm import MGSM
from labkit.evaluate.tasks.mmlu_prox import MMLUProX
from labkit.evaluate.tasks.polymath import PolyMath
from labkit.evaluate.tasks.xalpaca import XAlpaca

TASKS: dict[str, type[Task]] = {"mgsm": MGSM, "polymath": PolyMath, "mmlu_prox": MMLUProX, "xalpaca": XAlpaca}


def get_task(name: str, **options) -> Task:
    if name not in TASKS:
        raise unknown("task", name, TASKS)
    return TASKS[name](**options)


__all__ = ["Doc", "Task", "TASKS", "get_task"]
