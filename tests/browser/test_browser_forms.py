"""What you type is what runs: fields typed at a person's pace (150 ms a key) and a button clicked at once, on an
idle server and on one whose form syncs are slowed down (LABKIT_UI_SYNC_DELAY plays a busy machine). The started
run's recipe in the store must hold exactly what the form showed at the click."""

from pathlib import Path

import pytest

from person import dismiss_toasts, type_like_a_person  # noqa: E402  (tests/browser is on sys.path)

pytestmark = pytest.mark.browser
FIXTURE = Path(__file__).parents[1] / "fixtures" / "curate" / "rules.jsonl"


def _run_id(page, selector: str, before: str) -> str:
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{selector} textarea, {selector} input')]
            .some(e => e.value && e.value != {before!r})""",
        timeout=120_000,
    )
    return page.locator(f"{selector} textarea, {selector} input").first.input_value().strip()


@pytest.fixture(params=[0.0, 1.5], ids=["idle", "slow-sync"])
def sync_delay(request, monkeypatch):
    monkeypatch.setenv("LABKIT_UI_SYNC_DELAY", str(request.param))
    return request.param


def test_train_runs_what_was_typed_when_clicked_at_once(page, sync_delay, shot):
    from labkit import jobs

    dismiss_toasts(page)
    page.get_by_role("tab", name="Train").first.click()
    notes = page.locator("#lk-train-notes")
    type_like_a_person(page.get_by_label("Run name"), "bad name!!")
    page.get_by_role("button", name="Validate", exact=True).click()
    page.get_by_text("may use only letters").first.wait_for(timeout=60_000)  # the first click sees the bad name
    assert "Ready to launch" not in notes.inner_text()
    dismiss_toasts(page)
    type_like_a_person(page.get_by_label("Run name"), f"typed-{int(sync_delay * 10)}")
    type_like_a_person(page.get_by_label("Max steps"), "2")
    before = page.locator("#lk-train-run textarea, #lk-train-run input").first.input_value()
    type_like_a_person(page.get_by_label("Learning rate"), "0.0025")
    page.get_by_role("button", name="Launch", exact=True).click()  # straight after the last key
    rid = _run_id(page, "#lk-train-run", before)
    run = jobs.status(rid)
    trainer = run.config["trainer"]
    assert (run.name, trainer["learning_rate"], trainer["max_steps"]) == (f"typed-{int(sync_delay * 10)}", 0.0025, 2)
    page.wait_for_function(
        "() => document.querySelector('#lk-train-yaml').innerText.includes('0.0025')", timeout=30_000
    )  # and the editor shows what ran
    jobs.cancel(rid)
    if sync_delay:
        shot("train-typed")


def test_data_curates_what_was_typed_when_clicked_at_once(page, sync_delay, shot):
    from labkit import jobs

    dismiss_toasts(page)
    page.get_by_role("tab", name="Data", exact=True).first.click()
    page.locator("#lk-data-source textarea").fill(str(FIXTURE))
    page.wait_for_function(
        "() => document.querySelector('#lk-data-editor').innerText.includes('min_chars')", timeout=60_000
    )
    type_like_a_person(page.get_by_label("language (ISO 639-3)"), "zho")
    before = page.locator("#lk-data-run-id textarea, #lk-data-run-id input").first.input_value()
    type_like_a_person(page.get_by_label("length: drop if chars ≤"), "150")
    page.locator("#lk-data-run").click()  # straight after the last key
    rid = _run_id(page, "#lk-data-run-id", before)
    recipe = jobs.status(rid).config["recipe"]
    assert recipe["rules"]["length"]["min_chars"] == 150 and recipe["language"] == "zho"
    page.wait_for_function(
        "() => document.querySelector('#lk-data-status').innerText.includes('succeeded')", timeout=180_000
    )
    if sync_delay:
        shot("data-typed")


def test_evaluate_runs_what_was_typed_when_clicked_at_once(page, shot):
    """Evaluate's form has no YAML editor: the click sends the fields themselves, so there is no sync to slow
    down (one run, idle). Unticked languages, a typed model, numbers and tags, the button clicked straight after
    the last key: the job's command, the run's recorded spec and the command the page shows hold what was typed."""
    import json

    from labkit import jobs
    from labkit.cli import build_parser
    from labkit.ui.tabs.evaluate import languages_of

    dismiss_toasts(page)
    page.get_by_role("tab", name="Evaluate").first.click()
    tab = page.locator("#tab-evaluate")
    data = tab.locator("#lk-eval-data textarea, #lk-eval-data input").first
    assert data.input_value() == "synth"  # the synthetic world: 11 languages, a small trained model
    keep = [lang for lang in languages_of("mgsm", "synth") if lang in ("en", "de")]  # in the field's order
    for lang in languages_of("mgsm", "synth"):
        box = tab.get_by_role("checkbox", name=lang, exact=True)
        if box.is_checked() != (lang in keep):
            box.click()
    tag = "typed:evaluate"
    type_like_a_person(tab.get_by_label("Model", exact=True), "tiny-math-sft")
    type_like_a_person(tab.get_by_label("Items per language"), "3")
    type_like_a_person(tab.get_by_label("Tags", exact=False), tag)
    before = tab.locator("#lk-eval-run textarea, #lk-eval-run input").first.input_value()
    type_like_a_person(tab.get_by_label("Max new tokens"), "24")
    tab.get_by_role("button", name="Run evaluation").click()  # straight after the last key
    rid = _run_id(page, "#lk-eval-run", before)
    run = jobs.status(rid)
    argv = json.loads((Path(run.run_dir) / "command.json").read_text())["argv"]  # what the job runs
    args = build_parser().parse_args(argv[3:])
    ran = (args.languages, args.model, args.limit, args.max_new_tokens, args.tag)
    assert ran == (",".join(keep), "tiny-math-sft", 3, 24, [tag]), argv
    # the status line shows the command the job runs, from the start (and on every look after)
    page.wait_for_function(
        "(cmd) => document.querySelector('#lk-eval-status').innerText.includes(cmd)",
        arg=" ".join(argv[3:]),
        timeout=60_000,
    )
    assert rid in page.locator("#lk-eval-status").inner_text()
    page.wait_for_function(
        "() => document.querySelector('#lk-eval-status').innerText.includes('succeeded')", timeout=300_000
    )
    config = json.loads((Path(run.run_dir) / "results.json").read_text())["config"]
    assert (config["languages"], config["limit"], config["max_new_tokens"]) == (keep, 3, 24)
    assert "6/6 samples" in page.locator("#lk-eval-status").inner_text()
    shot("evaluate-typed")
