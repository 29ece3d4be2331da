"""Answer extraction: realistic model outputs per benchmark language, number formats, and garbage that must not
raise."""

from __future__ import annotations

import pytest

from labkit.evaluate.extract import (
    Extracted,
    extract_choice,
    extract_number,
    normalize_digits,
    numbers_equal,
    parse_number,
    strip_reasoning,
)

# (lang, model output, expected value, expected method)
NUMBER_CASES = [
    # one realistic chain-of-thought ending per MGSM language, native script and digits
    ("en", "Roger starts with 5 balls. 2 cans of 3 is 6. 5 + 6 = 11. The answer is 11.", 11.0, "phrase"),
    ("bn", "রজারের ৫টি বল ছিল। ২ ক্যান × ৩ = ৬। ৫ + ৬ = ১১। উত্তর হল ১১।", 11.0, "phrase"),
    ("bn", "মোট খরচ ৮ + ৪ = ১২ টাকা। উত্তর হলো ১২", 12.0, "phrase"),
    ("te", "రోజర్ వద్ద 5 బంతులు ఉన్నాయి. 5 + 6 = 11. సమాధానం ౧౧.", 11.0, "phrase"),
    ("te", "మొత్తం 18 గుడ్లు. సమాధానం: 18", 18.0, "phrase"),
    ("th", "โรเจอร์มีลูกบอล ๕ ลูก ซื้อเพิ่ม ๖ ลูก รวม ๑๑ ลูก คำตอบคือ ๑๑", 11.0, "phrase"),
    ("th", "มีทั้งหมด 2 + 4 = 6 ชิ้น คำตอบคือ 6", 6.0, "phrase"),
    ("th", "คำตอบคือ ๖ ชิ้น", 6.0, "phrase"),
    ("zh", "罗杰一开始有５个球，又买了６个，所以一共１１个。答案是１１", 11.0, "phrase"),
    ("zh", "每天赚 9 × 2 = 18 美元。答案：18 美元。", 18.0, "phrase"),
    ("ja", "ロジャーは５個のボールを持っていて、６個買いました。答えは１１個です。", 11.0, "phrase"),
    ("ja", "合計は 3 + 4 = 7 です。答え：７", 7.0, "phrase"),
    ("de", "Er verdient 1.200 € pro Monat und 3.000 € Bonus. Die Antwort lautet 1.234,5.", 1234.5, "phrase"),
    ("de", "Insgesamt 3 Stunden, also 2,5 pro Tag. Die Antwort ist 2,5", 2.5, "phrase"),
    ("de", "Antwort: 18", 18.0, "phrase"),
    ("fr", "Elle vend 16 − 3 − 4 = 9 œufs. La réponse est 1 234,5 €.", 1234.5, "phrase"),
    ("fr", "Le total est de 1\u202f500 euros. La réponse est 1\u202f500.", 1500.0, "phrase"),
    ("fr", "Réponse : 42", 42.0, "phrase"),
    ("es", "Janet vende 16 - 3 - 4 = 9 huevos a 2 $ cada uno. La respuesta es 3,5", 3.5, "phrase"),
    ("es", "Gana 1.500 dólares al mes. La respuesta es 1.500.", 1500.0, "phrase"),
    ("ru", "Всего 2 + 3 = 5 яблок. Ответ: 5", 5.0, "phrase"),
    ("ru", "Сумма составляет 1 234,5 рубля. Ответ — 1 234,5.", 1234.5, "phrase"),
    ("ru", "Итого 70 000 рублей. Ответ: 70 000", 70000.0, "phrase"),
    ("sw", "Roger alikuwa na mipira 5. 5 + 6 = 11. Jibu ni 11.", 11.0, "phrase"),
    ("sw", "Jumla ni shilingi 1,250. Jibu: 1,250", 1250.0, "phrase"),
    # PolyMath's extra languages
    ("ko", "사과는 모두 3 + 4 = 7개입니다. 답은 7입니다.", 7.0, "phrase"),
    ("ar", "المجموع ٣ + ٤ = ٧. الإجابة هي ٧", 7.0, "phrase"),
    ("ar", "الإجابة: ٣٫٥", 3.5, "phrase"),
    ("vi", "Tổng cộng là 12 quả. Đáp án là 12.", 12.0, "phrase"),
    ("id", "Jadi totalnya 2,5 kg. Jawabannya adalah 2,5", 2.5, "phrase"),
    ("ms", "Jumlahnya 15. Jawapannya ialah 15.", 15.0, "phrase"),
    ("it", "Quindi 3 + 4 = 7. La risposta è 7.", 7.0, "phrase"),
    ("pt", "Logo, 10 / 2 = 5. A resposta é 5.", 5.0, "phrase"),
    ("zh-CN", "答案为 42。", 42.0, "phrase"),
    # English formats
    ("en", "The answer is 1,234.", 1234.0, "phrase"),
    ("en", "The answer is: **$1,234**.", 1234.0, "phrase"),
    ("en", "So the final answer is 42.", 42.0, "phrase"),
    ("en", "**Answer:** 18", 18.0, "phrase"),
    ("en", "The temperature drops to −12 degrees. The answer is −12", -12.0, "phrase"),
    ("en", "The answer is -5.", -5.0, "phrase"),
    ("en", "The answer is 3/4.", 0.75, "phrase"),
    ("en", "The answer is 2 1/2 cups.", 2.5, "phrase"),
    ("en", "The answer is 50%.", 50.0, "phrase"),
    ("en", "The answer is ₹ 250.", 250.0, "phrase"),
    ("en", "The answer is $\\frac{3}{4}$.", 0.75, "phrase"),
    ("en", "The answer is 3.25.", 3.25, "phrase"),
    # the last phrase wins over numbers written after it (checks, units)
    ("en", "The answer is 7. Check: 3 + 4 = 7, and 10 - 3 = 7, so 12 is wrong.", 7.0, "phrase"),
    ("en", "First guess: the answer is 5. Re-checking: 2 * 4 = 8. The answer is 8. (Step 3 of 3)", 8.0, "phrase"),
    # boxed beats everything, braces nest, LaTeX decorations are read
    ("en", "Thus $\\boxed{42}$. The answer is 7", 42.0, "boxed"),
    ("en", "\\boxed{5} at first, but correcting: \\boxed{6}", 6.0, "boxed"),
    ("en", "So the probability is \\boxed{\\frac{1}{2}}.", 0.5, "boxed"),
    ("en", "\\boxed{\\dfrac{3}{4}}", 0.75, "boxed"),
    ("en", "\\boxed{-\\frac{1}{4}}", -0.25, "boxed"),
    ("en", "\\boxed{1{,}000}", 1000.0, "boxed"),
    ("en", "\\boxed{\\$18.00}", 18.0, "boxed"),
    ("en", "\\boxed{18 \\text{ apples}}", 18.0, "boxed"),
    ("en", "\\boxed{x = 5}", 5.0, "boxed"),
    ("en", "\\boxed{90^\\circ}", 90.0, "boxed"),
    ("fr", "\\boxed{2,5}", 2.5, "boxed"),
    ("zh", "所以答案是 \\boxed{１２}", 12.0, "boxed"),
    # a non-numeric box falls through, without reading digits out of the box
    ("en", "Side is 4, area 16. \\boxed{3\\sqrt{2}}", 16.0, "last_number"),
    ("en", "\\boxed{A} then 3 + 4 = 7", 7.0, "last_number"),
    # reasoning is stripped
    ("en", "<think>Maybe 99? 100 - 1 = 99.</think> The answer is 7", 7.0, "phrase"),
    ("en", "<THINKING>9</THINKING>\n\\boxed{3}", 3.0, "boxed"),
    ("en", "okay so 5 + 5 = 10 hmm</think>The answer is 10", 10.0, "phrase"),
    # last-number fallback; sentence-final dots are not decimals
    ("en", "She has 3 apples and buys 4 more, 7 in total.", 7.0, "last_number"),
    ("en", "That makes 42.", 42.0, "last_number"),
    ("de", "Es sind insgesamt 1.234 Äpfel.", 1234.0, "last_number"),
    ("en", "COVID-19", 19.0, "last_number"),
    # chain-of-thought headers are not the answer phrase; bare "answer" words need the number right after them
    ("en", "Step-by-Step Answer: Roger had 5 balls. 5 + 6 = 11.", 11.0, "last_number"),
    ("de", "Schritt-für-Schritt-Antwort: 5 Bälle plus 6 sind 11.", 11.0, "last_number"),
    ("ru", "Чтобы найти ответ, сложим 3 и 4. Получаем 7.", 7.0, "last_number"),
]


