"""End-to-end mode (GPU): a vision-language model from the Hub (e.g. Qwen2.5-VL) translates the page image
straight to Markdown. Prompt building and output cleanup are plain functions (tested on CPU); running the
model needs transformers' image-text-to-text models and a GPU in practice."""
from __future__ import annotations

import re

from labkit.doctrans.translate import LANG_NAMES
from labkit.errors import LabkitError

PROMPT = ("Translate this document page into {tgt}. Output Markdown only: keep the reading order, headings (#), lists, "
          "tables (as Markdown tables) and formulas (as LaTeX). Do not add comments.")


def messages(image, target: str, glossary: dict | None = None) -> list[dict]:
    text = PROMPT.format(tgt=LANG_NAMES.get(target, target))
    if glossary:
        text += " Use these term translations: " + "; ".join(f"{s} → {t}" for s, t in glossary.items()) + "."
    return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]}]


def clean_markdown(output: str) -> str:
    """Strip reasoning, a wrapping ```markdown fence and chat remnants from the model's answer."""
    out = re.sub(r"<think>.*?</think>", "", output or "", flags=re.S).strip()
    m = re.fullmatch(r"```(?:markdown|md)?\s*\n(.*?)\n?```", out, flags=re.S)
    if m:
        out = m.group(1)
    return out.strip() + "\n"


def run(model: str, image, target: str, glossary: dict | None = None, max_new_tokens: int = 2048) -> str:
    try:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as e:  # pragma: no cover
        raise LabkitError("The end-to-end mode needs transformers with vision support.") from e
    from labkit.models import resolve_model

    path = resolve_model(model)
    processor = AutoProcessor.from_pretrained(path)
    vlm = AutoModelForImageTextToText.from_pretrained(path, dtype="auto", device_map="auto" if torch.cuda.is_available() else None)
    inputs = processor.apply_chat_template(messages(image, target, glossary), add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt").to(vlm.device)
    out = vlm.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return clean_markdown(processor.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))
