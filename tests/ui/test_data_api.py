"""The Data tab through gradio_client: recipe form ⇄ YAML, preview with rule verdicts, a curation job followed to the
end, funnel and summary, dropped examples per rule, an export script and the dataset card."""

import time
from pathlib import Path

import pytest

from fakes import api_client
import yaml

FIX = Path(__file__).parents[1] / "fixtures" / "curate"
RECIPE = "configs/curate/cwt2-zh.yaml"  # as the recipe list shows it


@pytest.fixture(scope="module")
def client(app_url):
    return api_client(app_url)


def test_data_tab_end_to_end(client):
    text, synced, *form = client.predict(RECIPE, api_name="/data_load_recipe")
    assert form[0] == "cmn" and all(form[1:7]) and synced == form
    form[11] = str(FIX / "sensitive.txt")  # the sensitive word list field
    form[7] = 150  # length threshold
    edited, now_synced = client.predict(text, synced, *form, api_name="/data_form_to_yaml")
    data = yaml.safe_load(edited)
    assert data["rules"]["length"]["min_chars"] == 150 and data["rules"]["sensitive"]["words"].endswith("sensitive.txt")
    assert now_synced == form
    *back, back_synced, note = client.predict(
        edited.replace("min_chars: 150", "min_chars: 151"), now_synced, api_name="/data_yaml_to_form"
    )
    assert back_synced[7] == 151 and back[7] == 151 and note == ""
    rows = client.predict(str(FIX / "rules.jsonl"), edited, api_name="/data_preview")
    verdicts = {r[0]: r[2] for r in rows["data"]}
    assert verdicts["traditional"] == "traditional" and verdicts["good-news"].startswith("✓")
    run_id, note, _ = client.predict(str(FIX / "rules.jsonl"), edited, "", api_name="/data_curate")
    assert run_id.startswith("data-")
    deadline = time.time() + 240
    while time.time() < deadline:
        status, _log, _timer, summary, *_ = client.predict(run_id, api_name="/data_attach")
        if "succeeded" in status or "failed" in status:
            break
        time.sleep(1)
    assert "succeeded" in status and "9/9" in status
    assert summary["kept"] == 3 and summary["dropped"]["sensitive"] == 1
    assert "quality: heuristic placeholder" in summary["notes"]  # heuristic labels are named as such
    dropped = client.predict(run_id, "repetition", api_name="/data_dropped")
    assert [r[0] for r in dropped["data"]] == ["repetition"]
    script = client.predict("me/corpus", edited, "hf-jobs", "hf://datasets/me/curated", api_name="/data_export")
    assert "hf jobs uv run" in script and "'me/curated'" in script  # the whole curation as one labkit Job
    card = client.predict(run_id, "me/curated", "cc-by-4.0", api_name="/data_card")
    assert "| sensitive | 1 |" in card and "min_chars: 150" in card
    with pytest.raises(Exception, match="input"):
        client.predict("", edited, "", api_name="/data_curate")


def test_the_example_fills_every_chart(client):
    """Try the example: the bundled corpus and its recipe; each rule drops its own group and 14 documents are kept."""
    source, choice, text, synced, *form = client.predict(api_name="/data_example")
    assert (source, choice) == ("configs/curate/example/web-zh.jsonl", "configs/curate/example-zh.yaml")
    assert synced == form and form[11].endswith("sensitive-words.txt")  # the example's own word list
    run_id = client.predict(source, text, "", api_name="/data_curate")[0]
    deadline = time.time() + 240
    while time.time() < deadline:
        status, _log, _timer, summary, funnel, domain, quality, toxicity = client.predict(
            run_id, api_name="/data_attach"
        )[:8]
        if "succeeded" in status or "failed" in status:
            break
        time.sleep(1)
    assert "succeeded" in status and "38/38" in status
    assert summary["kept"] == 14
    assert summary["dropped"] == {
        "length": 5,
        "line_length": 3,
        "chinese_share": 4,
        "traditional": 4,
        "sensitive": 4,
        "repetition": 4,
    }
    assert all(plot is not None for plot in (funnel, domain, quality, toxicity))
