"""Reading structured answers out of model output: the JSON objects a model wrote, after its reasoning.

Models wrap JSON in prose, code fences or <think> blocks, or write half of it; callers take the first
object with the keys they need and fall back to lenient parsing of their own when there is none."""
from __future__ import annotations

import json
import re
from typing import Iterator

_OBJECT = re.compile(r"\{[^{}]*\}")


def json_objects(text: str) -> Iterator[dict]:
    """Every flat JSON object in `text` (reasoning stripped first), in order; malformed ones skipped."""
    from labkit.evaluate.extract import strip_reasoning

    for m in _OBJECT.finditer(strip_reasoning(text or "")):
        try:
            obj = json.loads(m.group())
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj
