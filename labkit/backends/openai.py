"""Backend for any OpenAI-compatible server: `vllm serve`, TGI, llama.cpp's server, hosted APIs.

Chat prompts go to /chat/completions, raw-text prompts to /completions. Requests run concurrently up
to `concurrency`; 429/5xx answers and connection errors are retried with exponential backoff
(honouring Retry-After). The API key is read from the environment on construction and only ever
sent in the Authorization header; on a shared app only to the configured server, and a server the owner did not
configure is refused before any request (labkit.guard.require_server).
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator, Sequence

from labkit.backends.base import Completion, GenParams, Prompt
from labkit.backends.base import is_chat, stream_with_stop, truncate_at_stop, validate_messages
from labkit.errors import LabkitError
from labkit import guard

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


def request_body(
    model: str, prompt: Prompt, p: GenParams, stream: bool = False, top_logprobs: int = 0
) -> tuple[str, dict]:
    """(endpoint path, JSON body) for one prompt; `top_logprobs` > 0 asks for each generated token's top
    log-probabilities (chat: logprobs=True + top_logprobs=k; legacy completions: logprobs=k)."""
    body: dict = {
        "model": model,
        "max_tokens": p.max_new_tokens,
        "temperature": p.temperature,
        "top_p": p.top_p,
        "n": p.n,
    }
    if p.seed is not None:
        body["seed"] = p.seed
    if p.stop:
        body["stop"] = list(p.stop)[:4]  # the OpenAI API takes at most four; the rest are cut client-side
    if p.repetition_penalty != 1.0:
        body["repetition_penalty"] = p.repetition_penalty  # vLLM/TGI extension, ignored by others
    if stream:
        body["stream"] = True
    if is_chat(prompt):
        if top_logprobs:
            body.update(logprobs=True, top_logprobs=top_logprobs)
        return "/chat/completions", {**body, "messages": validate_messages(prompt)}
    if top_logprobs:
        body["logprobs"] = top_logprobs
    return "/completions", {**body, "prompt": prompt}


def parse_response(data: dict, p: GenParams) -> list[str]:
    choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
    if len(choices) != p.n:
        raise LabkitError(
            f"The server returned {len(choices)} choices, expected {p.n}.",
            hint="Some servers ignore n>1; lower n or use another backend.",
        )
    texts = []
    for c in choices:
        text = c["message"].get("content") if "message" in c else c.get("text")
        texts.append(Completion(truncate_at_stop(text or "", p.stop), truncated=c.get("finish_reason") == "length"))
    return texts


def token_logprobs(choice: dict) -> list[tuple[str, dict[str, float]]] | None:
    """[(generated token, {alternative token: log-probability})] of one choice, in either of the API's formats
    (chat `logprobs.content[].top_logprobs`, legacy `logprobs.tokens` + `top_logprobs`); None where the server sent
    none. The generated token is always among its own alternatives."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return None
    out = []
    if isinstance(lp.get("content"), list):
        for t in lp["content"]:
            alts = {a["token"]: a["logprob"] for a in t.get("top_logprobs") or []}
            alts.setdefault(t["token"], t["logprob"])
            out.append((t["token"], alts))
    elif isinstance(lp.get("tokens"), list):
        tops = lp.get("top_logprobs") or [{}] * len(lp["tokens"])
        for tok, own, alts in zip(lp["tokens"], lp.get("token_logprobs") or [], tops):
            alts = dict(alts or {})
            alts.setdefault(tok, own)
            out.append((tok, alts))
    return out or None


