"""Playwright on the Document translation tab: a one-click example, then Cancel, which must read
"Cancelled" and raise no red error toast."""

import pytest


pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _pick_example(page, label: str, stem: str) -> None:
    """Click an example and wait, as a person does, until its file shows in the upload field: Gradio loads an
    example from the server, and a Translate clicked before the file arrived was rightly refused ("Upload a page
    image or a PDF first.") when a busy machine answered the example late (two test suites at once)."""
    page.locator("#tab-translate").get_by_text(label).click()
    page.locator("#lk-dt-upload").get_by_text(stem, exact=True).first.wait_for(timeout=120_000)


def test_cancel_a_translation_shows_cancelled(page):
    page.get_by_role("tab", name="Document translation").click()
    _pick_example(page, "Scanned page (grey, skewed, noisy)", "example-scan")
    page.get_by_role("button", name="Translate", exact=True).click()
    # at once, as a person who clicked the wrong button does: the translation may still wait in the queue or load
    # its model, and the Cancel must not be wiped when it begins (it was, on a busy machine)
    page.get_by_role("button", name="Cancel", exact=True).first.click()
    status = page.locator("#lk-dt-status")
    try:
        status.get_by_text("Cancelled.").wait_for(timeout=240_000)
    except Exception as e:  # what the user saw instead
        toasts = page.locator(".toast-body").all_inner_texts()
        said = f"the status line: {status.inner_text()!r}; toasts: {toasts}"
        raise AssertionError(f"no 'Cancelled.' in 240 s; {said}") from e
    assert "Nothing was wrong" in status.inner_text()
    assert page.locator(".toast-body.error").count() == 0  # no red error toast for the user's own choice


def _src(page, elem_id):
    img = page.locator(f"#{elem_id} img")
    return img.first.get_attribute("src") if img.count() else None


def test_before_after_viewer_shows_each_page_side_by_side(page):
    """The two-page example PDF translated; the viewer shows the original and the translation of one
    page side by side, and stepping the Page number shows the other page."""
    page.get_by_role("tab", name="Document translation").click()
    _pick_example(page, "PDF (born-digital text)", "example-paper-2pages")
    page.get_by_role("button", name="Translate", exact=True).click()
    status = page.locator("#lk-dt-status")
    status.get_by_text("2 page(s)").wait_for(timeout=240_000)
    page.wait_for_function(
        "() => document.querySelector('#lk-dt-before img') && document.querySelector('#lk-dt-after img')",
        timeout=30_000,
    )
    before1, after1 = _src(page, "lk-dt-before"), _src(page, "lk-dt-after")
    assert before1 and after1 and before1 != after1
    b, a = page.locator("#lk-dt-before").bounding_box(), page.locator("#lk-dt-after").bounding_box()
    assert b["x"] + b["width"] <= a["x"] + 1 and abs(b["y"] - a["y"]) < 5  # side by side, same height on screen
    page.locator("#lk-dt-page input").fill("2")
    page.locator("#lk-dt-page input").press("Enter")
    page.wait_for_function(
        "(s) => { const i = document.querySelector('#lk-dt-before img'); return i && i.getAttribute('src') != s; }",
        arg=before1,
        timeout=30_000,
    )
    before2, after2 = _src(page, "lk-dt-before"), _src(page, "lk-dt-after")
    assert before2 != before1 and after2 != after1 and before2 != after2
    assert page.locator(".toast-body.error").count() == 0


# the example PDF's lines in Chinese: what a translation model would answer (the tiny model's is noise, drawn at the
# smallest size that fits, which measures nothing)
ZH = {
    "Attention Is All You Need": "注意力就是你所需要的一切",
    "Abstract": "摘要",
    "The dominant sequence transduction models are based on recurrent networks.": "主流的序列转换模型基于循环网络。",
    "We propose a new simple network architecture, the Transformer,": "我们提出一种新的简单网络架构 Transformer，",
    "based solely on attention mechanisms.": "它完全基于注意力机制。",
    "Experiments on two machine translation tasks show these models": "在两个机器翻译任务上的实验表明，这些模型",
    "to be superior in quality while being more parallelizable.": "质量更优，同时更易于并行化。",
    "1 Introduction": "1 引言",
    "Recurrent neural networks have been established as state of the art": "循环神经网络已被确立为",
    "in sequence modeling and transduction problems.": "序列建模和转换问题中最先进的方法。",
    "Attention mechanisms allow modeling of dependencies": "注意力机制能够对依赖关系建模，",
    "without regard to their distance in the input or output sequences.": "而不考虑它们在输入或输出序列中的距离。",
}


