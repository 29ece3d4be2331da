"""DMoE tab through gradio_client: analyze (a job), show, upcycle, launch stage 1 → 2, routing heatmap."""

import json
from pathlib import Path

import pytest

from fakes import api_client

pytestmark = pytest.mark.slow


def figure(plot) -> dict:
    return json.loads(plot["plot"])


@pytest.fixture(scope="module")
def client(app_url):
    return api_client(app_url)


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    from labkit.dmoe.analysis import summarize

    langs = ["en", "de", "fr", "zh", "ja", "ko"]
    close = {("en", "de"), ("en", "fr"), ("de", "fr"), ("zh", "ja"), ("zh", "ko"), ("ja", "ko")}
    sim = {
        a: {b: 1.0 if a == b else (0.8 if (a, b) in close or (b, a) in close else 0.1) for b in langs} for a in langs
    }
    per = {l: {"ffn": [1.0, 2.0 + i], "attn": [0.5, 0.5]} for i, l in enumerate(langs)}
    path = tmp_path_factory.mktemp("dmoe-ui") / "analysis.json"
    path.write_text(json.dumps({**summarize(per, sim, 0.6, 2), "similarity_layers": [0, 1]}))
    return path


def test_show_and_upcycle_and_train_and_routing(client, analysis, tmp_path, wait_run):
    status, dev, sim, groups = client.predict(str(analysis), api_name="/dmoe_show")[:4]  # buttons: not in the API
    dev, sim = figure(dev), figure(sim)
    assert [a["text"] for a in dev["layout"]["annotations"]] == ["ε = 0.6"]
    assert "MoE layers (red): [1]" in dev["layout"]["title"]["text"] and dev["data"][0]["y"] == [0.0, 1.0]
    assert "expert 0: en, de, fr" in groups and "expert 1: zh, ja, ko" in groups
    assert sim["data"][0]["x"] == ["en", "de", "fr", "zh", "ja", "ko"]  # group order
    assert [(s_["type"], s_["x0"], s_["x1"]) for s_ in sim["layout"]["shapes"]] == [
        ("rect", -0.5, 2.5),
        ("rect", 2.5, 5.5),
    ]

    up, model_dir = client.predict("tiny", str(analysis), str(tmp_path / "up"), api_name="/dmoe_upcycle")[:2]
    assert up["num_experts"] == 2 and up["moe_layers"] == [1] and model_dir == str(tmp_path / "up")

    # the bundled 15-language file against a model whose experts serve 6: refused before any run starts
    every = Path(__file__).resolve().parents[2] / "configs" / "train-data" / "dmoe-text-tiny.jsonl"
    with pytest.raises(Exception, match=r"no expert serves: ar, bn, es, hi, ru, sw, te, th, vi"):
        client.predict(model_dir, str(every), 2, 2, api_name="/dmoe_stages")

    runs, route_dir, status = client.predict(model_dir, "corpus", 2, 2, api_name="/dmoe_stages")[:3]
    assert (
        [r["stage"] for r in runs] == [1, 2]
        and runs[1]["after"] == runs[0]["run_id"]
        and route_dir == runs[1]["output"]
    )
    assert "stage 2" in status
    from labkit import jobs

    text = jobs.status(runs[0]["run_id"]).config["data"]["path"]
    assert sorted({json.loads(l)["lang"] for l in Path(text).read_text().splitlines()}) == sorted(
        ["en", "de", "fr", "zh", "ja", "ko"]
    )  # `corpus`: the bundled text in exactly the model's languages
    for r in runs:
        assert wait_run(r["run_id"]).status == "succeeded"
    # one panel follows the pair: its run is the last stage, its status line has a line per stage
    status, log, timer, route_dir = client.predict(runs[1]["run_id"], api_name="/dmoe_stages_attach")[:4]
    for r in runs:
        assert f"**stage {r['stage']}** `{r['run_id']}`: **succeeded**" in status
    assert "step 2/2" in status and "measured in step 4" in status and route_dir == runs[1]["output"]
    assert "[labkit]" in log and timer["active"] is False
    plot, layer = client.predict(route_dir, "", api_name="/dmoe_routing")
    heat = figure(plot)["data"][0]
    assert heat["y"] == ["en", "de", "fr", "zh", "ja", "ko"] and heat["x"] == ["expert 0", "expert 1"]
    assert all(abs(sum(row) - 1) < 1e-3 for row in heat["z"])
    assert layer["value"] == "all" and [c[0] for c in layer["choices"]] == ["all", "0"]  # one MoE layer to pick


