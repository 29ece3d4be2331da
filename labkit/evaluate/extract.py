"""Answer extraction for multilingual math (MGSM, PolyMath) and multiple choice (MMLU-ProX). Standard library only.

Every public function is total: odd input gives ``None`` / ``parse_failed``, never an exception.

How ``parse_number`` reads separators (decided per number, the language only breaks ties):
* '.' and ',' both present: the right-most one is the decimal mark ("1.234,5" and "1,234.5" are both 1234.5).
* One separator repeated: thousands, and every group must have 3 digits ("1,234,567"; "1.2.3" is not a number).
* One separator followed by exactly 3 digits, after 1-3 digits not starting with 0, is ambiguous: it groups
  thousands when it is the language's group mark ('.' in DECIMAL_COMMA languages, ',' elsewhere), else it is
  the decimal mark. So "1,234" is 1234 in en but 1.234 in de; "1.234" is 1234 in de but 1.234 in en.
* Any other single separator is a decimal mark in every language: "3,5" and "3.5" are 3.5 everywhere.
* Space, NBSP and narrow NBSP group thousands ("1 234,5" → 1234.5). In running text a plain space groups only
  in DECIMAL_COMMA languages (fr, ru, ... write numbers that way); in English "Step 1 200 apples" is two numbers.
Chinese/Japanese numerals (九, 一百八十, 两千零五, 3万) are read after an answer phrase, inside \\boxed{} and as a
whole answer; not in running text, where 一 is mostly the word "one/a". Not handled: number words, scientific notation.

lm-evaluation-harness's MGSM filters are here too (`lm_eval_extract`, `lm_eval_match`), re-implemented from their
regular expressions (tasks/mgsm/native_cot/*.yaml), so a run can report the number an lm-eval paper would.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# CLDR decimal-comma languages; sw, ms, ar (after ٫ → .), the CJK and Indic languages use a decimal point.
DECIMAL_COMMA = frozenset(
    ["de", "es", "fr", "ru", "it", "pt", "id", "vi", "uk", "pl", "nl", "tr", "cs", "sk", "sv", "da", "nb", "no", "fi",
     "ro", "hu", "el"]
)
_CUR = "$€¥£₹৳฿₩₫₽¢"


@dataclass(frozen=True)
class Extracted:
    value: float | str | None  # float for numbers, "A".."J" for choices, None when nothing parsable
    text: str  # the matched substring ("" when none)
    method: str  # boxed | phrase | last_number | choice_phrase | choice_paren | choice_line | none

    @property
    def parse_failed(self) -> bool:
        return self.value is None


_NONE = Extracted(None, "", "none")


def _lang(lang) -> str:
    return lang.lower().replace("_", "-").split("-")[0] if isinstance(lang, str) else "en"


# ---------------------------------------------------------------- reasoning and digits
from labkit.text import strip_reasoning  # noqa: E402  (re-exported: the extractors' first step)


class _DigitTable(dict):
    """A str.translate table filled on demand: scanning all of Unicode up front would slow every import."""

    def __missing__(self, cp: int) -> str:
        d = unicodedata.decimal(chr(cp), None)
        self[cp] = out = str(d) if d is not None else chr(cp)
        return out


_DIGITS = _DigitTable(
    {
        ord(k): v
        for k, v in {
            "，": ",",
            "．": ".",
            "－": "-",
            "\u2212": "-",
            "٫": ".",
            "٬": ",",
            "／": "/",
            "％": "%",
            "٪": "%",
        }.items()
    }
)


def normalize_digits(text: str) -> str:
    """Every Unicode decimal digit (Bengali, Thai, Arabic-Indic, Telugu, full-width, ...) to ASCII, and full-width
    , . - / %, the minus sign U+2212 and the Arabic decimal / thousands separators to their ASCII forms.
    One character in, one out, so offsets survive."""
    return text.translate(_DIGITS) if isinstance(text, str) else ""


# ---------------------------------------------------------------- one number string
_NUMARG = r"\{\s*(-?[\d.,]+)\s*\}"
_LATEX = [  # numeric LaTeX → plain text, applied to whole outputs as well so the scanner sees "3/4", not 3 and 4
    (re.compile(r"\{([,.])\}"), r"\1"),  # 1{,}000: LaTeX's way to keep ',' from adding space
    (re.compile(r"\\[dt]?frac" + _NUMARG + _NUMARG), r"\1/\2"),
    (re.compile(r"\\[dt]?frac(\d)(\d)"), r"\1/\2"),
    (re.compile(r"(?<=\d)\\[,!;: ](?=\d)"), ""),  # 1\,000: thin-space thousands
    (re.compile(r"\\([$%])"), r"\1"),
]
_WRAP = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_DECOR = re.compile(rf"\^\s*\{{?\s*\\circ\s*\}}?|\\(?:left|right|displaystyle|[,!;: ])|[{{}}%°*_~{_CUR}]")
_SPACED = re.compile(r"(\d{1,3}(?:[ \u00a0\u202f]\d{3})+)([.,]\d+)?")
_PLAIN = re.compile(r"(?=.*\d)\d*(?:[.,]\d+)*")
_MIXED = re.compile(r"(\d+)\s+(\d+)\s*/\s*(\d+)")


def _latex_numbers(text: str) -> str:
    for pat, rep in _LATEX:
        text = pat.sub(rep, text)
    return text


def _groups_ok(s: str, sep: str) -> bool:
    indian = sep == "," and re.fullmatch(r"\d{1,2}(?:,\d\d)+,\d{3}", s)  # 1,23,456 (lakh) in Indian English
    return bool(indian or re.fullmatch(rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+", s))


def _plain(t: str, lang: str) -> float | None:
    if m := _SPACED.fullmatch(t):  # space-grouped thousands: what follows, '.' or ',', is the decimal part
        return float(re.sub(r"\D", "", m[1]) + "." + (m[2] or ".0")[1:])
    if not _PLAIN.fullmatch(t):
        return None
    seps = "".join(c for c in t if c in ".,")
    if not seps:
        return float(t)
    dec = seps[-1]
    thou = "," if dec == "." else "."
    if len(seps) > 1 and thou not in seps:  # one separator repeated: thousands only
        return float(t.replace(dec, "")) if _groups_ok(t, dec) else None
    head, tail = t.rsplit(dec, 1)
    if dec in head or (thou in head and not _groups_ok(head, thou)):
        return None
    group_mark = "." if lang in DECIMAL_COMMA else ","
    if len(seps) == 1 and len(tail) == 3 and 0 < len(head) <= 3 and head[0] != "0" and dec == group_mark:
        return float(head + tail)
    return float(head.replace(thou, "") + "." + tail)


def parse_number(s: str, lang: str = "en") -> float | None:
    """One number string → float, or None when it is not (just) a number. Understands signs (- and −), any
    script's digits, thousands/decimal marks (see the module docstring), "3/4", "1 1/2", "50%" (→ 50.0),
    currency symbols, \\frac{3}{4}, 1{,}000, \\text{} wrappers and a sentence-final '.'."""
    if not isinstance(s, str) or len(s) > 500:
        return None
    t = _DECOR.sub("", _WRAP.sub(r"\1", _latex_numbers(normalize_digits(s)))).strip().rstrip(".").strip()
    sign = 1.0
    if t.startswith(("-", "+")):
        sign, t = (-1.0 if t[0] == "-" else 1.0), t[1:].lstrip()
    lg = _lang(lang)
    if m := _MIXED.fullmatch(t):
        a, b, c = (float(x) for x in m.groups())
        v = a + b / c if c else None
    elif "/" in t:
        num, den = (_plain(x.strip(), lg) for x in t.split("/", 1))
        v = num / den if num is not None and den else None
    else:
        v = _plain(t, lg)
    return sign * v if v is not None and math.isfinite(v) else None


# ---------------------------------------------------------------- finding the answer in an output
def _num_re(space: str) -> re.Pattern:
    # Not glued to a preceding letter ("H2O", "COVID-19" gives 19 not -19); a '-' only counts right before the number.
    return re.compile(
        rf"(?<![A-Za-z0-9_])(?:-(?=[{_CUR}]?\d))?[{_CUR}]?"
        rf"(?:\d+ \d+/\d+(?!\d)|\d+/\d+|\d{{1,3}}(?:{space}\d{{3}})+(?!\d)(?:[.,]\d+)?|\d+(?:[.,]\d+)*)"
    )


_NUM_SPACED, _NUM_TIGHT = _num_re(r"[ \u00a0\u202f]"), _num_re(r"[\u00a0\u202f]")
_C = r"[\s*_]*[:：]"  # a colon, allowing "**Answer**:" and French "Réponse :"
# Bare words ("ответ", "సమాధానం") also mean "answer" in the middle of reasoning ("чтобы найти ответ, ..."):
# they count only when the answer follows directly.
_BARE = r"(?=[\s*_:：—–-]*[($€₹\[]?[-\dA-J])"
_PHRASES = {
    "en": [r"(?:the\s+)?(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|will\s+be)\b", rf"(?:final\s+)?answer{_C}"],
    "es": [r"la\s+respuesta\s+(?:correcta\s+|final\s+)?es\b", rf"respuesta(?:\s+final)?{_C}"],
    "fr": [r"la\s+réponse\s+(?:correcte\s+|finale\s+)?est\b", rf"réponse(?:\s+finale)?{_C}"],
    "de": [r"die\s+(?:richtige\s+)?antwort\s+(?:lautet|ist)\b", rf"antwort{_C}"],
    "it": [r"la\s+risposta\s+(?:corretta\s+|finale\s+)?è", rf"risposta{_C}"],
    "pt": [r"a\s+resposta\s+(?:correta\s+|final\s+)?é", rf"resposta{_C}"],
    "ru": [r"ответ(?:ом)?\s+(?:будет|равен|равно|составляет)", r"ответ" + _BARE],
    "zh": [r"答案(?:是|为)", rf"答案{_C}"],
    "ja": [r"答えは", rf"答え{_C}", rf"解答{_C}", r"正解は"],
    "ko": [r"정답은", r"답은", rf"답{_C}"],
    "th": [r"คำตอบคือ", rf"คำตอบ{_C}"],
    "bn": ["উত্তর\\s+হল\u09cb?", rf"উত্তর{_C}"],
    "te": [r"సమాధానం" + _BARE, r"జవాబు" + _BARE],
    "sw": [r"jibu\s+(?:sahihi\s+)?ni\b", rf"jibu{_C}"],
    "ar": [r"ال[إا]جابة\s+هي", r"الجواب\s+هو", rf"ال[إا]جابة{_C}"],
    "vi": [r"đáp\s+án\s+(?:đúng\s+)?là", r"câu\s+trả\s+lời\s+là", rf"đáp\s+án{_C}"],
    "id": [r"jawa[bp]an(?:nya)?\s+(?:adalah|ialah)", rf"jawa[bp]an(?:nya)?{_C}"],
}
_PHRASES["ms"] = _PHRASES["id"]
# MGSM's chain-of-thought headers ("Step-by-Step Answer:", "Schritt-für-Schritt-Antwort:", "ধাপে ধাপে উত্তর:")
# contain an answer phrase but introduce the reasoning, not the answer.
_STEP = re.compile(
    r"(?:step[\s-]*by[\s-]*step|schritt[\s-]*für[\s-]*schritt|ধাপে\s*ধাপে|దశలవారీగా|ステップごとの|段階的な?"
    r"|逐步|ทีละขั้น)[\s-]*$",
    re.I,
)


@lru_cache(maxsize=64)
def _phrase_re(lang: str) -> re.Pattern:
    return re.compile("|".join(_PHRASES.get(lang, []) + _PHRASES["en"]), re.I)


def _phrases(text: str, lang: str):
    """Answer-phrase matches, last first, without chain-of-thought headers."""
    for m in reversed(list(_phrase_re(lang).finditer(text))):
        if not _STEP.search(text, max(0, m.start() - 30), m.start()):
            yield m


_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _last_boxed(text: str) -> tuple[int, int] | None:
    """(start, end) of the content of the last \\boxed{...} whose braces balance."""
    starts = [m.end() - 1 for m in _BOX.finditer(text)]
    if not starts:
        return None
    close, stack = {}, []
    for b in re.finditer(r"(?<!\\)[{}]", text):  # one pass pairs every brace: nested or broken input stays O(n)
        if b.group() == "{":
            stack.append(b.start())
        elif stack:
            close[stack.pop()] = b.start()
    for s in reversed(starts):
        if s in close:
            return s + 1, close[s]
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last balanced \\boxed{} after reasoning is stripped (for symbolic answers)."""
    body = strip_reasoning(text if isinstance(text, str) else "")
    span = _last_boxed(body)
    return body[span[0] : span[1]].strip() if span else None


