"""Playwright drives the system Chromium: open the app, visit every tab, run a prompt in Models,
save a screenshot per tab (under the test's tmp dir; LABKIT_SCREENSHOTS=dir copies them there)."""

import os
import shutil
from pathlib import Path

import pytest


from person import dismiss_toasts  # noqa: E402  (tests/browser is on sys.path)

pytestmark = pytest.mark.browser


def shoot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("LABKIT_SCREENSHOTS"):
        Path(os.environ["LABKIT_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["LABKIT_SCREENSHOTS"]) / path.name)
    return path


def test_every_tab_opens(page, tmp_path):
    from labkit.ui.app import TABS
    import importlib

    titles = [importlib.import_module(t).TITLE for t in TABS]
    for title in titles:
        page.get_by_role("tab", name=title).click()
        page.wait_for_timeout(300)
        shoot(page, tmp_path, f"tab-{title.lower().replace(' ', '-')}")
    assert page.locator("#lk-header").inner_text().find("tiny") >= 0


def test_models_tab_runs_a_prompt(page, fill, tmp_path):
    page.get_by_role("tab", name="Models").click()
    fill(page.get_by_label("Prompt"), "Hello")
    page.get_by_role("button", name="Generate", exact=True).click()
    out = page.locator("#lk-output textarea")
    page.wait_for_function("el => el.value.length > 0", arg=out.element_handle(), timeout=30_000)
    assert len(out.input_value()) > 0
    assert "meaningless" in page.locator("#lk-header").inner_text()
    shoot(page, tmp_path, "models-generate")


def test_scaling_tab_fits_and_plots(page, tmp_path):
    page.get_by_role("tab", name="Scaling laws").click()
    page.get_by_role("button", name="Fit", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-scaling-summary').innerText.includes('power')", timeout=60_000
    )
    # this tab's plot: another tab (e.g. Evaluate's heatmap, filled on page load) may hold a hidden one earlier
    page.locator("#tab-scaling .js-plotly-plot").first.wait_for(state="visible", timeout=30_000)
    text = page.locator("#lk-scaling-summary").inner_text()
    assert "power" in text and "zh" in text
    # every column of the Fits table is visible without scrolling sideways
    hidden = page.evaluate("""() => {
        const root = document.querySelector('#lk-scaling-summary'), edge = root.getBoundingClientRect().right;
        return [...root.querySelectorAll('th')].filter(th => { const b = th.getBoundingClientRect();
            return b.width < 10 || b.right > edge + 1; }).map(th => th.innerText.trim()); }""")
    assert hidden == [], hidden
    page.wait_for_timeout(500)
    shoot(page, tmp_path, "scaling-fit")


def test_evaluate_tab_default_run_works_offline_with_real_different_accuracies(page, tmp_path):
    """On a fresh install with no network the default run works as it is — the bundled
    trained tiny-math-sft on the synthetic world's test set — and its accuracies are real and differ by language:
    high where it was trained (en, zh, de), low where it never saw a problem."""
    from labkit import jobs

    page.get_by_role("tab", name="Evaluate").first.click()
    assert page.locator("#lk-eval-data textarea, #lk-eval-data input").first.input_value() == "synth"
    assert "synthetic world" in page.locator("#lk-eval-world-note").inner_text()
    page.get_by_role("button", name="Run evaluation").click()
    page.wait_for_function(
        "() => document.querySelector('#lk-eval-status').innerText.includes('succeeded')", timeout=600_000
    )
    assert "220/220 samples" in page.locator("#lk-eval-status").inner_text()  # 11 languages × 20 items
    rid = page.locator("#lk-eval-run textarea, #lk-eval-run input").first.input_value()
    acc = {k.split("/")[1]: v for k, v in jobs.status(rid).metrics.items() if k.startswith("score/")}
    assert len(acc) == 11
    trained, unseen = [acc[lang] for lang in ("en", "zh", "de")], [acc[lang] for lang in ("bn", "te", "th")]
    assert min(trained) >= 0.4 and max(unseen) <= min(trained) - 0.2, acc
    page.wait_for_function("() => document.querySelector('#lk-eval-board').innerText.includes('mgsm')", timeout=30_000)
    page.wait_for_selector("#lk-eval-heatmap .js-plotly-plot", timeout=30_000)  # refreshed when the run ended
    page.wait_for_timeout(800)
    shoot(page, tmp_path, "evaluate-run")


def test_train_tab_launches_and_plots(page, fill, tmp_path):
    page.get_by_role("tab", name="Train").first.click()
    fill(page.get_by_label("Max steps"), "3")
    page.get_by_label("Max steps").press("Tab")
    page.wait_for_timeout(500)
    assert "synthetic world" in page.locator("#lk-train-world-note").inner_text()  # the example that learns
    page.get_by_role("button", name="Launch", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-train-status').innerText.includes('succeeded')", timeout=300_000
    )
    page.locator("#tab-train .js-plotly-plot").first.wait_for(state="visible", timeout=30_000)
    status = page.locator("#lk-train-status").inner_text()
    assert "step 3/3" in status
    assert "Accuracy on held-out problems after training" in status and "en " in status  # its evaluate: section
    # Launch's own warning stays in the notes (the recipe warms up for 50 steps of 3): nothing overwrites it
    notes = page.locator("#lk-train-notes").inner_text()
    assert "Launched" in notes and "warmup_steps is 50, more than trainer.max_steps = 3" in notes, notes
    page.wait_for_timeout(800)
    shoot(page, tmp_path, "train-run")


def test_train_form_edits_reach_validate_and_a_reload_reattaches(page, tmp_path):
    """A data path typed then left with Tab is what Validate checks; a cleared number is an error;
    after a reload the page follows the run it followed before, with that run's recipe."""
    page.get_by_role("tab", name="Train").first.click()
    followed = page.locator("#lk-train-run textarea, #lk-train-run input").first.input_value()
    data = page.get_by_label("Data (Hub id or local .jsonl/.json/.parquet/.csv)")
    data.fill("../train-data/missing.jsonl")
    data.press("Tab")
    page.get_by_role("button", name="Validate", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-train-notes').innerText.includes('No data file')", timeout=180_000
    )
    notes = page.locator("#lk-train-notes").inner_text()
    assert "configs/train-data/missing.jsonl" in notes and "Ready to launch" not in notes
    page.wait_for_function(
        "() => document.querySelector('#lk-train-yaml').innerText.includes('missing.jsonl')", timeout=30_000
    )
    page.get_by_label("Max steps").fill("")
    page.get_by_label("Max steps").press("Tab")
    page.wait_for_selector("text=Max steps is empty", timeout=30_000)
    shoot(page, tmp_path, "train-validate")
    if followed:  # the launch test ran first: a reload comes back to its run and recipe
        page.reload(wait_until="load")
        page.wait_for_selector("#lk-header", timeout=60_000)
        page.get_by_role("tab", name="Train").first.click()
        page.wait_for_function(
            f"() => [...document.querySelectorAll('#lk-train-run textarea, #lk-train-run input')]"
            f".some(e => e.value == {followed!r})",
            timeout=60_000,
        )
        page.wait_for_function(
            "() => document.querySelector('#lk-train-yaml').innerText.includes('max_steps: 3')", timeout=30_000
        )
        editor = page.locator("#lk-train-yaml").inner_text()
        assert (
            "# SFT of the from-scratch" in editor and "path: ../train-data/synth-mgsm/train.jsonl" in editor
        )  # as launched: comments, relative
        # the status fills in after the recipe (its own event): wait for it rather than race it
        page.wait_for_function(
            "() => document.querySelector('#lk-train-status').innerText.includes('succeeded')", timeout=60_000
        )


def test_provenance_selecting_a_sentence_highlights_its_sources(page, tmp_path):
    page.get_by_role("tab", name="Provenance").first.click()
    page.get_by_role("button", name="Trace", exact=True).click()
    page.wait_for_selector("#lk-prov-docs mark.lk-src", timeout=60_000)
    first = page.locator("#lk-prov-docs mark.lk-src").first.get_attribute("data-id")
    # click the third target sentence in the coloured list: its sources are highlighted instead
    page.locator("#lk-prov-targets span.token").nth(2).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-prov-docs p b')"
        " && document.querySelector('#lk-prov-docs p b').innerText == 'T3'",
        timeout=30_000,
    )
    marks = page.locator("#lk-prov-docs mark.lk-src")
    assert marks.count() >= 1 and marks.first.get_attribute("data-id") != first
    assert "confidence" in marks.first.get_attribute("title")
    page.wait_for_timeout(300)
    shoot(page, tmp_path, "provenance-trace")


def test_support_chat_shows_strategy_and_state(page, fill, tmp_path):
    page.get_by_role("tab", name="Support chat").first.click()
    fill(page.locator("#lk-support-msg textarea"), "I failed my exam and my parents are disappointed.")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-support-badge').innerText.includes('Strategy')", timeout=60_000
    )
    page.wait_for_function("() => document.querySelector('#lk-support-stage').innerText.includes('[')", timeout=30_000)
    assert "Strategy:" in page.locator("#lk-support-chat").inner_text()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.innerText.includes('Strategies used'))",
        timeout=30_000,
    )
    page.wait_for_timeout(800)
    shoot(page, tmp_path, "support-chat")


