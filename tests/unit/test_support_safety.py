"""The crisis safety net: clear risk statements are caught, idioms and sadness are not."""

import re

import pytest

from labkit.support import safety
from labkit.support.safety import LANGUAGES, CrisisCheck, crisis_message
from labkit.support.safety import pattern_check as check  # the first net; the second is tested in integration/

POSITIVE = [
    # en
    ("en", "I want to kill myself"),
    ("en", "I just want to end my life"),
    ("en", "honestly I want to die"),
    ("en", "I've been having suicidal thoughts"),
    ("en", "I keep thinking about suicide"),
    ("en", "I hurt myself again last night"),
    ("en", "I cut myself when I feel like this"),
    ("en", "I've started self-harming"),
    ("en", "I don't want to live anymore"),
    ("en", "I dont want to be alive"),
    ("en", "there's no reason to live"),
    ("en", "everyone would be better off dead, me included — better off without me"),
    ("en", "I'm going to take all my pills tonight"),
    ("en", "I wish I was dead"),
    # es
    ("es", "quiero morir"),
    ("es", "me quiero morir, ya no puedo más"),
    ("es", "he pensado en suicidarme"),
    ("es", "quiero quitarme la vida"),
    ("es", "no quiero vivir más"),
    ("es", "tengo ganas de morirme"),
    ("es", "a veces me hago daño"),
    # fr
    ("fr", "je veux me suicider"),
    ("fr", "j'ai envie de mourir"),
    ("fr", "je pense à mettre fin à mes jours"),
    ("fr", "je veux mourir"),
    ("fr", "je ne veux plus vivre"),
    ("fr", "j'ai des pensées suicidaires"),
    # de
    ("de", "ich will mich umbringen"),
    ("de", "ich will sterben"),
    ("de", "ich denke an Selbstmord"),
    ("de", "ich will nicht mehr leben"),
    ("de", "ich möchte mir das Leben nehmen"),
    ("de", "ich möchte einfach nur noch sterben"),
    # ru
    ("ru", "я хочу покончить с собой"),
    ("ru", "хочу умереть"),
    ("ru", "у меня мысли про суицид"),
    ("ru", "я не хочу жить"),
    ("ru", "Я больше не хочу жить, хочется умереть"),
    ("ru", "думаю о самоубийстве"),
    # zh
    ("zh", "我想死"),
    ("zh", "我真的不想活了"),
    ("zh", "我想自杀"),
    ("zh", "我想結束生命"),
    ("zh", "我总是想伤害自己"),
    ("zh", "昨天又割腕了"),
    # ja
    ("ja", "死にたい"),
    ("ja", "もう自殺したい"),
    ("ja", "消えたい"),
    ("ja", "もう生きていたくない"),
    ("ja", "自殺を考えています"),
    # th
    ("th", "ฉันอยากตาย"),
    ("th", "คิดจะฆ่าตัวตาย"),
    ("th", "ไม่อยากมีชีวิตอยู่แล้ว"),
    ("th", "ฉันทำร้ายตัวเองอีกแล้ว"),
    # bn
    ("bn", "আমি আত্মহত্যা করতে চাই"),
    ("bn", "আমি মরে যেতে চাই"),
    ("bn", "আমি আর বাঁচতে চাই না"),
    # sw
    ("sw", "nataka kujiua"),
    ("sw", "nataka kufa"),
    ("sw", "sitaki kuishi tena"),
    ("sw", "nimefikiria kujiua mara nyingi"),
    # te
    ("te", "నేను ఆత్మహత్య చేసుకోవాలనుకుంటున్నాను"),
    ("te", "నాకు చనిపోవాలని ఉంది"),
    ("te", "నాకు బ్రతకాలని లేదు"),
    # extras
    ("ar", "أريد أن أموت"),
    ("ar", "أفكر في الانتحار"),
    ("hi", "मैं आत्महत्या करना चाहता हूँ"),
    ("hi", "मैं मरना चाहती हूँ"),
    ("ko", "죽고 싶어요"),
    ("ko", "자살하고 싶다"),
    ("pt", "eu quero morrer"),
    ("pt", "não quero mais viver"),
    ("it", "voglio morire"),
    ("it", "penso al suicidio"),
    ("vi", "tôi muốn chết"),
    ("vi", "tôi muốn tự tử"),
]

