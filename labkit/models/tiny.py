"""The built-in offline demo model: a byte-level BPE tokenizer trained on bundled multilingual text
and a ~130k-parameter Qwen2 causal LM with a ChatML chat template.

It is trained for a few dozen steps on the same text so that its output is corpus-flavoured rather
than uniform noise (and its greedy choices are not near-ties), but it knows nothing: its answers are
meaningless. It exists so that every code path — generation, training, evaluation, the UI — runs
offline on a laptop CPU in seconds.

    python -m labkit.models.tiny /tmp/tiny      # build into a folder
    python -m labkit.models.tiny --bundle       # rebuild the copies shipped in labkit/models/bundled/
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

CORPUS_DIR = Path(__file__).with_name("corpus")
# tiny (seed 0) and tiny-ref (seed 1) ship built (python -m labkit.models.tiny --bundle writes them; a test checks
# that they equal a fresh build): a first start copies them instead of training for minutes on a busy CPU
BUNDLED = {
    0: Path(__file__).resolve().parent / "bundled" / "tiny",
    1: Path(__file__).resolve().parent / "bundled" / "tiny-ref",
}
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
VOCAB_SIZE = 1024
BUILD_VERSION = 2  # bump when the recipe below changes so cached copies are rebuilt
MARKER = "labkit_tiny.json"

# ChatML; assistant turns are wrapped in {% generation %} so TRL's assistant_only_loss works.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def corpus_lines() -> list[str]:
    lines = []
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        lines += [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def corpus_languages() -> list[str]:
    return sorted(p.stem for p in CORPUS_DIR.glob("*.txt"))


def train_tokenizer(lines, vocab_size: int = VOCAB_SIZE, split_digits: bool = False, max_length: int = 512):
    """A byte-level BPE with labkit's ChatML template and special tokens, trained on `lines` (every byte encodable:
    no <unk> for unseen scripts). `split_digits` makes each digit its own token first (tiny-math)."""
    return as_transformers(train_bpe(lines, vocab_size, split_digits), max_length)


def train_bpe(lines, vocab_size: int = VOCAB_SIZE, split_digits: bool = False):
    """The `tokenizers` BPE that train_tokenizer wraps (what a tokenizer.json file holds)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
        if split_digits
        else byte_level
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def as_transformers(tok, max_length: int = 512):
    """A `tokenizers` BPE as a transformers tokenizer with labkit's ChatML template and special tokens."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=max_length,
    )


def build_tokenizer():
    return train_tokenizer(corpus_lines())


def build_model(tokenizer, seed: int = 0, train_steps: int = 40):
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    _warm_up(model, tokenizer, train_steps)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    return model


def _warm_up(model, tokenizer, steps: int, batch_size: int = 16) -> None:
    """A few optimizer steps on the chat-formatted corpus: peaked, corpus-like (still meaningless) output.

    The steps run in float64 and the weights are kept as float32. At lr 1e-2 Adam turns float32 rounding into
    different weights (a build on 1 thread and on 2 differed by 0.16, and the bundled copy failed to equal a
    fresh build on another CPU); in float64 two thread counts agree to one float32 ulp."""
    import torch

    model.double()

    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": ln}, {"role": "assistant", "content": ln}], tokenize=False
        )
        for ln in corpus_lines()
    ]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(texts), generator=gen)[:batch_size]
        loss = model(
            input_ids=batch["input_ids"][idx], attention_mask=batch["attention_mask"][idx], labels=labels[idx]
        ).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.float().eval()


def save_built(out_dir: str | os.PathLike, build, marker: str, meta: dict) -> Path:
    """Save `build()`'s (tokenizer, model) and a `marker` JSON of `meta` into `out_dir` atomically: a half-written
    folder is never visible, and the global RNG is left as it was."""
    import torch

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        with torch.random.fork_rng():
            tokenizer, model = build()
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        (tmp / marker).write_text(json.dumps(meta))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def marker_matches(path: str | os.PathLike, marker: str, build_version: int, seed: int) -> bool:
    """Whether `path` holds a finished build of this version and seed (see save_built)."""
    try:
        meta = json.loads((Path(path) / marker).read_text())
        return meta.get("build_version") == build_version and meta.get("seed", 0) == seed
    except (OSError, ValueError):
        return False


def build_tiny(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    def build():
        tokenizer = build_tokenizer()
        return tokenizer, build_model(tokenizer, seed=seed)

    meta = {"build_version": BUILD_VERSION, "seed": seed, "languages": corpus_languages()}
    return save_built(out_dir, build, MARKER, meta)


def is_built(path: str | os.PathLike, seed: int = 0) -> bool:
    return marker_matches(path, MARKER, BUILD_VERSION, seed)


def ensure_tiny(path: str | os.PathLike, seed: int = 0) -> Path:
    """The cached tiny model at `path`: on first use a copy of the bundled build of this version and seed, else
    built."""
    path = Path(path)
    if not is_built(path, seed):
        bundled = BUNDLED.get(seed)
        if bundled is not None and is_built(bundled, seed):
            copy_built(bundled, path)
        else:
            build_tiny(path, seed=seed)
    return path


def copy_built(src: Path, out: Path) -> Path:
    """Copy a built model folder to `out` atomically (a half-copied folder is never visible)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_bundled() -> list[Path]:
    """Rebuild the bundled tiny and tiny-ref (after a BUILD_VERSION bump)."""
    return [build_tiny(path, seed=seed) for seed, path in BUNDLED.items()]


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--bundle"]:
        print(*write_bundled(), sep="\n")
        raise SystemExit(0)
    target = (
        sys.argv[1] if len(sys.argv) > 1 else str(__import__("labkit.settings").settings.get_settings().tiny_model_dir)
    )
    print(build_tiny(target))