def extract_number(text: str, lang: str = "en") -> Extracted:
    """The model's numeric answer: the last \\boxed{} that holds a number, else the number within 40 characters
    after the last answer phrase (task language or English), else the last number in the output."""
    if not isinstance(text, str):
        return _NONE
    lg = _lang(lang)
    t = _latex_numbers(normalize_digits(unicodedata.normalize("NFC", strip_reasoning(text))))
    num_re = _NUM_SPACED if lg in DECIMAL_COMMA else _NUM_TIGHT
    if box := _last_boxed(t):
        content = t[box[0] : box[1]]
        # "x = 5", "18 \text{ apples}": keep what follows the last '=' and drop unit words, but never pull a
        # number out of an expression such as 3\sqrt{2}.
        rhs = re.sub(r"(?<![\\\w])[^\W\d_]+\.?", " ", _WRAP.sub(" ", content.rpartition("=")[2]))
        if (
            (v := parse_number(content, lg)) is not None
            or (v := parse_number(rhs, lg)) is not None
            or (v := cjk_number(content.strip())) is not None
        ):
            return Extracted(v, content.strip(), "boxed")
        # Not a number: later rules must not read digits out of the box (they belong to e.g. "3\sqrt{2}").
        t = t[: box[0]] + " " * (box[1] - box[0]) + t[box[1] :]
    for m in _phrases(t, lg):
        n = num_re.search(t, m.end(), min(len(t), m.end() + 100))
        if n and n.start() - m.end() <= 40 and (v := parse_number(n.group(), lg)) is not None:
            return Extracted(v, n.group(), "phrase")
        if (c := _CJK_AFTER.match(t, m.end())) and (v := cjk_number(c["n"])) is not None:
            return Extracted(v, c["n"], "phrase")
    if (c := _CJK_WHOLE.fullmatch(t)) and (v := cjk_number(c["n"])) is not None:
        return Extracted(v, c["n"], "cjk_numeral")
    for n in reversed(list(num_re.finditer(t))):
        if (v := parse_number(n.group(), lg)) is not None:
            return Extracted(v, n.group(), "last_number")
    return _NONE


