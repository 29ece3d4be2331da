"""MGSM (juletxara/mgsm): 250 grade-school math problems in 11 languages; exact numeric answers.

Variants: `native` (instruction in the problem's language) and `english` (English instruction, native
problem). Chain of thought on (reason, then "<answer phrase> N") or off (the number only). The answer
phrases are the ones the extractor looks for in each language.
"""

from __future__ import annotations

from pathlib import Path

from labkit.evaluate.extract import Extracted, extract_number, lm_eval_extract, lm_eval_match, numbers_equal
from labkit.evaluate.tasks.base import SIGN_NOTE, Doc, Task
from labkit.languages import MATH_INSTRUCTIONS as INSTRUCTIONS, math_prompt
from labkit.synth.cipher import is_cipher
from labkit.synth.mgsm import world_test_set


class NumericTask(Task):
    """Shared by math tasks: a question, a numeric gold answer, number extraction."""

    variants = ("native", "english")
    instructions = INSTRUCTIONS
    numeric = True

    def prompt(self, doc: Doc, variant: str | None = None, cot: bool = True) -> list[dict]:
        lang = "en" if (variant or self.variants[0]) == "english" else doc.lang
        return [{"role": "user", "content": math_prompt(doc.question, lang, cot, self.instructions)}]

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

    def knows(self, lang: str) -> bool:
        """The 11 languages, and the synthetic world's cipher languages (`en-x1`: labkit.synth.cipher), which
        exist only in a `labkit synth mgsm` folder."""
        return lang in self.languages or is_cipher(lang)

    def world_dir(self) -> Path:
        return world_test_set()

    def world_languages(self) -> list[str]:
        return sorted(self.languages)
