"""MMLU-ProX-Lite (li-lab/MMLU-ProX-Lite): MMLU-Pro's 10-option multiple choice, translated into many languages.

Options come as `options` (a list) or `option_0` … `option_9` columns; the gold is `answer` (a letter)
or `answer_index`. Scored by exact letter match; an output with no letter is parse_failed.
"""

from __future__ import annotations

from labkit.errors import LabkitError
from labkit.evaluate.extract import Extracted, extract_choice
from labkit.evaluate.tasks.base import Doc, Task

LETTERS = "ABCDEFGHIJ"
PROMPTS = {  # lang: instruction (the answer phrase is the one the extractor knows)
    "en": (
        'Answer the following multiple choice question. Think step by step, then finish with "The answer is (X)"'
        " where X is the letter."
    ),
    "zh": "回答下面的选择题。请逐步思考，最后以“答案是 (X)”结尾，X 为选项字母。",
    "ja": "次の多肢選択問題に答えてください。段階的に考え、最後に「答えは (X)」と書いてください（X は選択肢の記号）。",
    "ko": '다음 객관식 문제에 답하세요. 단계별로 생각한 뒤 "답은 (X)"로 끝내세요. X는 선택지 문자입니다.',
    "fr": (
        "Réponds à la question à choix multiples suivante. Réfléchis étape par étape, puis termine par"
        " « La réponse est (X) », X étant la lettre."
    ),
    "de": (
        "Beantworte die folgende Multiple-Choice-Frage. Denke Schritt für Schritt und ende mit"
        " „Die Antwort lautet (X)“, wobei X der Buchstabe ist."
    ),
    "es": (
        'Responde la siguiente pregunta de opción múltiple. Piensa paso a paso y termina con "La respuesta es (X)",'
        " donde X es la letra."
    ),
    "ru": (
        "Ответьте на вопрос с вариантами ответа. Рассуждайте шаг за шагом и закончите фразой «Ответ: (X)»,"
        " где X — буква."
    ),
    "th": 'ตอบคำถามปรนัยต่อไปนี้ คิดทีละขั้นตอน แล้วจบด้วย "คำตอบคือ (X)" โดย X คือตัวอักษรของตัวเลือก',
    "bn": 'নিচের বহুনির্বাচনী প্রশ্নের উত্তর দিন। ধাপে ধাপে ভাবুন, তারপর "উত্তর হল (X)" দিয়ে শেষ করুন, যেখানে X বিকল্পের অক্ষর।',
    "sw": (
        'Jibu swali lifuatalo la chaguo nyingi. Fikiri hatua kwa hatua, kisha maliza kwa "Jibu ni (X)"'
        " ambapo X ni herufi."
    ),
    "te": 'కింది బహుళైచ్ఛిక ప్రశ్నకు సమాధానం ఇవ్వండి. దశలవారీగా ఆలోచించి, "సమాధానం (X)" తో ముగించండి; X అనేది ఎంపిక అక్షరం.',
    "ar": 'أجب عن سؤال الاختيار من متعدد التالي. فكّر خطوة بخطوة، ثم اختم بـ "الإجابة هي (X)" حيث X هو الحرف.',
    "pt": (
        'Responda à seguinte pergunta de múltipla escolha. Pense passo a passo e termine com "A resposta é (X)",'
        " onde X é a letra."
    ),
    "it": (
        'Rispondi alla seguente domanda a scelta multipla. Ragiona passo dopo passo e termina con "La risposta è (X)",'
        " dove X è la lettera."
    ),
    "vi": (
        'Trả lời câu hỏi trắc nghiệm sau. Suy nghĩ từng bước, rồi kết thúc bằng "Đáp án là (X)", trong đó X là chữ cái.'
    ),
    "id": (
        "Jawab soal pilihan ganda berikut. Berpikirlah langkah demi langkah, lalu akhiri dengan"
        ' "Jawabannya adalah (X)", X adalah hurufnya.'
    ),
}


class MMLUProX(Task):
    name = "mmlu_prox"
    hub_id = "li-lab/MMLU-ProX-Lite"
    languages = tuple(sorted(PROMPTS))
    required = ("question",)
    variants = ("native", "english")
    description = "MMLU-Pro multiple choice (10 options) in many languages — the Lite subset."

    def to_doc(self, index: int, row: dict, lang: str) -> Doc:
        options = row.get("options")
        if options is None:
            options = [row[f"option_{i}"] for i in range(10) if row.get(f"option_{i}") not in (None, "", "N/A")]
        options = [o for o in options if o not in (None, "N/A")]
        gold = row.get("answer")
        if gold is None or str(gold) not in LETTERS:
            if not str(row.get("answer_index", "")).isdigit() or int(row["answer_index"]) >= len(LETTERS):
                raise LabkitError(
                    f"mmlu_prox row {index} ({lang}) has no answer letter A–J and no answer_index.",
                    hint="MMLU-ProX-Lite's gold is the `answer` column (a letter); MMLU-Pro's also has answer_index.",
                )
            gold = LETTERS[int(row["answer_index"])]
        return Doc(
            str(row.get("question_id", index)),
            lang,
            row["question"],
            str(gold),
            {"options": list(options), "category": row.get("category")},
        )

    def prompt(self, doc: Doc, variant: str | None = None, cot: bool = True) -> list[dict]:
        lang = "en" if (variant or self.variants[0]) == "english" else doc.lang
        options = "\n".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(doc.extra.get("options", [])))
        return [{"role": "user", "content": f"{PROMPTS.get(lang, PROMPTS['en'])}\n\n{doc.question}\n\n{options}"}]

    def extract(self, text: str, lang: str) -> Extracted:
        return extract_choice(text, lang)

    def score(self, doc: Doc, extracted: Extracted) -> float:
        return float(extracted.value == doc.gold)
