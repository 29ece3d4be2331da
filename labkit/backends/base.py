"""The Backend protocol every model server speaks, and the sampling settings they share.

Batched, list in / list out (as lm-evaluation-harness's `LM`): a backend receives the whole set of
prompts at once and decides how to batch. A prompt is either a plain string (sent as raw text, no
chat template) or a list of chat messages (the model's chat template is applied, with the
generation prompt). Keeping the two apart is deliberate: scores that move with the template are
a known trap, so the caller always says which one it means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable
from collections.abc import Iterator, Sequence
from labkit.errors import LabkitError

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}
Prompt = str | list  # str = raw text; list[Message] = chat


@dataclass(frozen=True)
class GenParams:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    n: int = 1  # samples per prompt
    seed: int | None = None
    stop: tuple[str, ...] = ()
    repetition_penalty: float = 1.0

    def __post_init__(self):

        if self.max_new_tokens < 1:
            raise LabkitError(f"max_new_tokens must be ≥ 1, got {self.max_new_tokens}.")
        if self.temperature < 0:
            raise LabkitError(f"temperature must be ≥ 0, got {self.temperature}.")
        if not 0 < self.top_p <= 1:
            raise LabkitError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.n < 1:
            raise LabkitError(f"n must be ≥ 1, got {self.n}.")
        if self.n > 1 and self.temperature == 0:
            raise LabkitError(
                "n > 1 with temperature 0 gives n identical greedy answers.", hint="Set a temperature > 0 to sample."
            )
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    name: str
    model: str

    def generate(self, prompts: Sequence[Prompt], p: GenParams) -> list[list[str]]:
        """One list of `p.n` completions per prompt, in input order (`Completion`s: `.truncated` marks a cut reply)."""

    def stream(self, messages: Prompt, p: GenParams) -> Iterator[str]:
        """Text deltas of one completion; joined they equal the greedy `generate` text."""

    def logprob(self, pairs: Sequence[tuple[Prompt, str]], append_eos: bool = False) -> list[float]:
        """Σ log p(completion tokens | prompt) for each pair. `append_eos` scores the end-of-turn token too
        (TRL's DPO appends it, so implicit rewards match TRL's only with it)."""


class Completion(str):
    """A generated text that also says whether it was cut at `max_new_tokens` (`truncated`) rather than ending on
    its own (end-of-turn token or a stop string). A plain `str` everywhere else; the flag is lost once the text is
    copied (sliced, stripped, written to JSON), so read it straight from what `generate` returned."""

    truncated: bool = False

    def __new__(cls, text: str, truncated: bool = False):
        obj = super().__new__(cls, text)
        obj.truncated = bool(truncated)
        return obj


def check_new_tokens(backend, max_new_tokens: int) -> None:
    """Refuses a request for more new tokens than the model reads at all (its context), before any generation:
    a backend that tells its context (`context_length()`) is checked; others are left to their server."""
    context = getattr(backend, "context_length", None)
    n = context() if callable(context) else None
    if isinstance(n, int) and max_new_tokens > n:
        raise LabkitError(
            f"{max_new_tokens:,} new tokens were asked for; {getattr(backend, 'model', 'the model')} reads at most "
            f"{n:,} tokens, prompt included.",
            hint=f"Ask for fewer, e.g. --max-new-tokens {min(256, n)}.",
        )


def made(backend):
    """`backend` itself, or the backend it makes when it is a function. A caller that reads and checks its input
    first passes `lambda: get_backend(...)`, so bad input is refused before a model loads (get_backend caches, so a
    function called again gives the same backend)."""
    return backend if backend is None or hasattr(backend, "generate") else backend()


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut `text` at the first occurrence of any stop string (the stop string itself removed)."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def is_chat(prompt: Prompt) -> bool:
    return not isinstance(prompt, str)


def validate_messages(messages: list) -> list[Message]:

    if not isinstance(messages, list) or not messages:
        raise LabkitError(
            "A chat prompt must be a non-empty list of messages.",
            hint='Example: [{"role": "user", "content": "Hello"}]',
        )
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise LabkitError(f"Malformed chat message: {m!r}.", hint="Each message needs 'role' and 'content'.")
    return messages


def stream_with_stop(deltas, stop: Sequence[str]) -> Iterator[str]:
    """Pass text deltas through, ending at the first stop string even when it straddles two deltas."""
    stop = [s for s in stop if s]
    if not stop:
        yield from deltas
        return
    hold = max(len(s) for s in stop) - 1
    buf = ""
    for d in deltas:
        buf += d
        cut = truncate_at_stop(buf, stop)
        if len(cut) < len(buf):
            if cut:
                yield cut
            return
        if len(buf) > hold:
            out, buf = buf[: len(buf) - hold], buf[len(buf) - hold :]
            yield out
    if buf:
        yield buf
