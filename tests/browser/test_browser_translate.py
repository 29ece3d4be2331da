"""Playwright on the Document translation tab: a one-click example, then Cancel, which must read
"Cancelled" and raise no red error toast (issue 18.4)."""

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(app_url):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(app_url, wait_until="load")
        pg.wait_for_selector("#lk-header", timeout=60_000)
        yield pg
        browser.close()


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
