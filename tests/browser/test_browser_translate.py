"""Playwright on the Document translation tab: a one-click example, then Cancel, which must read
"Cancelled" and raise no red error toast."""

import pytest


pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_cancel_a_translation_shows_cancelled(page):
    page.get_by_role("tab", name="Document translation").click()
    page.get_by_text("Scanned page (grey, skewed, noisy)").click()
    page.get_by_role("button", name="Translate", exact=True).click()
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Cancel", exact=True).first.click()
    status = page.locator("#lk-dt-status")
    status.get_by_text("Cancelled.").wait_for(timeout=240_000)
    assert "Nothing was wrong" in status.inner_text()
    assert page.locator(".toast-body.error").count() == 0  # no red error toast for the user's own choice


def _src(page, elem_id):
    img = page.locator(f"#{elem_id} img")
    return img.first.get_attribute("src") if img.count() else None


def test_before_after_viewer_shows_each_page_side_by_side(page):
    """The two-page example PDF translated; the viewer shows the original and the translation of one
    page side by side, and stepping the Page number shows the other page."""
    page.get_by_role("tab", name="Document translation").click()
    page.get_by_text("PDF (born-digital text)").click()
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
