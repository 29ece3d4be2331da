"""GPU paths (skipped without CUDA): the hf backend on cuda in float32 and bfloat16, and a training run
on the GPU. Run on a GPU machine: `pytest -m gpu tests/gpu`."""

import importlib.util
import json
from pathlib import Path

import pytest

from labkit.backends.base import GenParams

pytestmark = pytest.mark.gpu
PROMPTS = [
    "Hello",
    "小明有18支铅笔",
    "สมชายมีส้ม 10 ผล",
    "Amina ana machungwa 25.",
    "Janet has 16 eggs. She eats 3.",
    "Anna hat 20 Bonbons",
] * 4


def chat(t):
    return [{"role": "user", "content": t}]


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def cuda_backend(request, tiny_path):
    from labkit.backends.hf import HFBackend

    return HFBackend("tiny", device="cuda", dtype=request.param, batch_size=8)


def test_batched_matches_sequential_on_cuda(cuda_backend):
    p = GenParams(max_new_tokens=24)
    batched = cuda_backend.generate([chat(x) for x in PROMPTS], p)
    sequential = [cuda_backend.generate([chat(x)], p)[0] for x in PROMPTS]
    agree = sum(a == b for a, b in zip(batched, sequential)) / len(PROMPTS)
    print(f"\n{cuda_backend.lm.dtype}: batched == sequential for {agree:.0%} of prompts")
    if str(cuda_backend.lm.dtype) == "torch.float32":
        assert agree == 1.0
    else:  # bf16 padding changes rounding; report it, and require most to agree
        assert agree >= 0.5


def test_logprob_and_stream_on_cuda(cuda_backend):
    import torch

    tok, lm = cuda_backend.tok, cuda_backend.lm
    pairs = [(chat("Hello"), "Bonjour"), ("Janet has 16 eggs.", " The answer is 9.")]
    got = cuda_backend.logprob(pairs, append_eos=True)
    for (prompt, completion), score in zip(pairs, got):
        p_ids = tok(cuda_backend.render(prompt), add_special_tokens=False)["input_ids"]
        c_ids = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        with torch.no_grad():
            logp = torch.log_softmax(lm(torch.tensor([p_ids + c_ids], device="cuda")).logits[0].float(), -1)
        manual = sum(float(logp[len(p_ids) + i - 1, t]) for i, t in enumerate(c_ids))
        assert score == pytest.approx(manual, abs=1e-2 if lm.dtype == torch.bfloat16 else 1e-4)
    p = GenParams(max_new_tokens=20)
    assert "".join(cuda_backend.stream(chat("Hello"), p)) == cuda_backend.generate([chat("Hello")], p)[0][0]


@pytest.mark.skipif(importlib.util.find_spec("trl") is None, reason="trl not installed")
@pytest.mark.parametrize("name", ["sft-tiny", "dpo-nll-tiny"])
def test_training_on_gpu_in_bf16(tmp_path, tiny_path, name):
    from labkit.train import launch, recipe as rmod
    from labkit.train.worker import train

    configs = Path(__file__).resolve().parents[2] / "configs" / "train"
    r = rmod.load(configs / f"{name}.yaml", ["trainer.max_steps=4"])
    path = launch.prepare(r, tmp_path / name)
    final = train(path)
    assert final["step"] == 4
    cfg = json.loads((tmp_path / name / "output" / "config.json").read_text())
    print(f"\n{name} on GPU: loss {final.get('loss')}, dtype {cfg.get('dtype') or cfg.get('torch_dtype')}")
    assert (tmp_path / name / "output" / "model.safetensors").exists()
