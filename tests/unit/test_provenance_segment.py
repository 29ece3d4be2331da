import pytest

from labkit.provenance.segment import Sentence, is_cjk, segment_sources, segment_target, split_sentences


def sents(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


# (text, expected sentences): every case is also checked for the offset invariant below.
CASES = {
    "abbreviations": (
        "Mr. Smith met Dr. Jones in the U.S. last year. They spoke, e.g. about Prof. Lee. It was 5 p.m. on Jan. 3.",
        [
            "Mr. Smith met Dr. Jones in the U.S. last year.",
            "They spoke, e.g. about Prof. Lee.",
            "It was 5 p.m. on Jan. 3.",
        ],
    ),
    "decimals": (
        "Pi is 3.14 roughly. The total was 1,234.5 dollars. Fig. 2 shows it.",
        ["Pi is 3.14 roughly.", "The total was 1,234.5 dollars.", "Fig. 2 shows it."],
    ),
    "urls_emails": (
        "See example.com for details. Write to a.b@c.org today! Or visit https://x.y.org/p.html now?",
        ["See example.com for details.", "Write to a.b@c.org today!", "Or visit https://x.y.org/p.html now?"],
    ),
    "quote_after_period": ('He said "Go." Then left.', ['He said "Go."', "Then left."]),
    "quote_then_lowercase": ('"Stop!" she shouted. He stopped.', ['"Stop!" she shouted.', "He stopped."]),
    "ellipsis": (
        "Wait... what happened? I waited… Then he came.",
        ["Wait... what happened?", "I waited…", "Then he came."],
    ),
    "initials": ("J. K. Rowling wrote it. It sold well.", ["J. K. Rowling wrote it.", "It sold well."]),
    "lists_and_headings": (
        "# Results\nWe ran two tests.\n\n1. The first one. It passed.\n"
        "2) The second one\n- a bullet\n* another\n  3. indented",
        [
            "# Results",
            "We ran two tests.",
            "1. The first one.",
            "It passed.",
            "2) The second one",
            "- a bullet",
            "* another",
            "3. indented",
        ],
    ),
    "blank_lines": (
        "First paragraph without a stop\n\n\nSecond paragraph.\r\nThird line",
        ["First paragraph without a stop", "Second paragraph.", "Third line"],
    ),
    "zh_no_spaces": (
        "今天天气很好。我们去公园吧！你来吗？好的。",
        ["今天天气很好。", "我们去公园吧！", "你来吗？", "好的。"],
    ),
    "zh_corner_quotes": (
        "他说：「我来了。」然后坐下。『真的？』她问。",
        ["他说：「我来了。」", "然后坐下。", "『真的？』", "她问。"],
    ),
    "zh_curly_quotes": ("他说：“好。”大家都笑了。", ["他说：“好。”", "大家都笑了。"]),
    "zh_mixed_english": (
        "王医生（Dr. Wang）今天来了。他工作了3.5小时，见了U.S. team的人。",
        ["王医生（Dr. Wang）今天来了。", "他工作了3.5小时，见了U.S. team的人。"],
    ),
    "zh_full_width": ("这是全角！真的？是的；好", ["这是全角！", "真的？", "是的；", "好"]),
    "zh_ellipsis_inside": ("我……我不知道。", ["我……我不知道。"]),
    "hindi_danda": ("यह एक वाक्य है। यह दूसरा है॥ और तीसरा", ["यह एक वाक्य है।", "यह दूसरा है॥", "और तीसरा"]),
    "bengali_danda": ("আমি ভাত খাই।তুমি কী খাও?", ["আমি ভাত খাই।", "তুমি কী খাও?"]),
    "arabic_question": ("كيف حالك؟ أنا بخير. شكرا", ["كيف حالك؟", "أنا بخير.", "شكرا"]),
    "thai_lines": ("สวัสดีครับ\nวันนี้อากาศดีมาก\n\nขอบคุณ", ["สวัสดีครับ", "วันนี้อากาศดีมาก", "ขอบคุณ"]),
    "surrounding_whitespace": ("   Leading space.   Trailing space.   ", ["Leading space.", "Trailing space."]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_split_cases(name):
    text, expected = CASES[name]
    assert sents(text) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_offsets_are_exact_and_ordered(name):
    text = CASES[name][0]
    targets = segment_target(text)
    sources = segment_sources([text, text + "\nextra"])
    prev_end = 0
    for s in targets:
        assert text[s.start : s.end] == s.text and s.text == s.text.strip() and s.text
        assert s.start >= prev_end
        prev_end = s.end
    for i, doc in enumerate(sources, start=1):
        full = text if i == 1 else text + "\nextra"
        assert all(full[s.start : s.end] == s.text for s in doc)


def test_ids_and_doc_numbers():
    sources = segment_sources(["A one. A two.", "B one."])
    assert [[s.id for s in d] for d in sources] == [["D1-1", "D1-2"], ["D2-1"]]
    assert [s.doc for d in sources for s in d] == [1, 1, 2]
    target = segment_target("T one. T two. T three.")
    assert [s.id for s in target] == ["T1", "T2", "T3"] and {s.doc for s in target} == {0}
    assert target[1] == Sentence("T2", "T two.", 7, 13, 0)


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n"])
def test_empty_input(text):
    assert split_sentences(text) == []
    assert segment_target(text) == []
    assert segment_sources([text]) == [[]]


def test_lang_argument_is_accepted():
    assert sents("好。Yes.") == ["好。", "Yes."]
    assert split_sentences("好。Yes.", lang="zh") == split_sentences("好。Yes.", lang=None)


def test_is_cjk():
    assert all(is_cjk(c) for c in "中文かなカナ한。！")
    assert not any(is_cjk(c) for c in "aZ1.!ءअ")


def test_long_document_completes_with_right_count():
    # ~100k characters; the point is that it finishes (linear-ish) and splits correctly, not a timing assert.
    unit = "Dr. Smith measured 3.14 units at example.com. 他说：「好。」"
    text = " ".join([unit] * (100_000 // len(unit) + 1))
    n_units = 100_000 // len(unit) + 1
    out = split_sentences(text)
    assert len(text) >= 100_000
    assert len(out) == 2 * n_units
    assert all(text[s:e].strip() == text[s:e] for s, e in out[:50])