@pytest.mark.parametrize("lang,text,value,method", NUMBER_CASES)
def test_extract_number(lang, text, value, method):
    got = extract_number(text, lang)
    assert got.method == method, got
    assert numbers_equal(got.value, value), got
    assert not got.parse_failed and isinstance(got.value, float)


@pytest.mark.parametrize(
    "text",
    [
        "<think> 5 + 3 = 8",  # ran out of tokens mid-reasoning: no answer
        "<think>The answer is 8</think>",  # the only number is inside the reasoning
        "I cannot solve this problem.",
        "\\boxed{\\sqrt{2}}",
    ],
)
def test_extract_number_parse_failed(text):
    got = extract_number(text, "zh" if "答" in text else "en")
    assert got == Extracted(None, "", "none") and got.parse_failed


@pytest.mark.parametrize(
    "s,lang,value",
    [
        ("1,234", "en", 1234.0),
        ("1,234", "de", 1.234),
        ("1.234", "de", 1234.0),
        ("1.234", "en", 1.234),
        ("3,5", "es", 3.5),
        ("3,5", "en", 3.5),
        ("3.5", "de", 3.5),
        ("0,500", "en", 0.5),
        ("1.234,5", "de", 1234.5),
        ("1,234.5", "de", 1234.5),
        ("1,234,567.89", "en", 1234567.89),
        ("1.234.567", "pt", 1234567.0),
        ("1 234,5", "fr", 1234.5),
        ("1\u00a0234,5", "ru", 1234.5),
        ("1\u202f234", "fr", 1234.0),
        ("12 000", "en", 12000.0),
        ("−7", "en", -7.0),
        ("-0.5", "en", -0.5),
        ("3/4", "en", 0.75),
        ("-3/4", "en", -0.75),
        ("1 1/2", "en", 1.5),
        ("50%", "en", 50.0),
        ("$1,000", "en", 1000.0),
        ("€ 3,50", "de", 3.5),
        ("৳৫০০", "bn", 500.0),
        ("฿๙๙", "th", 99.0),
        ("\\frac{3}{4}", "en", 0.75),
        ("\\tfrac12", "en", 0.5),
        ("1{,}000", "en", 1000.0),
        ("1\\,000", "en", 1000.0),
        ("٣٫٥", "ar", 3.5),
        ("١٢٬٣٤٥", "ar", 12345.0),
        ("１２３", "ja", 123.0),
        ("42.", "en", 42.0),
        (" +8 ", "en", 8.0),
        ("\\text{12}", "en", 12.0),
        ("1,234", "pt-BR", 1.234),
        ("১,২৩,৪৫৬", "bn", 123456.0),
        ("1,23,456.5", "en", 123456.5),
    ],
)
def test_parse_number(s, lang, value):
    assert numbers_equal(parse_number(s, lang), value), (s, lang, parse_number(s, lang))


