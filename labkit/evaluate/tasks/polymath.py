"""PolyMath (Qwen/PolyMath): math in 18 languages at four difficulty levels (top, high, medium, low).

Answers are numbers or short LaTeX expressions: numeric comparison when both sides parse as numbers,
otherwise a normalised string match of the \\boxed{} / final expression.
"""

from __future__ import annotations

import re

from labkit.evaluate.extract import Extracted, extract_number, last_boxed, numbers_equal, parse_number
from labkit.evaluate.tasks.base import Doc
from labkit.evaluate.tasks.mgsm import INSTRUCTIONS, NumericTask

LEVELS = ("low", "medium", "high", "top")
EXTRA = {  # the languages PolyMath adds to MGSM's (CoT instruction, direct instruction)
    "ar": ('حل هذه المسألة خطوة بخطوة، واختم إجابتك بـ "الإجابة هي [الجواب]".', "أجب بالجواب النهائي فقط."),
    "id": (
        'Selesaikan soal ini langkah demi langkah. Akhiri jawabanmu dengan "Jawabannya adalah [jawaban]".',
        "Jawab hanya dengan jawaban akhir.",
    ),
    "it": (
        'Risolvi questo problema passo dopo passo. Termina la risposta con "La risposta è [risposta]".',
        "Rispondi solo con la risposta finale.",
    ),
    "ko": ('이 문제를 단계별로 풀고, 마지막에 "답은 [답]입니다"라고 쓰세요.', "최종 답만 쓰세요."),
    "ms": (
        'Selesaikan masalah ini langkah demi langkah. Akhiri jawapan anda dengan "Jawapannya ialah [jawapan]".',
        "Jawab dengan jawapan akhir sahaja.",
    ),
    "pt": (
        'Resolva este problema passo a passo. Termine sua resposta com "A resposta é [resposta]".',
        "Responda apenas com a resposta final.",
    ),
    "vi": (
        'Hãy giải bài toán này từng bước. Kết thúc câu trả lời bằng "Đáp án là [đáp án]".',
        "Chỉ trả lời bằng đáp án cuối cùng.",
    ),
}
_BOXED_HINT = " Put the final answer in \\boxed{}."


def _norm(s: str) -> str:
    s = re.sub(r"\\(left|right|,|;|!|displaystyle)|\s|\$|\\text\{[^}]*\}", "", s or "")
    return s.replace("\\dfrac", "\\frac").replace("{,}", "").rstrip(".").lower()


class PolyMath(NumericTask):
    name = "polymath"
    hub_id = "Qwen/PolyMath"
    languages = (
        "ar",
        "bn",
        "de",
        "en",
        "es",
        "fr",
        "id",
        "it",
        "ja",
        "ko",
        "ms",
        "pt",
        "ru",
        "sw",
        "te",
        "th",
        "vi",
        "zh",
    )
    required = ("question", "answer")
    description = "Multilingual math at four difficulty levels, 18 languages (numeric or normalised-expression match)."
    instructions = {**INSTRUCTIONS, **EXTRA}
    options = {"level": LEVELS}
    level = "low"

    @property
    def split(self) -> str:  # the Hub split is the difficulty level
        return self.level

    def prompt(self, doc: Doc, variant: str | None = None, cot: bool = True) -> list[dict]:
        msgs = super().prompt(doc, variant, cot)
        msgs[-1]["content"] += _BOXED_HINT
        return msgs

    def to_doc(self, index: int, row: dict, lang: str) -> Doc:
        return Doc(str(row.get("id", index)), lang, row["question"], str(row["answer"]), {"level": self.split})

    @staticmethod
    def gold_number(doc: Doc) -> float | None:
        return parse_number(str(doc.gold), "en")

    def score(self, doc: Doc, extracted: Extracted) -> float:
        # Golds are written in LaTeX/English notation whatever the language: "2.125" is never 2125.
        gold_num = parse_number(str(doc.gold), "en")
        if gold_num is not None:
            return float(numbers_equal(extracted.value if isinstance(extracted.value, float) else None, gold_num))
        # a symbolic gold (3\sqrt{2}): compare the normalised boxed expression
        return float(bool(extracted.text) and _norm(extracted.text) == _norm(str(doc.gold)))

    def extract(self, text: str, lang: str) -> Extracted:
        box = last_boxed(text)
        if (
            box is not None and parse_number(box, lang) is None
        ):  # symbolic answer: keep the expression, not a stray number
            return Extracted(None, box, "boxed")
        return extract_number(text, lang)
