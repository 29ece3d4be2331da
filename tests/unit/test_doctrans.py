"""Document translation without its models: block grouping, fitting text in boxes, glossary enforcement, the
translation memory, page ranges and bad files (OCR and PDF round trips: tests/integration/test_doctrans_models.py)."""

import pytest

from labkit.doctrans import layout, ocr, render
from labkit.doctrans.ocr import Line
from labkit.doctrans.translate import Memory, parse_glossary, translate_texts
from labkit.errors import LabkitError


def L(text, x0, y0, x1, y1):
    return Line(text, (x0, y0, x1, y1), 0.99)


def test_blocks_on_a_constructed_layout():
    lines = [
        L("A Big Title", 100, 20, 600, 70),  # heading (taller)
        L("First paragraph line one", 50, 100, 450, 125),
        L("continues here", 50, 130, 400, 155),
        L("Second column starts", 550, 100, 950, 125),
        L("and goes on", 550, 130, 900, 155),
        L("- a list item", 50, 200, 300, 225),
        L("New paragraph after a gap", 50, 300, 450, 325),
    ]
    blocks = layout.group(lines, 1000)
    kinds = [(b.kind, b.text) for b in blocks]
    assert ("paragraph", "First paragraph line one continues here") in kinds
    assert ("paragraph", "Second column starts and goes on") in kinds
    assert ("list_item", "- a list item") in kinds and ("paragraph", "New paragraph after a gap") in kinds
    heading = [t for k, t in kinds if k == "heading"]
    assert heading == ["A Big Title"]
    # reading order: the left column (title is left of the gutter? no: it spans it) then the right column
    left = [t for k, t in kinds].index("First paragraph line one continues here")
    right = [t for k, t in kinds].index("Second column starts and goes on")
    assert left < right
    md = layout.to_markdown(blocks)
    assert "## A Big Title" in md and "- a list item" in md


def test_cjk_lines_join_without_spaces():
    b = layout.Block([L("我们提出了一种", 0, 0, 200, 20), L("新的网络结构。", 0, 22, 200, 42)])
    assert b.text == "我们提出了一种新的网络结构。"
    assert layout.Block([L("exam-", 0, 0, 100, 20), L("ple text", 0, 22, 100, 42)]).text == "example text"


@pytest.mark.parametrize(
    "text",
    [
        (
            "Donaudampfschifffahrtsgesellschaftskapitänsmütze und Rechtsschutzversicherungsgesellschaften"
            " sind lange deutsche Wörter, die umbrochen werden müssen."
        ),
        "我们提出了一种新的简单网络结构，完全基于注意力机制，完全摒弃了循环和卷积。实验表明，这些模型在质量上更优越，同时更易于并行化，训练时间显著减少。",
        "これは日本語の長い文章で、ボックスの中に収まるように折り返されなければなりません。",
        "นี่คือประโยคภาษาไทยที่ยาวมากและต้องถูกตัดบรรทัดให้อยู่ในกรอบ",
        "هذه جملة عربية طويلة يجب أن تلتف داخل المربع دون أن تتجاوز حدوده",
    ],
)
def test_rendering_fits_text_inside_its_box(text):
    box = (10, 10, 310, 130)
    size, lines = render.fit(text, box)
    fnt = render.font(size, render.script_font(text))
    assert all(fnt.getlength(l) <= box[2] - box[0] for l in lines)
    assert len(lines) * size * 1.2 <= box[3] - box[1]
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost in wrapping
    size2, lines2 = render.fit(text.replace(" ", "\n", 3), box)
    assert (size2, lines2) == (size, lines)  # model line breaks do not escape the box
    assert not any(l[:1] in render.NO_LINE_START for l in lines[1:])


def test_glossary_is_enforced_and_checked(tmp_path, scripted):
    glossary = parse_glossary("attention = 注意力\ntransformer\t变换器\n# comment\n")
    assert glossary == {"attention": "注意力", "transformer": "变换器"}
    with pytest.raises(LabkitError):
        parse_glossary("no separator here")
    # first answer ignores the glossary; the retry (with MUST) uses it
    backend = scripted(lambda p: "<text>注意力机制</text>" if "MUST" in p else "关注机制")
    out = translate_texts(
        ["The attention mechanism."], backend, "m", "zh", glossary=glossary, memory=Memory(tmp_path / "tm.sqlite")
    )
    assert out[0].text == "注意力机制" and out[0].glossary_missing == [] and len(backend.calls) == 2
    stubborn = scripted(lambda p: "关注机制")
    out = translate_texts(["The attention mechanism."], stubborn, "m", "zh", glossary=glossary)
    assert out[0].glossary_missing == ["attention"]


def test_translation_memory_serves_a_second_run(tmp_path, scripted):
    mem = Memory(tmp_path / "tm.sqlite")
    backend = scripted(lambda p: "翻译")
    first = translate_texts(["one", "two"], backend, "m", "zh", memory=mem)
    again = translate_texts(
        ["one", "two"], backend, "m", "zh", memory=Memory(tmp_path / "tm.sqlite")
    )  # a restart: a new connection
    assert (
        len(backend.calls) == 1
        and [t.cached for t in first] == [False, False]
        and [t.cached for t in again] == [True, True]
    )
    translate_texts(["one"], backend, "other-model", "zh", memory=mem)
    assert len(backend.calls) == 2  # another model is another key