# ---------------------------------------------------------------- Chinese / Japanese numerals
_CJK_DIGITS = {
    **dict.fromkeys("〇零", 0),
    **dict.fromkeys("一壹", 1),
    **dict.fromkeys("二两兩贰貳", 2),
    **dict.fromkeys("三叁參", 3),
    **dict.fromkeys("四肆", 4),
    **dict.fromkeys("五伍", 5),
    **dict.fromkeys("六陆陸", 6),
    **dict.fromkeys("七柒", 7),
    **dict.fromkeys("八捌", 8),
    **dict.fromkeys("九玖", 9),
}
_CJK_SMALL = {**dict.fromkeys("十拾", 10), **dict.fromkeys("百佰", 100), **dict.fromkeys("千仟", 1000)}
_CJK_BIG = {**dict.fromkeys("万萬", 10**4), **dict.fromkeys("亿億", 10**8)}
_CJK_CHARS = "".join([*_CJK_DIGITS, *_CJK_SMALL, *_CJK_BIG])
_CJK_RUN = rf"[-−]?(?=[\d.]*[{_CJK_CHARS}])[\d.{_CJK_CHARS}]+(?:[点點][\d{''.join(_CJK_DIGITS)}]+)?"
_CJK_AFTER = re.compile(rf"[\s*_:：“「]{{0,3}}(?P<n>{_CJK_RUN})")
_CJK_WHOLE = re.compile(rf"\s*(?P<n>{_CJK_RUN})\s*[。.！!]?\s*")


