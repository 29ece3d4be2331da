"""Each tab's default flow run to its end in the browser, as a new user would: the DMoE steps analyze → upcycle →
stage 1 → stage 2 → routing on the tiny model, and the Data tab's example. Fields are typed at a person's pace
(150 ms a key) and the button is clicked at once; each step's button opens only when the step before has finished.
The Experiment tab's typed form runs to its first point. Screenshots: docs/dmoe-flow.png, docs/data-example.png and
docs/experiment-first-point.png (LABKIT_SCREENSHOTS=dir copies them there)."""

import json
from pathlib import Path

import pytest

from person import dismiss_toasts, type_like_a_person  # noqa: E402  (tests/browser is on sys.path)

pytestmark = pytest.mark.browser


def _wait_text(page, selector: str, text: str, timeout_s: float, count: int = 1) -> None:
    page.wait_for_function(
        f"() => (document.querySelector({selector!r})?.innerText || '').split({text!r}).length > {count}",
        timeout=timeout_s * 1000,
    )


def _value(page, selector: str) -> str:
    return page.locator(f"{selector} textarea, {selector} input").first.input_value().strip()


def test_dmoe_default_flow_runs_to_the_routing_heatmap(page, shot):
    import shutil

    from labkit import jobs
    from labkit.settings import get_settings

    # a new user's page: no upcycled model in Upcycle's default folder yet (an earlier test of this process may have
    # made one, and the tab would open its stage buttons for it)
    upcycled = get_settings().home / "dmoe" / "upcycled"
    if upcycled.exists():
        shutil.rmtree(upcycled)
        page.reload(wait_until="load")
        page.wait_for_selector("#lk-header", timeout=60_000)
    dismiss_toasts(page)
    page.get_by_role("tab", name="DMoE").first.click()
    tab = page.locator("#tab-dmoe")
    upcycle = tab.get_by_role("button", name="Upcycle", exact=True)
    launch = tab.get_by_role("button", name="Launch stage 1 → stage 2")
    route = tab.get_by_role("button", name="Measure routing")
    page.wait_for_timeout(1000)  # the tab's restore on load has answered (a fresh store: nothing to restore)
    assert upcycle.is_disabled() and launch.is_disabled() and route.is_disabled()

    page.locator("#lk-dmoe-analyze").click()  # the defaults: en,de,fr,zh,ja,ko, 10 steps, 3 groups
    _wait_text(page, "#lk-dmoe-analysis-status", "running", 120)
    _wait_text(page, "#lk-dmoe-analysis-status", "succeeded", 600)
    page.locator("#lk-dmoe-groups").get_by_text("expert 2").wait_for(timeout=30_000)
    assert upcycle.is_enabled() and launch.is_disabled()

    upcycle.click()
    page.wait_for_function(
        "() => document.querySelector('#lk-dmoe-model textarea, #lk-dmoe-model input').value.length > 0",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#tab-dmoe button')].some(b => b.innerText.includes('stage 1 → stage 2')"
        " && !b.disabled)",
        timeout=30_000,
    )
    type_like_a_person(tab.get_by_label("Stage-1 steps"), "3")
    type_like_a_person(tab.get_by_label("Stage-2 steps"), "2")
    launch.click()  # straight after the last key
    _wait_text(page, "#lk-dmoe-stage-status", "stage 2", 120)
    ids = [r.id for r in jobs.list_runs(kind="train") if r.config.get("method", "").startswith("dmoe-stage")][:2]
    steps = {jobs.status(i).config["method"]: jobs.status(i).config["trainer"]["max_steps"] for i in ids}
    assert steps == {"dmoe-stage1": 3, "dmoe-stage2": 2}  # what was typed is what runs
    _wait_text(page, "#lk-dmoe-stage-status", "running", 180)  # followed in the tab: state, step, log
    _wait_text(page, "#lk-dmoe-stage-status", "succeeded", 600, count=2)
    assert "step 2/2" in page.locator("#lk-dmoe-stage-status").inner_text()
    assert "[labkit]" in page.locator("#lk-dmoe-stage-log").inner_text()  # the log tail

    page.wait_for_function(
        "() => [...document.querySelectorAll('#tab-dmoe button')].some(b => b.innerText.includes('Measure routing')"
        " && !b.disabled)",
        timeout=30_000,
    )
    route.click()
    page.locator("#lk-dmoe-routing .js-plotly-plot").first.wait_for(state="visible", timeout=120_000)
    heat = page.locator("#lk-dmoe-routing").inner_text()
    assert "expert 0" in heat and "zh" in heat
    page.wait_for_timeout(500)
    shot("dmoe-flow")

    page.reload(wait_until="load")  # a reload finds the outputs: each step's button is open again
    page.wait_for_selector("#lk-header", timeout=60_000)
    page.get_by_role("tab", name="DMoE").first.click()
    page.wait_for_function(
        "() => { const b = [...document.querySelectorAll('#tab-dmoe button')];"
        " return ['Upcycle', 'stage 1 → stage 2', 'Measure routing'].every(t => b.some(x => x.innerText.includes(t)"
        " && !x.disabled)); }",
        timeout=60_000,
    )
    _wait_text(page, "#lk-dmoe-stage-status", "succeeded", 60, count=2)


