"""`tiny-math`: the built-in model that learns for real on a laptop CPU.

A from-scratch Qwen2-style causal LM (about 1.2M parameters: hidden 128, 4 layers, 4 query / 2 key-value
heads) with a ChatML template, and a byte-level BPE tokenizer trained on the synthetic world's text in all
11 MGSM languages, with every digit its own token (so "37" is "3", "7": column arithmetic is learnable).
The tokenizer ships as bundled/tiny-math/tokenizer.json (labkit.synth.tiny_math trains and writes it).
Its weights are random: it knows nothing until `configs/train/sft-math-tiny.yaml` teaches it. It is a
model of the synthetic world (labkit.synth), not of any natural language.

    python -m labkit.models.tiny_math /tmp/tiny-math
"""

from __future__ import annotations

import os
from pathlib import Path

from labkit.models.tiny import as_transformers, marker_matches, save_built

VOCAB_SIZE = 2048
BUILD_VERSION = 2  # bump when the recipe below changes so cached copies are rebuilt
MARKER = "labkit_tiny_math.json"
TOKENIZER = Path(__file__).resolve().parent / "bundled" / "tiny-math" / "tokenizer.json"
ARCH = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


def build_tokenizer():
    """The world's tokenizer (bundled) with labkit's ChatML template and special tokens."""
    from tokenizers import Tokenizer

    return as_transformers(Tokenizer.from_file(str(TOKENIZER)), max_length=ARCH["max_position_embeddings"])


def build_model(tokenizer, seed: int = 0):
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **ARCH,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    return model


def build(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Tokenizer + untrained model into `out_dir`, atomically."""

    def make():
        tokenizer = build_tokenizer()
        return tokenizer, build_model(tokenizer, seed)

    return save_built(out_dir, make, MARKER, {"build_version": BUILD_VERSION, "seed": seed})


def ensure(path: str | os.PathLike, seed: int = 0) -> Path:
    return Path(path) if marker_matches(path, MARKER, BUILD_VERSION, seed) else build(path, seed)


if __name__ == "__main__":
    import sys

    print(build(sys.argv[1]))