def cjk_number(s: str) -> float | None:
    """一百八十 → 180, 九 → 9, 两千零五 → 2005, 3万 → 30000, 一億二千万 → 120000000, 二〇二四 → 2024, 三点五 → 3.5."""
    if not isinstance(s, str) or not s or len(s) > 40:
        return None
    sign = -1.0 if s[0] in "-−" else 1.0
    s = s.lstrip("-−")
    point = re.search("[点點]", s)
    whole, frac = (s[: point.start()], s[point.end() :]) if point else (s, "")
    if not any(c in _CJK_CHARS for c in s):
        return None
    if frac and not all(c in _CJK_DIGITS or c.isdigit() for c in frac):
        return None
    if whole and all(c in _CJK_DIGITS for c in whole):  # positional digits: 二〇二四
        value = float("".join(str(_CJK_DIGITS[c]) for c in whole))
    else:
        total, section, digit = 0.0, 0.0, None
        for tok in re.findall(rf"\d+(?:\.\d+)?|[{_CJK_CHARS}]", whole):
            if tok[0].isdigit():
                digit = float(tok)
            elif tok in _CJK_DIGITS:
                digit = float(_CJK_DIGITS[tok])
            elif tok in _CJK_SMALL:
                section += (1.0 if digit is None else digit) * _CJK_SMALL[tok]
                digit = None
            else:
                total = (
                    (total + section + (digit or 0.0)) * _CJK_BIG[tok]
                    if total and _CJK_BIG[tok] > total
                    else total + (section + (digit or 0.0)) * _CJK_BIG[tok]
                )
                section, digit = 0.0, None
        value = total + section + (digit or 0.0)
    if frac:
        value += float("0." + "".join(str(_CJK_DIGITS.get(c, c)) for c in frac))
    return sign * value


