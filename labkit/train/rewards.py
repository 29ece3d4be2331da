"""GRPO reward functions (TRL signature `f(completions, **columns) -> list[float]`).

- correctness: the Evaluate task's own extraction and scoring (same "is this right" as the benchmark)
- format: 0.5 for stating the answer in the expected form (\\boxed{} or the language's answer phrase)
  + 0.5 for finishing before the length limit (the end-of-turn token was generated)
- language: 1 when the completion is written in the prompt's language (lingua), else 0
Columns the rewards read: `answer` (gold), `lang` (optional, default en).
"""

from __future__ import annotations

from labkit.errors import LabkitError
from labkit.evaluate import langid


def _text(c) -> str:
    if isinstance(c, list):  # conversational: [{"role": "assistant", "content": ...}]
        return "".join(m.get("content", "") for m in c if isinstance(m, dict))
    return c or ""


def _langs(n: int, lang) -> list[str]:
    return list(lang) if lang is not None else ["en"] * n


class Correctness:
    """The task's own extraction and scoring. A top-level class, not a closure, so it pickles (TRL's advice for
    reward functions sent to async rollout workers); `__name__` is the name TRL logs it under."""

    __name__ = "correctness"

    def __init__(self, task_name: str = "mgsm", **_):
        self.task_name = task_name

    def __call__(self, completions, answer, lang=None, **kw):
        from labkit.evaluate.tasks import get_task

        texts = [_text(c) for c in completions]
        return get_task(self.task_name).reward(texts, list(answer), _langs(len(completions), lang))


class Format:
    __name__ = "format"

    def __init__(self, task_name: str = "mgsm", eos_token_id: int | None = None, **_):
        self.task_name, self.eos_token_id = task_name, eos_token_id

    def __call__(self, completions, lang=None, completion_ids=None, **kw):
        from labkit.evaluate.tasks import get_task

        task, langs = get_task(self.task_name), _langs(len(completions), lang)
        out = []
        for i, c in enumerate(completions):
            stated = task.extract(_text(c), langs[i]).method in ("boxed", "phrase", "choice_phrase")
            eos = self.eos_token_id
            finished = completion_ids is not None and eos is not None and eos in completion_ids[i]
            out.append(0.5 * stated + 0.5 * finished)
        return out


class Language:
    __name__ = "language"

    def __init__(self, **_):
        pass

    def __call__(self, completions, lang=None, **kw):

        langs = _langs(len(completions), lang)
        return [float(langid.detect(_text(c)) == want) for c, want in zip(completions, langs)]


REWARDS = {"correctness": Correctness, "format": Format, "language": Language}


def build(names: list[str], task_name: str, eos_token_id: int | None) -> list:
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise LabkitError(f"Unknown reward {unknown[0]!r}.", hint=f"Rewards: {', '.join(REWARDS)}.")
    return [REWARDS[n](task_name=task_name, eos_token_id=eos_token_id) for n in names]