@pytest.mark.parametrize(
    "s",
    [
        "",
        "-",
        ".",
        ",",
        "1/0",
        "abc",
        "1.2.3",
        "1,23,4",
        "nan",
        "inf",
        "1e5",
        "3\\sqrt{2}",
        "42 apples",
        "1,2,3",
        "12/25/2023",
        "--5",
        "\\boxed{",
    ],
)
def test_parse_number_rejects(s):
    assert parse_number(s) is None


def test_normalize_digits():
    assert normalize_digits("০১২৩৪৫৬৭৮৯ ๐๙ ٠٩ ۰۹ ౦౯ ०९ ０９") == "0123456789 09 09 09 09 09 09"
    assert normalize_digits("１，２３４．５ －３ \u22124 ٣٫٥ ١٬٠٠٠") == "1,234.5 -3 -4 3.5 1,000"
    assert normalize_digits("x² 十二") == "x² 十二"  # superscripts and CJK numerals are not decimal digits
    assert normalize_digits(None) == ""


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<think>a</think>b", "b"),
        ("  <thinking>x\ny</thinking>\n\nFinal ", "Final"),
        ("<Reasoning>r</Reasoning>A<think>t</think>B", "AB"),
        ("answer<think>unfinished", "answer"),
        ("reasoning from the template</think>answer", "answer"),
        ("no tags", "no tags"),
    ],
)
def test_strip_reasoning(text, expected):
    assert strip_reasoning(text) == expected


