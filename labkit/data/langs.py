"""Language codes and per-language thresholds for datatrove's Gopher, C4 and FineWeb quality filters.

datatrove names languages in ISO 639-3 (with an optional script): `cmn` gets jieba word segmentation, while
`zh` silently falls back to a generic tokenizer. Their thresholds are tuned on English: Chinese words are
1-2 characters long, Chinese has no English stop words, and a Chinese line carries as much text in fewer
characters, so clean Chinese is rejected at the defaults. The tables below replace exactly those settings.
"""

from __future__ import annotations

from labkit.errors import LabkitError

# ISO 639-1 (and common tags) → the ISO 639-3 code datatrove expects.
ISO639_3 = {
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-hans": "cmn",
    "zh-tw": "cmn",
    "zh-hant": "cmn",
    "cmn": "cmn",
    "en": "eng",
    "fr": "fra",
    "de": "deu",
    "es": "spa",
    "pt": "por",
    "it": "ita",
    "nl": "nld",
    "ru": "rus",
    "ja": "jpn",
    "ko": "kor",
    "ar": "arb",
    "th": "tha",
    "vi": "vie",
    "id": "ind",
    "tr": "tur",
    "pl": "pol",
    "sw": "swh",
    "bn": "ben",
    "hi": "hin",
    "te": "tel",
    "ur": "urd",
    "fa": "pes",
    "uk": "ukr",
    "he": "heb",
}


def iso639_3(code: str) -> str:
    """`zh` → `cmn`, `en` → `eng`; a code that already looks like ISO 639-3 passes through."""
    key = (code or "").strip().lower().replace("_", "-")
    if key in ISO639_3:
        return ISO639_3[key]
    base = key.split("-")[0]
    if len(base) == 3 and base.isalpha():
        return base
    raise LabkitError(
        f"Unknown language code {code!r}.",
        hint="Use ISO 639-3 (cmn, eng, fra, ...) or a two-letter code labkit maps (zh → cmn).",
    )


ZH_STOP_WORDS = [
    "的",
    "了",
    "是",
    "在",
    "和",
    "有",
    "我",
    "他",
    "这",
    "也",
    "就",
    "都",
    "而",
    "及",
    "与",
    "着",
    "或",
    "一个",
    "没有",
    "我们",
]

# Settings that differ from datatrove's English defaults, per filter and language.
THRESHOLDS: dict[str, dict[str, dict]] = {
    "gopher": {
        "cmn": {
            "min_doc_words": 30,
            "min_avg_word_length": 1,
            "max_avg_word_length": 6,
            "stop_words": ZH_STOP_WORDS,
            "min_stop_words": 2,
            "max_non_alpha_words_ratio": 0.8,
        },
        "jpn": {"min_avg_word_length": 1, "max_avg_word_length": 6, "min_stop_words": None},
        "tha": {"min_avg_word_length": 1, "max_avg_word_length": 8, "min_stop_words": None},
    },
    "c4": {
        # C4 counts whitespace-separated words per line and wants ASCII end punctuation (. ? !):
        # neither exists in Chinese
        "cmn": {
            "min_words_per_line": -1,
            "filter_no_terminal_punct": False,
            "min_num_sentences": 3,
            "filter_policy": False,
        },
        "jpn": {"min_words_per_line": -1, "filter_no_terminal_punct": False, "min_num_sentences": 3},
    },
    "fineweb": {
        "cmn": {"short_line_length": 10, "short_line_thr": 0.67, "line_punct_thr": 0.12, "char_duplicates_ratio": 0.1},
        "jpn": {"short_line_length": 10},
    },
}
FILTERS = tuple(THRESHOLDS)


def filter_settings(filter_name: str, language: str, overrides: dict | None = None) -> dict:
    """Keyword arguments for datatrove's filter: language, the table's values for it, then the recipe's overrides."""
    if filter_name not in THRESHOLDS:
        raise LabkitError(f"Unknown datatrove filter {filter_name!r}.", hint=f"One of {', '.join(FILTERS)}.")
    lang = iso639_3(language)
    return {"language": lang, **THRESHOLDS[filter_name].get(lang, {}), **(overrides or {})}