def parse_sse(lines: Iterator[str]) -> Iterator[str]:
    """Text deltas from a server-sent-events stream of chat or text completion chunks."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        chunk = json.loads(payload)
        if "error" in chunk:
            raise LabkitError(f"The server reported an error mid-stream: {chunk['error']}")
        for c in chunk.get("choices") or []:
            delta = c.get("delta", {}).get("content") if "delta" in c else c.get("text")
            if delta:
                yield delta


def check_base_url(url: str) -> str:
    """The server's URL without a trailing slash, once it is an http(s) URL with a host. A malformed one would
    otherwise fail only at the first request (and, as a transport error, be retried with backoff first)."""
    from urllib.parse import urlsplit

    given = url or ""
    url = given.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabkitError(
            f"The server URL {given[:200]!r} is not an http(s) URL.",
            hint="Give the OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8000/v1.",
        )
    return url


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
        backoff: float = 1.0,
    ):
        import httpx

        from labkit.settings import get_settings

        settings = get_settings()
        self.model = model
        self.base_url = check_base_url(base_url or settings.openai_base_url)
        guard.require_server(self.base_url, settings=settings)  # before any request: a shared app reaches no other
        key = api_key or guard.api_key_for(self.base_url, settings) or "EMPTY"
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff = backoff
        self._answered = False  # the server has answered once: a refused connection after that is a restart
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=self.concurrency),
        )

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def _post(self, path: str, body: dict) -> dict:
        import httpx

        for attempt in range(self.max_retries + 1):
            try:
                r = self._client.post(path, json=body)
            except httpx.TransportError as e:
                # Never reached (wrong URL or port, server not started): say so now, not after ~30 s of backoff.
                # Once it has answered, a dropped or refused connection is retried (a server restarting mid-run).
                never = isinstance(e, httpx.ConnectError) and not self._answered
                if never or attempt == self.max_retries:
                    raise LabkitError(
                        f"Cannot reach {self.base_url}: {e}",
                        hint="Is the server running? Check the base URL (e.g. http://127.0.0.1:8000/v1).",
                    ) from e
                self._sleep(attempt, None)
                continue
            self._answered = True
            if r.status_code in RETRY_STATUS and attempt < self.max_retries:
                self._sleep(attempt, r.headers.get("retry-after"))
                continue
            if r.status_code >= 400:
                err = LabkitError(
                    f"{self.base_url}{path} answered {r.status_code}: {r.text[:300]}", hint=_hint_for(r.status_code)
                )
                err.status = r.status_code
                raise err
            return r.json()
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        try:
            delay = float(retry_after) if retry_after else self.backoff * 2**attempt
        except ValueError:
            delay = self.backoff * 2**attempt
        time.sleep(min(delay, 60.0) * (1 + 0.1 * random.random()))

    def _one(self, prompt: Prompt, p: GenParams) -> list[str]:
        path, body = request_body(self.model, prompt, p)
        return parse_response(self._post(path, body), p)

    def generate(self, prompts: Sequence[Prompt], p: GenParams = GenParams(), progress=None) -> list[list[str]]:
        """`progress(k)`: called with the number of requests answered so far, as each one is answered."""
        done, lock = [0], threading.Lock()

        def one(x):
            out = self._one(x, p)
            if progress:
                with lock:
                    done[0] += 1
                    progress(done[0])
            return out

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, prompts))

    def generate_with_logprobs(
        self, prompts: Sequence[Prompt], p: GenParams = GenParams(), top_logprobs: int = 5
    ) -> list[tuple[Completion, list | None]]:
        """One completion per prompt with its tokens' top log-probabilities (`token_logprobs`), or None where the
        server returns none. A server that refuses the request for log-probabilities (400) is asked once more
        without it, so a judge on such a server still gives its discrete verdict."""
        if p.n != 1:
            raise LabkitError("generate_with_logprobs takes one completion per prompt (n = 1).")

        def one(prompt):
            try:
                data = self._post(*request_body(self.model, prompt, p, top_logprobs=top_logprobs))
            except LabkitError as e:
                if getattr(e, "status", None) != 400:
                    raise
                return parse_response(self._post(*request_body(self.model, prompt, p)), p)[0], None
            choices = data.get("choices") or []
            return parse_response(data, p)[0], token_logprobs(choices[0]) if choices else None

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, prompts))

    def stream(self, messages: Prompt, p: GenParams = GenParams()) -> Iterator[str]:
        import httpx

        path, body = request_body(self.model, messages, p, stream=True)
        try:
            with self._client.stream("POST", path, json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    raise LabkitError(
                        f"{self.base_url}{path} answered {r.status_code}: {r.text[:300]}", hint=_hint_for(r.status_code)
                    )
                yield from stream_with_stop(parse_sse(r.iter_lines()), p.stop)
        except httpx.TransportError as e:
            raise LabkitError(
                f"Cannot reach {self.base_url}: {e}", hint="Is the server running? Check the base URL."
            ) from e

    def logprob(self, pairs: Sequence[tuple[Prompt, str]], append_eos: bool = False) -> list[float]:
        raise LabkitError(
            "The openai backend does not score log-probabilities: chat APIs return no prompt log-probs.",
            hint="Use the hf backend (CPU/GPU) or the vllm backend for reward scoring.",
        )

    def models(self) -> list[str]:
        """The model names the server serves (GET /models)."""
        import httpx

        try:
            r = self._client.get("/models")
        except httpx.TransportError as e:
            raise LabkitError(
                f"Cannot reach {self.base_url}: {e}", hint="Is the server running? Check the base URL."
            ) from e
        if r.status_code >= 400:
            raise LabkitError(f"{self.base_url}/models answered {r.status_code}.", hint=_hint_for(r.status_code))
        return [m.get("id", "") for m in r.json().get("data", [])]

    def close(self) -> None:
        self._client.close()


def _hint_for(status: int) -> str:
    return {
        401: "Set LABKIT_OPENAI_API_KEY (or OPENAI_API_KEY) to a valid key.",
        403: "The key lacks access to this model.",
        404: "Check the base URL (it usually ends in /v1) and the model name the server serves.",
        400: "The server rejected the request; check the model name and sampling settings.",
    }.get(status, "See the server's log.")