CHOICE_CASES = [
    ("en", "Let's think step by step. Option B is wrong. The answer is (C)", "C", "choice_phrase"),
    ("en", "The answer is C.", "C", "choice_phrase"),
    ("en", "Answer: D", "D", "choice_phrase"),
    ("en", "**Final Answer:** (J)", "J", "choice_phrase"),
    ("en", "Therefore the answer is option (e).", "E", "choice_phrase"),
    ("en", "So we get $\\boxed{C}$.", "C", "boxed"),
    ("en", "\\boxed{\\text{(b)}}", "B", "boxed"),
    ("zh", "分析各选项后，答案是 (B)", "B", "choice_phrase"),
    ("zh", "答案：【D】", "D", "choice_phrase"),
    ("ja", "よって、答えは（Ｃ）です。", "C", "choice_phrase"),
    ("ja", "正解はＡ", "A", "choice_phrase"),
    ("fr", "Après analyse, la réponse est (B).", "B", "choice_phrase"),
    ("de", "Die Antwort lautet (F).", "F", "choice_phrase"),
    ("ru", "Ответ: (E)", "E", "choice_phrase"),
    ("th", "ดังนั้น คำตอบคือ (G)", "G", "choice_phrase"),
    ("bn", "সুতরাং উত্তর হল (H)", "H", "choice_phrase"),
    ("sw", "Kwa hiyo, Jibu ni (I)", "I", "choice_phrase"),
    ("ko", "따라서 답은 (A)입니다.", "A", "choice_phrase"),
    ("en", "Comparing (A) and (D), only (D) holds.", "D", "choice_paren"),
    ("fr", "La réponse est donc (B).", "B", "choice_paren"),
    ("en", "After checking every option:\n\n**C.**\n", "C", "choice_line"),
    ("en", "<think>The answer is (A)</think>The answer is (B)", "B", "choice_phrase"),
    ("en", "The answer is (K). Earlier I said (B).", "B", "choice_paren"),  # K is not an option
]


@pytest.mark.parametrize("lang,text,value,method", CHOICE_CASES)
def test_extract_choice(lang, text, value, method):
    got = extract_choice(text, lang)
    assert (got.value, got.method) == (value, method), got


@pytest.mark.parametrize(
    "text,choices",
    [
        ("The answer is a bit unclear.", "ABCDEFGHIJ"),  # lowercase outside parentheses is English, not a letter
        ("The answer is (E)", "ABCD"),  # E is not among the choices
        ("<think>The answer is (A)", "ABCDEFGHIJ"),
        ("I am not sure.", "ABCDEFGHIJ"),
    ],
)
def test_extract_choice_parse_failed(text, choices):
    assert extract_choice(text, "en", choices).parse_failed


GARBAGE = [
    "",
    " ",
    "\\boxed{",
    "}}}",
    "{{{",
    "-",
    ".",
    ",",
    "1/0",
    "0/0",
    "\\boxed{}",
    "\\boxed{\\boxed{",
    "<think>",
    "</think>",
    "<think></think>",
    "\\frac{1}{0}",
    "$$",
    "(",
    "()",
    "\x00\x01",
    "\ud800",
    "9" * 5000,
    "1," * 3000,
    "\\boxed{" * 2000 + "1",
    "<think>" * 1000,
    "The answer is" * 500,
    "answer: " * 2000 + "(",
    "ответ " * 1000,
    "1 " * 5000,
    "{" * 5000 + "}" * 4999,
    "C" + " " * 20000 + "x",
    "C" + "*" * 20000 + "x",
    "1" + " " * 20000 + "x",
    "\\frac{" * 5000,
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("lang", ["en", "de", "zh", "xx", "", None])
def test_garbage_never_raises(lang):
    for s in GARBAGE + [None, 42, b"bytes"]:
        for got in (extract_number(s, lang), extract_choice(s, lang)):
            assert isinstance(got, Extracted)
            assert got.value is None or isinstance(got.value, (float, str))
        if isinstance(s, str):
            parse_number(s, lang)
            strip_reasoning(s)
            normalize_digits(s)


def test_huge_output_is_fast():
    text = "Step 1: 2 + 2 = 4. " * 20000 + "The answer is 4."
    assert extract_number(text).value == 4.0


@pytest.mark.parametrize(
    "pred,gold,equal",
    [
        (1234.0, 1234, True),
        (0.1 + 0.2, 0.3, True),
        (1.0, 1.001, False),
        (None, 1.0, False),
        (1.0, None, False),
        (float("nan"), float("nan"), False),
        (-0.0, 0.0, True),
        ("A", 1.0, False),
    ],
)
def test_numbers_equal(pred, gold, equal):
    assert numbers_equal(pred, gold) is equal