def test_page_ranges_and_bad_files(tmp_path):
    assert ocr.parse_range("1-3,5", 6) == [0, 1, 2, 4] and ocr.parse_range(None, 2) == [0, 1]
    with pytest.raises(LabkitError):
        ocr.parse_range("4-9", 5)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(LabkitError, match="not a readable image"):
        ocr.load_pages(tmp_path / "broken.png")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 nothing")
    with pytest.raises(LabkitError, match="not a readable PDF"):
        ocr.load_pages(tmp_path / "broken.pdf")
    (tmp_path / "notes.docx").write_bytes(b"x")
    with pytest.raises(LabkitError, match="Unsupported"):
        ocr.load_pages(tmp_path / "notes.docx")


def test_vlm_prompt_and_output_handling():
    from labkit.doctrans import vlm

    msgs = vlm.messages("IMAGE", "zh", {"attention": "注意力"})
    assert (
        msgs[0]["content"][0] == {"type": "image", "image": "IMAGE"}
        and "Chinese" in msgs[0]["content"][1]["text"]
        and "注意力" in msgs[0]["content"][1]["text"]
    )
    assert vlm.clean_markdown("<think>hmm</think>```markdown\n# 标题\n\n正文\n```") == "# 标题\n\n正文\n"
    assert vlm.clean_markdown("# Title") == "# Title\n"


class _StubRecogniser:
    """rapidocr's TextRecognizer as LineByLine uses it: called with a TextRecInput, answers a TextRecOutput. Each
    line's text names its width, so a line that came back in another line's place shows."""

    rec_image_shape = [3, 48, 320]

    def __init__(self, barrier=None):
        import threading

        self.calls, self.barrier, self.lock = [], barrier, threading.Lock()

    def __call__(self, args):
        from rapidocr.ch_ppocr_rec import TextRecOutput

        images = args.img if isinstance(args.img, list) else [args.img]
        with self.lock:
            self.calls.append([im.shape[1] for im in images])
        if self.barrier is not None:
            self.barrier.wait()  # two lines in the model at once, or this times out
        return TextRecOutput(
            images,
            tuple(f"w{im.shape[1]}" for im in images),
            tuple(im.shape[1] / 1000 for im in images),
            tuple(None for _ in images),
            0.0,
        )


def _crops(widths):
    import numpy as np

    return [np.zeros((30, w, 3), np.uint8) for w in widths]


def test_lines_are_recognised_one_at_a_time_longest_first_and_come_back_in_their_order():
    pytest.importorskip("rapidocr")
    from rapidocr.ch_ppocr_rec import TextRecInput

    widths = [300, 900, 120, 600, 450]
    stub = _StubRecogniser()
    out = ocr.LineByLine(lambda: stub, workers=1, width=1.0)(TextRecInput(img=_crops(widths)))
    assert stub.calls == [[900], [600], [450], [300], [120]]  # one line per model run, the widest first
    assert out.txts == tuple(f"w{w}" for w in widths) and out.scores == tuple(w / 1000 for w in widths)
    assert len(out.imgs) == len(widths) and len(out.word_results) == len(widths)
    assert ocr.longest_first(_crops([10, 30, 20])) == [1, 2, 0]


def test_lines_run_on_several_workers_at_once():
    import threading

    pytest.importorskip("rapidocr")
    from rapidocr.ch_ppocr_rec import TextRecInput

    widths = [100, 200, 300, 400]
    stub = _StubRecogniser(threading.Barrier(2, timeout=30))
    out = ocr.LineByLine(lambda: stub, workers=2, width=1.0)(TextRecInput(img=_crops(widths)))
    assert out.txts == tuple(f"w{w}" for w in widths)
    assert sorted(c for call in stub.calls for c in call) == widths and all(len(c) == 1 for c in stub.calls)


def test_a_line_is_narrowed_once_to_the_recognisers_height_and_short_lines_are_left_alone():
    pytest.importorskip("cv2")
    long, short, just = _crops([300, 150, 210])  # 30 px high: 480, 240 and 336 px wide at the model's 48 px
    assert ocr.narrowed(long, 0.9).shape == (48, 432, 3)
    assert ocr.narrowed(short, 0.9) is short  # rapidocr pads it to 320 px anyway: nothing to save
    assert ocr.narrowed(just, 0.9).shape == (48, 320, 3)  # not below the width it would be padded to
    assert ocr.narrowed(long, 1.0) is long


def test_the_recogniser_sees_each_line_narrowed_and_loads_on_first_use():
    pytest.importorskip("rapidocr")
    from rapidocr.ch_ppocr_rec import TextRecInput

    stub, made = _StubRecogniser(), []
    rec = ocr.LineByLine(lambda: made.append(1) or stub, workers=2)
    assert made == [] and rec.width == ocr.REC_WIDTH  # the model loads on first use
    (crop,) = _crops([300])
    seen = ocr.narrowed(crop, ocr.REC_WIDTH).shape[1]  # 432 px at 0.9
    assert rec(TextRecInput(img=crop)).txts == (f"w{seen}",) and rec(TextRecInput(img=[crop])).txts == (f"w{seen}",)
    assert made == [1] and stub.calls == [[seen], [seen]] and ocr.rec_workers() >= 1


def test_erasing_takes_the_median_colour_of_the_rows_around_a_box():
    import numpy as np
    from PIL import Image

    img = Image.new("RGB", (60, 40), (250, 240, 230))
    img.paste((0, 0, 0), (20, 15, 40, 25))  # the "text"
    img.paste((10, 10, 10), (18, 12, 24, 13))  # a speck in the row above the box: outvoted
    for page in (img, np.asarray(img)):
        assert render._background(page, (20, 15, 40, 25)) == (250, 240, 230)
    assert render._background(img, (50, 10, 20, 20)) == (255, 255, 255)  # no pixels around: white