def test_bad_input_is_an_error(client):
    with pytest.raises(Exception, match="analysis"):
        client.predict("/no/such/analysis.json", api_name="/dmoe_show")
    with pytest.raises(Exception, match="DMoE model"):
        client.predict("", "x.jsonl", 2, 2, api_name="/dmoe_stage1")


def test_step_buttons_open_only_on_their_input(tmp_path, analysis):
    """The handlers behind the buttons' state (the API leaves buttons out): a step opens on its input alone."""
    from types import SimpleNamespace

    from labkit.settings import get_settings
    from labkit.ui.tabs.dmoe import DMoE

    h = DMoE(SimpleNamespace(settings=get_settings(), shared_server=False))
    s1, both = h.model_ready(str(tmp_path))  # a folder, but no DMoE model in it
    assert s1["interactive"] is False and both["interactive"] is False
    assert h.routing_ready(str(tmp_path / "nothing"))["interactive"] is False
    *_, up_btn = h.load(str(analysis))
    assert up_btn["interactive"] is True
    up, model_dir, s1, both = h.upcycle("tiny", str(analysis), str(tmp_path / "up"))
    assert s1["interactive"] is True and both["interactive"] is True
    assert h.model_ready(model_dir)[0]["interactive"] is True and h.routing_ready(model_dir)["interactive"] is True


def test_analyze_button_starts_a_job_that_the_tab_follows(client, wait_run):
    ref, status = client.predict("tiny", "en,zh", "corpus", 1, 2, 0.6, api_name="/dmoe_analyze")[:2]
    assert ref.startswith("dmoe-") and ("queued" in status or "running" in status)
    assert wait_run(ref).status == "succeeded"
    status, log, _timer, dev, sim, groups = client.predict(ref, api_name="/dmoe_analysis_attach")[:6]
    assert "**succeeded**" in status and "expert 0" in groups and "expert 1" in groups and "Upcycle" in status
    assert "[dmoe] 2/2 zh" in log
    # a file path in the analysis field is no run to follow: the look leaves the panel as it is
    status, *_ = client.predict("/no/such/analysis.json", api_name="/dmoe_analysis_attach")
    assert "No run" not in str(status)


def test_cancel_stages_stops_both_and_a_reload_finds_the_pair(client, tmp_path, analysis):
    """Cancel stops stage 2 (queued behind stage 1) and stage 1; after a reload the stage panel follows the pair."""
    from labkit import jobs

    model_dir = client.predict("tiny", str(analysis), str(tmp_path / "up"), api_name="/dmoe_upcycle")[1]
    runs = client.predict(model_dir, "corpus", 500, 500, api_name="/dmoe_stages")[0]
    last = runs[1]["run_id"]
    said = client.predict(last, api_name="/dmoe_stages_cancel")
    assert f"stage 1 `{runs[0]['run_id']}`" in said and f"stage 2 `{last}`" in said
    assert [jobs.status(r["run_id"]).status for r in runs] == ["cancelled", "cancelled"]
    rid, _timer = client.predict(api_name="/dmoe_stages_reattach")
    assert rid == last  # the newest launch's last stage
    status = client.predict(last, api_name="/dmoe_stages_attach")[0]
    assert status.count("**cancelled**") >= 2 and "Cancelled by request" in status
