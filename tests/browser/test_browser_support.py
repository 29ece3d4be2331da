"""Playwright on the Support chat tab's role-play data generation: the generated dialogues are shown
on the page, turn by turn with their strategies, not only offered as a file; Cancel keeps what was finished."""

import re

import pytest


pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _open(page):
    page.get_by_role("tab", name="Support chat").first.click()
    acc = page.get_by_text("Role-play data and self-evolution pairs")
    if not page.get_by_role("button", name="Generate dialogues").is_visible():
        acc.click()
    return page.locator("#lk-support-rp-status"), page.locator("#lk-support-rp-preview")


def test_roleplay_generation_previews_the_dialogues(page, fill):
    status, preview = _open(page)
    fill(page.get_by_label("Dialogues", exact=True), "2")
    fill(page.get_by_label("Turns per dialogue"), "2")
    page.get_by_role("button", name="Generate dialogues").click()
    status.get_by_text("2 dialogues").wait_for(timeout=240_000)
    text = preview.inner_text()
    assert text.count("Seeker") >= 2 and "Supporter [" in text  # each turn, with the strategy it used
    assert re.search(r"rp-0-0 · \w+ · ", text) and re.search(r"rp-0-1 · \w+ · ", text), text[:300]  # id · language


def test_roleplay_cancel_keeps_the_finished_dialogues(page, fill):
    status, preview = _open(page)
    fill(page.get_by_label("Dialogues", exact=True), "40")
    page.get_by_role("button", name="Generate dialogues").click()
    page.get_by_text(re.compile(r"dialogue [2-9]/40")).first.wait_for(timeout=240_000)
    stop = page.locator("#lk-support-rp-stop")
    stop.click()

    def said():  # what the page shows, for a wait that times out
        return status.inner_text(), page.locator(".toast-body").all_inner_texts()

    try:
        # the Cancel answers with a toast; the status line is the work's own, which ends "Cancelled after …"
        page.locator(".toast-body", has_text="Cancelling").or_(status.get_by_text("Cancelled")).first.wait_for(
            timeout=60_000
        )
        # the dialogue in progress finishes its turn first; an error would show as a toast, not as a status
        status.get_by_text("Cancelled").or_(page.locator(".toast-body.error")).first.wait_for(timeout=240_000)
    except Exception as e:
        raise AssertionError(f"{type(e).__name__}; the page shows {said()}") from e
    # a Cancel's late answer once overwrote that end with "Cancelling …" for good (two suites on 2 cores)
    page.wait_for_timeout(2_000)
    m = re.search(r"Cancelled\W+after (\d+) of 40", status.inner_text())
    assert m and 1 <= int(m.group(1)) < 40, (status.inner_text(), page.locator(".toast-body").all_inner_texts())
    assert "Seeker" in preview.inner_text()
    assert page.locator(".toast-body.error").count() == 0
