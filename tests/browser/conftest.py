"""The one browser page for the browser tests: the system Chromium through Playwright, on the session's app.
Missing Chromium skips locally and fails under .ci/run (LABKIT_REQUIRE_BROWSER)."""

import os
import sys
import threading
import traceback
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


def _app_threads() -> str:
    """Where the app's threads are now (it serves from this process): the threads that run labkit code, as a
    failed browser test leaves them. A wait that timed out then says what the server was doing meanwhile."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in sys._current_frames().items():
        stack = traceback.format_stack(frame)
        if ident != threading.get_ident() and any("/labkit/" in line for line in stack):
            out.append(f"--- thread {names.get(ident, ident)}\n" + "".join(stack[-12:]))
    return "\n".join(out) or "(no thread of the app runs labkit code)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        report.sections.append(("the app's threads at the failure", _app_threads()))
    return report


# How often a test's wait_for_function checks its condition. Playwright's default checks on every animation frame
# (60 a second), and each check of `innerText` lays the page out: a test that waits 30 s for a run made Chromium
# lay out ~1,800 times, and the longer the machine made it wait, the more CPU the waiting cost.
POLL_MS = 200


def _poll_every(pg, ms: int) -> None:
    """Make `ms` the page's default polling for wait_for_function (a call may still pass its own)."""
    wait = pg.wait_for_function

    def wait_for_function(expression, *, arg=None, timeout=None, polling=ms):
        return wait(expression, arg=arg, timeout=timeout, polling=polling)

    pg.wait_for_function = wait_for_function


# Gradio 6.31's page keeps one status tracker's elapsed-time loop running after the app has loaded (the app's own
# loading tracker, removed while pending), at 60 frames a second for as long as the page is open: on this machine
# about a third of an idle page's Chromium CPU, paid for every second a test waits. The test page runs that tracker's
# frames 10 times a second instead (its "1.2s" shows tenths); every other animation frame is untouched. A person's
# browser still pays it (docs/performance.md, section 6): the loop is bound before any script of the app can run.
CALM_STATUS_TRACKER = """(() => {
  const frame = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) =>
    /statustracker/.test(new Error().stack) ? setTimeout(() => callback(performance.now()), 100) : frame(callback);
})();"""


@pytest.fixture(scope="module")
def page(app_url):
    if not Path(CHROMIUM).exists():
        if os.environ.get("LABKIT_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs the Debian 'chromium' package")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        _poll_every(pg, POLL_MS)
        pg.add_init_script(CALM_STATUS_TRACKER)
        pg.goto(app_url, wait_until="load")
        pg.wait_for_selector("#lk-header", timeout=60_000)
        yield pg
        browser.close()


@pytest.fixture
def fill(page):
    """fill(locator, value): type into a field and wait until it keeps the value. A tab's components mount on its
    first visit, and a value typed while they mount is reset to the default (one run in three of the role-play test
    generated the default 4 dialogues instead of the 2 typed)."""

    def _fill(field, value: str):
        for _ in range(20):
            field.fill(value)
            page.wait_for_timeout(300)
            if field.input_value() == value:
                return field
        raise AssertionError(f"the field does not keep {value!r}")

    return _fill


@pytest.fixture
def shot(page, tmp_path):
    """shot(name): a full-page screenshot under the test's tmp dir (LABKIT_SCREENSHOTS=dir copies it there)."""
    import shutil

    def _shot(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        if os.environ.get("LABKIT_SCREENSHOTS"):
            Path(os.environ["LABKIT_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(os.environ["LABKIT_SCREENSHOTS"]) / path.name)
        return path

    return _shot