def test_data_example_fills_every_chart(page, shot):
    dismiss_toasts(page)
    page.get_by_role("tab", name="Data", exact=True).first.click()
    page.locator("#lk-data-example").click()
    _wait_text(page, "#lk-data-status", "succeeded", 300)
    assert "38/38 documents read" in page.locator("#lk-data-status").inner_text()
    assert _value(page, "#lk-data-source") == "configs/curate/example/web-zh.jsonl"
    plots = page.locator("#tab-data .js-plotly-plot")
    page.wait_for_function("() => document.querySelectorAll('#tab-data .js-plotly-plot').length >= 4", timeout=60_000)
    for i in range(4):
        assert plots.nth(i).is_visible()
    funnel = plots.nth(0).inner_text()
    for stage in ("read", "after length", "after sensitive", "after repetition", "kept"):
        assert stage in funnel, funnel
    assert "38" in funnel and "14" in funnel  # read and kept
    for title in ("quality_score (kept, n=14)", "toxicity.score (kept, n=14)"):
        page.locator("#tab-data").get_by_text(title).first.wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    shot("data-example")


def test_experiment_runs_what_was_typed_and_shows_its_first_point(page, shot):
    """The study's form typed at a person's pace and Run clicked at once: the study's job holds what was typed (its
    config and its command), and its first point appears in the table while the study goes on. The `smoke` budget
    (a dry run of the whole pipeline, 10 steps a run) keeps this to about a minute; the `small` default's first point
    is the same code path at 450 steps (docs/experiment.md)."""
    from labkit import jobs

    dismiss_toasts(page)
    page.get_by_role("tab", name="Experiment").first.click()
    tab = page.locator("#tab-experiment")
    tab.get_by_label("smoke").check()
    type_like_a_person(tab.get_by_label("Parallel languages, in order of addition"), "de,zh")
    type_like_a_person(tab.get_by_label("Held-out languages (never trained)"), "en-x2")
    type_like_a_person(tab.get_by_label("Seeds per point"), "1")
    before = _value(page, "#lk-exp-job")
    type_like_a_person(tab.get_by_label("First seed"), "7")
    page.get_by_role("button", name="Run the study", exact=True).click()  # straight after the last key
    page.wait_for_function(
        """(before) => { const e = document.querySelector('#lk-exp-job textarea, #lk-exp-job input');
            return e && e.value && e.value.trim() != before; }""",
        arg=before,
        timeout=120_000,
    )
    run = jobs.status(_value(page, "#lk-exp-job"))
    try:
        cfg = run.config
        assert (cfg["budget"], cfg["languages"], cfg["held_out"], cfg["seeds"], cfg["seed"]) == (
            "smoke",
            ["de", "zh"],
            ["en-x2"],
            1,
            7,
        )
        argv = " ".join(json.loads((Path(run.run_dir) / jobs.COMMAND).read_text())["argv"])
        for flag in ("--budget smoke", "--languages de,zh", "--held-out en-x2", "--seeds 1", "--seed 7"):
            assert flag in argv, argv
        _wait_text(page, "#lk-exp-points", "train-", 600)  # the first point's row, with its training run
        status = page.locator("#lk-exp-status").inner_text()
        assert "running" in status or "succeeded" in status, status
        shot("experiment-first-point")
    finally:
        jobs.cancel(run.id)