# ---------------------------------------------------------------- lm-evaluation-harness's MGSM filters
# The answer phrases of lm-eval's native-CoT MGSM configs ("strict-match": first match of PHRASE + number).
LM_EVAL_STRICT = {
    "en": "The answer is ",
    "de": "Die Antwort lautet ",
    "es": "La respuesta es ",
    "fr": "La réponse est ",
    "ru": "Ответ — ",
    "sw": "Jibu ni ",
    "te": "సమాధానం ",
    "th": "คำตอบคือ ",
    "bn": "উত্তর হল ",
    "zh": "答案是 ",
    "ja": "答えは",
}
_LM_NUM = r"(\-?[0-9\.\,]+)"
_LM_SUFFIX = {"zh": "。", "ja": "です。"}
_LM_FLEX = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")  # "flexible-extract": the last match


def lm_eval_extract(text: str, lang: str = "en", mode: str = "flexible") -> Extracted:
    """lm-eval's MGSM filter: strict = the first "<answer phrase> N", flexible = the last number-like token.
    Returns the raw string, as lm-eval does; no match = parse_failed ("[invalid]" in lm-eval)."""
    if not isinstance(text, str):
        return _NONE
    if mode == "strict":
        lg = _lang(lang)
        pattern = re.escape(LM_EVAL_STRICT.get(lg, LM_EVAL_STRICT["en"])) + _LM_NUM + re.escape(_LM_SUFFIX.get(lg, ""))
        found = re.findall(pattern, text)
        value = found[0] if found else None
    else:
        found = _LM_FLEX.findall(text)
        value = next((g for g in found[-1] if g), None) if found else None
    return Extracted(value, value or "", f"lm-eval-{mode}") if value else Extracted(None, "", f"lm-eval-{mode}")


