"""MGSM (juletxara/mgsm): 250 grade-school math problems in 11 languages; exact numeric answers.

Variants: `native` (instruction in the problem's language) and `english` (English instruction, native
problem). Chain of thought on (reason, then "<answer phrase> N") or off (the number only). The answer
phrases are the ones the extractor looks for in each language.
"""

from __future__ import annotations

from pathlib import Path

from labkit.evaluate.extract import Extracted, extract_number, lm_eval_extract, lm_eval_match, numbers_equal
from labkit.evaluate.tasks.base import SIGN_NOTE, Doc, Task

# lang: (chain-of-thought instruction, direct instruction)
INSTRUCTIONS = {
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


class NumericTask(Task):
    """Shared by math tasks: a question, a numeric gold answer, number extraction."""

    variants = ("native", "english")
    instructions = INSTRUCTIONS
    numeric = True

    def prompt(self, doc: Doc, variant: str | None = None, cot: bool = True) -> list[dict]:
        lang = "en" if (variant or self.variants[0]) == "english" else doc.lang
        cot_text, direct = self.instructions.get(lang, self.instructions["en"])
        return [{"role": "user", "content": f"{doc.question}\n\n{cot_text if cot else direct}"}]

    def extract(self, text: str, lang: str) -> Extracted:
        return extract_number(text, lang)

    def score(self, doc: Doc, extracted: Extracted) -> float:
        return float(numbers_equal(extracted.value, self.gold_number(doc)))

    @staticmethod
    def gold_number(doc: Doc) -> float | None:
        return doc.gold if isinstance(doc.gold, (int, float)) else extract_number(str(doc.gold), doc.lang).value

    def judge_output(self, doc: Doc, output: str, extractor: str = "labkit") -> dict:
        """Scored by the chosen extractor; labkit's and lm-eval's flexible verdicts are both kept for the agreement
        figure."""
        row = super().judge_output(doc, output)
        gold = self.gold_number(doc)
        flex = lm_eval_extract(output, doc.lang, "flexible")
        row.update(
            extractor=extractor,
            labkit_correct=row["correct"],
            lm_eval_flexible=flex.value,
            lm_eval_flexible_correct=float(lm_eval_match(flex.value, gold)),
        )
        if not row["correct"] and row["extracted"] is not None and gold and numbers_equal(-row["extracted"], gold):
            row["note"] = SIGN_NOTE
        if extractor != "labkit":
            ex = flex if extractor == "lm-eval-flexible" else lm_eval_extract(output, doc.lang, "strict")
            row.update(
                extracted=ex.value,
                extracted_text=ex.text,
                method=ex.method,
                parse_failed=ex.parse_failed,
                correct=float(lm_eval_match(ex.value, gold)),
            )
        return row


class MGSM(NumericTask):
    name = "mgsm"
    hub_id = "juletxara/mgsm"
    languages = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")
    required = ("question", "answer_number")
    description = "Grade-school math, 250 problems × 11 languages (exact match on the final number)."

    def to_doc(self, index: int, row: dict, lang: str) -> Doc:
        return Doc(str(row.get("id", index)), lang, row["question"], float(row["answer_number"]))

    def world_dir(self) -> Path:
        from labkit.synth.mgsm import world_test_set

        return world_test_set()

    def world_languages(self) -> list[str]:
        return sorted(self.languages)
