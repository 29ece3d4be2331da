"""Language codes → English names, as prompts spell them ("Reply in Swahili", "Translate into Thai")."""

from __future__ import annotations

NAMES = {
    "en": "English",
    "zh": "Chinese (Simplified)",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "ru": "Russian",
    "ar": "Arabic",
    "pt": "Portuguese",
    "it": "Italian",
    "th": "Thai",
    "vi": "Vietnamese",
    "hi": "Hindi",
    "bn": "Bengali",
    "sw": "Swahili",
    "te": "Telugu",
    "id": "Indonesian",
    "ms": "Malay",
}


def name(code: str) -> str:
    return NAMES.get(code, code)