def _to_chinese(prompt: str) -> str:
    import re

    text = prompt.split("<text>\n")[-1].split("\n</text>")[0]
    for en, zh in sorted(ZH.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(en, zh)
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", text)


def test_after_page_is_shown_at_a_readable_size(page, monkeypatch, tmp_path):
    """Each page fills its pane's width (the page scrolls), so the translation drawn on the After page, and the
    original's type on the Before page, are at least 9 px tall on the screen at 1400 × 1000; the Whole page view
    shows all of a page in 600 px, for comparing layouts."""
    import json
    import os
    import shutil
    from pathlib import Path

    from fakes import scripted

    from labkit.doctrans import render
    from labkit.settings import get_settings
    from labkit.ui.tabs.translate import FIT_WIDTH, WHOLE_PAGE, WHOLE_PAGE_HEIGHT

    monkeypatch.setattr("labkit.ui.tabs.translate.load_backend", lambda state: scripted(_to_chinese))
    page.get_by_role("tab", name="Document translation").click()
    tab = page.locator("#tab-translate")
    _pick_example(page, "PDF (born-digital text)", "example-paper-2pages")
    tab.get_by_label("Domain hint").fill("a machine learning paper")  # its own translation-memory entries
    tab.get_by_role("button", name="Translate", exact=True).click()
    page.wait_for_function(  # this translation's page 1 (an earlier test's status also says "2 page(s)")
        """() => document.querySelector('#lk-dt-after-text textarea').value.includes('注意力')
            && [...document.querySelectorAll('#lk-dt-after img')].some(i => i.complete && i.naturalWidth)""",
        timeout=240_000,
    )
    assert "2 page(s)" in page.locator("#lk-dt-status").inner_text()
    size = """(id) => { const i = document.querySelector(`#${id} img`);
        return {natural: i.naturalWidth, shown: i.getBoundingClientRect().width}; }"""
    after, before = page.evaluate(size, "lk-dt-after"), page.evaluate(size, "lk-dt-before")
    scale = after["shown"] / after["natural"]
    assert before["shown"] / before["natural"] * 11 / 72 * 150 >= 9  # the original's 11 pt type at 150 dpi
    reports = sorted((get_settings().cache_dir).rglob("doctrans-*/report.json"), key=lambda p: p.stat().st_mtime)
    first = json.loads(reports[-1].read_text(encoding="utf-8"))["pages"][0]["blocks"]
    assert "注意力" in first[0]["translation"]
    drawn = {b["translation"]: render.fit(b["translation"], tuple(b["box"]))[0] * scale for b in first}
    assert min(drawn.values()) >= 9, (scale, drawn)  # each block's text height on the screen, in CSS pixels
    page.get_by_text("Before / after, page by page").evaluate(
        "e => window.scrollBy(0, e.getBoundingClientRect().top - 12)"
    )
    page.wait_for_timeout(500)
    path = tmp_path / "translate-after.png"
    page.screenshot(path=str(path))
    if os.environ.get("LABKIT_SCREENSHOTS"):
        Path(os.environ["LABKIT_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["LABKIT_SCREENSHOTS"]) / path.name)
    page.locator("#lk-dt-view").get_by_label(WHOLE_PAGE).check()
    page.wait_for_function(
        "(h) => document.querySelector('#lk-dt-after img').getBoundingClientRect().height <= h + 1",
        arg=WHOLE_PAGE_HEIGHT,
        timeout=30_000,
    )
    page.locator("#lk-dt-view").get_by_label(FIT_WIDTH).check()  # and back
    page.wait_for_function(
        "(w) => Math.abs(document.querySelector('#lk-dt-after img').getBoundingClientRect().width - w) < 2",
        arg=after["shown"],
        timeout=30_000,
    )
    assert page.locator(".toast-body.error").count() == 0
