"""vLLM backend (GPU): the same protocol over `vllm.LLM`, which receives the whole prompt set at once.

Install with `pip install -e .[vllm]` on a GPU machine. The pure parts — sampling arguments and output
parsing — are plain functions so they are tested on CPU without vLLM.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator, Sequence

from labkit.backends.base import Completion, GenParams, Prompt, is_chat, truncate_at_stop, validate_messages
from labkit.errors import LabkitError
from labkit.models import resolve_model


def sampling_kwargs(p: GenParams, prompt_len: int = 0, context: int | None = None) -> dict[str, Any]:
    """GenParams → `vllm.SamplingParams(**kwargs)` for a prompt of `prompt_len` tokens. With the model's `context`,
    max_tokens never asks past it (what the prompt leaves), and a prompt that fills the context is refused."""
    max_tokens = p.max_new_tokens
    if context is not None:
        if prompt_len >= context:
            raise LabkitError(
                f"The prompt has {prompt_len:,} tokens; the model reads at most {context:,}.",
                hint="Shorten the prompt (or the conversation), or use a model with a longer context.",
            )
        max_tokens = max(1, min(max_tokens, context - prompt_len))
    kw: dict[str, Any] = dict(
        n=p.n,
        max_tokens=max_tokens,
        temperature=p.temperature,
        top_p=p.top_p if not p.greedy else 1.0,
        repetition_penalty=p.repetition_penalty,
    )
    if p.seed is not None:
        kw["seed"] = p.seed
    if p.stop:
        kw["stop"] = list(p.stop)
    return kw


def parse_outputs(request_outputs: Sequence[Any], p: GenParams) -> list[list[str]]:
    """`LLM.generate` results (in prompt order) → one list of n texts per prompt."""
    out = []
    for ro in request_outputs:
        texts = [
            Completion(truncate_at_stop(c.text, p.stop), truncated=getattr(c, "finish_reason", None) == "length")
            for c in sorted(ro.outputs, key=lambda c: c.index)
        ]
        if len(texts) != p.n:
            raise LabkitError(f"vLLM returned {len(texts)} completions for a prompt, expected {p.n}.")
        out.append(texts)
    return out


def completion_logprob(prompt_logprobs: Sequence[Any], token_ids: Sequence[int], start: int) -> float:
    """Σ log p of tokens[start:] from vLLM's `prompt_logprobs` (a list of {token_id: Logprob} per position,
    None at position 0)."""
    total = 0.0
    for pos in range(start, len(token_ids)):
        entry = prompt_logprobs[pos]
        lp = entry[token_ids[pos]]
        total += float(getattr(lp, "logprob", lp))
    return total


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        dtype: str = "auto",
        revision: str | None = None,
        **engine_kwargs,
    ):
        try:
            import vllm
        except ImportError as e:
            raise LabkitError(
                "vLLM is not installed.", hint="On a GPU machine: pip install -e '.[vllm]' — or use the hf backend."
            ) from e

        self.model = model
        kw = dict(
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            **engine_kwargs,
        )
        if max_model_len:
            kw["max_model_len"] = max_model_len
        self.llm = vllm.LLM(model=resolve_model(model, revision=revision), **kw)
        self.tok = self.llm.get_tokenizer()
        self._vllm = vllm

    def render(self, prompt: Prompt) -> str:
        if not is_chat(prompt):
            return prompt
        return self.tok.apply_chat_template(validate_messages(prompt), tokenize=False, add_generation_prompt=True)

    def _token_prompt(self, prompt: Prompt) -> dict:
        ids = self.tok(self.render(prompt), add_special_tokens=not is_chat(prompt))["input_ids"]
        return {"prompt_token_ids": ids}

    def context_length(self) -> int:
        """The most tokens (prompt + generated) the engine serves: its max_model_len."""
        try:
            n = self.llm.llm_engine.model_config.max_model_len
        except AttributeError:
            return 1_000_000
        return int(n) if isinstance(n, int) and n > 0 else 1_000_000

    def generate(self, prompts: Sequence[Prompt], p: GenParams = GenParams()) -> list[list[str]]:
        tokens = [self._token_prompt(x) for x in prompts]
        context = self.context_length()
        sps = [  # one per prompt: each may take what its own prompt leaves of the context
            self._vllm.SamplingParams(**sampling_kwargs(p, len(t["prompt_token_ids"]), context)) for t in tokens
        ]
        outs = self.llm.generate(tokens, sps, use_tqdm=False)
        return parse_outputs(outs, p)

    def stream(self, messages: Prompt, p: GenParams = GenParams()) -> Iterator[str]:
        # The offline engine has no token streaming; serve with `vllm serve` + the openai backend to stream.
        yield self.generate([messages], p)[0][0]

    def logprob(self, pairs: Sequence[tuple[Prompt, str]], append_eos: bool = False) -> list[float]:
        rows, starts = [], []
        for prompt, completion in pairs:
            p_ids = self._token_prompt(prompt)["prompt_token_ids"]
            c_ids = self.tok(completion, add_special_tokens=False)["input_ids"] + (
                [self.tok.eos_token_id] if append_eos else []
            )
            rows.append(p_ids + c_ids)
            starts.append(len(p_ids))
        sp = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0)
        outs = self.llm.generate([{"prompt_token_ids": r} for r in rows], sp, use_tqdm=False)
        return [completion_logprob(o.prompt_logprobs, r, s) for o, r, s in zip(outs, rows, starts)]
