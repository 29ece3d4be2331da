"""The eight ESConv support strategies, the conversation stages they belong to, and reading a counselor's
choice robustly: JSON, else a strategy name anywhere in the text, else a reasoned fallback (counted).
ESConv (the strategy inventory's source) is CC BY-NC 4.0."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from labkit.errors import LabkitError
from labkit.text import json_objects
from labkit.text import strip_reasoning

PROMPTS_FILE = Path(__file__).with_name("prompts.yaml")


@lru_cache(maxsize=4)
def load_prompts(path: str | None = None) -> dict:
    return yaml.safe_load(Path(path or PROMPTS_FILE).read_text(encoding="utf-8"))


def strategies() -> dict[str, str]:
    return load_prompts()["strategies"]


def stage_of(strategy: str) -> str:
    for stage, members in load_prompts()["stages"].items():
        if strategy in members:
            return stage
    return "exploration"


_ALIASES = {
    "restatement": "Restatement or Paraphrasing",
    "paraphrasing": "Restatement or Paraphrasing",
    "paraphrase": "Restatement or Paraphrasing",
    "reflection": "Reflection of Feelings",
    "self-disclosure": "Self-disclosure",
    "self disclosure": "Self-disclosure",
    "affirmation": "Affirmation and Reassurance",
    "reassurance": "Affirmation and Reassurance",
    "suggestion": "Providing Suggestions",
    "suggestions": "Providing Suggestions",
    "information": "Information",
    "question": "Question",
    "others": "Others",
}


def _match(name: str) -> str | None:
    low = name.strip().lower()
    for s in strategies():
        if low == s.lower():
            return s
    return _ALIASES.get(low)


def resolve(name: str) -> str:
    """A researcher's strategy override (name or alias, any case) → its ESConv name; unknown names are an error."""
    import difflib

    found = _match(name or "")
    if found is None:
        close = difflib.get_close_matches(name or "", [*strategies(), *_ALIASES], n=1)
        raise LabkitError(
            f"Unknown strategy {name!r}" + (f" — did you mean {_match(close[0])!r}?" if close else "."),
            hint="One of: " + ", ".join(strategies()) + ".",
        )
    return found


def parse_choice(text: str) -> tuple[str | None, str]:
    """(strategy, rationale) from the counselor's output; strategy None when nothing recognisable is there."""

    text = strip_reasoning(text or "")
    for obj in json_objects(text):
        if isinstance(obj.get("strategy"), str):
            s = _match(obj["strategy"])
            if s:
                return s, str(obj.get("rationale", "")).strip()
    low = text.lower()
    names = sorted(
        [*strategies(), *_ALIASES], key=len, reverse=True
    )  # longest first: "Reflection of Feelings" before "Reflection"
    hits = [(low.find(n.lower()), n) for n in names if n.lower() in low]
    if hits:
        pos, name = min(hits)
        return _match(name), text.strip()[:200]
    return None, ""


def fallback(n_user_turns: int, user_text: str) -> tuple[str, str]:
    """A reasoned default when the counselor's answer is unusable: explore first, then comfort, then act."""
    if n_user_turns <= 1:
        return "Question", "Fallback: early in the conversation, first understand the situation."
    if n_user_turns <= 3:
        return "Reflection of Feelings", "Fallback: the user has shared their situation; acknowledge their feelings."
    return "Providing Suggestions", "Fallback: after exploring and comforting, offer a gentle next step."
