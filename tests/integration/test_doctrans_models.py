"""Document translation with its models loaded: OCR (rapidocr's PP-OCR models) on rendered pages, rendering
over OCR'd blocks, PDF in → PDF out, the bundled examples, and the VLM engine's config check."""

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from labkit.doctrans import document, examples, layout, ocr, render
from labkit.errors import LabkitError

pytestmark = pytest.mark.slow  # each test loads the OCR models or transformers (5–20 s on 2 cores)


def page_with(lines: list[tuple[str, int, int, int]], size=(1000, 700)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    for text, x, y, px in lines:
        d.text((x, y), text, fill="black", font=render.font(px))
    return img


def cer(pred: str, ref: str) -> float:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(pred.replace(" ", ""), ref.replace(" ", "")) / max(len(ref.replace(" ", "")), 1)


@pytest.fixture(scope="module")
def rendered_page():
    return page_with(
        [
            ("Attention Is All You Need", 60, 40, 40),
            ("We propose a new simple network architecture.", 60, 130, 28),
            ("我们提出了一种新的简单网络结构。", 60, 190, 28),
        ]
    )


def test_render_page_erases_and_draws(rendered_page):
    blocks = layout.group(ocr.ocr_image(rendered_page), rendered_page.width)
    out = render.render_page(
        rendered_page, blocks, ["注意力就是你所需要的一切", "我们提出一种新的网络。", "We propose a new network."]
    )
    assert out.size == rendered_page.size and out.tobytes() != rendered_page.tobytes()
    render.render_page(rendered_page, blocks[:1], ["مرحبا بالعالم"])  # right-to-left: no crash


def test_pdf_in_pdf_out_with_the_same_page_count(tmp_path, rendered_page, monkeypatch, scripted):
    from labkit.doctrans import document

    pdf = tmp_path / "in.pdf"
    second = page_with([("Results and discussion", 60, 60, 36), ("The model trains in twelve hours.", 60, 140, 28)])
    rendered_page.save(pdf, save_all=True, append_images=[second], resolution=100)
    res = document.translate_document(pdf, "zh", scripted(lambda p: "译文"), "scripted", tmp_path / "out", dpi=100)
    import pypdfium2 as pdfium

    assert len(pdfium.PdfDocument(res["pdf"])) == 2 and res["stats"]["pages"] == 2
    assert all(Path(p).exists() for p in res["images"] + res["side_by_side"])
    assert "译文" in (tmp_path / "out" / "translation.md").read_text()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["stats"]["blocks"] >= 3 and {p["source"] for p in report["pages"]} == {
        "ocr"
    }  # an image-only PDF: OCR
    again = document.translate_document(pdf, "zh", scripted(lambda p: "译文"), "scripted", tmp_path / "out2", dpi=100)
    assert again["stats"]["cached_blocks"] == again["stats"]["blocks"]  # the second run costs nothing


def test_ocr_english_and_chinese(rendered_page):
    lines = ocr.ocr_image(rendered_page)
    texts = [l.text for l in lines]
    # CER ≤ 5% per line on clean rendered text (the threshold this project holds rapidocr's PP-OCR models to)
    for ref in (
        "Attention Is All You Need",
        "We propose a new simple network architecture.",
        "我们提出了一种新的简单网络结构。",
    ):
        assert min(cer(t, ref) for t in texts) <= 0.05, texts
    assert all(0 < l.confidence <= 1 and l.box[0] < l.box[2] and l.box[1] < l.box[3] for l in lines)


def test_line_by_line_recognition_reads_as_rapidocrs_own(rendered_page):
    """labkit's recogniser (one line per model run, narrowed to ocr.REC_WIDTH, lines over the cores) against
    rapidocr's batches of 16 at full width: the same lines, boxes and text on the page (docs/performance.md §4
    times the two, and measures the narrowing on a wider set of lines)."""
    import numpy as np

    params = tuple(ocr.OCR_PARAMS.items())
    assert isinstance(ocr._engine(params).text_rec, ocr.LineByLine)
    ours = ocr.lines_of(ocr._engine(params)(np.asarray(rendered_page)))
    theirs = ocr.lines_of(ocr._engine(params, lines_apart=False)(np.asarray(rendered_page)))
    assert [(l.text, l.box) for l in ours] == [(l.text, l.box) for l in theirs] and len(ours) == 3
    assert all(abs(a.confidence - b.confidence) < 0.05 for a, b in zip(ours, theirs))


def test_vlm_engine_refuses_a_text_only_model_in_one_sentence(tmp_path):
    from labkit.doctrans import vlm

    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "hidden_size": 8,
                "num_attention_heads": 2,
                "num_hidden_layers": 1,
                "intermediate_size": 16,
                "vocab_size": 32,
            }
        )
    )
    with pytest.raises(LabkitError) as err:
        vlm.check_vision(str(tmp_path), "my-text-model")
    assert (
        err.value.message
        == "The vlm engine needs a vision-language model, and my-text-model (llama) cannot read images."
    )
    assert "Qwen2.5-VL" in err.value.hint and "pipeline" in err.value.hint


def test_bundled_examples_read_as_image_scan_and_pdf_text(tmp_path):
    files = examples.example_files(tmp_path)
    assert set(files) == {"page", "scan", "pdf"}
    pdf = document.analyse(files["pdf"])
    assert pdf[0]["source"] == "pdf-text" and pdf[0]["blocks"][0].text == examples.TITLE
    scan = document.analyse(files["scan"])
    assert scan[0]["source"] == "ocr" and "Attention" in scan[0]["blocks"][0].text


def test_ocr_json_lists_each_page_and_every_block_in_reading_order(rendered_page, tmp_path):
    """What `labkit doctrans ocr --json` prints: per page its lines and blocks, then all blocks in order."""
    path = tmp_path / "page.png"
    rendered_page.save(path)
    data = document.analysis_json(document.analyse(path))
    json.dumps(data)  # plain JSON
    (page,) = data["pages"]
    assert page["page"] == 1 and page["source"] == "ocr"
    assert data["blocks"] == page["blocks"] and "Attention" in data["blocks"][0]["text"]
    assert "网络结构" in data["blocks"][-1]["text"]
    for item in page["lines"] + page["blocks"]:
        x0, y0, x1, y1 = item["box"]
        assert 0 < item["confidence"] <= 1 and x0 < x1 and y0 < y1
    for b in page["blocks"]:  # a block is as confident as its least confident line inside it
        inside = [l for l in page["lines"] if l["text"] in b["text"]]
        assert inside and b["confidence"] == min(l["confidence"] for l in inside)


def test_a_page_without_text_is_refused_before_the_model_is_made(tmp_path, rendered_page, scripted):
    """The backend may be given as a function: it is called only once the pages are read and hold text."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 120), "white").save(blank)

    def make_backend():
        raise AssertionError("the model was made for a page without text")

    with pytest.raises(LabkitError, match="No text was found"):
        document.translate_document(blank, "zh", make_backend, "m", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no empty output folder
    page, made = tmp_path / "page.png", []
    rendered_page.save(page)
    res = document.translate_document(
        page, "zh", lambda: made.append(1) or scripted(lambda p: "译文"), "scripted", tmp_path / "out2"
    )
    assert made == [1] and res["stats"]["blocks"] >= 1 and "译文" in res["markdown"]
