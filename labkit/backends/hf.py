"""transformers backend: batched generation with left padding, chat templates, sampling, n samples,
streaming, and summed log-probabilities. Runs the tiny model on CPU and real models on a GPU.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence

from labkit import zerogpu
from labkit.backends.base import Completion, GenParams, Prompt
from labkit.backends.base import is_chat, stream_with_stop, truncate_at_stop, validate_messages
from labkit.errors import LabkitError
from labkit.models import resolve_model

log = logging.getLogger(__name__)


class HFBackend:
    name = "hf"

    def __init__(
        self,
        model: str,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 16,
        revision: str | None = None,
    ):

        self.model = model
        path = resolve_model(model, revision=revision)  # first: a bad name is refused before torch is imported

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
        try:
            self.tok = AutoTokenizer.from_pretrained(path)
            self.lm = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(self.device).eval()
        except (OSError, ValueError) as e:
            raise LabkitError(
                f"Could not load model {model!r}: {e}", hint="Is it a causal language model with a tokenizer?"
            ) from e
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one generate/forward at a time per loaded model
        # Per-instance cache (an lru_cache on the method would keep every backend and its weights alive).
        self._encoded: dict = {}

    def unload(self) -> None:
        """Free the weights now (the next model may not fit beside them); the backend is unusable after."""
        import gc

        import torch

        with self._lock:
            self.lm = None
            self._encoded.clear()
        zerogpu.forget(self)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # --- prompts ---------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        """The exact text the model sees: raw strings as they are, chat messages through the template."""
        if not is_chat(prompt):
            return prompt
        if not self.tok.chat_template:
            raise LabkitError(
                f"{self.model} has no chat template.", hint="Send a plain-text prompt, or use an instruct model."
            )
        return self.tok.apply_chat_template(validate_messages(prompt), tokenize=False, add_generation_prompt=True)

    def _encode(self, prompt: Prompt) -> list[int]:
        if self.lm is None:
            raise LabkitError(
                f"Model {self.model!r} was unloaded to make room for another one.",
                hint="Load it again (choose it in the Models tab, or call get_backend).",
            )
        chars = (
            len(prompt)
            if isinstance(prompt, str)
            else sum(len(str(m.get("content", ""))) for m in prompt if isinstance(m, dict))
        )
        if chars > 32 * self.context_length():  # no tokenizer packs 32 characters a token: refused before encoding
            raise LabkitError(
                f"The prompt has {chars:,} characters, far more than {self.model} reads "
                f"({self.context_length():,} tokens).",
                hint="Shorten the prompt (or the conversation), or use a model with a longer context.",
            )
        key = prompt if isinstance(prompt, str) else tuple((m["role"], m["content"]) for m in validate_messages(prompt))
        ids = self._encoded.get(key)
        if ids is None:
            # Rendering a chat template is the slow part of scoring; sampled responses share their prompt.
            # A rendered chat template already carries its special tokens (a Llama BOS, say).
            ids = tuple(self.tok(self.render(prompt), add_special_tokens=not is_chat(prompt))["input_ids"])
            if len(self._encoded) >= 4096:
                self._encoded.clear()
            self._encoded[key] = ids
        return list(ids)

    def _fit(self, ids: list[int], p: GenParams) -> list[int]:
        """A prompt longer than the model's context keeps its last tokens, leaving room for the reply (as
        lm-evaluation-harness left-truncates a context): the instructions of a long chat or a tiny model's few
        hundred positions still get an answer, never one past the positions the model has."""
        window = self.context_length()
        keep = window - min(p.max_new_tokens, window // 4)
        if len(ids) <= keep:
            return ids
        log.warning("prompt of %d tokens cut to its last %d: %s reads %d", len(ids), keep, self.model, window)
        return ids[-keep:]

    def prompt_length(self, prompt: Prompt) -> int:
        """Tokens in the prompt as generation sees it (chat template included); the encoding is cached for it."""
        return len(self._encode(prompt))

    def _eos_ids(self) -> list[int]:
        eos = self.lm.generation_config.eos_token_id
        ids = list(eos) if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else [])
        if self.tok.eos_token_id is not None and self.tok.eos_token_id not in ids:
            ids.append(self.tok.eos_token_id)
        return ids

    def context_length(self) -> int:
        """The most tokens (prompt + generated) the model reads: its config's max_position_embeddings."""
        n = getattr(self.lm.config, "max_position_embeddings", None) if self.lm is not None else None
        return int(n) if isinstance(n, int) and n > 0 else 1_000_000

    def _gen_kwargs(self, p: GenParams, prompt_len: int) -> dict:
        """generate()'s settings: max_new_tokens never past the model's context (a request for 100,000 tokens from
        a 512-token model asks for what is left), and a prompt that fills the context is refused."""
        context = self.context_length()
        if prompt_len >= context:
            raise LabkitError(
                f"The prompt has {prompt_len:,} tokens; {self.model} reads at most {context:,}.",
                hint="Shorten the prompt (or the conversation), or use a model with a longer context.",
            )
        kw = dict(
            max_new_tokens=max(1, min(p.max_new_tokens, context - prompt_len)),
            do_sample=not p.greedy,
            num_return_sequences=p.n,
            repetition_penalty=p.repetition_penalty,
            pad_token_id=self.tok.pad_token_id,
            eos_token_id=self._eos_ids(),
        )
        if p.greedy:
            kw.update(temperature=None, top_p=None, top_k=None)
        else:
            kw.update(temperature=p.temperature, top_p=p.top_p, top_k=None)
        if p.stop:
            # Not transformers' stop_strings: those also match inside special tokens ("ta" in "<|im_start|>").
            kw["stopping_criteria"] = [_StopOnText(self.tok, p.stop, prompt_len)]
        return kw

    # --- generation ------------------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], p: GenParams = GenParams(), progress=None) -> list[list[str]]:
        """`progress(k)`: called with the number of prompts done after each batch."""
        import torch

        if zerogpu.active():  # on a ZeroGPU Space: the same call, inside a GPU lease sized to the request
            return zerogpu.generate(self, prompts, p)
        encoded = [self._fit(self._encode(x), p) for x in prompts]
        # Longest first: similar lengths share a batch (less padding), and OOM shows up at once.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        out: list[list[str]] = [[] for _ in encoded]
        with self._lock:
            if p.seed is not None:
                torch.manual_seed(p.seed)
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self._left_pad([encoded[i] for i in idx])
                kw = self._gen_kwargs(p, batch["input_ids"].shape[1])
                with torch.inference_mode():
                    seqs = self.lm.generate(**batch, **kw)
                new = seqs[:, batch["input_ids"].shape[1] :]
                texts = self.tok.batch_decode(new, skip_special_tokens=True)
                # Ended on its own: an end-of-turn token was generated (finished rows are padded after it) or a stop
                # string fired. Otherwise the row ran to max_new_tokens.
                ended = torch.isin(new, torch.tensor(self._eos_ids(), device=new.device)).any(-1).tolist()
                for j, i in enumerate(idx):
                    rows = range(j * p.n, (j + 1) * p.n)
                    cut = [truncate_at_stop(texts[k], p.stop) for k in rows]
                    at_max = new.shape[1] >= kw["max_new_tokens"]
                    cut_off = [at_max and not ended[k] and c == texts[k] for c, k in zip(cut, rows)]
                    out[i] = [Completion(c, truncated=t) for c, t in zip(cut, cut_off)]
                if progress:
                    progress(start + len(idx))
        return out

    def _left_pad(self, rows: list[list[int]]) -> dict:
        import torch

        width = max(len(r) for r in rows)
        pad = self.tok.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        return {"input_ids": ids, "attention_mask": mask}

    def stream(self, messages: Prompt, p: GenParams = GenParams()) -> Iterator[str]:
        import torch

        if p.n != 1:
            raise LabkitError(
                "Streaming returns one completion.", hint="Use n=1 to stream, or generate() for several samples."
            )
        if zerogpu.active():
            yield from zerogpu.stream(self, messages, p)
            return
        batch = self._left_pad([self._fit(self._encode(messages), p)])
        streamer = _DeltaStreamer(self.tok)
        kwargs = {**batch, **self._gen_kwargs(p, batch["input_ids"].shape[1]), "streamer": streamer}
        # a reader that stops (Stop pressed, a stop string met, the page gone) stops the generation too: it would
        # otherwise run to max_new_tokens holding the model, and every other request waits for it
        kwargs["stopping_criteria"] = [*kwargs.get("stopping_criteria", []), _Abandoned(streamer)]

        def work():
            try:
                with self._lock, torch.inference_mode():
                    if p.seed is not None:
                        torch.manual_seed(p.seed)
                    self.lm.generate(**kwargs)
            except Exception as e:  # surfaced to the consumer, not lost in the thread
                streamer.fail(e)
            finally:
                streamer.end()

        threading.Thread(target=work, daemon=True).start()
        try:
            yield from stream_with_stop(streamer, p.stop)
        finally:
            streamer.abandoned.set()

    # --- scoring ---------------------------------------------------------------------------
    def logprob(self, pairs: Sequence[tuple[Prompt, str]], append_eos: bool = False) -> list[float]:
        import torch

        rows, spans = [], []
        for prompt, completion in pairs:
            p_ids = self._encode(prompt)
            c_ids = self.tok(completion, add_special_tokens=False)["input_ids"]
            if append_eos:
                c_ids = c_ids + [self.tok.eos_token_id]
            if not c_ids:
                raise LabkitError(
                    "Cannot score an empty completion.", hint="Pass append_eos=True to score the end of turn alone."
                )
            rows.append(p_ids + c_ids)
            spans.append((len(p_ids), len(p_ids) + len(c_ids)))
        scores: list[float] = [0.0] * len(rows)
        # Similar lengths share a batch; left padding puts every completion at the end of its row, so only the
        # last (longest completion + 1) positions need logits — not the whole prompt (lm_head and softmax
        # over the vocabulary are most of the cost).
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = self._left_pad([rows[i] for i in chunk])
                ids, mask = batch["input_ids"], batch["attention_mask"]
                positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as if unpadded
                keep = max(spans[i][1] - spans[i][0] for i in chunk) + 1
                logits = self.lm(
                    input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep
                ).logits.float()
                logp = (
                    torch.log_softmax(logits[:, :-1], dim=-1)
                    .gather(-1, ids[:, -(keep - 1) :].unsqueeze(-1))
                    .squeeze(-1)
                )
                for j, i in enumerate(chunk):
                    n = spans[i][1] - spans[i][0]
                    scores[i] = float(
                        logp[j, logp.shape[1] - n :].sum()
                    )  # the completion's tokens are the row's last n
        return scores


