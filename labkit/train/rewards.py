"""GRPO reward functions (TRL signature `f(completions, **columns) -> list[float]`).

- correctness: the Evaluate task's own extraction and scoring (same "is this right" as the benchmark)
- format: 0.5 for stating the answer in the expected form (\\boxed{} or the language's answer phrase)
  + 0.5 for finishing before the length limit (the end-of-turn token was generated)
- language: 1 when the completion is written in the prompt's language (lingua), else 0
Columns the rewards read: `answer` (gold), `lang` (optional, default en).
"""
from __future__ import annotations

from typing import Callable

from labkit.errors import LabkitError


def _text(c) -> str:
    if isinstance(c, list):  # conversational: [{"role": "assistant", "content": ...}]
        return "".join(m.get("content", "") for m in c if isinstance(m, dict))
    return c or ""


def _langs(n: int, lang) -> list[str]:
    return list(lang) if lang is not None else ["en"] * n


def correctness(task_name: str = "mgsm", **_) -> Callable:
    from labkit.evaluate.tasks import get_task

    task = get_task(task_name)

    def correctness(completions, answer, lang=None, **kw):
        return task.reward([_text(c) for c in completions], list(answer), _langs(len(completions), lang))

    return correctness


def format_reward(task_name: str = "mgsm", eos_token_id: int | None = None, **_) -> Callable:
    from labkit.evaluate.tasks import get_task

    task = get_task(task_name)

    def format(completions, lang=None, completion_ids=None, **kw):
        langs = _langs(len(completions), lang)
        out = []
        for i, c in enumerate(completions):
            stated = task.extract(_text(c), langs[i]).method in ("boxed", "phrase", "choice_phrase")
            finished = completion_ids is not None and eos_token_id is not None and eos_token_id in completion_ids[i]
            out.append(0.5 * stated + 0.5 * finished)
        return out

    return format


def language(**_) -> Callable:
    from labkit.evaluate import langid

    def language(completions, lang=None, **kw):
        return [float(langid.detect(_text(c)) == l) for c, l in zip(completions, _langs(len(completions), lang))]

    return language


REWARDS = {"correctness": correctness, "format": format_reward, "language": language}


def build(names: list[str], task_name: str, eos_token_id: int | None) -> list[Callable]:
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise LabkitError(f"Unknown reward {unknown[0]!r}.", hint=f"Rewards: {', '.join(REWARDS)}.")
    return [REWARDS[n](task_name=task_name, eos_token_id=eos_token_id) for n in names]