def test_document_translation_tab(page, tmp_path):
    from PIL import Image, ImageDraw

    from labkit.doctrans import render

    img = Image.new("RGB", (900, 500), "white")
    d = ImageDraw.Draw(img)
    d.text((60, 50), "Attention Is All You Need", fill="black", font=render.font(42))
    d.text((60, 150), "We propose a new simple network architecture,", fill="black", font=render.font(26))
    d.text((60, 190), "based solely on attention mechanisms.", fill="black", font=render.font(26))
    img.save(tmp_path / "page.png")
    dismiss_toasts(page)
    page.get_by_role("tab", name="Document translation").first.click()
    page.locator("#lk-dt-upload input[type=file]").set_input_files(str(tmp_path / "page.png"))
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Translate", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-dt-status').innerText.includes('blocks')", timeout=120_000
    )
    page.wait_for_selector("#lk-dt-gallery img", timeout=30_000)
    page.wait_for_timeout(800)
    shoot(page, tmp_path, "document-translation")


def test_data_tab_curates_and_plots(page, fill, tmp_path):
    fixture = Path(__file__).parents[1] / "fixtures" / "curate" / "rules.jsonl"
    page.get_by_role("tab", name="Data", exact=True).first.click()
    fill(page.locator("#lk-data-source textarea"), str(fixture))
    page.get_by_role("button", name="Preview", exact=True).click()
    page.wait_for_timeout(1500)
    page.locator("#lk-data-run").click()
    page.wait_for_function(
        "() => document.querySelector('#lk-data-status').innerText.includes('succeeded')", timeout=180_000
    )
    page.locator("#tab-data .js-plotly-plot").first.wait_for(state="visible", timeout=30_000)
    assert "9/9" in page.locator("#lk-data-status").inner_text()
    page.wait_for_timeout(1500)
    shoot(page, tmp_path, "data-run")


