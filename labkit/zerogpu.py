"""ZeroGPU on Hugging Face Spaces: in-process generation runs under `@spaces.GPU` with a duration computed
from the request, and everywhere else exactly as it would without it.

`spaces.GPU` does nothing unless SPACES_ZERO_GPU is set, and on ZeroGPU it runs the function in a forked
process: arguments and results must pickle. So a loaded backend is passed by its id (the fork inherits the
object), with the prompts and GenParams, never the model itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable

MAX_DURATION_S = 120  # one call's GPU lease; ZeroGPU's default is 60 s
SECONDS_PER_TOKEN = 0.03  # a conservative decode speed for a small model on a shared A10G/H200 slice
_inside = False  # True in the forked GPU process: the backend then generates directly
_backends: dict[int, object] = {}


def active() -> bool:
    return bool(os.environ.get("SPACES_ZERO_GPU")) and not _inside


def duration(n_sequences: int, max_new_tokens: int) -> int:
    """Seconds to ask for: a start-up allowance plus the decode time of the request, capped."""
    return int(min(MAX_DURATION_S, 10 + SECONDS_PER_TOKEN * max(1, max_new_tokens) * max(1, n_sequences) ** 0.5))


def gpu(duration_fn: Callable[..., int]):
    """`spaces.GPU(duration=duration_fn)` on ZeroGPU; the function unchanged elsewhere (import-safe without a GPU)."""

    def wrap(fn):
        if not os.environ.get("SPACES_ZERO_GPU"):
            return fn
        import spaces

        return spaces.GPU(duration=duration_fn)(fn)

    return wrap


def _generate_duration(backend_id, prompts, p) -> int:
    return duration(len(prompts) * p.n, p.max_new_tokens)


def _stream_duration(backend_id, prompt, p) -> int:
    return duration(1, p.max_new_tokens)


def _run_inside(fn, *args):
    global _inside
    _inside = True
    try:
        return fn(*args)
    finally:
        _inside = False


@gpu(_generate_duration)
def _generate(backend_id: int, prompts: list, p) -> list[list[str]]:
    return _run_inside(_backends[backend_id].generate, prompts, p)


@gpu(_stream_duration)
def _stream(backend_id: int, prompt, p):
    global _inside
    _inside = True
    try:
        yield from _backends[backend_id].stream(prompt, p)
    finally:
        _inside = False


def generate(backend, prompts, p) -> list[list[str]]:
    _backends[id(backend)] = backend
    return _generate(id(backend), list(prompts), p)


def stream(backend, prompt, p):
    _backends[id(backend)] = backend
    yield from _stream(id(backend), prompt, p)


def forget(backend) -> None:
    _backends.pop(id(backend), None)
