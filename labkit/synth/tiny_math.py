"""The tokenizer of `tiny-math` (labkit.models.tiny_math), trained on the synthetic world's text.

A byte-level BPE (2,048 tokens, every digit its own token, so "37" is "3", "7": column arithmetic is learnable)
trained on the world's questions and worked answers in all 11 MGSM languages, plus the instruction each prompt
ends with. It ships as labkit/models/bundled/tiny-math/tokenizer.json, which labkit.models builds the untrained
model from; after a change to the world's templates, write it again (a test checks the two agree):

    python -m labkit.synth.tiny_math            # rewrites the bundled tokenizer.json
"""

from __future__ import annotations

from pathlib import Path

from labkit.languages import MATH_INSTRUCTIONS
from labkit.models import tiny_math
from labkit.models.tiny import train_bpe
from labkit.synth.mgsm import LANGUAGES, render, sample


def corpus() -> list[str]:
    """Text of the world in every language (questions, worked answers, the MGSM instructions), for the tokenizer."""
    problems = sample(200, 400, seed=12345)
    lines = []
    for lang in LANGUAGES:
        for p in problems["train"] + problems["test"]:
            row = render(p, lang)
            lines += [row["question"], row["answer"]]
        # the instructions come with every prompt: repeated so BPE gives them a handful of tokens
        lines += list(MATH_INSTRUCTIONS.get(lang, ())) * 200
    return lines


def train():
    """The world's BPE (a `tokenizers.Tokenizer`), trained afresh."""
    return train_bpe(corpus(), vocab_size=tiny_math.VOCAB_SIZE, split_digits=True)


def write(path: str | Path = tiny_math.TOKENIZER) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    train().save(str(path))
    return path


if __name__ == "__main__":
    import sys

    print(write(*sys.argv[1:2]))