_PUNCT = str.maketrans("", "", __import__("string").punctuation)


def lm_eval_match(extracted: str | None, gold) -> bool:
    """lm-eval's exact_match with ignore_case and ignore_punctuation against MGSM's `answer_number|string`.
    Punctuation goes on both sides, so "-48" matches 48 and "1,234" matches 1234, as in lm-eval."""
    if extracted is None or gold is None:
        return False
    g = float(gold)
    target = str(int(g)) if g.is_integer() else str(g)
    return extracted.lower().translate(_PUNCT).strip() == target.lower().translate(_PUNCT).strip()


# ---------------------------------------------------------------- multiple choice
# Uppercase only, unless the letter is in parentheses: "the answer is a ..." is English, "(a)" is a choice.
_AFTER = re.compile(
    r"[\s*_:：$]*(?:\\(?:boxed|text|textbf)\{)?(?:(?i:option|choice)\s*|选项|選項|選択肢)?"
    r"(?P<tok>[(\[【](?P<a>[A-Za-z])[)\]】]|(?P<b>[A-Z])(?![A-Za-z0-9]))"
)
# Full-width ASCII (Ａ, （, ：) to ASCII. Not NFKC: that would also decompose Thai ำ and break "คำตอบคือ".
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_PAREN = re.compile(r"\(([A-Za-z])\)")
_LINE = re.compile(r"^[ \t*_#>]*([A-Z])[ \t*_]*(?:[.):][ \t*_]*)?$", re.M)  # no two adjacent [ *]*: quadratic


def extract_choice(text: str, lang: str = "en", choices: str = "ABCDEFGHIJ") -> Extracted:
    """The chosen letter: \\boxed{C}, then an answer phrase followed by "C" / "(C)", then the last "(C)", then
    the last line that is only a letter ("C", "C.", "C)"). Full-width letters and brackets count;
    letters outside `choices` are skipped."""
    if not isinstance(text, str) or not isinstance(choices, str):
        return _NONE
    valid, lg = set(choices.upper()), _lang(lang)
    t = unicodedata.normalize("NFC", strip_reasoning(text)).translate(_FULLWIDTH)
    if box := _last_boxed(t):
        content = _WRAP.sub(r"\1", t[box[0] : box[1]]).strip(" $*")
        if (m := re.match(r"\(?([A-Za-z])\)?(?![A-Za-z0-9])", content)) and m[1].upper() in valid:
            return Extracted(m[1].upper(), content, "boxed")
    for m in _phrases(t, lg):
        if (c := _AFTER.match(t, m.end())) and (c["a"] or c["b"]).upper() in valid:
            return Extracted((c["a"] or c["b"]).upper(), c["tok"], "choice_phrase")
    for m in reversed(list(_PAREN.finditer(t))):
        if m[1].upper() in valid:
            return Extracted(m[1].upper(), m.group(), "choice_paren")
    for m in reversed(list(_LINE.finditer(t))):
        if m[1] in valid:
            return Extracted(m[1], m.group().strip(), "choice_line")
    return _NONE


def numbers_equal(pred: float | None, gold: float | None, rel: float = 1e-6, abs_: float = 1e-6) -> bool:
    """True when both are numbers within `rel` relative or `abs_` absolute tolerance; None or NaN never equal."""
    if pred is None or gold is None:
        return False
    try:
        return math.isclose(float(pred), float(gold), rel_tol=rel, abs_tol=abs_)
    except (TypeError, ValueError, OverflowError):
        return False