def test_dmoe_tab_shows_an_analysis(page, fill, tmp_path):
    import json

    from labkit.dmoe.analysis import summarize

    langs = ["en", "de", "zh", "ja"]
    sim = {a: {b: 1.0 if a == b else (0.7 if (a in "en de") == (b in "en de") else 0.05) for b in langs} for a in langs}
    per = {l: {"ffn": [1.0, 1.5 + i, 3.0], "attn": [0.4, 0.5, 0.6]} for i, l in enumerate(langs)}
    path = tmp_path / "analysis.json"
    path.write_text(json.dumps({**summarize(per, sim, 0.6, 2), "similarity_layers": [0, 1, 2]}))
    page.get_by_role("tab", name="DMoE").first.click()
    fill(page.locator("#lk-dmoe-analysis textarea"), str(path))
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#lk-dmoe-groups').innerText.includes('expert 1')", timeout=60_000
    )
    page.wait_for_selector("#lk-dmoe-deviation .js-plotly-plot", timeout=30_000)
    page.wait_for_selector("#lk-dmoe-similarity .js-plotly-plot", timeout=30_000)
    assert "ε = 0.6" in page.locator("#lk-dmoe-deviation").inner_text()
    assert "en, de" in page.locator("#lk-dmoe-groups").inner_text()
    page.wait_for_timeout(800)
    shoot(page, tmp_path, "dmoe-analysis")