class _StopOnText:
    """Stops each sequence once its decoded completion (special tokens skipped) contains a stop string;
    the same text `truncate_at_stop` then cuts, so early stopping and truncation agree."""

    def __init__(self, tok, stops, prompt_len: int):
        self.tok, self.stops, self.prompt_len = tok, [s for s in stops if s], prompt_len
        self.window = max(len(s) for s in self.stops) + 8  # tokens: each decodes to at least one character

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        tail = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window) :]
        texts = self.tok.batch_decode(tail, skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


class _Abandoned:
    """Stops a streamed generation once its reader has gone."""

    def __init__(self, streamer):
        self.streamer = streamer

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.streamer.abandoned.is_set(), device=input_ids.device)


class _DeltaStreamer:
    """A transformers streamer that yields decoded text deltas.

    It decodes the whole completion so far and emits only the new, stable suffix: a trailing
    U+FFFD (a character whose bytes are split across tokens) is held back until it completes,
    so the joined deltas equal one decode of all tokens.
    """

    def __init__(self, tok):
        self.tok = tok
        self.q: queue.Queue = queue.Queue()
        self._skip_prompt = True
        self.abandoned = threading.Event()  # the reader stopped reading

    def put(self, value):
        if self._skip_prompt:  # generate() first sends the prompt ids
            self._skip_prompt = False
            return
        self.q.put(("ids", value.reshape(-1).tolist()))

    def end(self):
        self.q.put(("end", None))

    def fail(self, e: Exception):
        self.q.put(("error", e))

    def __iter__(self):
        ids: list[int] = []
        sent = ""
        while True:
            kind, value = self.q.get()
            if kind == "error":
                raise LabkitError(f"Generation failed: {value}") from value
            if kind == "end":
                text = self.tok.decode(ids, skip_special_tokens=True)
                if len(text) > len(sent):
                    yield text[len(sent) :]
                return
            ids += value
            text = self.tok.decode(ids, skip_special_tokens=True)
            stable = text.rstrip("\ufffd")
            if len(stable) > len(sent) and stable.startswith(sent):
                yield stable[len(sent) :]
                sent = stable
