"""End-to-end mode (GPU): a vision-language model from the Hub (e.g. Qwen2.5-VL) translates the page image
straight to Markdown. Prompt building and output cleanup are plain functions (tested on CPU); running the
model needs transformers' image-text-to-text models and a GPU in practice."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path
from collections.abc import Callable

from labkit.doctrans.translate import LANG_NAMES
from labkit.errors import LabkitError
from labkit.doctrans import ocr
from labkit.doctrans.translate import Cancelled
from labkit.models import resolve_model

PROMPT = (
    "Translate this document page into {tgt}. Output Markdown only: keep the reading order, headings (#), lists, "
    "tables (as Markdown tables) and formulas (as LaTeX). Do not add comments."
)


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


def check_vision(path: str, model: str) -> None:
    """A model that cannot read images is refused in one sentence, before any weights load."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    model_type = getattr(AutoConfig.from_pretrained(path), "model_type", "?")
    if model_type not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        raise LabkitError(
            f"The vlm engine needs a vision-language model, and {model} ({model_type}) cannot read images.",
            hint="Choose a model such as Qwen/Qwen2.5-VL-3B-Instruct, or use the pipeline engine.",
        )


@lru_cache(maxsize=1)
def _load(model: str):
    """(processor, model), kept for the next page and the next document: loading is the slow part."""
    try:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as e:  # pragma: no cover
        raise LabkitError("The end-to-end mode needs transformers with vision support.") from e

    path = resolve_model(model)
    check_vision(path, model)
    processor = AutoProcessor.from_pretrained(path)
    vlm = AutoModelForImageTextToText.from_pretrained(
        path, dtype="auto", device_map="auto" if torch.cuda.is_available() else None
    )
    return processor, vlm


def run(model: str, image, target: str, glossary: dict | None = None, max_new_tokens: int = 2048) -> str:
    processor, vlm = _load(model)
    inputs = processor.apply_chat_template(
        messages(image, target, glossary),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
    ).to(vlm.device)
    out = vlm.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return clean_markdown(processor.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True))


def translate_pages(
    model: str,
    path,
    target: str,
    out_dir,
    glossary: dict | None = None,
    pages: str | None = None,
    dpi: int = 150,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict:
    """Every page through the VLM (loaded once), joined into translation.md in `out_dir`."""

    _load(model)  # a text-only model is refused before any page is rendered
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = ocr.load_pages(path, pages, dpi)
    parts = []
    for k, page in enumerate(loaded):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress:
            progress(k / len(loaded), f"page {k + 1}/{len(loaded)}: vision-language model")
        parts.append(run(model, page.image, target, glossary))
    markdown = "\n\n---\n\n".join(parts)
    (out / "translation.md").write_text(markdown, encoding="utf-8")
    return {
        "markdown": markdown,
        "out_dir": str(out),
        "pages": len(parts),
        "markdown_file": str(out / "translation.md"),
    }
