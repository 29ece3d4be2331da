"""Document translation through gradio_client on a rendered page (tiny model: meaningless translations,
real OCR, layout, rendering and downloads)."""

import pytest
from gradio_client import handle_file
from PIL import Image, ImageDraw

from labkit.doctrans import render
from labkit.evaluate import langid


def test_translate_a_page(client, tmp_path):
    img = Image.new("RGB", (800, 400), "white")
    d = ImageDraw.Draw(img)
    d.text((40, 40), "Introduction", fill="black", font=render.font(40))
    d.text((40, 120), "Transformers process whole sentences at once.", fill="black", font=render.font(26))
    img.save(tmp_path / "page.png")
    gallery, files, md, note, page, before, after, after_text = client.predict(  # the page pairs are server-side state
        handle_file(str(tmp_path / "page.png")),
        "en",
        "zh",
        "pipeline",
        "",
        150,
        "",
        "introduction = 引言",
        api_name="/doc_translate",
    )
    assert len(gallery) == 1 and any(str(f).endswith(".pdf") for f in files) and "blocks" in note
    assert (
        md.strip()
        and (page["value"] if isinstance(page, dict) else page) == 1
        and str(before).endswith(".png")
        and str(after).endswith(".png")
        and before != after
    )
    # the After page as text at a readable size: the page's translated blocks (the image's can be drawn small)
    assert after_text.strip() and all(part.strip() in md for part in after_text.split("\n\n") if part.strip())
    if langid.wrong_language(md, "zh", min_letters=20):  # the tiny model's "Chinese" is often not: then it is named
        assert "does not read as Chinese" in note
    if "missing a glossary term" in note:  # the tiny model rarely writes 引言: the note then names block and term
        assert "block 1" in note and "introduction → 引言" in note
    with pytest.raises(Exception, match="Upload"):
        client.predict(None, "en", "zh", "pipeline", "", 150, "", "", api_name="/doc_translate")
