"""Playwright on the Document translation tab: a one-click example, then Cancel, which must read
"Cancelled" and raise no red error toast (issue 18.4)."""

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
