"""A backend that answers from a script instead of a model (as lm-evaluation-harness's `dummy` model): tests and
demos of what is built around a model's answers go through the ordinary `get_backend("scripted", model)` path,
with nothing to load.

A script is registered under a model name (`SCRIPTS[model] = Script(reply=..., logprob=...)`) or given to the
backend directly (`ScriptedBackend(model, reply=...)`). `reply(text, params)` receives the prompt's text (a raw
string as it is, a chat prompt's last message) and returns the completion, or a list of the `params.n` samples
(`Completion`s keep their `truncated` flag). Without a script the backend echoes the prompt's text. `logprob(prompt,
completion, append_eos)` scores a pair; without one, minus the completion's length (and 1 for the end-of-turn
token). Every call is recorded in `calls`, the script's own list, shared by every backend made from it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from labkit.backends.base import Completion, GenParams, Prompt, is_chat


def echo(text: str, params: GenParams) -> str:
    return f"echo: {text}"


def length_score(prompt: Prompt, completion: str, append_eos: bool) -> float:
    return -float(len(completion) + (1 if append_eos else 0))


@dataclass
class Script:
    reply: Callable = echo
    logprob: Callable = length_score
    context: int | None = None  # what `context_length()` tells, None = no limit told
    calls: list = field(default_factory=list)


SCRIPTS: dict[str, Script] = {}


def _text(prompt: Prompt) -> str:
    return prompt[-1]["content"] if is_chat(prompt) else prompt


def _call(fn: Callable, *args):
    """`fn` with as many of `args` as it takes: a script may ignore the sampling settings."""
    try:
        n = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n = len(args)
    return fn(*args[: max(n, 1)])


class ScriptedBackend:
    name = "scripted"

    def __init__(self, model: str = "scripted", reply: Callable | None = None, logprob: Callable | None = None):
        self.model = model
        base = SCRIPTS.get(model) or Script()
        self.script = Script(reply or base.reply, logprob or base.logprob, base.context, base.calls)
        self.calls = self.script.calls

    def render(self, prompt: Prompt) -> str:
        """A chat prompt as plain `role: content` lines (there is no chat template)."""
        return prompt if not is_chat(prompt) else "".join(f"{m['role']}: {m['content']}\n" for m in prompt)

    def context_length(self) -> int | None:
        return self.script.context

    def generate(self, prompts: Sequence[Prompt], p: GenParams) -> list[list[str]]:
        self.calls.append(("generate", list(prompts), p))
        out = []
        for prompt in prompts:
            got = _call(self.script.reply, _text(prompt), p)
            samples = list(got) if isinstance(got, (list, tuple)) else [got] * p.n
            out.append([s if isinstance(s, Completion) else Completion(str(s)) for s in samples])
        return out

    def stream(self, messages: Prompt, p: GenParams) -> Iterator[str]:
        """The greedy reply, a word at a time."""
        text = self.generate([messages], p)[0][0]
        words = text.split(" ")
        for i, word in enumerate(words):
            yield word if i == len(words) - 1 else word + " "

    def logprob(self, pairs: Sequence[tuple[Prompt, str]], append_eos: bool = False) -> list[float]:
        self.calls.append(("logprob", list(pairs), append_eos))
        return [float(_call(self.script.logprob, prompt, completion, append_eos)) for prompt, completion in pairs]
