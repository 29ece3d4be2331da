"""Language codes → English names, as prompts spell them ("Reply in Swahili", "Translate into Thai"), and the
instruction a math prompt ends with in each language."""

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


# The instruction a math prompt ends with, per language: (chain of thought, direct answer). The MGSM evaluation's
# (the answer phrases are the ones its extractor looks for), shared by the synthetic world's training prompts and
# the tiny-math tokenizer's corpus.
MATH_INSTRUCTIONS = {
    "en": (
        'Solve this problem step by step. End your response with "The answer is [number]".',
        "Answer with the final number only.",
    ),
    "es": (
        'Resuelve este problema paso a paso. Termina tu respuesta con "La respuesta es [número]".',
        "Responde solo con el número final.",
    ),
    "fr": (
        "Résous ce problème étape par étape. Termine ta réponse par « La réponse est [nombre] ».",
        "Réponds uniquement avec le nombre final.",
    ),
    "de": (
        "Löse diese Aufgabe Schritt für Schritt. Beende deine Antwort mit „Die Antwort lautet [Zahl]“.",
        "Antworte nur mit der endgültigen Zahl.",
    ),
    "ru": ("Решите задачу шаг за шагом. Закончите ответ фразой «Ответ: [число]».", "Ответьте только итоговым числом."),
    "zh": ("请一步一步地解决这个问题。最后以“答案是[数字]”结尾。", "只回答最终的数字。"),
    "ja": (
        "この問題を段階的に解いてください。最後に「答えは[数字]です」と書いてください。",
        "最終的な数字だけで答えてください。",
    ),
    "th": ('จงแก้โจทย์นี้ทีละขั้นตอน แล้วจบคำตอบด้วย "คำตอบคือ [ตัวเลข]"', "ตอบด้วยตัวเลขสุดท้ายเท่านั้น"),
    "bn": ('ধাপে ধাপে এই সমস্যাটি সমাধান করুন। আপনার উত্তর "উত্তর হল [সংখ্যা]" দিয়ে শেষ করুন।', "শুধুমাত্র চূড়ান্ত সংখ্যাটি দিয়ে উত্তর দিন।"),
    "sw": (
        'Tatua tatizo hili hatua kwa hatua. Maliza jibu lako kwa "Jibu ni [namba]".',
        "Jibu kwa namba ya mwisho pekee.",
    ),
    "te": ('ఈ సమస్యను దశలవారీగా పరిష్కరించండి. మీ సమాధానాన్ని "సమాధానం [సంఖ్య]" తో ముగించండి.', "చివరి సంఖ్యతో మాత్రమే సమాధానం ఇవ్వండి."),
}


def math_prompt(question: str, lang: str, cot: bool = True, instructions: dict | None = None) -> str:
    """A math question as the user message: the question, then the instruction in `lang` (English when there is
    none for it)."""
    instructions = instructions or MATH_INSTRUCTIONS
    base = lang.split("-")[0] if isinstance(lang, str) else lang  # a cipher language (en-x1) takes its source's
    cot_text, direct = instructions.get(lang) or instructions.get(base) or instructions["en"]
    return f"{question}\n\n{cot_text if cot else direct}"
