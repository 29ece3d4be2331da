"""Generation never asks for more tokens than the model reads: the vLLM request arguments (pure, on CPU) and the
up-front refusal of a request past the context."""

from __future__ import annotations

import pytest

from labkit.backends.base import GenParams, check_new_tokens
from labkit.backends.vllm import sampling_kwargs
from labkit.errors import LabkitError

from fakes import FakeBackend


def test_vllm_max_tokens_never_pass_the_context():
    p = GenParams(max_new_tokens=100_000)
    assert sampling_kwargs(p)["max_tokens"] == 100_000  # no context known: as asked
    assert sampling_kwargs(p, prompt_len=100, context=512)["max_tokens"] == 412
    assert sampling_kwargs(GenParams(max_new_tokens=16), prompt_len=100, context=512)["max_tokens"] == 16
    assert sampling_kwargs(p, prompt_len=511, context=512)["max_tokens"] == 1


def test_vllm_refuses_a_prompt_that_fills_the_context():
    with pytest.raises(LabkitError, match="reads at most 512"):
        sampling_kwargs(GenParams(), prompt_len=512, context=512)


def test_a_request_past_the_context_is_refused_up_front():
    with pytest.raises(LabkitError, match="100,000 new tokens"):
        check_new_tokens(FakeBackend(context=512), 100_000)
    check_new_tokens(FakeBackend(context=512), 512)
    check_new_tokens(object(), 100_000)  # a backend that does not tell its context is left to its server