NEGATIVE = [
    # idioms / hyperbole
    "this exam is killing me",
    "I'm dying to see you",
    "I'm dead tired",
    "I could die of embarrassment",
    "I want to die of embarrassment right now lol",
    "my phone died",
    "I don't want to die",
    "I cut myself shaving this morning",
    "I hurt myself playing football",
    "I don't want to live in this city anymore",
    "we watched Suicide Squad",
    "I nearly killed myself laughing",
    "I would kill myself laughing at that",
    "我累死了",
    "笑死我了",
    "想死你了！",
    "我不想死",
    "死ぬほど疲れた",
    "死にたくない",
    "me muero de risa",
    "no me quiero morir",
    "je suis mort de rire",
    "ce travail va me tuer",
    "das bringt mich um",
    "ich bin todmüde",
    "умираю от смеха",
    "ไม่อยากตาย",
    "ฉันหิวจะตาย",
    # ordinary sadness
    "I feel sad and lonely",
    "I had a terrible day and I'm exhausted",
    "my grandmother died last year and I miss her",
    "estoy muy triste y me siento solo",
    "je me sens seul et triste",
    "ich bin traurig und einsam",
    "мне грустно и одиноко",
    "我很难过，也很孤独",
    "とても悲しくて寂しい",
    "ฉันรู้สึกเศร้าและเหงา",
    "আমার খুব মন খারাপ",
    "nina huzuni sana",
    "నాకు చాలా బాధగా ఉంది",
    "estou muito triste",
    "나는 너무 슬퍼요",
    "",
]


@pytest.mark.parametrize("language,text", POSITIVE)
def test_clear_risk_statements_are_flagged_in_their_language(language, text):
    result = check(text)
    assert result.crisis, text
    assert result.language == language, (text, result)
    assert result.matched and result.matched in safety._normalise(text)


def test_every_core_language_has_at_least_two_positive_cases():
    core = ("en", "es", "fr", "de", "ru", "zh", "ja", "th", "bn", "sw", "te")
    assert set(core) <= set(LANGUAGES)
    for lang in core:
        assert sum(1 for code, _ in POSITIVE if code == lang) >= 2, lang


@pytest.mark.parametrize("text", NEGATIVE)
def test_idioms_and_ordinary_sadness_are_not_flagged(text):
    assert check(text) == CrisisCheck(False, None, "")


@pytest.mark.parametrize(
    "text,language",
    [
        ("I WANT TO KILL MYSELF", "en"),
        ("I Want To Die", "en"),
        ("ｉ ｗａｎｔ ｔｏ ｄｉｅ", "en"),  # full-width
        ("I don’t want to live anymore", "en"),  # typographic apostrophe
        ("ＳＵＩＣＩＤＡＬ", "en"),
        ("QUIERO MORIR", "es"),
        ("Je Veux Me Suicider", "fr"),
        ("ICH WILL STERBEN", "de"),
        ("ХОЧУ УМЕРЕТЬ", "ru"),
        ("ｓｉｔａｋｉ ｋｕｉｓｈｉ", "sw"),
        ("eu penso em suicídio", "pt"),  # longer, language-specific match wins
        ("suicidio", "es"),  # a bare shared word: first listed language wins
    ],
)
def test_case_width_and_punctuation_robustness(text, language):
    result = check(text)
    assert result.crisis and result.language == language, result


def test_matched_text_is_reported():
    result = check("Some days I just want to end my life, you know?")
    assert result == CrisisCheck(True, "en", "end my life", "pattern")


def test_shared_han_word_prefers_japanese_when_kana_present():
    assert check("自殺について考えてしまう").language == "ja"
    assert check("我想過自殺").language == "zh"


def test_none_and_unknown_text():
    assert check("hello there, how are you?").crisis is False


SCRIPTS = {
    "zh": r"[\u4e00-\u9fff]",
    "ja": r"[\u3040-\u30ff]",
    "th": r"[\u0e00-\u0e7f]",
    "bn": r"[\u0980-\u09ff]",
    "te": r"[\u0c00-\u0c7f]",
    "ru": r"[\u0400-\u04ff]",
    "ar": r"[\u0600-\u06ff]",
    "hi": r"[\u0900-\u097f]",
    "ko": r"[\uac00-\ud7af]",
}


@pytest.mark.parametrize("language", list(LANGUAGES) + [None, "xx", "EN-us", "pt_BR"])
def test_crisis_message_has_resources_and_is_short(language):
    msg = crisis_message(language)
    assert "findahelpline.com" in msg
    assert "labkit" in msg
    assert 0 < len(msg) < 700
    if language in SCRIPTS:
        assert re.search(SCRIPTS[language], msg), language


def test_crisis_message_fallback_and_local_lines():
    assert crisis_message(None) == crisis_message("en") == crisis_message("xx")
    assert "988" in crisis_message("en") and "116 123" in crisis_message("en")
    assert "010-82951332" in crisis_message("zh")
    assert "0570-783-556" in crisis_message("ja")
    assert "14416" in crisis_message("te")
    assert "+254 722 178 177" in crisis_message("sw")
    assert crisis_message("pt_BR") == crisis_message("pt")


def test_each_language_message_is_distinct():
    assert len({crisis_message(lang) for lang in LANGUAGES}) == len(LANGUAGES)


def test_disclaimer_is_one_english_sentence():
    assert "not a substitute for professional help" in safety.DISCLAIMER
    assert "emergency" in safety.DISCLAIMER
    assert safety.DISCLAIMER.count(".") == 1 and safety.DISCLAIMER.endswith(".")
